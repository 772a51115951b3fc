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
from ascentrl.envs.gym_envs import EnvSpaces, evaluate_policy, make_vector_env
from ascentrl.returns import (
    batch_mean_baseline,
    episode_returns,
    first_episode_mask,
    normalize_advantages,
    reward_to_go,
    score_function_objective,
)
from ascentrl.runs import CheckpointError, load_checkpoint, save_checkpoint

__all__ = ["EpisodeBatch", "Reinforce", "ReinforceConfig", "TrainHistory", "UpdateRecord"]

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
    """Seconds since this ``train`` call started."""
    mean_return: float
    """Mean undiscounted return of the last 100 finished training episodes (nan before any)."""
    objective: float
    """Value of the policy objective J before the step."""


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
    """From the start of ``train`` to the end of the solving evaluation (or of training)."""
    eval_mean_return: float = math.nan
    """Mean return of the last evaluation."""


class Reinforce:
    """REINFORCE with optional baseline, on a Gymnasium vector env (see the module docstring).

    Example::

        agent = Reinforce(ReinforceConfig(env="CartPole-v1", seed=1))
        history = agent.train(1_000_000, target_return=475.0)
        action = agent.act(observation, deterministic=True)
    """

    def __init__(self, config: ReinforceConfig | None = None) -> None:
        self.config = config = config if config is not None else ReinforceConfig()
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
        self.generator = torch.Generator().manual_seed(config.seed)
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
        self._next_reset_seed: int | None = config.seed
        self.evaluations = 0
        self._evaluation_env = None

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

        observation, _ = self.env.reset(seed=self._next_reset_seed)
        self._next_reset_seed = None  # later resets continue the seeded generators
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
        """Steps 2-4 on one batch. Returns the policy objective's value before the step."""
        weights, targets = self.weights(batch)
        objective = self.policy_objective(batch, weights)
        self.policy_optimizer.zero_grad(set_to_none=True)
        objective.backward()
        self.policy_optimizer.step()
        if self.value is not None:
            value_objective = self.value_objective(batch, targets)
            self.value_optimizer.zero_grad(set_to_none=True)
            value_objective.backward()
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
    ) -> TrainHistory:
        """Train for ``total_steps`` environment steps, or until solved.

        Solved means: the mean return of the last 100 training episodes is at least
        ``target_return``, and then the mean return of ``eval_episodes`` greedy
        (``deterministic=True``) evaluation episodes is too. Without ``target_return``, training
        runs the whole budget. Either way training ends with an evaluation, so
        ``history.eval_mean_return`` is always set. The budget is checked between iterations, so the
        last iteration may overshoot it by up to ``num_envs * max_episode_steps`` steps.

        ``history.wall_seconds`` runs from this call's start to the end of the solving evaluation
        (or of the final one); it includes rollouts, updates, evaluations and ``on_update``, and
        excludes building the agent (envs, networks, optimizers).
        """
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(f"total_steps must be a positive integer, got {total_steps!r}")
        if isinstance(eval_episodes, bool) or not isinstance(eval_episodes, int) or eval_episodes < 1:
            raise ValueError(f"eval_episodes must be a positive integer, got {eval_episodes!r}")
        if target_return is not None and (isinstance(target_return, bool) or not math.isfinite(target_return)):
            raise ValueError(f"target_return must be a finite number or None, got {target_return!r}")
        if self.config.torch_threads is not None:
            torch.set_num_threads(self.config.torch_threads)

        start = time.perf_counter()
        history = TrainHistory()
        stop_at = self.env_steps + total_steps
        evaluated_at = -1
        while self.env_steps < stop_at:
            episodes_before = self.env.episode_count
            batch = self.collect_episodes()
            objective = self.update(batch)
            self.iterations += 1
            self.episodes += int(self.env.episode_count - episodes_before)
            recent = self.env.return_queue
            mean_return = float(np.mean(recent)) if recent else math.nan
            record = UpdateRecord(self.iterations, self.env_steps, self.episodes,
                                  time.perf_counter() - start, mean_return, objective)
            history.records.append(record)
            if on_update is not None:
                on_update(record)
            if target_return is not None and len(recent) == STATISTICS_WINDOW and mean_return >= target_return:
                history.evaluations.append((self.env_steps, self.evaluate(eval_episodes)))
                evaluated_at = self.env_steps
                if history.evaluations[-1][1] >= target_return:
                    history.solved = True
                    break
        if evaluated_at != self.env_steps:
            history.evaluations.append((self.env_steps, self.evaluate(eval_episodes)))
        history.wall_seconds = time.perf_counter() - start
        history.env_steps, history.episodes = self.env_steps, self.episodes
        history.eval_mean_return = history.evaluations[-1][1]
        return history

    def evaluate(self, num_episodes: int = 100, *, deterministic: bool = True) -> float:
        """Mean undiscounted return of ``num_episodes`` fresh episodes, run side by side.

        Evaluation envs are seeded from ``seed + 1_000_003`` on, with new seeds for every call, and
        are separate from the training envs; the procedure is
        :func:`ascentrl.envs.gym_envs.evaluate_policy`.
        """
        if isinstance(num_episodes, bool) or not isinstance(num_episodes, int) or num_episodes < 1:
            raise ValueError(f"num_episodes must be a positive integer, got {num_episodes!r}")
        if self._evaluation_env is None or self._evaluation_env.num_envs != num_episodes:
            if self._evaluation_env is not None:
                self._evaluation_env.close()
            self._evaluation_env, _ = make_vector_env(self.config.env, num_episodes,
                                                      record_statistics=False, **self._env_kwargs)
        # Every evaluation gets fresh, reproducible seeds (a sync vector env seeds its sub-envs
        # seed, seed + 1, ...; a native one draws all from one generator).
        seed = self.config.seed + EVALUATION_SEED_OFFSET + self.evaluations * num_episodes
        self.evaluations += 1
        with torch.inference_mode():
            returns = evaluate_policy(
                self._evaluation_env,
                lambda observation: self._policy_action(observation.reshape(num_episodes, -1), deterministic),
                self.episode_step_limit,
                seed=seed,
            )
        return float(returns.mean())

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
        """Write a checkpoint (networks, optimizers, counters, config, generator), atomically."""
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
        }
        save_checkpoint(path, CHECKPOINT_KIND, state)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Reinforce:
        """Rebuild an agent from :meth:`save`'s checkpoint (safe: ``weights_only`` loading).

        Raises:
            ascentrl.runs.CheckpointError: missing, corrupted, foreign or mismatched file.
        """
        payload = load_checkpoint(path, CHECKPOINT_KIND)
        try:
            agent = cls(ReinforceConfig(**payload["config"]))
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
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise CheckpointError(f"checkpoint {path}: does not hold a usable Reinforce agent: {error}") from None
        return agent
