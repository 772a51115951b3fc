r"""PPO, proximal policy optimization with the clipped surrogate (Schulman et al., 2017).

Sign convention: every objective is **maximized** (``J.backward()`` then an :class:`ascentrl.Ascent`
step); nothing is negated into a loss.

The rollout, GAE and normalization are :class:`ascentrl.agents.actor_critic.ActorCriticLearner`'s.
The update makes ``epochs`` passes over the batch in ``minibatches`` random minibatches (a fresh
permutation from the agent's saved generator every epoch) and ascends on each

.. math::

    J(\theta) = \hat{\mathbb E}\big[\min(\rho_t \hat A_t,\
                \operatorname{clip}(\rho_t, 1-\epsilon, 1+\epsilon)\,\hat A_t)\big]
                - c_V\,\hat{\mathbb E}\big[(V_\theta(s_t) - R_t)^2\big]
                + c_H\,\hat{\mathbb E}\big[H(\pi_\theta(\cdot|s_t))\big],
    \qquad \rho_t = \frac{\pi_\theta(a_t|s_t)}{\pi_{\text{old}}(a_t|s_t)},

with the advantages normalized per minibatch (``normalize_advantages``), the value error optionally
clipped around the old values (``value_clip_range``) and the gradient clipped to ``max_grad_norm``.
With ``target_kl``, the update stops early — before the step that would be taken — once the
estimate ``KL(pi_old || pi_theta) ~ mean((rho - 1) - log rho)`` of a minibatch exceeds
``1.5 target_kl`` (Stable-Baselines3's rule). If a NaN/inf appears in any minibatch, the whole
update (every epoch and minibatch so far) is undone by the training loop.

The defaults are those of CleanRL's and Stable-Baselines3's PPO for classic control (2048 steps,
10 epochs of 32 minibatches, clip 0.2, lambda 0.95, Adam at 3e-4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from ascentrl import validation
from ascentrl.agents.actor_critic import ActorCriticConfig, ActorCriticLearner, explained_variance

__all__ = ["PPO", "PPOConfig"]


@dataclass
class PPOConfig(ActorCriticConfig):
    """Hyperparameters of :class:`PPO` (the shared ones are documented in ActorCriticConfig)."""

    num_envs: int = 1
    """Vector envs stepped side by side."""
    num_steps: int = 2048
    """Steps of every env per rollout: a batch holds num_envs x num_steps transitions."""
    epochs: int = 10
    """Passes over every batch."""
    minibatches: int = 32
    """Minibatches per pass; they must divide num_envs x num_steps."""
    clip_range: float = 0.2
    """epsilon of the clipped surrogate (the probability ratio is kept within 1 +- epsilon)."""
    value_clip_range: float | None = None
    """Clip the value error around the old values with this range; none: the plain squared error."""
    target_kl: float | None = None
    """Stop an update early once a minibatch's approximate KL exceeds 1.5 x this; none: never."""

    def __post_init__(self) -> None:
        super().__post_init__()
        validation.check_positive_int("epochs", self.epochs)
        validation.check_positive_int("minibatches", self.minibatches)
        batch = self.num_envs * self.num_steps
        if batch % self.minibatches:
            raise ValueError(f"minibatches must divide num_envs x num_steps = {batch}, got {self.minibatches}")
        validation.check_number("clip_range", self.clip_range, 0.0, include_low=False)
        if self.value_clip_range is not None:
            validation.check_number("value_clip_range", self.value_clip_range, 0.0, include_low=False)
        if self.target_kl is not None:
            validation.check_number("target_kl", self.target_kl, 0.0, include_low=False)


class PPO(ActorCriticLearner):
    """Proximal policy optimization with the clipped surrogate (module docstring).

    Example::

        agent = PPO(PPOConfig(env="LunarLander-v3", seed=1, num_envs=16))
        history = agent.train(1_000_000, stop=ReturnThreshold(200.0))
    """

    config_class: ClassVar[type] = PPOConfig
    metric_names: ClassVar[tuple[str, ...]] = ("objective", "policy_objective", "value_error", "entropy",
                                               "approx_kl", "clip_fraction", "explained_variance", "epochs")

    def __init__(self, config: PPOConfig | None = None, *, distributed: Any = None) -> None:
        super().__init__(config if config is not None else PPOConfig(), distributed)

    def update(self, batch: Any) -> dict[str, float]:
        """``epochs`` passes of ``minibatches`` clipped-surrogate ascent steps (module docstring).

        Returns the averages over the steps taken, and the number of epochs begun.
        """
        config, data = self.config, batch.flat()
        size = len(data["advantages"]) // config.minibatches
        names = ("objective", "policy_objective", "value_error", "entropy", "approx_kl", "clip_fraction")
        taken: list[Tensor] = []  # each step's values of ``names``, read once at the end
        epochs, stopped = 0, False
        while epochs < config.epochs and not stopped:
            epochs += 1
            order = torch.randperm(len(data["advantages"]), generator=self.generator)
            shuffled = {name: values[order] for name, values in data.items()}  # one gather per tensor
            for start in range(0, len(order), size):
                minibatch = {name: values[start:start + size] for name, values in shuffled.items()}
                objective, parts = self.objective(minibatch, clip_range=config.clip_range,
                                                  value_clip_range=config.value_clip_range)
                with torch.no_grad():
                    log_ratio = parts["log_probs"] - minibatch["log_probs"]
                    approx_kl = (torch.expm1(log_ratio) - log_ratio).mean()
                if config.target_kl is not None and float(approx_kl) > 1.5 * config.target_kl:
                    stopped = True
                    break
                self.ascend(objective, {"value error": parts["value_error"]})
                with torch.no_grad():
                    taken.append(torch.stack([objective, parts["policy_objective"], parts["value_error"],
                                              parts["entropy"], approx_kl, parts["clip_fraction"]]))
        steps = len(taken)
        totals = dict.fromkeys(names, 0.0)
        for values in torch.stack(taken).tolist() if taken else []:  # summed in step order, as floats
            for name, value in zip(names, values):
                totals[name] += value
        metrics = {name: total / steps if steps else float("nan") for name, total in totals.items()}
        return {**metrics, "explained_variance": explained_variance(data["values"], data["returns"]),
                "epochs": float(epochs)}
