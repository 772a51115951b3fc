"""Multi-agent REINFORCE on PettingZoo: every agent ascends its own expected return at once.

Sign convention: every objective is **maximized** (``J.backward()`` then an
:class:`ascentrl.Ascent` step, or a game dynamics writing ascent directions); nothing is negated.

One iteration, top to bottom:

1. **Rollout** (:func:`~ascentrl.agents.multiagent_rollout.collect_episodes`). ``N`` copies of the
   env each play one episode; every live agent samples ``a ~ pi_i(.|o)`` by the Gumbel-max trick
   over its legal actions. Agents that leave are masked and never stepped again.
2. **Objectives and step**, by ``method``:

   - ``independent``: one policy and one ``Ascent`` per agent; agent i ascends its REINFORCE
     surrogate ``J_i(theta_i) = (1/N) sum log pi_i(a|o) (G^i - b^i)``
     (:func:`~ascentrl.agents.multiagent_objectives.reinforce_objective`).
   - ``shared``: one policy for all agents (parameter sharing, Gupta et al. 2017), whose input is
     the observation with the agent's one-hot id appended; it ascends ``sum_i J_i``: each agent's
     score terms weighted by that agent's own return. Needs identical spaces for all agents.
   - a game dynamics of :data:`ascentrl.games.DYNAMICS` (``simultaneous``, ``optimistic``,
     ``extragradient``, ``alternating``, ``sga``, ``consensus``, ``lola``): one policy and one
     ``Ascent`` per agent, stepped by :func:`ascentrl.games.make_dynamics` on the joint
     importance-weighted return estimates ``u_i(theta_1, ..., theta_n)``
     (:func:`~ascentrl.agents.multiagent_objectives.joint_return_estimates`), which carry the
     cross-agent derivatives that opponent-aware dynamics need. ``simultaneous`` is plain
     simultaneous policy-gradient ascent: with ``gamma = 1`` its step is the ``independent`` one.

3. **Record.** Mean return of every agent over the batch; for a matrix game (an env id of
   :data:`ascentrl.envs.MATRIX_GAMES`) also each agent's learned mixed strategy and its NashConv.

A matrix game's *learned mixed strategy* is the agent's action distribution averaged over the
observations of the last batch; with ``memoryless`` policies (the default for matrix games) the
policy is one softmax strategy ``softmax(logits)`` that ignores observations, so this is exact.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import torch
from torch import Tensor

from ascentrl import Ascent
from ascentrl.agents.multiagent_objectives import (
    joint_return_estimates,
    masked_log_probs,
    reinforce_objective,
    reinforce_weights,
)
from ascentrl.agents.multiagent_rollout import MultiAgentBatch, collect_episodes
from ascentrl.agents.policies import CategoricalPolicy
from ascentrl.envs.matrix_game_env import MatrixGameEnv
from ascentrl.envs.pettingzoo_envs import AgentTensors, ParallelEnvBatch, make_parallel_env
from ascentrl.games import DYNAMICS, make_dynamics
from ascentrl.runs import CheckpointError, load_checkpoint, save_checkpoint

__all__ = ["METHODS", "MultiAgentConfig", "MultiAgentHistory", "MultiAgentRecord", "MultiAgentReinforce"]

CHECKPOINT_KIND = "MultiAgentReinforce"
Method = Literal["independent", "shared", "simultaneous", "alternating", "optimistic", "extragradient",
                 "sga", "consensus", "lola"]
METHODS: tuple[str, ...] = get_args(Method)
"""``independent``, ``shared``, and every game dynamics of :data:`ascentrl.games.DYNAMICS`."""


@dataclass
class MultiAgentConfig:
    """Hyperparameters of :class:`MultiAgentReinforce`; the defaults suit matrix games."""

    env: str = "matching_pennies"
    """A matrix game name (played repeatedly) or a PettingZoo id such as classic/rps-v2."""
    method: Method = "lola"
    """independent or shared REINFORCE learners, or a game dynamics stepping all agents."""
    seed: int = 0
    """Seed of the networks' initialization, the action noise and the environments."""
    num_envs: int = 128
    """Env copies, i.e. episodes per update."""
    episode_length: int | None = None
    """Rounds per episode of a matrix game (none: 1) or max_cycles of a PettingZoo env (none: its own)."""
    max_episode_steps: int = 1000
    """Steps after which a rollout cuts the episodes still running (a truncation)."""
    gamma: float = 0.99
    """Discount factor in [0, 1]."""
    baseline: Literal["none", "mean"] = "mean"
    """Baseline subtracted from the returns: none, or the leave-one-out batch mean at each step."""
    normalize_advantages: bool = False
    """Rescale each agent's weights to zero mean and unit variance (independent and shared only)."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus added to every agent's objective."""
    lr: float = 0.5
    """Learning rate of every agent's Ascent optimizer."""
    lr_schedule: Literal["constant", "linear"] = "linear"
    """Keep the learning rate, or decay it linearly to 0 over the iterations of train()."""
    max_grad_norm: float | None = None
    """Clip each agent's gradient to this global norm (Ascent clip_norm); none disables."""
    ascent: dict[str, Any] = field(default_factory=dict)
    """Other keyword arguments of ascentrl.Ascent, e.g. {"momentum": 0.9} or {"adaptive": "adam"}."""
    dynamics_options: dict[str, Any] = field(default_factory=dict)
    """Options of the game dynamics, e.g. {"lookahead": 1.0} for lola, {"consensus_weight": 1.0}."""
    memoryless: bool | None = None
    """Policies ignore observations (one softmax mixed strategy each); none: yes for matrix games."""
    initial_logit_std: float = 1.0
    """Memoryless policies start from softmax(z), z ~ N(0, std^2) per action (seeded); 0: uniform."""
    hidden_sizes: tuple[int, ...] = (32,)
    """Hidden layer widths of the policies (tanh); empty for linear ones; unused if memoryless."""
    torch_threads: int | None = 1
    """torch intra-op threads, set process-wide when training starts; none leaves torch's."""

    def __post_init__(self) -> None:
        def positive_int(name: str, value: Any, allow_none: bool = False) -> None:
            if value is None and allow_none:
                return
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

        def number(name: str, value: Any, low: float, high: float = math.inf, include_low: bool = True) -> None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            if value < low or value > high or (value == low and not include_low):
                raise ValueError(f"{name} must be in {'[' if include_low else '('}{low}, {high}], got {value!r}")

        if not isinstance(self.env, str) or not self.env:
            raise ValueError(f"env must be a matrix game name or a PettingZoo id, got {self.env!r}")
        for name, choices in (("method", METHODS), ("baseline", ("none", "mean")),
                              ("lr_schedule", ("constant", "linear"))):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {getattr(self, name)!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        positive_int("num_envs", self.num_envs)
        positive_int("episode_length", self.episode_length, allow_none=True)
        positive_int("max_episode_steps", self.max_episode_steps)
        number("gamma", self.gamma, 0.0, 1.0)
        number("entropy_coef", self.entropy_coef, 0.0)
        number("lr", self.lr, 0.0, include_low=False)
        number("initial_logit_std", self.initial_logit_std, 0.0)
        if self.max_grad_norm is not None:
            number("max_grad_norm", self.max_grad_norm, 0.0, include_low=False)
        for name in ("normalize_advantages",):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if self.memoryless is not None and not isinstance(self.memoryless, bool):
            raise ValueError(f"memoryless must be a bool or None, got {self.memoryless!r}")
        if self.normalize_advantages and self.method in DYNAMICS:
            raise ValueError(
                f"normalize_advantages applies to the independent and shared methods only; the game "
                f"dynamics ({self.method}) differentiate return estimates, which normalizing would change"
            )
        for name in ("ascent", "dynamics_options"):
            value = getattr(self, name)
            if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
                raise ValueError(f"{name} must be a dict of keyword arguments, got {value!r}")
        for reserved, instead in (("lr", "lr"), ("clip_norm", "max_grad_norm")):
            if reserved in self.ascent:
                raise ValueError(f"ascent must not contain {reserved!r}; set {instead} instead")
        if self.dynamics_options and self.method not in DYNAMICS:
            raise ValueError(f"dynamics_options needs a game-dynamics method, not {self.method!r}")
        self.hidden_sizes = tuple(self.hidden_sizes)
        for width in self.hidden_sizes:
            positive_int("hidden_sizes entries", width)
        positive_int("torch_threads", self.torch_threads, allow_none=True)


@dataclass
class MultiAgentRecord:
    """What one iteration did."""

    iteration: int
    env_steps: int
    """Joint env steps so far, summed over copies."""
    agent_steps: int
    """Actions taken so far, summed over agents and copies."""
    episodes: int
    wall_seconds: float
    """Seconds since this ``train`` call started."""
    mean_returns: dict[str, float]
    """Each agent's mean undiscounted return over this iteration's episodes."""
    nash_conv: float
    """Matrix games: NashConv of the learned mixed strategies after the update; nan otherwise."""
    strategies: dict[str, list[float]] | None
    """Matrix games: each agent's learned mixed strategy after the update; None otherwise."""


@dataclass
class MultiAgentHistory:
    """Everything :meth:`MultiAgentReinforce.train` measured."""

    records: list[MultiAgentRecord] = field(default_factory=list)
    reached_target: bool = False
    """NashConv reached ``target_nash_conv`` (always False without a target)."""
    env_steps: int = 0
    agent_steps: int = 0
    episodes: int = 0
    wall_seconds: float = 0.0
    """From the start of ``train`` to the target (or the end of training)."""

    @property
    def nash_conv(self) -> float:
        """NashConv after the last iteration (nan for non-matrix games or before training)."""
        return self.records[-1].nash_conv if self.records else math.nan


class MultiAgentReinforce:
    """Independent, parameter-shared, or game-dynamics REINFORCE learners (module docstring).

    Example::

        learners = MultiAgentReinforce(MultiAgentConfig(env="matching_pennies", method="lola"))
        history = learners.train(300)
        print(history.nash_conv, learners.strategies())
    """

    def __init__(self, config: MultiAgentConfig | None = None) -> None:
        self.config = config = config if config is not None else MultiAgentConfig()
        self.envs = ParallelEnvBatch(lambda: make_parallel_env(config.env, episode_length=config.episode_length),
                                     config.num_envs)
        self.agents = self.envs.possible_agents
        self.spaces = self.envs.spaces
        unwrapped = self.envs.envs[0].unwrapped
        self.game = unwrapped.game if isinstance(unwrapped, MatrixGameEnv) else None
        self.memoryless = config.memoryless if config.memoryless is not None else self.game is not None
        self.shared = config.method == "shared"
        self._check_method()

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.policies = self._make_policies()
        self.generator = torch.Generator().manual_seed(config.seed)
        try:
            self.optimizers = [Ascent(policy.parameters(), lr=config.lr, clip_norm=config.max_grad_norm,
                                      **config.ascent) for policy in self.policies]
        except (TypeError, ValueError) as error:
            self.envs.close()
            raise type(error)(f"ascent {config.ascent}: {error}") from None
        self.dynamics = None
        if config.method in DYNAMICS:
            try:
                self.dynamics = make_dynamics(config.method, [list(p.parameters()) for p in self.policies],
                                              self._joint_objectives, self.optimizers, **config.dynamics_options)
            except (TypeError, ValueError) as error:
                self.envs.close()
                raise ValueError(f"method {config.method}: {error}") from None

        self.env_steps = 0
        self.agent_steps = 0
        self.episodes = 0
        self.iterations = 0
        self._next_reset_seed: int | None = config.seed
        self._batch: MultiAgentBatch | None = None
        self._behaviour_log_probs: Tensor | None = None

    def _check_method(self) -> None:
        config = self.config
        if config.method in DYNAMICS and len(self.agents) < 2:
            self.envs.close()
            raise ValueError(f"method {config.method} needs at least 2 agents; {config.env} has {len(self.agents)}")
        if self.shared:
            first = self.spaces[0]
            for other in self.spaces[1:]:
                if (other.observation_size, other.num_actions) != (first.observation_size, first.num_actions):
                    self.envs.close()
                    raise ValueError(
                        f"method shared needs the same spaces for every agent, but {first.agent} and "
                        f"{other.agent} differ; use method independent"
                    )

    def _make_policies(self) -> list[CategoricalPolicy]:
        hidden = () if self.memoryless else self.config.hidden_sizes
        identity = len(self.agents) if self.shared else 0
        described = self.spaces[:1] if self.shared else self.spaces
        with warnings.catch_warnings():
            # A memoryless policy's input is empty, so its weight has no entries to initialize.
            warnings.filterwarnings("ignore", "Initializing zero-element tensors", UserWarning)
            policies = [CategoricalPolicy((0 if self.memoryless else spaces.observation_size) + identity,
                                          spaces.num_actions, hidden) for spaces in described]
        if self.memoryless:
            with torch.no_grad():
                for policy in policies:
                    policy.logits.layers[-1].bias.normal_(0.0, self.config.initial_logit_std)
        return policies

    # ----------------------------------------------------------------------------------- acting
    def _logits(self, observations: list[Tensor]) -> list[Tensor]:
        """Each agent's logits for its observations ``[*batch, size_i]``: one forward per policy."""
        if self.memoryless:
            observations = [observation[..., :0] for observation in observations]
        if not self.shared:
            return [policy.logits(observation) for policy, observation in zip(self.policies, observations)]
        identities = torch.eye(len(self.agents))
        inputs = torch.stack([
            torch.cat((observation, identities[index].expand(*observation.shape[:-1], -1)), dim=-1)
            for index, observation in enumerate(observations)
        ])
        return list(self.policies[0].logits(inputs).unbind(0))

    def _gumbel_max(self, all_logits: list[Tensor], masks: list[Tensor] | None) -> Tensor:
        """``argmax_a (logits_a + g_a)`` over each agent's legal actions: a sample of the masked
        softmax, ``[n_agents, N]``."""
        actions = []
        for index, logits in enumerate(all_logits):
            noise = torch.empty_like(logits).exponential_(generator=self.generator).log_().neg_()
            if masks is not None:
                logits = logits.masked_fill(~masks[index], float("-inf"))
            actions.append((logits + noise).argmax(dim=-1))
        return torch.stack(actions)

    def _sample(self, current: AgentTensors) -> Tensor:
        return self._gumbel_max(self._logits(current.observations), current.action_masks)

    def _sample_uniformly(self, current: AgentTensors) -> Tensor:
        flat = [torch.zeros(len(observation), spaces.num_actions)
                for observation, spaces in zip(current.observations, self.spaces)]
        return self._gumbel_max(flat, current.action_masks)

    def _rollout(self, act: Callable[[AgentTensors], Tensor]) -> MultiAgentBatch:
        with torch.no_grad():
            batch = collect_episodes(self.envs, act, self.config.max_episode_steps, seed=self._next_reset_seed)
        self._next_reset_seed = None  # later resets continue the seeded generators
        return batch

    def collect_episodes(self) -> MultiAgentBatch:
        """Step 1: one episode in every env copy under the current policies."""
        batch = self._rollout(self._sample)
        self.env_steps += int(batch.valid.any(dim=0).sum())
        self.agent_steps += batch.agent_steps
        self.episodes += batch.num_episodes
        return batch

    # ------------------------------------------------------------------------------- objectives
    def log_probs(self, batch: MultiAgentBatch) -> tuple[Tensor, Tensor]:
        """``log pi_i(a_t^i|o_t^i)`` and the entropies for the whole batch, each ``[n_agents, T, N]``."""
        all_logits = self._logits(batch.observations)
        results = [
            masked_log_probs(logits, batch.actions[index],
                             None if batch.action_masks is None else batch.action_masks[index])
            for index, logits in enumerate(all_logits)
        ]
        return torch.stack([lp for lp, _ in results]), torch.stack([entropy for _, entropy in results])

    def reinforce_objectives(self, batch: MultiAgentBatch) -> Tensor:
        """Every agent's REINFORCE surrogate ``J_i`` (independent and shared methods), ``[n_agents]``."""
        config = self.config
        log_probs, entropy = self.log_probs(batch)
        objectives = []
        for index in range(len(self.agents)):
            weights = reinforce_weights(batch.rewards[index], batch.terminated[index], batch.truncated[index],
                                        batch.valid[index], config.gamma, baseline=config.baseline,
                                        normalize=config.normalize_advantages)
            objectives.append(reinforce_objective(log_probs[index], weights, batch.valid[index],
                                                  entropy=entropy[index], entropy_coef=config.entropy_coef))
        return torch.stack(objectives)

    def _joint_objectives(self) -> list[Tensor]:
        """The closure the game dynamics call: ``u_i`` at the current parameters, on the current batch."""
        batch = self._batch
        log_probs, entropy = self.log_probs(batch)
        estimates = joint_return_estimates(log_probs, self._behaviour_log_probs, batch.rewards, batch.terminated,
                                           batch.truncated, batch.valid, self.config.gamma,
                                           baseline=self.config.baseline)
        if self.config.entropy_coef:
            estimates = estimates + self.config.entropy_coef * (entropy * batch.valid).sum(dim=(1, 2)) / batch.num_episodes
        return list(estimates.unbind(0))

    def update(self, batch: MultiAgentBatch) -> Tensor:
        """Step 2 on one batch. Returns every agent's objective before the step, ``[n_agents]``."""
        if self.dynamics is not None:
            self._batch = batch
            with torch.no_grad():
                self._behaviour_log_probs = self.log_probs(batch)[0]
            values = self.dynamics.step()
            self._batch = None
            return values
        objectives = self.reinforce_objectives(batch)
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)
        # Agent i's surrogate depends on its own parameters only (or, shared, on the one policy),
        # so one backward pass of the sum gives every agent its own gradient.
        objectives.sum().backward()
        for optimizer in self.optimizers:
            optimizer.step()
        return objectives.detach()

    # --------------------------------------------------------------------------------- analysis
    def strategies(self, batch: MultiAgentBatch | None = None) -> list[Tensor]:
        """Each agent's mixed strategy: ``pi_i(.|o)`` averaged over the valid observations of
        ``batch`` (exact for memoryless policies, which need no batch). float64 ``[A_i]`` each."""
        with torch.no_grad():
            if self.memoryless:
                observations = [torch.zeros(1, spaces.observation_size) for spaces in self.spaces]
                return [torch.softmax(logits[0], -1).double() for logits in self._logits(observations)]
            if batch is None:
                raise ValueError("strategies of policies that read observations need a batch to average over")
            strategies = []
            for index, logits in enumerate(self._logits(batch.observations)):
                if batch.action_masks is not None:
                    logits = logits.masked_fill(~batch.action_masks[index], float("-inf"))
                valid = batch.valid[index].unsqueeze(-1)
                probabilities = torch.softmax(logits, dim=-1) * valid
                strategies.append((probabilities.sum(dim=(0, 1)) / valid.sum().clamp(min=1)).double())
            return strategies

    def evaluate(self, *, uniform: bool = False) -> dict[str, float]:
        """Each agent's mean undiscounted return over ``num_envs`` fresh episodes, without learning.

        The actions are sampled from the current policies, or, with ``uniform=True``, uniformly
        from the legal actions (the random-policy baseline). The episodes do not count in the
        training statistics.
        """
        batch = self._rollout(self._sample_uniformly if uniform else self._sample)
        return {agent: float(value) for agent, value in zip(self.agents, batch.episode_returns().mean(dim=1))}

    def nash_conv(self, batch: MultiAgentBatch | None = None) -> float:
        """NashConv of :meth:`strategies` in the matrix game (nan for other envs)."""
        if self.game is None:
            return math.nan
        return float(self.game.nash_conv(self.strategies(batch)))

    # -------------------------------------------------------------------------------- training
    def train(
        self,
        iterations: int,
        *,
        target_nash_conv: float | None = None,
        on_update: Callable[[MultiAgentRecord], None] | None = None,
    ) -> MultiAgentHistory:
        """Run ``iterations`` rollouts and updates, or stop once NashConv <= ``target_nash_conv``.

        With ``lr_schedule="linear"`` the learning rate goes from ``lr`` down to 0 over this call's
        iterations (``torch.optim.lr_scheduler.LinearLR``). ``wall_seconds`` counts rollouts,
        updates, NashConv and ``on_update``, not building the learners.
        """
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
        if target_nash_conv is not None:
            if self.game is None:
                raise ValueError(f"target_nash_conv needs a matrix game; {self.config.env} is not one")
            if isinstance(target_nash_conv, bool) or not math.isfinite(target_nash_conv) or target_nash_conv < 0:
                raise ValueError(f"target_nash_conv must be a finite number >= 0, got {target_nash_conv!r}")
        if self.config.torch_threads is not None:
            torch.set_num_threads(self.config.torch_threads)
        schedulers = []
        if self.config.lr_schedule == "linear":
            for optimizer in self.optimizers:
                for group in optimizer.param_groups:
                    group["lr"] = group["initial_lr"] = self.config.lr
                schedulers.append(torch.optim.lr_scheduler.LinearLR(
                    optimizer, start_factor=1.0, end_factor=0.0, total_iters=iterations))

        start = time.perf_counter()
        history = MultiAgentHistory()
        for _ in range(iterations):
            batch = self.collect_episodes()
            self.update(batch)
            for scheduler in schedulers:
                scheduler.step()
            self.iterations += 1
            strategies = self.strategies(batch) if self.game is not None else None
            nash_conv = float(self.game.nash_conv(strategies)) if strategies is not None else math.nan
            returns = batch.episode_returns().mean(dim=1)
            record = MultiAgentRecord(
                iteration=self.iterations, env_steps=self.env_steps, agent_steps=self.agent_steps,
                episodes=self.episodes, wall_seconds=time.perf_counter() - start,
                mean_returns={agent: float(value) for agent, value in zip(self.agents, returns)},
                nash_conv=nash_conv,
                strategies=None if strategies is None else {
                    agent: strategy.tolist() for agent, strategy in zip(self.agents, strategies)},
            )
            history.records.append(record)
            if on_update is not None:
                on_update(record)
            if target_nash_conv is not None and nash_conv <= target_nash_conv:
                history.reached_target = True
                break
        history.wall_seconds = time.perf_counter() - start
        history.env_steps, history.agent_steps, history.episodes = self.env_steps, self.agent_steps, self.episodes
        return history

    def close(self) -> None:
        self.envs.close()

    # ------------------------------------------------------------------------------ checkpoints
    def save(self, path: str | os.PathLike) -> None:
        """Write a checkpoint (policies, optimizers, counters, config, generator), atomically.

        A game dynamics' own memory (the optimistic method's previous gradient) is not saved: the
        first step after :meth:`load` is a plain simultaneous one.
        """
        save_checkpoint(path, CHECKPOINT_KIND, {
            "config": dataclasses.asdict(self.config),
            "policies": [policy.state_dict() for policy in self.policies],
            "optimizers": [optimizer.state_dict() for optimizer in self.optimizers],
            "counters": [self.env_steps, self.agent_steps, self.episodes, self.iterations],
            "generator": self.generator.get_state(),
        })

    @classmethod
    def load(cls, path: str | os.PathLike) -> MultiAgentReinforce:
        """Rebuild learners from :meth:`save`'s checkpoint (safe ``weights_only`` loading).

        Raises:
            ascentrl.runs.CheckpointError: missing, corrupted, foreign or mismatched file.
        """
        payload = load_checkpoint(path, CHECKPOINT_KIND)
        try:
            learners = cls(MultiAgentConfig(**payload["config"]))
            for policy, state in zip(learners.policies, payload["policies"], strict=True):
                policy.load_state_dict(state)
            for optimizer, state in zip(learners.optimizers, payload["optimizers"], strict=True):
                optimizer.load_state_dict(state)
            learners.env_steps, learners.agent_steps, learners.episodes, learners.iterations = (
                int(value) for value in payload["counters"])
            learners.generator.set_state(payload["generator"])
            learners._next_reset_seed = None
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise CheckpointError(f"checkpoint {path}: does not hold usable multi-agent learners: {error}") from None
        return learners
