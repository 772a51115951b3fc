"""Policy and value networks for the policy-gradient agents.

Sampling is reparameterized with noise drawn for a whole rollout at once, so that acting costs one
small forward pass per step and no ``torch.distributions`` object is ever built:

- :class:`CategoricalPolicy`: ``pi(a|s) = softmax(f_theta(s))_a``; a sample is
  ``argmax_a (f_theta(s)_a + g_a)`` with ``g_a ~ Gumbel(0, 1)`` (the Gumbel-max trick).
- :class:`GaussianPolicy`: ``pi(a|s) = N(a; mu_theta(s), diag(sigma^2))`` with a learned,
  state-independent ``log sigma``; a sample is ``mu_theta(s) + sigma * eps`` with ``eps ~ N(0, I)``.

Log-probabilities and entropies are computed afterwards, for the whole rollout, in one batched
forward pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["CategoricalPolicy", "GaussianPolicy", "MLP"]


class MLP(nn.Module):
    """``Linear -> tanh -> ... -> Linear``; no hidden layer at all makes it linear.

    Weights are orthogonal (gain sqrt 2 for hidden layers, ``output_gain`` for the last), biases 0.
    A small ``output_gain`` starts a policy close to uniform.
    """

    def __init__(self, input_size: int, hidden_sizes: Sequence[int], output_size: int,
                 output_gain: float = 1.0) -> None:
        super().__init__()
        sizes = [input_size, *hidden_sizes, output_size]
        self.layers = nn.ModuleList(nn.Linear(n_in, n_out) for n_in, n_out in zip(sizes, sizes[1:]))
        for index, layer in enumerate(self.layers):
            last = index == len(self.layers) - 1
            nn.init.orthogonal_(layer.weight, gain=output_gain if last else math.sqrt(2.0))
            nn.init.zeros_(layer.bias)

    def forward(self, inputs: Tensor) -> Tensor:
        # F.linear on the layers' tensors avoids the per-module call overhead, which dominates for
        # networks this small when they are called once per environment step.
        *hidden_layers, output_layer = self.layers
        hidden = inputs
        for layer in hidden_layers:
            hidden = torch.tanh(F.linear(hidden, layer.weight, layer.bias))
        return F.linear(hidden, output_layer.weight, output_layer.bias)


class CategoricalPolicy(nn.Module):
    """Softmax policy over ``num_actions`` discrete actions: ``pi(a|s) = softmax(logits(s))_a``."""

    def __init__(self, observation_size: int, num_actions: int, hidden_sizes: Sequence[int]) -> None:
        super().__init__()
        self.num_actions = num_actions
        self.logits = MLP(observation_size, hidden_sizes, num_actions, output_gain=0.01)

    def draw_noise(self, steps: int, num_envs: int, generator: torch.Generator) -> Tensor:
        """Gumbel(0, 1) noise ``g = -log(E)``, ``E ~ Exp(1)``, shape ``[steps, num_envs, num_actions]``."""
        exponential = torch.empty(steps, num_envs, self.num_actions).exponential_(generator=generator)
        return exponential.log_().neg_()

    def sample(self, observations: Tensor, noise: Tensor) -> Tensor:
        """``argmax_a (logits(s)_a + g_a)``, distributed as ``pi(.|s)``. Shape ``[B]``, int64."""
        return (self.logits(observations) + noise).argmax(dim=-1)

    def mode(self, observations: Tensor) -> Tensor:
        """The most probable action ``argmax_a pi(a|s)``."""
        return self.logits(observations).argmax(dim=-1)

    def log_prob_and_entropy(self, observations: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """``log pi(a|s)`` and ``H(pi(.|s)) = -sum_a pi(a|s) log pi(a|s)``, batch-shaped."""
        log_probs = torch.log_softmax(self.logits(observations), dim=-1)
        chosen = log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        entropy = -(log_probs.exp() * log_probs).sum(dim=-1)
        return chosen, entropy


class GaussianPolicy(nn.Module):
    """Diagonal Gaussian policy ``N(mu(s), diag(exp(2 log_std)))`` for continuous actions."""

    def __init__(self, observation_size: int, action_size: int, hidden_sizes: Sequence[int],
                 initial_log_std: float = 0.0) -> None:
        super().__init__()
        self.action_size = action_size
        self.mean = MLP(observation_size, hidden_sizes, action_size, output_gain=0.01)
        self.log_std = nn.Parameter(torch.full((action_size,), float(initial_log_std)))

    def draw_noise(self, steps: int, num_envs: int, generator: torch.Generator) -> Tensor:
        """Standard normal noise, shape ``[steps, num_envs, action_size]``."""
        return torch.randn(steps, num_envs, self.action_size, generator=generator)

    def sample(self, observations: Tensor, noise: Tensor) -> Tensor:
        """``mu(s) + exp(log_std) * eps``, distributed as ``pi(.|s)``. Shape ``[B, action_size]``."""
        return torch.addcmul(self.mean(observations), self.log_std.exp(), noise)

    def mode(self, observations: Tensor) -> Tensor:
        """The most probable action, the mean ``mu(s)``."""
        return self.mean(observations)

    def log_prob_and_entropy(self, observations: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        r"""``log pi(a|s) = -sum_i [ (a_i - mu_i)^2 / (2 sigma_i^2) + log sigma_i + log(2 pi) / 2 ]``
        and ``H = sum_i [ log sigma_i + log(2 pi e) / 2 ]``, batch-shaped."""
        mean = self.mean(observations)
        standardized = (actions - mean) * torch.exp(-self.log_std)
        log_probs = -(0.5 * standardized.square() + self.log_std + 0.5 * math.log(2 * math.pi)).sum(-1)
        entropy = (self.log_std + 0.5 * math.log(2 * math.pi * math.e)).sum().expand(log_probs.shape)
        return log_probs, entropy
