"""Policy and value networks of the policy-gradient agents.

- :class:`MLP`: ``Linear -> activation -> ... -> Linear`` with orthogonal initialization.
- :class:`CategoricalPolicy`, :class:`GaussianPolicy`: REINFORCE's policies, one network each.
- :class:`ActorCritic`: A2C's and PPO's actor and critic, with separate trunks or one shared trunk,
  for Discrete actions (categorical), or Box actions (a Gaussian with a state-independent
  ``log sigma`` whose sample is either clipped to the bounds by the env side or tanh-squashed into
  them).

Every policy acts with noise drawn for a whole rollout at once and computes log-probabilities and
entropies for the whole rollout in one batched forward pass afterwards; the math is in
:mod:`ascentrl.agents.distributions`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ascentrl.agents.distributions import (
    categorical_log_prob_and_entropy,
    categorical_mode,
    categorical_noise,
    categorical_sample,
    gaussian_log_prob_and_entropy,
    gaussian_noise,
    gaussian_sample,
    squash_log_det,
)

__all__ = ["MLP", "ActorCritic", "CategoricalPolicy", "GaussianPolicy"]

_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


class MLP(nn.Module):
    """``Linear -> activation -> ... -> Linear``; no hidden layer at all makes it linear.

    Weights are orthogonal (gain sqrt 2 for hidden layers, ``output_gain`` for the last), biases 0.
    A small ``output_gain`` starts a policy close to uniform.
    """

    def __init__(self, input_size: int, hidden_sizes: Sequence[int], output_size: int,
                 output_gain: float = 1.0, activation: Literal["tanh", "relu"] = "tanh") -> None:
        super().__init__()
        sizes = [input_size, *hidden_sizes, output_size]
        self.activation = _ACTIVATIONS[activation]
        self.layers = nn.ModuleList(nn.Linear(n_in, n_out) for n_in, n_out in zip(sizes, sizes[1:]))
        for index, layer in enumerate(self.layers):
            last = index == len(self.layers) - 1
            nn.init.orthogonal_(layer.weight, gain=output_gain if last else math.sqrt(2.0))
            nn.init.zeros_(layer.bias)

    def hidden(self, inputs: Tensor) -> Tensor:
        """The last hidden layer's output (the inputs themselves when there is no hidden layer)."""
        # F.linear on the layers' tensors avoids the per-module call overhead, which dominates for
        # networks this small when they are called once per environment step.
        *hidden_layers, _ = self.layers
        hidden = inputs
        for layer in hidden_layers:
            hidden = self.activation(F.linear(hidden, layer.weight, layer.bias))
        return hidden

    def forward(self, inputs: Tensor) -> Tensor:
        output_layer = self.layers[-1]
        return F.linear(self.hidden(inputs), output_layer.weight, output_layer.bias)


class CategoricalPolicy(nn.Module):
    """Softmax policy over ``num_actions`` discrete actions: ``pi(a|s) = softmax(logits(s))_a``."""

    def __init__(self, observation_size: int, num_actions: int, hidden_sizes: Sequence[int]) -> None:
        super().__init__()
        self.num_actions = num_actions
        self.logits = MLP(observation_size, hidden_sizes, num_actions, output_gain=0.01)

    def draw_noise(self, steps: int, num_envs: int, generator: torch.Generator) -> Tensor:
        return categorical_noise(steps, num_envs, self.num_actions, generator)

    def sample(self, observations: Tensor, noise: Tensor) -> Tensor:
        return categorical_sample(self.logits(observations), noise)

    def mode(self, observations: Tensor) -> Tensor:
        return categorical_mode(self.logits(observations))

    def log_prob_and_entropy(self, observations: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        return categorical_log_prob_and_entropy(self.logits(observations), actions)


class GaussianPolicy(nn.Module):
    """Diagonal Gaussian policy ``N(mu(s), diag(exp(2 log_std)))`` for continuous actions."""

    def __init__(self, observation_size: int, action_size: int, hidden_sizes: Sequence[int],
                 initial_log_std: float = 0.0) -> None:
        super().__init__()
        self.action_size = action_size
        self.mean = MLP(observation_size, hidden_sizes, action_size, output_gain=0.01)
        self.log_std = nn.Parameter(torch.full((action_size,), float(initial_log_std)))

    def draw_noise(self, steps: int, num_envs: int, generator: torch.Generator) -> Tensor:
        return gaussian_noise(steps, num_envs, self.action_size, generator)

    def sample(self, observations: Tensor, noise: Tensor) -> Tensor:
        return gaussian_sample(self.mean(observations), self.log_std, noise)

    def mode(self, observations: Tensor) -> Tensor:
        return self.mean(observations)

    def log_prob_and_entropy(self, observations: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        return gaussian_log_prob_and_entropy(self.mean(observations), self.log_std, actions)


class ActorCritic(nn.Module):
    """An actor ``pi(a|s)`` and a critic ``V(s)``, with separate trunks or one shared trunk.

    Args:
        observation_size: length of the (flattened) observation.
        action_kind: ``"discrete"`` (categorical over ``action_size`` actions) or ``"box"``
            (Gaussian over ``action_size`` dimensions).
        hidden_sizes: trunk widths.
        shared_trunk: one trunk feeding both heads, or one trunk each.
        bounds: ``(low, high)`` of a Box action to tanh-squash samples into, or None (the sample is
            scored as it is; the env side clips what the env receives).

    Initialization as in CleanRL/Stable-Baselines3: orthogonal, gain sqrt 2 in the trunks, 0.01 on
    the policy head (a near-uniform start), 1 on the value head.
    """

    def __init__(self, observation_size: int, action_kind: Literal["discrete", "box"], action_size: int,
                 hidden_sizes: Sequence[int], *, activation: Literal["tanh", "relu"] = "tanh",
                 shared_trunk: bool = False, initial_log_std: float = 0.0,
                 bounds: tuple[Tensor, Tensor] | None = None) -> None:
        super().__init__()
        self.action_kind, self.action_size = action_kind, action_size
        if shared_trunk and hidden_sizes:
            # The trunk is an MLP whose output layer is the policy head; the value head reads its
            # last hidden layer.
            self.actor = MLP(observation_size, hidden_sizes, action_size, output_gain=0.01, activation=activation)
            self.value_head = MLP(hidden_sizes[-1], (), 1, output_gain=1.0)
            self.critic = None
        else:
            self.actor = MLP(observation_size, hidden_sizes, action_size, output_gain=0.01, activation=activation)
            self.critic = MLP(observation_size, hidden_sizes, 1, output_gain=1.0, activation=activation)
        self.log_std = (nn.Parameter(torch.full((action_size,), float(initial_log_std)))
                        if action_kind == "box" else None)
        self.register_buffer("low", None if bounds is None else torch.as_tensor(bounds[0], dtype=torch.float32))
        self.register_buffer("high", None if bounds is None else torch.as_tensor(bounds[1], dtype=torch.float32))

    @property
    def squashed(self) -> bool:
        return self.low is not None

    def value(self, observations: Tensor) -> Tensor:
        """``V(s)``, batch-shaped."""
        if self.critic is not None:
            return self.critic(observations).squeeze(-1)
        return self.value_head(self.actor.hidden(observations)).squeeze(-1)

    def draw_noise(self, steps: int, num_envs: int, generator: torch.Generator) -> Tensor:
        if self.action_kind == "discrete":
            return categorical_noise(steps, num_envs, self.action_size, generator)
        return gaussian_noise(steps, num_envs, self.action_size, generator)

    def sample(self, observations: Tensor, noise: Tensor) -> Tensor:
        """A sample: an action index, a Gaussian action, or the pre-squash ``u`` (module docstring)."""
        if self.action_kind == "discrete":
            return categorical_sample(self.actor(observations), noise)
        return gaussian_sample(self.actor(observations), self.log_std, noise)

    def mode(self, observations: Tensor) -> Tensor:
        """The greedy action in the same form as :meth:`sample` (pre-squash for squashed policies)."""
        if self.action_kind == "discrete":
            return categorical_mode(self.actor(observations))
        return self.actor(observations)

    def log_prob_and_entropy(self, observations: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """``log pi(a|s)`` (with the squashing's change of variables) and the entropy bonus."""
        return self._scored(self.actor(observations), actions)

    def policy_and_value(self, observations: Tensor) -> tuple[Tensor, Tensor]:
        """The policy head's output (logits or Gaussian mean) and ``V(s)``, in one pass through a
        shared trunk."""
        if self.critic is not None:
            return self.actor(observations), self.critic(observations).squeeze(-1)
        hidden = self.actor.hidden(observations)
        head = self.actor.layers[-1]
        return F.linear(hidden, head.weight, head.bias), self.value_head(hidden).squeeze(-1)

    def evaluate_actions(self, observations: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``log pi(a|s)``, the entropy bonus and ``V(s)``."""
        output, values = self.policy_and_value(observations)
        return *self._scored(output, actions), values

    def _scored(self, output: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        if self.action_kind == "discrete":
            return categorical_log_prob_and_entropy(output, actions)
        log_probs, entropy = gaussian_log_prob_and_entropy(output, self.log_std, actions)
        if self.squashed:
            log_probs = log_probs - squash_log_det(actions, self.low, self.high)
        return log_probs, entropy
