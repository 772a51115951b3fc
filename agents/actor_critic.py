r"""What A2C and PPO share: their config, an actor-critic network, fixed-length rollouts with GAE,
normalization, and the three objectives they ascend.

Sign convention: every objective is **maximized** (``J.backward()`` then an :class:`ascentrl.Ascent`
step); the value error enters with a minus sign as part of the objective, it is not a loss.

One iteration of an actor-critic learner:

1. **Rollout** (:meth:`ActorCriticLearner.collect`): ``num_steps`` steps of ``num_envs`` envs whose
   episodes continue across rollouts, seeded per episode and resumable exactly
   (:mod:`ascentrl.agents.rollouts`). The policy acts on normalized observations; rewards are scaled
   by the running standard deviation of the return (:mod:`ascentrl.agents.normalization`); both
   statistics are updated after the rollout.
2. **Advantages**: values, old log-probabilities and GAE(gamma, lambda) in batched passes after
   the rollout; truncations bootstrap from the final observation, terminations do not.
3. **Update** (the algorithm's own ``update``) ascends, on the whole batch (A2C) or on minibatches
   over several epochs (PPO),

   .. math::

       J(\theta) = \hat{\mathbb E}\big[\min(\rho_t \hat A_t,\
                   \operatorname{clip}(\rho_t, 1-\epsilon, 1+\epsilon)\hat A_t)\big]
                   - c_V\, \hat{\mathbb E}\big[(V_\theta(s_t) - R_t)^2\big]
                   + c_H\, \hat{\mathbb E}\big[H(\pi_\theta(\cdot|s_t))\big]

   (A2C's first term is ``E[log pi_theta(a_t|s_t) A_t]``)
   with ``rho_t = pi_theta(a_t|s_t) / pi_old(a_t|s_t)``, ``A`` optionally normalized per
   (mini)batch, an optional clipped value error (PPO), and the gradient clipped to a global norm.
   At ``theta = theta_old`` the gradient of the surrogate is the policy gradient
   ``E[grad log pi A]``, so PPO with ``clip_range -> inf`` and one full-batch epoch takes A2C's step.
4. **Learning rate**: constant, or linearly annealed to 0 over the call's iterations by
   ``torch.optim.lr_scheduler.LinearLR`` (:class:`ascentrl.training.Learner`).

Normalization statistics are part of the agent's state: saved in every checkpoint, restored by
``load``, used by ``act`` and evaluation. Data-parallel training is not offered for these learners.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from ascentrl import NonFiniteGradientError, validation
from ascentrl.agents.categorical_objective import categorical_actor_critic_objective
from ascentrl.agents.distributions import squash
from ascentrl.agents.gym_learner import GymLearner, GymLearnerConfig
from ascentrl.agents.normalization import ObservationNormalizer, RewardScaler
from ascentrl.agents.policies import ActorCritic
from ascentrl.agents.rollouts import ContinuingEnvs, RolloutBatch
from ascentrl.envs.gym_envs import EnvSpaces
from ascentrl.resources import FLOAT_BYTES, TRAINING_COPIES, MemoryNeed, network_parameters
from ascentrl.returns import gae_advantages, normalize_advantages
from ascentrl.training import NonFiniteUpdateError, non_finite_report

__all__ = ["ActorCriticConfig", "ActorCriticLearner", "surrogate_objective", "value_error"]


@dataclass
class ActorCriticConfig(GymLearnerConfig):
    """Hyperparameters A2C and PPO share (each algorithm's config adds its own; the options of every
    Gymnasium learner are documented in GymLearnerConfig)."""

    num_steps: int = 128
    """Steps of every env per rollout: a batch holds num_envs x num_steps transitions."""
    gae_lambda: float = 0.95
    """lambda of GAE(gamma, lambda) in [0, 1]: 0 is the one-step TD error, 1 the Monte Carlo return."""
    lr_schedule: Literal["constant", "linear"] = "constant"
    """Keep the learning rate, or anneal it linearly to 0 over the iterations of train()."""
    max_grad_norm: float | None = 0.5
    """Clip the gradient to this global norm (Ascent clip_norm); none disables."""
    ascent: dict[str, Any] = field(default_factory=lambda: {"adaptive": "adam", "eps": 1e-5})
    """Other keyword arguments of ascentrl.Ascent, e.g. {"adaptive": "rmsprop", "alpha": 0.99}."""
    value_coef: float = 0.5
    """Weight c_V of the value error subtracted from the objective."""
    normalize_advantages: bool = True
    """Rescale the advantages to zero mean and unit variance over each (mini)batch."""
    normalize_observations: bool = False
    """Normalize observations by running mean and standard deviation (saved with the agent)."""
    normalize_rewards: bool = False
    """Scale rewards by the running standard deviation of the discounted return (saved with the agent)."""
    activation: Literal["tanh", "relu"] = "tanh"
    """Activation of the hidden layers."""
    shared_trunk: bool = False
    """One trunk feeding both the policy and the value head, or a trunk each."""
    action_bound: Literal["clip", "squash"] = "clip"
    """Box actions: clip the Gaussian sample to the bounds in the env only, or tanh-squash it into them."""

    def __post_init__(self) -> None:
        super().__post_init__()
        validation.check_positive_int("num_steps", self.num_steps)
        validation.check_number("gae_lambda", self.gae_lambda, 0.0, 1.0)
        validation.check_choice("lr_schedule", self.lr_schedule, ("constant", "linear"))
        validation.check_number("value_coef", self.value_coef, 0.0)
        for name in ("normalize_advantages", "normalize_observations", "normalize_rewards", "shared_trunk"):
            validation.check_bool(name, getattr(self, name))
        validation.check_choice("activation", self.activation, ("tanh", "relu"))
        validation.check_choice("action_bound", self.action_bound, ("clip", "squash"))


def surrogate_objective(log_probs: Tensor, old_log_probs: Tensor, advantages: Tensor,
                        clip_range: float | None) -> tuple[Tensor, Tensor]:
    """The policy part of the objective and the fraction of clipped ratios.

    ``clip_range=None``: ``mean(log pi(a|s) A)``, the score-function objective (A2C). Otherwise PPO's
    ``mean(min(rho A, clip(rho, 1 - eps, 1 + eps) A))`` with ``rho = exp(log pi - log pi_old)``.
    """
    if clip_range is None:
        return (log_probs * advantages).mean(), torch.zeros(())
    ratio = torch.exp(log_probs - old_log_probs)
    clipped = torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    objective = torch.minimum(ratio * advantages, clipped * advantages).mean()
    return objective, ((ratio - 1.0).abs() > clip_range).float().mean()


def value_error(values: Tensor, old_values: Tensor, returns: Tensor, clip_range: float | None) -> Tensor:
    """``mean((V - R)^2)``, or with ``clip_range`` the clipped form of PPO implementations:
    ``mean(max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2))``."""
    errors = (values - returns).square()
    if clip_range is None:
        return errors.mean()
    clipped = old_values + torch.clamp(values - old_values, -clip_range, clip_range)
    return torch.maximum(errors, (clipped - returns).square()).mean()


def explained_variance(values: Tensor, returns: Tensor) -> float:
    """``1 - Var[R - V] / Var[R]``: 1 for a perfect critic, 0 for a constant one (nan if R is constant)."""
    variance = float(returns.var())
    return 1.0 - float((returns - values).var()) / variance if variance > 0 else math.nan


class ActorCriticLearner(GymLearner):
    """Base of A2C and PPO on a Gymnasium vector env (module docstring); a subclass writes ``update``."""

    vectorization_mode: ClassVar[str | None] = "sync"

    def __init__(self, config: ActorCriticConfig, distributed: Any = None) -> None:
        super().__init__(config, distributed)
        try:
            if self.distributed.world_size > 1:
                raise ValueError(f"{type(self).__name__} does not train data-parallel; run it in one process")
            spaces = self.spaces
            bounds = None
            if spaces.action_kind == "box" and config.action_bound == "squash":
                if not (np.isfinite(spaces.action_low).all() and np.isfinite(spaces.action_high).all()):
                    raise ValueError(f"action_bound squash needs finite action bounds; {config.env} has "
                                     f"low {spaces.action_low} and high {spaces.action_high}")
                bounds = (torch.as_tensor(spaces.action_low), torch.as_tensor(spaces.action_high))
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(config.seed)
                self.network = ActorCritic(spaces.observation_size, spaces.action_kind, spaces.action_size,
                                           config.hidden_sizes, activation=config.activation,
                                           shared_trunk=config.shared_trunk, initial_log_std=config.initial_log_std,
                                           bounds=bounds)
            self.policy = self.network  # what acting and evaluation call
            self.optimizer = self.make_ascent(self.network.parameters(), config.lr)
            self.observation_normalizer = ObservationNormalizer((spaces.observation_size,),
                                                                enabled=config.normalize_observations)
            self.reward_scaler = RewardScaler(config.num_envs, config.gamma, enabled=config.normalize_rewards)
            self.envs = ContinuingEnvs(self.env, self.rank_seed)
        except BaseException:
            self.close()
            raise

    @property
    def steps_per_iteration(self) -> int:
        return self.config.num_envs * self.config.num_steps

    @classmethod
    def algorithm_memory(cls, config: ActorCriticConfig, spaces: EnvSpaces, steps: int) -> list[MemoryNeed]:
        """A rollout (observations twice, actions, noise, rewards, flags, log-probabilities, values,
        advantages) with the passes over it, and the network with its training copies."""
        values_per_step = 2 * spaces.observation_size + 3 * spaces.action_size + 12 + 4 * sum(config.hidden_sizes)
        parameters = 2 * network_parameters(spaces.observation_size, config.hidden_sizes, spaces.action_size)
        return [MemoryNeed("rollout buffers", config.num_steps * config.num_envs * values_per_step * FLOAT_BYTES,
                           (f"--num-envs {config.num_envs}", f"--num-steps {config.num_steps}")),
                MemoryNeed("networks", parameters * TRAINING_COPIES * FLOAT_BYTES,
                           (f"--hidden-sizes {' '.join(map(str, config.hidden_sizes))}",))]

    def networks(self) -> dict[str, nn.Module | None]:
        return {"actor_critic": self.network}

    def named_optimizers(self) -> dict[str, Optimizer | None]:
        return {"optimizer": self.optimizer}

    def extra_state(self) -> dict[str, Any]:
        return {**super().extra_state(),
                "observation_normalizer": self.observation_normalizer.state_dict(),
                "reward_scaler": self.reward_scaler.state_dict(),
                "episodes_in_progress": self.envs.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        super().load_extra_state(state)
        self.observation_normalizer.load_state_dict(state["observation_normalizer"])
        self.reward_scaler.load_state_dict(state["reward_scaler"])
        self.envs.load_state_dict(state["episodes_in_progress"])

    # ------------------------------------------------------------------------------------ acting
    def policy_inputs(self, observations: np.ndarray) -> Tensor:
        return torch.from_numpy(self.observation_normalizer(observations))

    def to_env_action(self, action: np.ndarray) -> np.ndarray:
        """A squashed policy's pre-squash sample goes through ``c + h tanh(u)``; others as GymLearner."""
        if self.network.squashed:
            return squash(torch.from_numpy(action), self.network.low, self.network.high).numpy()
        return super().to_env_action(action)

    # ----------------------------------------------------------------------------------- rollout
    def collect(self) -> RolloutBatch:
        """Steps 1 and 2: a rollout of every env, then values, old log-probabilities and GAE."""
        config, spaces = self.config, self.spaces
        steps, num_envs, size = config.num_steps, config.num_envs, spaces.observation_size
        discrete = spaces.action_kind == "discrete"
        observations = np.empty((steps, num_envs, size), np.float32)
        returned = np.empty((steps, num_envs, size), np.float32)
        actions = np.empty((steps, num_envs) if discrete else (steps, num_envs, spaces.action_size),
                           np.int64 if discrete else np.float32)
        rewards = np.empty((steps, num_envs), np.float64)
        terminated = np.empty((steps, num_envs), bool)
        truncated = np.empty((steps, num_envs), bool)
        noise = self.network.draw_noise(steps, num_envs, self.generator)
        episodes_before = self.env.episode_count
        observation = self.envs.observation if self.envs.observation is not None else self.envs.start()
        with torch.inference_mode():
            for t in range(steps):
                observations[t] = observation.reshape(num_envs, -1)
                action = self.network.sample(self.policy_inputs(observations[t]), noise[t]).numpy()
                actions[t] = action
                observation, rewards[t], terminated[t], truncated[t], final = self.envs.step(self.to_env_action(action))
                returned[t] = final.reshape(num_envs, -1)
        self.env_steps += steps * num_envs
        self.episodes += self.env.episode_count - episodes_before
        # Normalized with the statistics the policy acted with; then the statistics take this rollout in.
        inputs = torch.from_numpy(self.observation_normalizer(observations))
        next_inputs = torch.from_numpy(self.observation_normalizer(returned))
        self.observation_normalizer.update(observations.reshape(-1, size))
        scaled = torch.from_numpy(self.reward_scaler.scale(rewards, terminated | truncated))
        actions_tensor = torch.from_numpy(actions)
        terminated_tensor, truncated_tensor = torch.from_numpy(terminated), torch.from_numpy(truncated)
        with torch.no_grad():
            log_probs, _, values = self.network.evaluate_actions(inputs, actions_tensor)
            next_values = self.network.value(next_inputs)
        advantages = gae_advantages(scaled, values, next_values, terminated_tensor, truncated_tensor,
                                    config.gamma, config.gae_lambda)
        return RolloutBatch(observations=inputs, next_observations=next_inputs, actions=actions_tensor,
                            rewards=scaled, terminated=terminated_tensor, truncated=truncated_tensor,
                            valid=torch.ones_like(terminated_tensor), log_probs=log_probs, values=values,
                            advantages=advantages, returns=advantages + values)

    # ----------------------------------------------------------------------- objective and step
    def objective(self, minibatch: dict[str, Tensor], *, clip_range: float | None,
                  value_clip_range: float | None) -> tuple[Tensor, dict[str, Tensor]]:
        """``J`` on a (mini)batch of :meth:`RolloutBatch.flat` (step 3 of the module docstring), and
        its parts: ``policy_objective``, ``value_error``, ``entropy``, ``clip_fraction`` and the
        current ``log_probs``. For a categorical policy J is one autograd node with its gradient
        written out (:mod:`ascentrl.agents.categorical_objective`)."""
        config = self.config
        advantages = minibatch["advantages"]
        if config.normalize_advantages:
            advantages = normalize_advantages(advantages)
        if self.spaces.action_kind == "discrete":  # the same J, as one autograd node
            logits, values = self.network.policy_and_value(minibatch["observations"])
            return categorical_actor_critic_objective(logits, values, minibatch, advantages, clip_range=clip_range,
                                                      value_clip_range=value_clip_range,
                                                      value_coef=config.value_coef, entropy_coef=config.entropy_coef)
        log_probs, entropy, values = self.network.evaluate_actions(minibatch["observations"], minibatch["actions"])
        policy_objective, clip_fraction = surrogate_objective(log_probs, minibatch["log_probs"], advantages,
                                                              clip_range)
        errors = value_error(values, minibatch["values"], minibatch["returns"], value_clip_range)
        mean_entropy = entropy.mean()
        objective = policy_objective - config.value_coef * errors + config.entropy_coef * mean_entropy
        return objective, {"policy_objective": policy_objective, "value_error": errors, "entropy": mean_entropy,
                           "clip_fraction": clip_fraction, "log_probs": log_probs}

    def ascend(self, objective: Tensor, named_values: dict[str, Tensor]) -> None:
        """One Ascent step on ``objective`` (to maximize), refused before it is applied if the
        objective or the gradient holds a NaN/inf (the gradient is checked by Ascent's own check,
        which reads every gradient once anyway for the global norm). ``named_values`` are terms of
        the objective, named in the error when one of them is what is not finite."""
        # J is finite only if each of its terms is, so one test of J decides; the report then names
        # the first non-finite of J and the named values.
        if not bool(torch.isfinite(objective.detach())):
            raise NonFiniteUpdateError(non_finite_report({"objective": objective, **named_values}, {}))
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        try:
            self.optimizer.step()
        except NonFiniteGradientError as error:
            raise NonFiniteUpdateError(f"the actor-critic network's {error}") from None
