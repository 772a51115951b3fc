"""REINFORCE (Williams, 1992): ascend the expected return with the score-function gradient.

Sign convention: every objective here is **maximized** (``J.backward()`` then an
:class:`ascentrl.Ascent` step); nothing is negated into a loss.

One iteration, top to bottom:

1. **Rollout.** Reset the ``N`` vector envs and run the current policy ``pi_theta`` until every env
   has finished its first episode (terminated, or truncated by the time limit). That gives ``N``
   independent episodes of the current policy. Steps after an env's first episode (including the
   Gymnasium NEXT_STEP autoreset step) are masked out, never learned from: learning from the extra
   episodes that happen to finish early would over-weight short episodes.
2. **Weights.** ``Psi_t = R_t - b_t`` where ``R_t`` is the discounted reward-to-go
   ``G_t = sum_{k >= t} gamma^(k-t) r_k`` (``returns="reward_to_go"``) or the whole-episode return
   ``G_0`` (``returns="episode"``), and the baseline ``b_t`` is 0, the batch mean of ``R_t`` over
   the *other* episodes still running at step t (:func:`ascentrl.returns.batch_mean_baseline`), or a
   learned value ``V_phi(s_t)``. At a time-limit truncation the return is bootstrapped,
   ``G_t = r_t + gamma V_phi(s_{t+1})``, when a value baseline exists; without one it simply stops
   (the finite-horizon return the time-limited task scores). Optionally ``Psi`` is normalized to
   zero mean and unit variance over the batch.
3. **Policy ascent.**
   ``J(theta) = (1/N) sum_episodes sum_t [ log pi_theta(a_t|s_t) Psi_t + beta H(pi_theta(.|s_t)) ]``,
   whose gradient (``beta = 0``) is the REINFORCE estimate of ``grad E[return]``.
4. **Value ascent** (``baseline="value"`` only). ``J_V(phi) = -mean_t (V_phi(s_t) - G_t)^2``.

Actions are sampled with noise drawn once per rollout (:mod:`ascentrl.agents.policies`), and
log-probabilities are recomputed for the whole rollout in one batched forward pass after it.

Checkpoints and resume. A rollout's randomness is a function of saved state only: the envs are
reset with a seed derived from ``(seed, iteration)`` and the action noise comes from the agent's
``torch.Generator``, whose state is saved. A checkpoint (:meth:`Reinforce.save`, written by
:meth:`Reinforce.train` every ``checkpoint_every`` iterations, when asked to stop, and at the end)
holds the networks, optimizer states, the generator, the counters, the window of the last 100
training-episode returns used by the solve criterion, the ``train`` call in progress (budget,
target, history so far) and python/numpy/torch global generator states. So
``Reinforce.load(path).resume_training()`` ends with the same parameters and numbers, bit for bit
on CPU, as the run that was never stopped.

Non-finite values. Before any step, the objectives and gradients are checked; a NaN or inf stops
training with :class:`ascentrl.runs.NonFiniteUpdateError` naming the iteration (nothing is applied,
the last checkpoint stays the last good state), or skips that update when
``on_nonfinite="skip"``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from ascentrl import Ascent
from ascentrl.agents.policies import MLP, CategoricalPolicy, GaussianPolicy
from ascentrl.distributed import (
    DistributedContext,
    all_reduce_gradients,
    all_reduce_sum,
    broadcast_parameters,
    rank_seed,
)
from ascentrl.envs.gym_envs import EnvSpaces, evaluate_policy, make_vector_env
from ascentrl.returns import (
    batch_mean_baseline,
    episode_returns,
    first_episode_mask,
    normalize_advantages,
    reward_to_go,
    score_function_objective,
)
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

__all__ = ["EpisodeBatch", "Reinforce", "ReinforceConfig", "TrainHistory", "TrainingRun", "UpdateRecord"]

CHECKPOINT_KIND = "Reinforce"
EVALUATION_SEED_OFFSET = 1_000_003  # evaluation episodes never replay the training seeds
STATISTICS_WINDOW = 100  # "mean return" = mean over the last 100 finished training episodes


@dataclass
class ReinforceConfig:
    """Hyperparameters of :class:`Reinforce`. The defaults solve CartPole-v1 fastest (see the bench)."""

    env: str = "CartPole-v1"
    """Gymnasium environment id (Discrete or 1-D Box actions, Box observations)."""
    seed: int = 0
    """Seed of the networks' initialization, the action noise and the environments."""
    num_envs: int = 64
    """Vector envs, i.e. episodes per policy update."""
    gamma: float = 0.99
    """Discount factor in [0, 1]."""
    returns: Literal["reward_to_go", "episode"] = "reward_to_go"
    """Weight each log-probability by the reward-to-go G_t or by the whole-episode return."""
    baseline: Literal["none", "mean", "value"] = "mean"
    """Baseline subtracted from the returns: none, the batch mean at each step, or a value network."""
    normalize_advantages: bool = True
    """Rescale the weights to zero mean and unit variance over each batch."""
    entropy_coef: float = 0.0
    """Weight beta of the entropy bonus added to the policy objective."""
    lr: float = 0.05
    """Learning rate of the policy's Ascent optimizer."""
    value_lr: float = 0.01
    """Learning rate of the value network's Ascent optimizer (baseline=value)."""
    max_grad_norm: float | None = None
    """Clip each network's gradient to this global norm (Ascent clip_norm); none disables."""
    ascent: dict[str, Any] = field(default_factory=lambda: {"adaptive": "adam"})
    """Other keyword arguments of ascentrl.Ascent for both optimizers, e.g. {"adaptive": "rmsprop"}."""
    hidden_sizes: tuple[int, ...] = (32,)
    """Hidden layer widths of the policy and value networks (tanh); empty for linear ones."""
    initial_log_std: float = 0.0
    """Initial log standard deviation of the Gaussian policy (Box actions)."""
    max_episode_steps: int | None = None
    """Time limit per episode; none uses the env's own (required if it has none)."""
    torch_threads: int | None = 1
    """torch intra-op threads, set process-wide when training starts; none leaves torch's."""
    on_nonfinite: Literal["stop", "skip"] = "stop"
    """A NaN/inf objective or gradient: stop training with an error, or skip that update."""

    def __post_init__(self) -> None:
        def positive_int(name: str, value: Any, allow_none: bool = False) -> None:
            if value is None and allow_none:
                return
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

        def finite(name: str, value: Any, low: float, high: float = math.inf,
                   include_low: bool = True) -> None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            if value < low or value > high or (value == low and not include_low):
                interval = f"{'[' if include_low else '('}{low}, {high}]"
                raise ValueError(f"{name} must be in {interval}, got {value!r}")

        if not isinstance(self.env, str) or not self.env:
            raise ValueError(f"env must be a Gymnasium environment id, got {self.env!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        positive_int("num_envs", self.num_envs)
        finite("gamma", self.gamma, 0.0, 1.0)
        for name, choices in (("returns", ("reward_to_go", "episode")),
                              ("baseline", ("none", "mean", "value"))):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {getattr(self, name)!r}")
        if not isinstance(self.normalize_advantages, bool):
            raise ValueError(f"normalize_advantages must be a bool, got {self.normalize_advantages!r}")
        finite("entropy_coef", self.entropy_coef, 0.0)
        finite("lr", self.lr, 0.0, include_low=False)
        finite("value_lr", self.value_lr, 0.0, include_low=False)
        if self.max_grad_norm is not None:
            finite("max_grad_norm", self.max_grad_norm, 0.0, include_low=False)
        if not isinstance(self.ascent, dict) or not all(isinstance(key, str) for key in self.ascent):
            raise ValueError(f"ascent must be a dict of Ascent keyword arguments, got {self.ascent!r}")
        for reserved, instead in (("lr", "lr / value_lr"), ("clip_norm", "max_grad_norm")):
            if reserved in self.ascent:
                raise ValueError(f"ascent must not contain {reserved!r}; set {instead} instead")
        self.hidden_sizes = tuple(self.hidden_sizes)
        for width in self.hidden_sizes:
            positive_int("hidden_sizes entries", width)
        finite("initial_log_std", self.initial_log_std, -math.inf)
        positive_int("max_episode_steps", self.max_episode_steps, allow_none=True)
        positive_int("torch_threads", self.torch_threads, allow_none=True)
        if self.on_nonfinite not in ("stop", "skip"):
            raise ValueError(f"on_nonfinite must be one of ('stop', 'skip'), got {self.on_nonfinite!r}")


@dataclass
class EpisodeBatch:
    """One rollout of ``N`` episodes, ``T`` steps long (the longest episode)."""

    observations: Tensor
    """``s_0 .. s_T``, float ``[T + 1, N, observation_size]``; ``s_{t+1}`` is final where step t ended."""
    actions: Tensor
    """``a_t``: int64 ``[T, N]`` (discrete, as indices) or float ``[T, N, action_size]``."""
    rewards: Tensor
    """``r_t``, float ``[T, N]``."""
    terminated: Tensor
    """bool ``[T, N]``."""
    truncated: Tensor
    """bool ``[T, N]``."""
    valid: Tensor
    """bool ``[T, N]``: step t belongs to the first episode of env n."""

    @property
    def num_episodes(self) -> int:
        return self.rewards.shape[1]


@dataclass
class UpdateRecord:
    """What one iteration did."""

    iteration: int
    env_steps: int
    """Environment steps simulated so far (all sub-envs, masked steps included)."""
    episodes: int
    """Training episodes finished so far (Gymnasium's RecordEpisodeStatistics count)."""
    wall_seconds: float
    """Seconds of training in this ``train`` call so far, summed over resumed sessions."""
    mean_return: float
    """Mean undiscounted return of the last 100 finished training episodes (nan before any)."""
    objective: float
    """Value of the policy objective J before the step (nan when the update was skipped)."""


@dataclass
class TrainHistory:
    """Everything :meth:`Reinforce.train` measured."""

    records: list[UpdateRecord] = field(default_factory=list)
    evaluations: list[tuple[int, float]] = field(default_factory=list)
    """``(env_steps, mean greedy return)`` of every evaluation made."""
    solved: bool = False
    env_steps: int = 0
    episodes: int = 0
    wall_seconds: float = 0.0
    """From the start of ``train`` to the end of the solving evaluation (or of training); a resumed
    run adds the seconds of each session (start-up and the pause in between excluded)."""
    eval_mean_return: float = math.nan
    """Mean return of the last evaluation."""
    skipped_iterations: list[int] = field(default_factory=list)
    """Iterations whose update was skipped for a non-finite value (``on_nonfinite="skip"``)."""
    interrupted: bool = False
    """Training stopped early because ``should_stop`` asked; the run can be resumed."""

    def to_state(self) -> dict[str, Any]:
        """Plain containers of python numbers, for a checkpoint."""
        return dataclasses.asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TrainHistory:
        values = dict(state)
        values["records"] = [UpdateRecord(**record) for record in state["records"]]
        values["evaluations"] = [tuple(evaluation) for evaluation in state["evaluations"]]
        values["skipped_iterations"] = list(state["skipped_iterations"])
        return cls(**values)


@dataclass
class TrainingRun:
    """A :meth:`Reinforce.train` call: what it was asked to do and what it has measured so far.

    Saved in every checkpoint, so that :meth:`Reinforce.resume_training` continues the same call.
    """

    stop_at: int
    """The call ends once ``env_steps`` reaches this (its start plus ``total_steps``)."""
    target_return: float | None
    eval_episodes: int
    history: TrainHistory
    evaluated_at: int = -1
    """``env_steps`` at the latest evaluation (so the final one is not repeated)."""
    finished: bool = False

    def to_state(self) -> dict[str, Any]:
        return {"stop_at": self.stop_at, "target_return": self.target_return,
                "eval_episodes": self.eval_episodes, "history": self.history.to_state(),
                "evaluated_at": self.evaluated_at, "finished": self.finished}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TrainingRun:
        return cls(int(state["stop_at"]), state["target_return"], int(state["eval_episodes"]),
                   TrainHistory.from_state(state["history"]), int(state["evaluated_at"]),
                   bool(state["finished"]))


class Reinforce:
    """REINFORCE with optional baseline, on a Gymnasium vector env (see the module docstring).

    Example::

        agent = Reinforce(ReinforceConfig(env="CartPole-v1", seed=1))
        history = agent.train(1_000_000, target_return=475.0)
        action = agent.act(observation, deterministic=True)
    """

    def __init__(self, config: ReinforceConfig | None = None, *,
                 distributed: DistributedContext | None = None) -> None:
        self.config = config = config if config is not None else ReinforceConfig()
        if distributed is not None and not isinstance(distributed, DistributedContext):
            raise TypeError("distributed must be the DistributedContext returned by "
                            f"ascentrl.distributed.init_distributed(), got {type(distributed).__name__}")
        self.distributed = distributed if distributed is not None else DistributedContext()
        """This process's place in a data-parallel job; rank 0 of 1 without torchrun."""
        env_kwargs = {} if config.max_episode_steps is None else {"max_episode_steps": config.max_episode_steps}
        self.env, self.spaces = make_vector_env(config.env, config.num_envs,
                                                statistics_window=STATISTICS_WINDOW, **env_kwargs)
        self._env_kwargs = env_kwargs
        self.episode_step_limit = config.max_episode_steps or self.spaces.max_episode_steps
        if self.episode_step_limit is None:
            self.env.close()
            raise ValueError(f"max_episode_steps: {config.env} has no time limit; set one")

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.policy = self._make_policy(self.spaces)
            self.value = (MLP(self.spaces.observation_size, config.hidden_sizes, 1)
                          if config.baseline == "value" else None)
        for network in (self.policy, self.value):
            if network is not None:  # identical already (same seed); made certain for the rare
                broadcast_parameters(network, self.distributed)  # platform where init differs
        # Every rank acts with its own noise and envs; rank 0's are the single-process run's.
        self.generator = torch.Generator().manual_seed(self._rank_seed)
        try:
            self.policy_optimizer = Ascent(self.policy.parameters(), lr=config.lr,
                                           clip_norm=config.max_grad_norm, **config.ascent)
            self.value_optimizer = (Ascent(self.value.parameters(), lr=config.value_lr,
                                           clip_norm=config.max_grad_norm, **config.ascent)
                                    if self.value is not None else None)
        except TypeError as error:
            self.env.close()
            raise TypeError(f"ascent {config.ascent}: {error}") from None
        except ValueError as error:
            self.env.close()
            raise ValueError(f"ascent {config.ascent}: {error}") from None

        self.env_steps = 0
        self.episodes = 0
        self.iterations = 0
        self.evaluations = 0
        self._evaluation_env = None
        self.training_run: TrainingRun | None = None
        """The latest ``train`` call (restored by :meth:`load`); ``None`` before any."""
        self.last_checkpoint: tuple[str, int] | None = None
        """``(path, iteration)`` of the latest checkpoint written by :meth:`save`."""

    def _make_policy(self, spaces: EnvSpaces) -> CategoricalPolicy | GaussianPolicy:
        if spaces.action_kind == "discrete":
            return CategoricalPolicy(spaces.observation_size, spaces.action_size, self.config.hidden_sizes)
        return GaussianPolicy(spaces.observation_size, spaces.action_size, self.config.hidden_sizes,
                              self.config.initial_log_std)

    def _to_env_action(self, action: np.ndarray) -> np.ndarray:
        """Policy output -> env action: shift by a Discrete space's start, clip to a Box's bounds."""
        if self.spaces.action_kind == "discrete":
            return action + self.spaces.action_start if self.spaces.action_start else action
        return np.clip(action, self.spaces.action_low, self.spaces.action_high)

    # ----------------------------------------------------------------------------------- rollout
    @property
    def _rank_seed(self) -> int:
        """The seed of this rank's envs and noise: ``seed`` itself on rank 0 (and without torchrun)."""
        return rank_seed(self.config.seed, self.distributed.rank)

    def rollout_seed(self) -> int:
        """Seed of the envs' reset before the next rollout, a function of ``(seed, rank, iteration)`` only.

        Reseeding every rollout makes the envs' randomness part of the saved counters, so no
        generator state of the (any) Gymnasium env has to be captured for an exact resume.
        """
        return int(np.random.SeedSequence([self._rank_seed, self.iterations]).generate_state(1)[0])

    def collect_episodes(self) -> EpisodeBatch:
        """Run the policy from a reset until every env has finished one episode (step 1)."""
        steps, num_envs = self.episode_step_limit, self.config.num_envs
        observations = np.empty((steps + 1, num_envs, self.spaces.observation_size), np.float32)
        action_shape = (steps, num_envs) if self.spaces.action_kind == "discrete" else (
            steps, num_envs, self.spaces.action_size)
        actions = np.empty(action_shape, np.int64 if self.spaces.action_kind == "discrete" else np.float32)
        rewards = np.empty((steps, num_envs), np.float32)
        terminated = np.empty((steps, num_envs), bool)
        truncated = np.empty((steps, num_envs), bool)
        noise = self.policy.draw_noise(steps, num_envs, self.generator)
        finished = np.zeros(num_envs, bool)

        observation, _ = self.env.reset(seed=self.rollout_seed())
        with torch.inference_mode():
            for t in range(steps):
                observations[t] = observation.reshape(num_envs, -1)
                action = self.policy.sample(torch.from_numpy(observations[t]), noise[t]).numpy()
                actions[t] = action
                observation, reward, terminated[t], truncated[t], _ = self.env.step(self._to_env_action(action))
                rewards[t] = reward
                finished |= terminated[t] | truncated[t]
                if finished.all():
                    break
        length = t + 1
        observations[length] = observation.reshape(num_envs, -1)
        # An env that ignores its time limit is cut here, and the cut is a truncation.
        truncated[length - 1] |= ~finished
        self.env_steps += length * num_envs

        terminated_tensor = torch.from_numpy(terminated[:length])
        truncated_tensor = torch.from_numpy(truncated[:length])
        return EpisodeBatch(
            observations=torch.from_numpy(observations[: length + 1]),
            actions=torch.from_numpy(actions[:length]),
            rewards=torch.from_numpy(rewards[:length]),
            terminated=terminated_tensor,
            truncated=truncated_tensor,
            valid=first_episode_mask(terminated_tensor, truncated_tensor),
        )

    # ------------------------------------------------------------------------------- objectives
    def weights(self, batch: EpisodeBatch) -> tuple[Tensor, Tensor]:
        """The score-function weights ``Psi`` and the value targets ``G`` (step 2), both ``[T, N]``."""
        config = self.config
        values = None
        if self.value is not None:
            with torch.no_grad():
                values = self.value(batch.observations).squeeze(-1)
        flags = (batch.rewards, batch.terminated, batch.truncated, config.gamma)
        next_values = values[1:] if values is not None else None
        to_go = reward_to_go(*flags, next_values=next_values, valid=batch.valid)
        if config.returns == "reward_to_go":
            returns = to_go
        else:
            returns = episode_returns(*flags, next_values=next_values, valid=batch.valid)
        if config.baseline == "mean":
            weights = returns - batch_mean_baseline(returns, batch.valid)
        elif config.baseline == "value":
            weights = returns - values[:-1]
        else:
            weights = returns
        if config.normalize_advantages:
            weights = normalize_advantages(weights, batch.valid)
        return weights * batch.valid, to_go

    def policy_objective(self, batch: EpisodeBatch, weights: Tensor) -> Tensor:
        """``J(theta) = (1/N) sum_episodes sum_t [log pi(a_t|s_t) Psi_t + beta H_t]``, to maximize."""
        log_probs, entropy = self.policy.log_prob_and_entropy(batch.observations[:-1], batch.actions)
        objective = score_function_objective(log_probs, weights, batch.valid,
                                             num_episodes=batch.num_episodes)
        if self.config.entropy_coef:
            objective = objective + self.config.entropy_coef * (
                (entropy * batch.valid).sum() / batch.num_episodes)
        return objective

    def value_objective(self, batch: EpisodeBatch, targets: Tensor) -> Tensor:
        """``J_V(phi) = -mean_t (V_phi(s_t) - G_t)^2`` over the valid steps, to maximize."""
        if self.value is None:
            raise RuntimeError("value_objective needs baseline='value'")
        errors = self.value(batch.observations[:-1]).squeeze(-1) - targets
        return -(errors.square() * batch.valid).sum() / batch.valid.sum().clamp(min=1)

    def update(self, batch: EpisodeBatch) -> float:
        """Steps 2-4 on one batch. Returns the policy objective's value before the step.

        Both objectives and their gradients are computed and checked before either network steps.

        Raises:
            ascentrl.runs.NonFiniteUpdateError: an objective or gradient is NaN/inf; nothing was
                applied.
        """
        weights, targets = self.weights(batch)
        objective = self.policy_objective(batch, weights)
        self.policy_optimizer.zero_grad(set_to_none=True)
        objective.backward()
        # Data-parallel: every rank's gradient becomes the episode-weighted mean over all ranks
        # (a no-op in a single process), so every rank takes the same step.
        all_reduce_gradients(self.policy, batch.num_episodes, self.distributed)
        value_objective = None
        if self.value is not None:
            value_objective = self.value_objective(batch, targets)
            self.value_optimizer.zero_grad(set_to_none=True)
            value_objective.backward()
            all_reduce_gradients(self.value, int(batch.valid.sum()), self.distributed)
        problem = non_finite_report(
            {"policy objective": objective, "value objective": value_objective},
            {"policy": self.policy.parameters(),
             "value network": self.value.parameters() if self.value is not None else ()})
        if problem is not None:
            raise NonFiniteUpdateError(f"{problem}; the update was not applied")
        self.policy_optimizer.step()
        if self.value_optimizer is not None:
            self.value_optimizer.step()
        return float(objective.detach())

    # -------------------------------------------------------------------------------- training
    def train(
        self,
        total_steps: int,
        *,
        target_return: float | None = None,
        eval_episodes: int = 100,
        on_update: Callable[[UpdateRecord], None] | None = None,
        checkpoint_path: str | os.PathLike | None = None,
        checkpoint_every: int | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> TrainHistory:
        """Train for ``total_steps`` environment steps, or until solved.

        Solved means: the mean return of the last 100 training episodes is at least
        ``target_return``, and then the mean return of ``eval_episodes`` greedy
        (``deterministic=True``) evaluation episodes is too. Without ``target_return``, training
        runs the whole budget. Either way training ends with an evaluation, so
        ``history.eval_mean_return`` is always set. The budget is checked between iterations, so the
        last iteration may overshoot it by up to ``num_envs * max_episode_steps`` steps.

        ``history.wall_seconds`` runs from this call's start to the end of the solving evaluation
        (or of the final one); it includes rollouts, updates, evaluations, checkpoints and
        ``on_update``, and excludes building the agent (envs, networks, optimizers).

        Args:
            checkpoint_path: where :meth:`save` writes (atomically) every ``checkpoint_every``
                iterations, when ``should_stop`` asks, and at the end.
            checkpoint_every: iterations between periodic checkpoints; ``None``: only when
                stopping early and at the end.
            should_stop: polled after every iteration; once it returns True, training writes a
                checkpoint and returns with ``history.interrupted`` set, and
                :meth:`resume_training` (after :meth:`load`) continues exactly where it left off.

        Raises:
            ascentrl.runs.NonFiniteUpdateError: with ``on_nonfinite="stop"``, an objective or
                gradient was NaN/inf; the message names the iteration and the last checkpoint.
        """
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(f"total_steps must be a positive integer, got {total_steps!r}")
        if isinstance(eval_episodes, bool) or not isinstance(eval_episodes, int) or eval_episodes < 1:
            raise ValueError(f"eval_episodes must be a positive integer, got {eval_episodes!r}")
        if target_return is not None and (isinstance(target_return, bool) or not math.isfinite(target_return)):
            raise ValueError(f"target_return must be a finite number or None, got {target_return!r}")
        check_checkpointing(checkpoint_path, checkpoint_every)
        self.training_run = TrainingRun(self.env_steps + total_steps, target_return, eval_episodes,
                                        TrainHistory())
        return self._run_training(on_update, checkpoint_path, checkpoint_every, should_stop)

    def resume_training(
        self,
        *,
        on_update: Callable[[UpdateRecord], None] | None = None,
        checkpoint_path: str | os.PathLike | None = None,
        checkpoint_every: int | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> TrainHistory:
        """Continue the :meth:`train` call saved in the checkpoint this agent was loaded from.

        Budget, target and evaluation episodes are the saved call's; the returned history holds the
        records from the call's start. Arguments as in :meth:`train`.

        Raises:
            ValueError: the agent has no unfinished training run to continue.
        """
        run = self.training_run
        if run is None:
            raise ValueError("resume_training: this agent has no training run to continue "
                             "(load a checkpoint written during train())")
        if run.finished:
            raise ValueError(
                f"resume_training: the saved run already finished after {run.history.env_steps} steps "
                f"({'solved' if run.history.solved else 'not solved'}); there is nothing to resume")
        check_checkpointing(checkpoint_path, checkpoint_every)
        run.history.interrupted = False
        return self._run_training(on_update, checkpoint_path, checkpoint_every, should_stop)

    def _run_training(
        self,
        on_update: Callable[[UpdateRecord], None] | None,
        checkpoint_path: str | os.PathLike | None,
        checkpoint_every: int | None,
        should_stop: Callable[[], bool] | None,
    ) -> TrainHistory:
        """The loop of :meth:`train`, from wherever ``self.training_run`` stands."""
        if self.config.torch_threads is not None:
            torch.set_num_threads(self.config.torch_threads)
        run = self.training_run
        history = run.history
        start, seconds_before = time.perf_counter(), history.wall_seconds

        main_process = self.distributed.is_main

        def checkpoint(wanted: bool) -> None:
            history.wall_seconds = seconds_before + time.perf_counter() - start
            history.env_steps, history.episodes = self.env_steps, self.episodes
            if wanted and checkpoint_path is not None and main_process:
                self.save(checkpoint_path)

        while self.env_steps < run.stop_at:
            episodes_before, steps_before = self.env.episode_count, self.env_steps
            batch = self.collect_episodes()
            self.iterations += 1
            try:
                objective = self.update(batch)
            except NonFiniteUpdateError as error:
                if self.config.on_nonfinite == "stop":
                    raise stopped_on_non_finite(self.iterations, error, self.last_checkpoint) from None
                history.skipped_iterations.append(self.iterations)
                objective = math.nan
            # Counters, the return window and the stop request summed over all ranks (as they
            # are in a single process), so every rank takes the same decisions below.
            recent = self.env.return_queue
            totals = all_reduce_sum({
                "steps": self.env_steps - steps_before,
                "episodes": self.env.episode_count - episodes_before,
                "window_sum": float(np.sum(recent, dtype=np.float64)),
                "window_count": len(recent),
                "full_windows": len(recent) == STATISTICS_WINDOW,
                "stop_requests": should_stop is not None and should_stop(),
            }, self.distributed)
            self.env_steps = steps_before + int(totals["steps"])
            self.episodes += int(totals["episodes"])
            mean_return = totals["window_sum"] / totals["window_count"] if totals["window_count"] else math.nan
            record = UpdateRecord(self.iterations, self.env_steps, self.episodes,
                                  seconds_before + time.perf_counter() - start, mean_return, objective)
            history.records.append(record)
            if on_update is not None:
                on_update(record)
            if (run.target_return is not None and totals["full_windows"] == self.distributed.world_size
                    and mean_return >= run.target_return):
                history.evaluations.append((self.env_steps, self.evaluate(run.eval_episodes)))
                run.evaluated_at = self.env_steps
                if history.evaluations[-1][1] >= run.target_return:
                    history.solved = True
                    break
            checkpoint(checkpoint_every is not None and self.iterations % checkpoint_every == 0)
            if totals["stop_requests"] and self.env_steps < run.stop_at:
                history.interrupted = True
                checkpoint(True)
                return history
        if run.evaluated_at != self.env_steps:
            history.evaluations.append((self.env_steps, self.evaluate(run.eval_episodes)))
            run.evaluated_at = self.env_steps
        history.wall_seconds = seconds_before + time.perf_counter() - start
        history.env_steps, history.episodes = self.env_steps, self.episodes
        history.eval_mean_return = history.evaluations[-1][1]
        run.finished = True
        if checkpoint_path is not None and main_process:
            self.save(checkpoint_path)
        return history

    def evaluate(self, num_episodes: int = 100, *, deterministic: bool = True) -> float:
        """Mean undiscounted return of ``num_episodes`` fresh episodes, run side by side.

        Evaluation envs are seeded from ``seed + 1_000_003`` on, with new seeds for every call, and
        are separate from the training envs; the procedure is
        :func:`ascentrl.envs.gym_envs.evaluate_policy`. In a data-parallel job this is a collective
        call: each rank runs its share of the episodes (with seeds of its own) and every rank
        returns the mean over all of them.
        """
        if isinstance(num_episodes, bool) or not isinstance(num_episodes, int) or num_episodes < 1:
            raise ValueError(f"num_episodes must be a positive integer, got {num_episodes!r}")
        # Data-parallel: rank r runs its share of the episodes, with the seeds the single process
        # would give those episodes, and the returns are summed over ranks.
        rank, world_size = self.distributed.rank, self.distributed.world_size
        share = num_episodes // world_size + (rank < num_episodes % world_size)
        first_episode = rank * (num_episodes // world_size) + min(rank, num_episodes % world_size)
        returns_sum = 0.0
        if share:
            if self._evaluation_env is None or self._evaluation_env.num_envs != share:
                if self._evaluation_env is not None:
                    self._evaluation_env.close()
                self._evaluation_env, _ = make_vector_env(self.config.env, share,
                                                          record_statistics=False, **self._env_kwargs)
            # Every evaluation gets fresh, reproducible seeds (a sync vector env seeds its sub-envs
            # seed, seed + 1, ...; a native one draws all from one generator).
            seed = self.config.seed + EVALUATION_SEED_OFFSET + self.evaluations * num_episodes + first_episode
            with torch.inference_mode():
                returns = evaluate_policy(
                    self._evaluation_env,
                    lambda observation: self._policy_action(observation.reshape(share, -1), deterministic),
                    self.episode_step_limit,
                    seed=seed,
                )
            returns_sum = float(returns.sum())
        self.evaluations += 1
        return all_reduce_sum({"returns": returns_sum}, self.distributed)["returns"] / num_episodes

    # ------------------------------------------------------------------------------- inference
    def _policy_action(self, observations: np.ndarray, deterministic: bool) -> np.ndarray:
        inputs = torch.as_tensor(observations, dtype=torch.float32)
        if deterministic:
            action = self.policy.mode(inputs)
        else:
            action = self.policy.sample(inputs, self.policy.draw_noise(1, inputs.shape[0], self.generator)[0])
        return self._to_env_action(action.numpy())

    def act(self, observation: Any, deterministic: bool = False) -> Any:
        """Action(s) for one observation or a batch ``[B, *observation_shape]``, in the env's format.

        ``deterministic=True`` takes the most probable action (argmax / Gaussian mean); otherwise
        the action is sampled from ``pi(.|s)`` with the agent's seeded generator.
        """
        array = np.asarray(observation, dtype=np.float32)
        shape = self.spaces.observation_shape
        single = array.shape == shape
        if not single and array.shape[1:] != shape:
            raise ValueError(
                f"observation: expected shape {shape} or (batch, *{shape}) for {self.config.env}, "
                f"got {array.shape}"
            )
        size = self.spaces.observation_size
        with torch.inference_mode():
            actions = self._policy_action(array.reshape(-1, size), deterministic)
        return actions[0] if single else actions

    # ------------------------------------------------------------------------------ checkpoints
    def save(self, path: str | os.PathLike) -> None:
        """Write a checkpoint with everything needed to continue, atomically.

        It holds the config, both networks and optimizers, the counters, the action-noise
        generator, the training-episode statistics (the return window of the solve criterion), the
        :class:`TrainingRun` in progress, and python/numpy/torch global generator states. The envs
        need no state of their own: every rollout reseeds them from ``(seed, iteration)``.
        """
        statistics = self.env
        state = {
            "config": dataclasses.asdict(self.config),
            "policy": self.policy.state_dict(),
            "policy_optimizer": self.policy_optimizer.state_dict(),
            "value": self.value.state_dict() if self.value is not None else None,
            "value_optimizer": self.value_optimizer.state_dict() if self.value_optimizer is not None else None,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "iterations": self.iterations,
            "evaluations": self.evaluations,
            "generator": self.generator.get_state(),
            "episode_statistics": {
                "episode_count": int(statistics.episode_count),
                "returns": torch.tensor(list(statistics.return_queue), dtype=torch.float64),
                "lengths": torch.tensor(list(statistics.length_queue), dtype=torch.int64),
            },
            "training_run": self.training_run.to_state() if self.training_run is not None else None,
            "global_rng": capture_rng_states(),
        }
        save_checkpoint(path, CHECKPOINT_KIND, state)
        self.last_checkpoint = (str(path), self.iterations)

    @classmethod
    def load(cls, path: str | os.PathLike, *, restore_global_rng: bool = False) -> Reinforce:
        """Rebuild an agent from :meth:`save`'s checkpoint (safe: ``weights_only`` loading).

        ``restore_global_rng=True`` also puts python's, numpy's and torch's global generators back
        as they were at saving time, for a process that resumes the run (the agent itself draws only
        from its own generator and the reseeded envs).

        Raises:
            ascentrl.runs.CheckpointError: missing, corrupted, foreign or mismatched file.
        """
        payload = load_checkpoint(path, CHECKPOINT_KIND)
        try:
            agent = cls(ReinforceConfig(**payload["config"]))
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"checkpoint {path}: its config cannot build an agent here: {error}") from None
        try:
            agent.policy.load_state_dict(payload["policy"])
            agent.policy_optimizer.load_state_dict(payload["policy_optimizer"])
            if agent.value is not None:
                agent.value.load_state_dict(payload["value"])
                agent.value_optimizer.load_state_dict(payload["value_optimizer"])
            agent.env_steps = int(payload["env_steps"])
            agent.episodes = int(payload["episodes"])
            agent.iterations = int(payload["iterations"])
            agent.evaluations = int(payload["evaluations"])
            agent.generator.set_state(payload["generator"])
            statistics = payload.get("episode_statistics")
            if statistics is not None:
                agent.env.episode_count = int(statistics["episode_count"])
                # numpy scalars, as RecordEpisodeStatistics stores them, so means come out identical
                agent.env.return_queue.extend(statistics["returns"].numpy())
                agent.env.length_queue.extend(statistics["lengths"].numpy())
            if payload.get("training_run") is not None:
                agent.training_run = TrainingRun.from_state(payload["training_run"])
            if restore_global_rng and payload.get("global_rng") is not None:  # older files lack them
                restore_rng_states(payload["global_rng"])
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as error:
            agent.env.close()
            raise CheckpointError(f"checkpoint {path}: does not hold a usable Reinforce agent: "
                                  f"{type(error).__name__}: {error}") from None
        agent.last_checkpoint = (str(path), agent.iterations)
        return agent
