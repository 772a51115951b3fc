r"""Action distributions of the policy-gradient agents, as plain functions of network outputs.

Sampling is reparameterized with noise drawn for a whole rollout at once, so acting costs one small
forward pass per step and no ``torch.distributions`` object is ever built:

- **Categorical** ``pi(a|s) = softmax(l)_a``: a sample is ``argmax_a (l_a + g_a)`` with
  ``g_a ~ Gumbel(0, 1)`` (the Gumbel-max trick); ``log pi(a|s) = log_softmax(l)_a``,
  ``H = -sum_a pi_a log pi_a``.
- **Diagonal Gaussian** ``N(mu, diag(sigma^2))``: a sample is ``mu + sigma * eps``,
  ``eps ~ N(0, I)``; ``log pi(a|s) = -sum_i [(a_i - mu_i)^2 / (2 sigma_i^2) + log sigma_i + log(2 pi)/2]``,
  ``H = sum_i [log sigma_i + log(2 pi e)/2]``.
- **Tanh-squashed Gaussian** for bounded actions: ``u ~ N(mu, diag(sigma^2))``, the env receives
  ``a = c + h tanh(u)`` with ``c = (high + low)/2``, ``h = (high - low)/2``. The change of
  variables gives

  .. math::

      \log \pi(a|s) = \log N(u; \mu, \sigma) - \sum_i \log\big(h_i (1 - \tanh^2 u_i)\big),
      \qquad \log(1 - \tanh^2 u) = 2\,(\log 2 - u - \operatorname{softplus}(-2u)),

  the right-hand form being exact and stable for large ``|u|``. Rollouts store ``u`` (the
  pre-squash sample), so log-probabilities never invert ``tanh``. The squashed distribution's
  entropy has no closed form; :func:`gaussian_log_prob_and_entropy`'s entropy of ``u`` is the
  bonus used for it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "categorical_log_prob_and_entropy",
    "categorical_mode",
    "categorical_noise",
    "categorical_sample",
    "gaussian_log_prob_and_entropy",
    "gaussian_noise",
    "gaussian_sample",
    "squash",
    "squash_log_det",
]

_HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)
_HALF_LOG_TWO_PI_E = 0.5 * math.log(2 * math.pi * math.e)


def categorical_noise(steps: int, num_envs: int, num_actions: int, generator: torch.Generator) -> Tensor:
    """Gumbel(0, 1) noise ``g = -log(E)``, ``E ~ Exp(1)``, shape ``[steps, num_envs, num_actions]``."""
    exponential = torch.empty(steps, num_envs, num_actions).exponential_(generator=generator)
    return exponential.log_().neg_()


def categorical_sample(logits: Tensor, noise: Tensor) -> Tensor:
    """``argmax_a (logits_a + g_a)``, distributed as ``softmax(logits)``; int64, batch-shaped."""
    return (logits + noise).argmax(dim=-1)


def categorical_mode(logits: Tensor) -> Tensor:
    """The most probable action."""
    return logits.argmax(dim=-1)


def categorical_log_prob_and_entropy(logits: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
    """``log pi(a|s)`` and ``H(pi(.|s))``, batch-shaped."""
    log_probs = torch.log_softmax(logits, dim=-1)
    chosen = log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    entropy = -(log_probs.exp() * log_probs).sum(dim=-1)
    return chosen, entropy


def gaussian_noise(steps: int, num_envs: int, action_size: int, generator: torch.Generator) -> Tensor:
    """Standard normal noise, shape ``[steps, num_envs, action_size]``."""
    return torch.randn(steps, num_envs, action_size, generator=generator)


def gaussian_sample(mean: Tensor, log_std: Tensor, noise: Tensor) -> Tensor:
    """``mu + exp(log_std) * eps``; shape of ``mean``."""
    return torch.addcmul(mean, log_std.exp(), noise)


def gaussian_log_prob_and_entropy(mean: Tensor, log_std: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
    """``log N(a; mu, diag(sigma^2))`` summed over action dimensions, and the entropy, batch-shaped."""
    standardized = (actions - mean) * torch.exp(-log_std)
    log_probs = -(0.5 * standardized.square() + log_std + _HALF_LOG_TWO_PI).sum(-1)
    entropy = (log_std + _HALF_LOG_TWO_PI_E).sum().expand(log_probs.shape)
    return log_probs, entropy


def squash(pre_squash: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """``c + h tanh(u)``: a pre-squash sample ``u`` mapped into the box ``[low, high]``."""
    return (high + low) / 2 + (high - low) / 2 * torch.tanh(pre_squash)


def squash_log_det(pre_squash: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """``sum_i log(h_i (1 - tanh^2 u_i))``, the log-determinant of :func:`squash`'s Jacobian."""
    log_derivative = 2.0 * (math.log(2.0) - pre_squash - F.softplus(-2.0 * pre_squash))
    return (log_derivative + torch.log((high - low) / 2)).sum(-1)
