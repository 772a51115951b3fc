r"""A2C, advantage actor-critic (Mnih et al., 2016, "Asynchronous methods for deep reinforcement
learning", in its synchronous form): one ascent step per rollout on the whole batch.

Sign convention: the objective is **maximized** (``J.backward()`` then an :class:`ascentrl.Ascent`
step); nothing is negated into a loss.

The rollout, GAE and normalization are :class:`ascentrl.agents.actor_critic.ActorCriticLearner`'s.
The update ascends

.. math::

    J(\theta) = \hat{\mathbb E}\big[\log \pi_\theta(a_t|s_t)\,\hat A_t\big]
                - c_V\,\hat{\mathbb E}\big[(V_\theta(s_t) - R_t)^2\big]
                + c_H\,\hat{\mathbb E}\big[H(\pi_\theta(\cdot|s_t))\big]

over the ``num_envs x num_steps`` transitions of the rollout, with the gradient clipped to
``max_grad_norm``. The defaults are Stable-Baselines3's A2C defaults (RMSprop with alpha 0.99 and
eps 1e-5, five steps per env, GAE lambda 1, no advantage normalization).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from ascentrl.agents.actor_critic import ActorCriticConfig, ActorCriticLearner, explained_variance

__all__ = ["A2C", "A2CConfig"]


@dataclass
class A2CConfig(ActorCriticConfig):
    """Hyperparameters of :class:`A2C` (the shared ones are documented in ActorCriticConfig)."""

    num_steps: int = 5
    """Steps of every env per rollout: a batch holds num_envs x num_steps transitions."""
    gae_lambda: float = 1.0
    """lambda of GAE(gamma, lambda) in [0, 1]: 0 is the one-step TD error, 1 the Monte Carlo return."""
    lr: float = 7e-4
    """Learning rate of the Ascent optimizer."""
    ascent: dict[str, Any] = field(default_factory=lambda: {"adaptive": "rmsprop", "alpha": 0.99, "eps": 1e-5})
    """Other keyword arguments of ascentrl.Ascent, e.g. {"adaptive": "adam"}."""
    normalize_advantages: bool = False
    """Rescale the advantages to zero mean and unit variance over each batch."""


class A2C(ActorCriticLearner):
    """Synchronous advantage actor-critic (module docstring).

    Example::

        agent = A2C(A2CConfig(env="CartPole-v1", seed=1))
        history = agent.train(500_000, stop=ReturnThreshold(475.0))
    """

    config_class: ClassVar[type] = A2CConfig
    metric_names: ClassVar[tuple[str, ...]] = ("objective", "policy_objective", "value_error", "entropy",
                                               "explained_variance")

    def __init__(self, config: A2CConfig | None = None, *, distributed: Any = None) -> None:
        super().__init__(config if config is not None else A2CConfig(), distributed)

    def update(self, batch: Any) -> dict[str, float]:
        """One step on the whole batch (module docstring)."""
        data = batch.flat()
        objective, parts = self.objective(data, clip_range=None, value_clip_range=None)
        self.ascend(objective, {"value error": parts["value_error"]})
        return {"objective": float(objective.detach()), "policy_objective": float(parts["policy_objective"].detach()),
                "value_error": float(parts["value_error"].detach()), "entropy": float(parts["entropy"].detach()),
                "explained_variance": explained_variance(data["values"], data["returns"])}
