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

The training loop, checkpoints, resume and NaN/inf handling are the shared ones of
:class:`ascentrl.training.Learner`; the env, evaluation and acting those of
:class:`ascentrl.agents.gym_learner.GymLearner`. A rollout's randomness is a function of saved state
only (envs reseeded from ``(seed, iteration)``, action noise from the agent's saved generator), so a
resumed run ends bit-identical to one that never stopped. Both objectives and their gradients are
checked for NaN/inf before either network steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from ascentrl import validation
from ascentrl.agents.episodes import EpisodeTensors
from ascentrl.agents.gym_learner import GymLearner, GymLearnerConfig
from ascentrl.agents.policies import MLP, CategoricalPolicy, GaussianPolicy
from ascentrl.distributed import DistributedContext, all_reduce_gradients
from ascentrl.envs.gym_envs import EnvSpaces
from ascentrl.resources import FLOAT_BYTES, TRAINING_COPIES, MemoryNeed, network_parameters
from ascentrl.returns import (
    batch_mean_baseline,
    episode_returns,
    first_episode_mask,
    normalize_advantages,
    reward_to_go,
    score_function_objective,
)
from ascentrl.training import NonFiniteUpdateError, non_finite_report

__all__ = ["EpisodeBatch", "Reinforce", "ReinforceConfig"]


@dataclass
class ReinforceConfig(GymLearnerConfig):
    """Hyperparameters of :class:`Reinforce`. The defaults solve CartPole-v1 fastest (see the bench);
    the options every Gymnasium learner shares are documented in GymLearnerConfig."""

    num_envs: int = 64
    """Vector envs, i.e. episodes per policy update."""
    lr: float = 0.05
    """Learning rate of the policy's Ascent optimizer."""
    ascent: dict[str, Any] = field(default_factory=lambda: {"adaptive": "adam"})
    """Other keyword arguments of ascentrl.Ascent for both optimizers, e.g. {"adaptive": "rmsprop"}."""
    hidden_sizes: tuple[int, ...] = (32,)
    """Hidden layer widths of the policy and value networks (tanh); empty for linear ones."""
    returns: Literal["reward_to_go", "episode"] = "reward_to_go"
    """Weight each log-probability by the reward-to-go G_t or by the whole-episode return."""
    baseline: Literal["none", "mean", "value"] = "mean"
    """Baseline subtracted from the returns: none, the batch mean at each step, or a value network."""
    normalize_advantages: bool = True
    """Rescale the weights to zero mean and unit variance over each batch."""
    value_lr: float = 0.01
    """Learning rate of the value network's Ascent optimizer (baseline=value)."""

    reserved_ascent_options: ClassVar[dict[str, str]] = {"lr": "lr / value_lr", "clip_norm": "max_grad_norm"}

    def __post_init__(self) -> None:
        super().__post_init__()
        validation.check_choice("returns", self.returns, ("reward_to_go", "episode"))
        validation.check_choice("baseline", self.baseline, ("none", "mean", "value"))
        validation.check_bool("normalize_advantages", self.normalize_advantages)
        validation.check_number("value_lr", self.value_lr, 0.0, include_low=False)


@dataclass(kw_only=True)
class EpisodeBatch(EpisodeTensors):
    """One rollout of ``N`` episodes, ``T`` steps long (the longest episode): ``[T, N]`` flags and
    rewards, actions ``[T, N]`` (discrete indices) or ``[T, N, action_size]``, and ``valid`` marking
    the steps of each env's first episode."""

    observations: Tensor
    """``s_0 .. s_T``, float ``[T + 1, N, observation_size]``; ``s_{t+1}`` is final where step t ended."""


class Reinforce(GymLearner):
    """REINFORCE with optional baseline, on a Gymnasium vector env (see the module docstring).

    Example::

        agent = Reinforce(ReinforceConfig(env="CartPole-v1", seed=1))
        history = agent.train(1_000_000, stop=ReturnThreshold(475.0))
        action = agent.act(observation, deterministic=True)
    """

    config_class: ClassVar[type] = ReinforceConfig
    metric_names: ClassVar[tuple[str, ...]] = ("objective",)

    def __init__(self, config: ReinforceConfig | None = None, *,
                 distributed: DistributedContext | None = None) -> None:
        super().__init__(config if config is not None else ReinforceConfig(), distributed)
        config = self.config
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(config.seed)
                self.policy = self._make_policy()
                self.value = (MLP(self.spaces.observation_size, config.hidden_sizes, 1)
                              if config.baseline == "value" else None)
            self.broadcast_networks()
            self.policy_optimizer = self.make_ascent(self.policy.parameters(), config.lr)
            self.value_optimizer = (self.make_ascent(self.value.parameters(), config.value_lr)
                                    if self.value is not None else None)
        except BaseException:
            self.close()
            raise

    @classmethod
    def algorithm_memory(cls, config: ReinforceConfig, spaces: EnvSpaces, steps: int) -> list[MemoryNeed]:
        """A rollout of ``num_envs`` episodes of up to ``steps`` steps (observations, actions, noise,
        rewards, flags, weights) with the forward and backward passes over it, and the networks with
        their training copies (:data:`ascentrl.resources.TRAINING_COPIES`)."""
        values_per_step = 2 * spaces.observation_size + 3 * spaces.action_size + 8 + 3 * sum(config.hidden_sizes)
        driven_by = (f"--num-envs {config.num_envs}", f"--max-episode-steps {steps}")
        parameters = network_parameters(spaces.observation_size, config.hidden_sizes, spaces.action_size)
        if config.baseline == "value":
            parameters += network_parameters(spaces.observation_size, config.hidden_sizes, 1)
        return [MemoryNeed("rollout buffers", steps * config.num_envs * values_per_step * FLOAT_BYTES, driven_by),
                MemoryNeed("networks", parameters * TRAINING_COPIES * FLOAT_BYTES,
                           (f"--hidden-sizes {' '.join(map(str, config.hidden_sizes))}",))]

    def _make_policy(self) -> CategoricalPolicy | GaussianPolicy:
        spaces, config = self.spaces, self.config
        if spaces.action_kind == "discrete":
            return CategoricalPolicy(spaces.observation_size, spaces.action_size, config.hidden_sizes)
        return GaussianPolicy(spaces.observation_size, spaces.action_size, config.hidden_sizes,
                              config.initial_log_std)

    def networks(self) -> dict[str, nn.Module | None]:
        return {"policy": self.policy, "value": self.value}

    def named_optimizers(self) -> dict[str, Optimizer | None]:
        return {"policy_optimizer": self.policy_optimizer, "value_optimizer": self.value_optimizer}

    # ----------------------------------------------------------------------------------- rollout
    def collect(self) -> EpisodeBatch:
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
        episodes_before = self.env.episode_count

        observation, _ = self.env.reset(seed=self.rollout_seed())
        with torch.inference_mode():
            for t in range(steps):
                observations[t] = observation.reshape(num_envs, -1)
                action = self.policy.sample(torch.from_numpy(observations[t]), noise[t]).numpy()
                actions[t] = action
                observation, reward, terminated[t], truncated[t], _ = self.env.step(self.to_env_action(action))
                rewards[t] = reward
                finished |= terminated[t] | truncated[t]
                if finished.all():
                    break
        length = t + 1
        observations[length] = observation.reshape(num_envs, -1)
        # An env that ignores its time limit is cut here, and the cut is a truncation.
        truncated[length - 1] |= ~finished
        self.env_steps += length * num_envs
        self.episodes += self.env.episode_count - episodes_before

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

    def update(self, batch: EpisodeBatch) -> dict[str, float]:
        """Steps 2-4 on one batch. Returns ``{"objective": J}``, the policy objective before the step.

        Both objectives and their gradients are computed and checked before either network steps.

        Raises:
            NonFiniteUpdateError: an objective or gradient is NaN/inf; nothing was applied.
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
            raise NonFiniteUpdateError(problem)
        self.policy_optimizer.step()
        if self.value_optimizer is not None:
            self.value_optimizer.step()
        return {"objective": float(objective.detach())}
