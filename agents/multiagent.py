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

Checkpoints and resume. A rollout's randomness is a function of saved state only: the env copies
are reset with a seed derived from ``(seed, iteration)`` and the action noise comes from the
learners' ``torch.Generator``, whose state is saved. A checkpoint (:meth:`MultiAgentReinforce.save`,
written by :meth:`MultiAgentReinforce.train` every ``checkpoint_every`` iterations, when asked to
stop, and at the end) holds the policies, the optimizer and learning-rate scheduler states, the
game dynamics' own memory (the optimistic method's previous gradient, its ``state_dict``),
the generator, the counters, the ``train`` call in progress (budget, target, history so far) and
python/numpy/torch global generator states. So ``MultiAgentReinforce.load(path).resume_training()``
ends with the same parameters and numbers, bit for bit on CPU, as the run that was never stopped.

Data-parallel (``distributed=`` the context of :func:`ascentrl.distributed.init_distributed`,
under ``torchrun``): the ``independent`` and ``shared`` methods only. Every rank collects its own
``num_envs`` episodes with its own seeds (rank 0's are the single-process run's:
:func:`ascentrl.distributed.rank_seed`), each policy's gradient becomes the episode-weighted mean
over all ranks (:func:`ascentrl.distributed.all_reduce_gradients`), and every rank takes the same
``Ascent`` step, so the parameters stay identical. Counters, mean returns, the strategies behind
NashConv and stop requests are summed over the ranks once per iteration, so every rank records the
same numbers and takes the same decisions; only rank 0 writes checkpoints. The game dynamics are
refused: their second-order directions (cross-agent Hessian terms, look-ahead steps) are not
averages of per-rank directions.

Non-finite values. Every objective and every step direction is checked before it is applied; a NaN
or inf stops training with :class:`ascentrl.runs.NonFiniteUpdateError` naming the iteration (the
parameters, optimizer states and dynamics memory are put back as they were before that update,
and the last checkpoint stays the last good state), or skips that update when
``on_nonfinite="skip"``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import torch
from torch import Tensor

from ascentrl import Ascent
from ascentrl.agents.multiagent_history import MultiAgentHistory, MultiAgentRecord, MultiAgentTrainingRun
from ascentrl.agents.multiagent_objectives import (
    joint_return_estimates,
    masked_log_probs,
    reinforce_objective,
    reinforce_weights,
)
from ascentrl.agents.multiagent_rollout import MultiAgentBatch, collect_episodes
from ascentrl.agents.policies import CategoricalPolicy
from ascentrl.distributed import (
    DistributedContext,
    all_reduce_gradients,
    all_reduce_sum,
    broadcast_parameters,
    rank_seed,
)
from ascentrl.envs.matrix_game_env import MatrixGameEnv
from ascentrl.envs.pettingzoo_envs import AgentTensors, ParallelEnvBatch, make_parallel_env
from ascentrl.games import DYNAMICS, make_dynamics
from ascentrl.runs import (
    CheckpointError,
    NonFiniteUpdateError,
    capture_rng_states,
    check_checkpointing,
    load_checkpoint,
    non_finite_report,
    restore_rng_states,
    save_checkpoint,
    stopped_on_non_finite,
)

__all__ = ["DATA_PARALLEL_METHODS", "METHODS", "MultiAgentConfig", "MultiAgentHistory", "MultiAgentRecord",
           "MultiAgentReinforce", "MultiAgentTrainingRun"]

CHECKPOINT_KIND = "MultiAgentReinforce"
EVALUATION_STREAM = 1_000_003  # evaluation rollouts draw env seeds that training rollouts never use
Method = Literal["independent", "shared", "simultaneous", "alternating", "optimistic", "extragradient",
                 "sga", "consensus", "lola"]
METHODS: tuple[str, ...] = get_args(Method)
"""``independent``, ``shared``, and every game dynamics of :data:`ascentrl.games.DYNAMICS`."""
DATA_PARALLEL_METHODS: tuple[str, ...] = ("independent", "shared")
"""The methods that train data-parallel: their step direction is a mean of per-episode terms, so
the all-reduced mean of the ranks' directions is the direction of the union of their batches."""
"""The attributes in which a game dynamics carries information from one step to the next (the
optimistic method's previous gradient ``g_{t-1}``); checkpoints save them. The other dynamics
keep none: their step depends on the parameters and the optimizers' states only (tested)."""


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
    on_nonfinite: Literal["stop", "skip"] = "stop"
    """A NaN/inf objective or step direction: stop training with an error, or skip that update."""

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
                              ("lr_schedule", ("constant", "linear")), ("on_nonfinite", ("stop", "skip"))):
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


class MultiAgentReinforce:
    """Independent, parameter-shared, or game-dynamics REINFORCE learners (module docstring).

    Example::

        learners = MultiAgentReinforce(MultiAgentConfig(env="matching_pennies", method="lola"))
        history = learners.train(300, checkpoint_path="run.pt", checkpoint_every=50)
        print(history.nash_conv, learners.strategies())

        # after an interruption (should_stop, or a crash after a periodic checkpoint):
        history = MultiAgentReinforce.load("run.pt", restore_global_rng=True).resume_training()
    """

    def __init__(self, config: MultiAgentConfig | None = None, *,
                 distributed: DistributedContext | None = None) -> None:
        self.config = config = config if config is not None else MultiAgentConfig()
        if distributed is not None and not isinstance(distributed, DistributedContext):
            raise TypeError("distributed must be the DistributedContext returned by "
                            f"ascentrl.distributed.init_distributed(), got {type(distributed).__name__}")
        self.distributed = distributed if distributed is not None else DistributedContext()
        """This process's place in a data-parallel job; rank 0 of 1 without torchrun."""
        if self.distributed.world_size > 1 and config.method not in DATA_PARALLEL_METHODS:
            raise ValueError(
                f"method {config.method}: data-parallel training supports only {' and '.join(DATA_PARALLEL_METHODS)} "
                f"(a game dynamics' second-order direction is not the average of per-rank directions)")
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
        for policy in self.policies:  # identical already (same seed); made certain for the rare
            broadcast_parameters(policy, self.distributed)  # platform where init differs
        # Every rank acts with its own noise and envs; rank 0's are the single-process run's.
        self.generator = torch.Generator().manual_seed(self._rank_seed)
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
            # A dynamics steps the agents one optimizer at a time; each direction is checked just
            # before its optimizer applies it.
            for name, optimizer in zip(self._policy_names, self.optimizers):
                optimizer.register_step_pre_hook(self._direction_check(name))

        self.env_steps = 0
        self.agent_steps = 0
        self.episodes = 0
        self.iterations = 0
        self.evaluations = 0
        self._batch: MultiAgentBatch | None = None
        self._behaviour_log_probs: Tensor | None = None
        self.training_run: MultiAgentTrainingRun | None = None
        """The latest ``train`` call (restored by :meth:`load`); ``None`` before any."""
        self.last_checkpoint: tuple[str, int] | None = None
        """``(path, iteration)`` of the latest checkpoint written by :meth:`save`."""

    @property
    def _policy_names(self) -> list[str]:
        """How error messages call each policy: ``"player_0 policy"``, or ``"shared policy"``."""
        return ["shared policy"] if self.shared else [f"{agent} policy" for agent in self.agents]

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

    @property
    def _rank_seed(self) -> int:
        """The seed of this rank's envs and noise: ``seed`` itself on rank 0 (and without torchrun)."""
        return rank_seed(self.config.seed, self.distributed.rank)

    def rollout_seed(self) -> int:
        """Seed of the env copies' reset before the next training rollout, a function of
        ``(seed, rank, iteration)`` only.

        Reseeding every rollout makes the envs' randomness part of the saved counters, so no
        generator state of any PettingZoo env has to be captured for an exact resume.
        """
        return int(np.random.SeedSequence([self._rank_seed, self.iterations]).generate_state(1)[0])

    def _rollout(self, act: Callable[[AgentTensors], Tensor], seed: int) -> MultiAgentBatch:
        with torch.no_grad():
            return collect_episodes(self.envs, act, self.config.max_episode_steps, seed=seed)

    def collect_episodes(self) -> MultiAgentBatch:
        """Step 1: one episode in every env copy under the current policies."""
        batch = self._rollout(self._sample, self.rollout_seed())
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
            entropy_sums = (entropy * batch.valid).sum(dim=(1, 2))
            estimates = estimates + self.config.entropy_coef * entropy_sums / batch.num_episodes
        problem = non_finite_report({f"{agent} objective": value for agent, value in zip(self.agents, estimates)}, {})
        if problem is not None:
            raise NonFiniteUpdateError(problem)
        return list(estimates.unbind(0))

    def _direction_check(self, name: str) -> Callable[..., None]:
        """An optimizer step pre-hook refusing a NaN/inf step direction of the policy ``name``."""
        def check(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
            problem = non_finite_report({}, {name: [p for group in optimizer.param_groups for p in group["params"]]})
            if problem is not None:
                raise NonFiniteUpdateError(problem)
        return check

    def update(self, batch: MultiAgentBatch) -> Tensor:
        """Step 2 on one batch. Returns every agent's objective before the step, ``[n_agents]``.

        Raises:
            ascentrl.runs.NonFiniteUpdateError: an objective or a step direction is NaN/inf; the
                policies, optimizers and dynamics memory are as they were before the call.
        """
        if self.dynamics is not None:
            return self._dynamics_update(batch)
        objectives = self.reinforce_objectives(batch)
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)
        # Agent i's surrogate depends on its own parameters only (or, shared, on the one policy),
        # so one backward pass of the sum gives every agent its own gradient.
        objectives.sum().backward()
        # Data-parallel: every policy's gradient becomes the episode-weighted mean over all ranks
        # (a no-op in a single process), so every rank takes the same step.
        for policy in self.policies:
            all_reduce_gradients(policy, batch.num_episodes, self.distributed)
        problem = non_finite_report(
            {f"{agent} objective": objective for agent, objective in zip(self.agents, objectives)},
            {name: policy.parameters() for name, policy in zip(self._policy_names, self.policies)})
        if problem is not None:
            for optimizer in self.optimizers:
                optimizer.zero_grad(set_to_none=True)
            raise NonFiniteUpdateError(f"{problem}; the update was not applied")
        for optimizer in self.optimizers:
            optimizer.step()
        return objectives.detach()

    def _dynamics_update(self, batch: MultiAgentBatch) -> Tensor:
        """One step of the game dynamics on ``batch``, undone entirely if a value turns out non-finite.

        The dynamics step the agents one after another (and extragradient twice), so a bad
        direction may be found after another agent already moved: the state before the step is
        kept and put back.
        """
        before = self._learning_state()
        self._batch = batch
        try:
            with torch.no_grad():
                self._behaviour_log_probs = self.log_probs(batch)[0]
            return self.dynamics.step()
        except NonFiniteUpdateError as error:
            self._restore_learning_state(before)
            raise NonFiniteUpdateError(f"{error}; the update was not applied") from None
        finally:
            self._batch = self._behaviour_log_probs = None

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
        training statistics. Every call resets the env copies with fresh seeds derived from
        ``(seed, number of earlier evaluations)``, never ones a training rollout uses.
        """
        entropy = [self.config.seed, EVALUATION_STREAM, self.evaluations]
        seed = int(np.random.SeedSequence(entropy).generate_state(1)[0])
        batch = self._rollout(self._sample_uniformly if uniform else self._sample, seed)
        self.evaluations += 1
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
        checkpoint_path: str | os.PathLike | None = None,
        checkpoint_every: int | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> MultiAgentHistory:
        """Run ``iterations`` rollouts and updates, or stop once NashConv <= ``target_nash_conv``.

        With ``lr_schedule="linear"`` the learning rate goes from ``lr`` down to 0 over this call's
        iterations (``torch.optim.lr_scheduler.LinearLR``). ``wall_seconds`` counts rollouts,
        updates, NashConv, checkpoints and ``on_update``, not building the learners.

        Args:
            checkpoint_path: where :meth:`save` writes (atomically) every ``checkpoint_every``
                iterations, when ``should_stop`` asks, and at the end.
            checkpoint_every: iterations between periodic checkpoints; ``None``: only when
                stopping early and at the end.
            should_stop: polled after every iteration; once it returns True, training writes a
                checkpoint and returns with ``history.interrupted`` set, and
                :meth:`resume_training` (after :meth:`load`) continues exactly where it left off.

        Raises:
            ascentrl.runs.NonFiniteUpdateError: with ``on_nonfinite="stop"``, an objective or step
                direction was NaN/inf; the message names the iteration and the last checkpoint.
        """
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
        if target_nash_conv is not None:
            if self.game is None:
                raise ValueError(f"target_nash_conv needs a matrix game; {self.config.env} is not one")
            if isinstance(target_nash_conv, bool) or not math.isfinite(target_nash_conv) or target_nash_conv < 0:
                raise ValueError(f"target_nash_conv must be a finite number >= 0, got {target_nash_conv!r}")
        check_checkpointing(checkpoint_path, checkpoint_every)
        if self.config.lr_schedule == "linear":
            for optimizer in self.optimizers:
                for group in optimizer.param_groups:
                    group["lr"] = group["initial_lr"] = self.config.lr
        self.training_run = MultiAgentTrainingRun(iterations, self.iterations + iterations, target_nash_conv,
                                                  MultiAgentHistory())
        return self._run_training(on_update, checkpoint_path, checkpoint_every, should_stop)

    def resume_training(
        self,
        *,
        on_update: Callable[[MultiAgentRecord], None] | None = None,
        checkpoint_path: str | os.PathLike | None = None,
        checkpoint_every: int | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> MultiAgentHistory:
        """Continue the :meth:`train` call saved in the checkpoint these learners were loaded from.

        Budget, target and learning-rate schedule are the saved call's; the returned history holds
        the records from the call's start. Arguments as in :meth:`train`.

        Raises:
            ValueError: the learners have no unfinished training run to continue.
        """
        run = self.training_run
        if run is None:
            raise ValueError("resume_training: these learners have no training run to continue "
                             "(load a checkpoint written during train())")
        if run.finished:
            raise ValueError(f"resume_training: the saved run already finished after {self.iterations} "
                             f"iterations; there is nothing to resume")
        check_checkpointing(checkpoint_path, checkpoint_every)
        run.history.interrupted = False
        return self._run_training(on_update, checkpoint_path, checkpoint_every, should_stop)

    def _schedulers(self, run: MultiAgentTrainingRun) -> list[torch.optim.lr_scheduler.LinearLR]:
        """The linear decays of the run, at the point the run reached (none for a constant rate)."""
        if self.config.lr_schedule != "linear":
            return []
        schedulers = [torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0, end_factor=0.0,
                                                        total_iters=run.iterations)
                      for optimizer in self.optimizers]
        for scheduler, state in zip(schedulers, run.scheduler_states or (), strict=False):
            scheduler.load_state_dict(state)
        return schedulers

    def _run_training(
        self,
        on_update: Callable[[MultiAgentRecord], None] | None,
        checkpoint_path: str | os.PathLike | None,
        checkpoint_every: int | None,
        should_stop: Callable[[], bool] | None,
    ) -> MultiAgentHistory:
        """The loop of :meth:`train`, from wherever ``self.training_run`` stands."""
        if self.config.torch_threads is not None:
            torch.set_num_threads(self.config.torch_threads)
        run = self.training_run
        history = run.history
        schedulers = self._schedulers(run)
        start, seconds_before = time.perf_counter(), history.wall_seconds
        main_process = self.distributed.is_main

        def checkpoint(wanted: bool) -> None:
            history.wall_seconds = seconds_before + time.perf_counter() - start
            history.env_steps, history.agent_steps, history.episodes = self.env_steps, self.agent_steps, self.episodes
            run.scheduler_states = [copy.deepcopy(scheduler.state_dict()) for scheduler in schedulers] or None
            if wanted and checkpoint_path is not None and main_process:
                self.save(checkpoint_path)

        while self.iterations < run.stop_at:
            counters_before = (self.env_steps, self.agent_steps, self.episodes)
            batch = self.collect_episodes()
            self.iterations += 1
            try:
                self.update(batch)
            except NonFiniteUpdateError as error:
                if self.config.on_nonfinite == "stop":
                    raise stopped_on_non_finite(self.iterations, error, self.last_checkpoint) from None
                history.skipped_iterations.append(self.iterations)
            for scheduler in schedulers:
                scheduler.step()
            totals = self._summed_over_ranks(batch, counters_before, should_stop)
            self.env_steps, self.agent_steps, self.episodes = (
                before + int(totals[name])
                for before, name in zip(counters_before, ("env_steps", "agent_steps", "episodes")))
            strategies = self._strategies_over_ranks(batch, totals) if self.game is not None else None
            nash_conv = float(self.game.nash_conv(strategies)) if strategies is not None else math.nan
            record = MultiAgentRecord(
                iteration=self.iterations, env_steps=self.env_steps, agent_steps=self.agent_steps,
                episodes=self.episodes, wall_seconds=seconds_before + time.perf_counter() - start,
                mean_returns={agent: totals[f"return_sum {index}"] / totals["episodes"]
                              for index, agent in enumerate(self.agents)},
                nash_conv=nash_conv,
                strategies=None if strategies is None else {
                    agent: strategy.tolist() for agent, strategy in zip(self.agents, strategies)},
            )
            history.records.append(record)
            if on_update is not None:
                on_update(record)
            if run.target_nash_conv is not None and nash_conv <= run.target_nash_conv:
                history.reached_target = True
                break
            checkpoint(checkpoint_every is not None and self.iterations % checkpoint_every == 0)
            if totals["stop_requests"] and self.iterations < run.stop_at:
                history.interrupted = True
                checkpoint(True)
                return history
        run.finished = True
        checkpoint(True)
        return history

    def _summed_over_ranks(self, batch: MultiAgentBatch, counters_before: tuple[int, int, int],
                           should_stop: Callable[[], bool] | None) -> dict[str, float]:
        """This iteration's counters, return sums and stop requests summed over all ranks, in one
        all-reduce (the values themselves in a single process), so every rank decides the same.

        ``return_sum i`` is ``n * mean_i`` with agent i's float32 batch mean: exact in float64, so a
        single process records that mean bit for bit. With policies that read observations in a
        data-parallel matrix game, ``strategy i`` and ``strategy weight i`` also carry the sums
        :meth:`strategies` averages, so the strategies behind NashConv cover every rank's batch.
        """
        counters = (self.env_steps, self.agent_steps, self.episodes)
        values = {name: now - before for name, now, before in
                  zip(("env_steps", "agent_steps", "episodes"), counters, counters_before)}
        values["stop_requests"] = should_stop is not None and should_stop()
        means = batch.episode_returns().mean(dim=1)
        values.update({f"return_sum {index}": float(mean) * batch.num_episodes for index, mean in enumerate(means)})
        if self.game is not None and not self.memoryless and self.distributed.world_size > 1:
            with torch.no_grad():
                for index, logits in enumerate(self._logits(batch.observations)):
                    if batch.action_masks is not None:
                        logits = logits.masked_fill(~batch.action_masks[index], float("-inf"))
                    valid = batch.valid[index].unsqueeze(-1)
                    probabilities = (torch.softmax(logits, dim=-1) * valid).sum(dim=(0, 1)).double()
                    values.update({f"strategy {index} {action}": float(p) for action, p in enumerate(probabilities)})
                    values[f"strategy weight {index}"] = float(valid.sum())
        return all_reduce_sum(values, self.distributed)

    def _strategies_over_ranks(self, batch: MultiAgentBatch, totals: dict[str, float]) -> list[Tensor]:
        """:meth:`strategies`, averaged over every rank's batch when they depend on observations.

        Memoryless strategies are functions of the parameters, identical on all ranks already."""
        if self.memoryless or self.distributed.world_size == 1:
            return self.strategies(batch)
        return [torch.tensor([totals[f"strategy {index} {action}"] for action in range(spaces.num_actions)],
                             dtype=torch.float64) / max(totals[f"strategy weight {index}"], 1.0)
                for index, spaces in enumerate(self.spaces)]

    def close(self) -> None:
        self.envs.close()

    # ------------------------------------------------------------------------------ checkpoints
    def _learning_state(self) -> dict[str, Any]:
        """A copy of everything an update changes: parameters, optimizer states, dynamics memory."""
        return copy.deepcopy({
            "policies": [policy.state_dict() for policy in self.policies],
            "optimizers": [optimizer.state_dict() for optimizer in self.optimizers],
            "dynamics_memory": self.dynamics.state_dict() if self.dynamics is not None else {},
        })

    def _restore_learning_state(self, state: dict[str, Any]) -> None:
        for policy, policy_state in zip(self.policies, state["policies"], strict=True):
            policy.load_state_dict(policy_state)
            for parameter in policy.parameters():
                parameter.grad = None
        for optimizer, optimizer_state in zip(self.optimizers, state["optimizers"], strict=True):
            optimizer.load_state_dict(optimizer_state)
        if self.dynamics is not None:
            self.dynamics.load_state_dict(state["dynamics_memory"])
        elif state["dynamics_memory"]:
            raise ValueError(f"the {self.config.method} learners keep no dynamics memory, "
                             f"the state holds {sorted(state['dynamics_memory'])}")

    def save(self, path: str | os.PathLike) -> None:
        """Write a checkpoint with everything needed to continue, atomically.

        It holds the config, the policies and their optimizers, the game dynamics' memory, the
        counters, the action-noise generator, the :class:`MultiAgentTrainingRun` in progress (with
        the learning-rate schedulers) and python/numpy/torch global generator states. The envs need
        no state of their own: every rollout reseeds them from ``(seed, iteration)``.
        """
        save_checkpoint(path, CHECKPOINT_KIND, {
            "config": dataclasses.asdict(self.config),
            **self._learning_state(),
            "env_steps": self.env_steps,
            "agent_steps": self.agent_steps,
            "episodes": self.episodes,
            "iterations": self.iterations,
            "evaluations": self.evaluations,
            "generator": self.generator.get_state(),
            "training_run": self.training_run.to_state() if self.training_run is not None else None,
            "global_rng": capture_rng_states(),
        })
        self.last_checkpoint = (str(path), self.iterations)

    @classmethod
    def load(cls, path: str | os.PathLike, *, restore_global_rng: bool = False) -> MultiAgentReinforce:
        """Rebuild learners from :meth:`save`'s checkpoint (safe ``weights_only`` loading).

        ``restore_global_rng=True`` also puts python's, numpy's and torch's global generators back
        as they were at saving time, for a process that resumes the run (the learners themselves
        draw only from their own generator and the reseeded envs).

        Raises:
            ascentrl.runs.CheckpointError: missing, corrupted, foreign or mismatched file.
        """
        payload = load_checkpoint(path, CHECKPOINT_KIND)
        try:
            learners = cls(MultiAgentConfig(**payload["config"]))
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"checkpoint {path}: its config cannot build learners here: {error}") from None
        try:
            learners._restore_learning_state(payload)
            for name in ("env_steps", "agent_steps", "episodes", "iterations", "evaluations"):
                setattr(learners, name, int(payload[name]))
            learners.generator.set_state(payload["generator"])
            if payload["training_run"] is not None:
                learners.training_run = MultiAgentTrainingRun.from_state(payload["training_run"])
            if restore_global_rng:
                restore_rng_states(payload["global_rng"])
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as error:
            learners.close()
            raise CheckpointError(f"checkpoint {path}: does not hold usable multi-agent learners: "
                                  f"{type(error).__name__}: {error}") from None
        learners.last_checkpoint = (str(path), learners.iterations)
        return learners
