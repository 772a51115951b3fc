"""Multi-agent REINFORCE on PettingZoo: every agent ascends its own expected return at once.

Sign convention: every objective is **maximized** (``J.backward()`` then an
:class:`ascentrl.Ascent` step, or a game dynamics writing ascent directions); nothing is negated.

One iteration, top to bottom:

1. **Rollout** (:func:`~ascentrl.agents.multiagent_rollout.collect_episodes`). ``N`` copies of the
   env each play one episode; every live agent samples ``a ~ pi_i(.|o)`` by the Gumbel-max trick
   over its legal actions (illegal ones have probability exactly 0). Agents that leave are masked
   and never stepped again. In a *turn-based* game (a PettingZoo AEC env such as tic-tac-toe or
   connect four) the agent whose turn it is moves in each copy, and each agent's trajectory is
   its own decisions, credited with the rewards that arrive until its next move
   (:func:`~ascentrl.agents.turn_based_rollout.collect_turns`), so the objectives below apply
   to it unchanged. Self-play is the ``shared`` method (one policy that knows its seat) or
   ``independent`` (one policy per seat).
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
     They need simultaneous moves: the joint importance weight of step ``t`` multiplies the
     probabilities of the actions all agents took *together* at ``t``, which a turn-based game,
     whose agents move at different times, does not have; they refuse turn-based envs.

3. **Record.** Mean return of every agent over the batch; for a matrix game (an env id of
   :data:`ascentrl.envs.MATRIX_GAMES`) also each agent's learned mixed strategy and its NashConv;
   for an extensive-form game (``extensive/kuhn_poker``, ``extensive/leduc_poker``) the exact
   NashConv of the learned policy table (:mod:`ascentrl.agents.extensive_play`).

A matrix game's *learned mixed strategy* is the agent's action distribution averaged over the
observations of the last batch; with ``memoryless`` policies (the default for matrix games) the
policy is one softmax strategy ``softmax(logits)`` that ignores observations, so this is exact.

The training loop, checkpoints, resume and NaN/inf handling are the shared ones of
:class:`ascentrl.training.Learner`: a rollout's randomness is a function of saved state only (env
copies reseeded from ``(seed, iteration)``, action noise from the learners' saved generator); a
checkpoint also holds the game dynamics' own memory (the optimistic method's previous gradient) and
the learning-rate schedulers, so a resumed run ends bit-identical to one that never stopped.

Data-parallel (``distributed=`` a context of :func:`ascentrl.distributed.init_distributed`): the
``independent`` and ``shared`` methods only — each rank collects its own episodes (rank 0's are the
single-process run's) and every policy's gradient becomes the episode-weighted mean over all ranks,
so the parameters stay identical. The game dynamics are refused: their second-order directions
(cross-agent Hessian terms, look-ahead steps) are not averages of per-rank directions.

Non-finite values. Every objective and every step direction is checked before it is applied (a
dynamics steps the agents one optimizer at a time, so each direction is checked just before its
optimizer applies it); a NaN or inf undoes the whole update, then stops or skips
(``on_nonfinite``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from ascentrl.agents.conv_policy import conv_policy_parameters
from ascentrl.agents.extensive_play import extensive_game_of, learned_nash_conv
from ascentrl.agents.multiagent_config import DATA_PARALLEL_METHODS, METHODS, MultiAgentConfig
from ascentrl.agents.multiagent_objectives import (
    joint_return_estimates,
    reinforce_objective,
    reinforce_weights,
    value_objective,
)
from ascentrl.agents.multiagent_play import MultiAgentPlay
from ascentrl.agents.multiagent_policies import AgentPolicies
from ascentrl.agents.multiagent_reporting import MultiAgentReporting
from ascentrl.agents.multiagent_rollout import MultiAgentBatch, collect_episodes
from ascentrl.agents.turn_based_rollout import collect_turns
from ascentrl.distributed import DistributedContext, all_reduce_gradients
from ascentrl.envs.matrix_game_env import MatrixGameEnv
from ascentrl.envs.matrix_games import MATRIX_GAMES
from ascentrl.envs.pettingzoo_envs import AgentTensors, ParallelEnvBatch
from ascentrl.envs.pettingzoo_registry import is_turn_based, make_pettingzoo_env
from ascentrl.envs.pettingzoo_spaces import describe_agent_spaces
from ascentrl.envs.turn_based import TurnBasedEnvBatch
from ascentrl.games import DYNAMICS, make_dynamics
from ascentrl.resources import (
    ENV_OBJECT_BYTES,
    FLOAT_BYTES,
    TRAINING_COPIES,
    MemoryNeed,
    check_memory,
    network_parameters,
)
from ascentrl.training import (
    Budget,
    IterationBudget,
    Learner,
    NonFiniteUpdateError,
    non_finite_report,
)

__all__ = ["DATA_PARALLEL_METHODS", "METHODS", "MultiAgentConfig", "MultiAgentReinforce"]


class MultiAgentReinforce(MultiAgentPlay, MultiAgentReporting, Learner):
    """Independent, parameter-shared, or game-dynamics REINFORCE learners (module docstring).

    Example::

        learners = MultiAgentReinforce(MultiAgentConfig(env="matching_pennies", method="lola"))
        history = learners.train(300, checkpoint_path="run.pt", checkpoint_every=50)
        print(history.final("nash_conv"), learners.strategies())

        # after an interruption (should_stop, or a crash after a periodic checkpoint):
        history = MultiAgentReinforce.load("run.pt", restore_global_rng=True).resume_training()
    """

    config_class: ClassVar[type] = MultiAgentConfig
    counter_names: ClassVar[tuple[str, ...]] = ("env_steps", "agent_steps", "episodes")
    default_budget: ClassVar[type[Budget]] = IterationBudget

    def __init__(self, config: MultiAgentConfig | None = None, *,
                 distributed: DistributedContext | None = None) -> None:
        super().__init__(config if config is not None else MultiAgentConfig(), distributed)
        config = self.config
        if self.distributed.world_size > 1 and config.method not in DATA_PARALLEL_METHODS:
            raise ValueError(
                f"method {config.method}: data-parallel training supports only {' and '.join(DATA_PARALLEL_METHODS)} "
                f"(a game dynamics' second-order direction is not the average of per-rank directions)")
        check_memory(self.memory_needs(config))  # before anything is built
        self.envs = _env_batch(config)
        try:
            self.turn_based = isinstance(self.envs, TurnBasedEnvBatch)
            self.agents = self.envs.possible_agents
            self.spaces = self.envs.spaces
            unwrapped = self.envs.envs[0].unwrapped
            self.game = unwrapped.game if isinstance(unwrapped, MatrixGameEnv) else None
            self.extensive_game = extensive_game_of(unwrapped)
            self.memoryless = config.memoryless if config.memoryless is not None else self.game is not None
            self.shared = config.method == "shared"
            self._check_method()
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(config.seed)
                self.agent_policies = AgentPolicies(self.spaces, shared=self.shared, memoryless=self.memoryless,
                                                    hidden_sizes=config.hidden_sizes,
                                                    initial_logit_std=config.initial_logit_std,
                                                    conv_channels=config.conv_channels,
                                                    values=config.baseline == "value")
            self.policies = self.agent_policies.policies
            self.value_networks = self.agent_policies.values
            self.broadcast_networks()
            self.optimizers = [self.make_ascent(policy.parameters(), config.lr) for policy in self.policies]
            value_lr = config.value_lr if config.value_lr is not None else config.lr
            self.value_optimizers = [self.make_ascent(values.parameters(), value_lr) for values in self.value_networks]
            self.dynamics = None
            if config.method in DYNAMICS:
                self.dynamics = self._make_dynamics()
        except BaseException:
            self.close()
            raise
        self._batch: MultiAgentBatch | None = None
        self._behaviour_log_probs: Tensor | None = None

    @classmethod
    def memory_needs(cls, config: MultiAgentConfig, eval_episodes: int | None = None) -> list[MemoryNeed]:
        """Rough needs of a run (:mod:`ascentrl.resources`): the env copies, one step of every agent
        in every copy per round of an episode, and the policies with their training copies."""
        probe = make_pettingzoo_env(config.env, episode_length=config.episode_length)
        try:
            spaces = describe_agent_spaces(probe, config.observation_encoding)
        finally:
            probe.close()
        memoryless = config.memoryless if config.memoryless is not None else config.env in MATRIX_GAMES
        rounds = config.episode_length or 1
        per_step = sum(space.observation_size + 2 * space.num_actions + 6 for space in spaces)
        hidden = () if memoryless else config.hidden_sizes
        parameters = sum(
            conv_policy_parameters(space.image_shape, len(spaces), space.num_actions, config.conv_channels, hidden)
            if space.image_shape is not None and not memoryless else
            network_parameters(0 if memoryless else space.observation_size + len(spaces), hidden, space.num_actions)
            for space in spaces)
        return [MemoryNeed("env copies", config.num_envs * ENV_OBJECT_BYTES, (f"--num-envs {config.num_envs}",)),
                MemoryNeed("rollout buffers", config.num_envs * rounds * per_step * FLOAT_BYTES,
                           (f"--num-envs {config.num_envs}", f"--episode-length {rounds}")),
                MemoryNeed("networks", parameters * TRAINING_COPIES * FLOAT_BYTES,
                           (f"--hidden-sizes {' '.join(map(str, config.hidden_sizes))}",))]

    @property
    def _policy_names(self) -> list[str]:
        """How error messages call each policy: ``"player_0 policy"``, or ``"shared policy"``."""
        return ["shared policy"] if self.shared else [f"{agent} policy" for agent in self.agents]

    @property
    def _value_names(self) -> list[str]:
        """``"player_0 value"`` or ``"shared value"``: the value networks (baseline value)."""
        return [name.replace(" policy", " value") for name in self._policy_names]

    def _check_method(self) -> None:
        config = self.config
        if config.method in DYNAMICS and self.turn_based:
            raise ValueError(
                f"method {config.method}: the game dynamics weight each step by the probability of the actions all "
                f"agents took together at that step, which assumes simultaneous moves; {config.env} is turn-based, "
                f"use method shared or independent")
        if config.method in DYNAMICS and len(self.agents) < 2:
            raise ValueError(f"method {config.method} needs at least 2 agents; {config.env} has {len(self.agents)}")
        if self.shared:
            first = self.spaces[0]
            for other in self.spaces[1:]:
                if (other.observation_size, other.num_actions) != (first.observation_size, first.num_actions):
                    raise ValueError(
                        f"method shared needs the same spaces for every agent, but {first.agent} and "
                        f"{other.agent} differ; use method independent"
                    )

    def _make_dynamics(self) -> Any:
        config = self.config
        try:
            dynamics = make_dynamics(config.method, [list(p.parameters()) for p in self.policies],
                                     self._joint_objectives, self.optimizers, **config.dynamics_options)
        except (TypeError, ValueError) as error:
            raise ValueError(f"method {config.method}: {error}") from None
        # A dynamics steps the agents one optimizer at a time; each direction is checked just
        # before its optimizer applies it.
        for name, optimizer in zip(self._policy_names, self.optimizers):
            optimizer.register_step_pre_hook(self._direction_check(name))
        return dynamics

    def close(self) -> None:
        self.envs.close()

    # ------------------------------------------------------------------------- learner plumbing
    def networks(self) -> dict[str, nn.Module | None]:
        return {**dict(zip(self._policy_names, self.policies)),
                **dict(zip(self._value_names, self.value_networks))}

    def named_optimizers(self) -> dict[str, Optimizer | None]:
        return {f"{name} optimizer": optimizer for name, optimizer in (
            *zip(self._policy_names, self.optimizers), *zip(self._value_names, self.value_optimizers))}

    def update_state(self) -> dict[str, Any]:
        """The game dynamics' memory (the optimistic method's previous gradient); {} for the others."""
        return self.dynamics.state_dict() if self.dynamics is not None else {}

    def load_update_state(self, state: dict[str, Any]) -> None:
        if self.dynamics is not None:
            self.dynamics.load_state_dict(state)
        elif state:
            raise ValueError(f"the {self.config.method} learners keep no dynamics memory, "
                             f"the state holds {sorted(state)}")

    def extra_state(self) -> dict[str, Any]:
        return {"dynamics_memory": self.update_state()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.load_update_state(state["dynamics_memory"])

    # ----------------------------------------------------------------------------------- acting
    def _sample(self, current: AgentTensors) -> Tensor:
        logits = self.agent_policies.logits(current.observations)
        return self.agent_policies.sample(logits, current.action_masks, self.generator)

    def _sample_turn(self, index: int, copies: Tensor, observations: Tensor, masks: Tensor | None) -> Tensor:
        logits = self.agent_policies.agent_logits(index, observations)
        return self.agent_policies.sample_one(logits, masks, self.generator)

    def collect(self) -> MultiAgentBatch:
        """Step 1: one episode in every env copy under the current policies."""
        with torch.no_grad():
            if self.turn_based:
                batch = collect_turns(self.envs, self._sample_turn, self.config.max_episode_steps,
                                      seed=self.rollout_seed())
            else:
                batch = collect_episodes(self.envs, self._sample, self.config.max_episode_steps,
                                         seed=self.rollout_seed())
        self.env_steps += batch.env_steps
        self.agent_steps += batch.agent_steps
        self.episodes += batch.num_episodes
        return batch

    # ------------------------------------------------------------------------------- objectives
    def log_probs(self, batch: MultiAgentBatch) -> tuple[Tensor, Tensor]:
        """``log pi_i(a_t^i|o_t^i)`` and the entropies for the whole batch, each ``[n_agents, T, N]``."""
        return self.agent_policies.log_probs(batch)

    def reinforce_objectives(self, batch: MultiAgentBatch) -> Tensor:
        """Every agent's REINFORCE surrogate ``J_i`` (independent and shared methods), ``[n_agents]``."""
        config = self.config
        log_probs, entropy = self.log_probs(batch)
        values = None
        if self.value_networks:
            with torch.no_grad():
                values = self.agent_policies.value_estimates(batch.observations)
        objectives = []
        for index in range(len(self.agents)):
            weights = reinforce_weights(batch.rewards[index], batch.terminated[index], batch.truncated[index],
                                        batch.valid[index], config.gamma, baseline=config.baseline,
                                        normalize=config.normalize_advantages,
                                        values=None if values is None else values[index])
            objectives.append(reinforce_objective(log_probs[index], weights, batch.valid[index],
                                                  entropy=entropy[index], entropy_coef=config.entropy_coef))
        return torch.stack(objectives)

    def value_objectives(self, batch: MultiAgentBatch) -> Tensor:
        """Every agent's value regression ``J_V`` (baseline value), ``[n_agents]``."""
        values = self.agent_policies.value_estimates(batch.observations)
        return torch.stack([
            value_objective(values[index], batch.rewards[index], batch.terminated[index], batch.truncated[index],
                            batch.valid[index], self.config.gamma) for index in range(len(self.agents))])

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

    def update(self, batch: MultiAgentBatch) -> dict[str, float]:
        """Step 2 on one batch.

        Raises:
            NonFiniteUpdateError: an objective or a step direction is NaN/inf (the training loop
                puts the policies, optimizers and dynamics memory back as they were).
        """
        if self.dynamics is not None:
            self._batch = batch
            try:
                with torch.no_grad():
                    self._behaviour_log_probs = self.log_probs(batch)[0]
                self.dynamics.step()
            finally:
                self._batch = self._behaviour_log_probs = None
            return {}
        objectives = self.reinforce_objectives(batch)
        named_objectives = {f"{agent} objective": objective for agent, objective in zip(self.agents, objectives)}
        total = objectives.sum()
        if self.value_networks:
            value_objectives = self.value_objectives(batch)
            named_objectives.update({f"{agent} value objective": objective
                                     for agent, objective in zip(self.agents, value_objectives)})
            total = total + value_objectives.sum()
        for optimizer in (*self.optimizers, *self.value_optimizers):
            optimizer.zero_grad(set_to_none=True)
        # Agent i's surrogate depends on its own parameters only (or, shared, on the one policy),
        # and so does its value regression on its value network: one backward pass of the sum
        # gives every network its own gradient.
        total.backward()
        # Data-parallel: every network's gradient becomes the episode-weighted mean over all ranks
        # (a no-op in a single process), so every rank takes the same step.
        for network in (*self.policies, *self.value_networks):
            all_reduce_gradients(network, batch.num_episodes, self.distributed)
        problem = non_finite_report(
            named_objectives, {name: network.parameters() for name, network in self.networks().items()})
        if problem is not None:
            raise NonFiniteUpdateError(problem)
        for optimizer in (*self.optimizers, *self.value_optimizers):
            optimizer.step()
        return {}

    # --------------------------------------------------------------------------------- analysis
    def strategies(self, batch: MultiAgentBatch | None = None) -> list[Tensor]:
        """Each agent's mixed strategy: ``pi_i(.|o)`` averaged over the valid observations of
        ``batch`` (exact for memoryless policies, which need no batch). float64 ``[A_i]`` each."""
        return self.agent_policies.strategies(batch)

    def nash_conv(self, batch: MultiAgentBatch | None = None) -> float:
        """NashConv of :meth:`strategies` in the matrix game, or of the learned policy table in an
        extensive-form game (:func:`~ascentrl.agents.extensive_play.learned_nash_conv`, exact);
        nan for other envs."""
        if self.extensive_game is not None:
            return learned_nash_conv(self)
        if self.game is None:
            return math.nan
        return float(self.game.nash_conv(self.strategies(batch)))


def _env_batch(config: MultiAgentConfig) -> ParallelEnvBatch | TurnBasedEnvBatch:
    """``num_envs`` copies of the config's env: a turn-based batch for a turn-based AEC env."""
    first = [make_pettingzoo_env(config.env, episode_length=config.episode_length)]

    def env_fn() -> Any:  # the probe becomes the first copy
        return first.pop() if first else make_pettingzoo_env(config.env, episode_length=config.episode_length)

    batch_class = TurnBasedEnvBatch if is_turn_based(first[0]) else ParallelEnvBatch
    return batch_class(env_fn, config.num_envs, encoding=config.observation_encoding)
