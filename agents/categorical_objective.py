r"""The actor-critic objective of a categorical policy as one autograd node, its gradient in closed form.

PPO and A2C ascend, on a minibatch of ``N`` steps with policy logits ``z_i``, values ``V_i``, taken
actions ``a_i`` and (already normalized) advantages ``A_i``,

.. math::

    J = \frac1N \sum_i \Big[ S_i - c_V\, E_i + c_H\, H_i \Big], \qquad
    H_i = -\sum_k p_{ik} \log p_{ik}, \quad p_i = \operatorname{softmax}(z_i),

with the surrogate ``S_i = min(rho_i A_i, clip(rho_i, 1 - eps, 1 + eps) A_i)``,
``rho_i = exp(log p_{i a_i} - log pi_old(a_i|s_i))`` (PPO) or ``S_i = log p_{i a_i} A_i`` (A2C), and
the value error ``E_i = (V_i - R_i)^2`` or its clipped form ``max((V_i - R_i)^2, (V^c_i - R_i)^2)``,
``V^c_i = V^old_i + clip(V_i - V^old_i, -c, c)``. Written out, its gradient is

.. math::

    \frac{\partial J}{\partial z_{ik}} = \frac1N \Big[ w_i (\mathbb 1[k = a_i] - p_{ik})
        - c_H\, p_{ik} (\log p_{ik} + H_i) \Big], \qquad
    \frac{\partial J}{\partial V_i} = -\frac{c_V}{N} \frac{\partial E_i}{\partial V_i},

where ``w_i = dS_i / d log p_{i a_i}`` is ``rho_i A_i`` where the unclipped term is the minimum (ties
included) and 0 where the clipped one is (PPO), or ``A_i`` (A2C); and ``dE_i/dV_i`` is ``2 (V_i - R_i)``,
or, clipped, the derivative of the larger term (``2 (V^c_i - R_i)`` inside the clip range, 0
outside; half of each on a tie, as ``torch.maximum`` splits it).

The same objective composed of torch operations (``surrogate_objective`` and ``value_error`` of
:mod:`ascentrl.agents.actor_critic`) records a few dozen autograd nodes per minibatch; this is one,
whose backward is a handful of operations: measured here, about 0.2 ms of a 1.3-1.5 ms PPO
minibatch step on LunarLander's 64-64 networks. The tests check the objective, its parts and the
gradient against that composition.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["categorical_actor_critic_objective"]


class _CategoricalActorCriticObjective(torch.autograd.Function):
    """``J`` and its parts from logits and values (module docstring); differentiable in both."""

    @staticmethod
    def forward(ctx: Any, logits: Tensor, values: Tensor, actions: Tensor, old_log_probs: Tensor,
                advantages: Tensor, returns: Tensor, old_values: Tensor, clip_range: float | None,
                value_clip_range: float | None, value_coef: float, entropy_coef: float,
                ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        log_p = torch.log_softmax(logits, dim=-1)
        p = log_p.exp()
        log_probs = log_p.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        entropy = -(p * log_p).sum(dim=-1)
        if clip_range is None:
            surrogate, weight, clip_fraction = log_probs * advantages, advantages, torch.zeros(())
        else:
            ratio = torch.exp(log_probs - old_log_probs)
            unclipped = ratio * advantages
            clipped = torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range) * advantages
            surrogate = torch.minimum(unclipped, clipped)
            weight = torch.where(unclipped <= clipped, unclipped, 0.0)
            clip_fraction = ((ratio - 1.0).abs() > clip_range).float().mean()
        error = values - returns
        squared = error.square()
        if value_clip_range is None:
            value_errors, error_slope = squared, 2.0 * error
        else:
            change = values - old_values
            clipped_error = old_values + torch.clamp(change, -value_clip_range, value_clip_range) - returns
            clipped_squared = clipped_error.square()
            value_errors = torch.maximum(squared, clipped_squared)
            inside = (change.abs() <= value_clip_range).to(values.dtype)
            error_slope = torch.where(squared > clipped_squared, 2.0 * error,
                                      torch.where(squared < clipped_squared, 2.0 * clipped_error * inside,
                                                  error + clipped_error * inside))
        policy_objective, value_error, mean_entropy = surrogate.mean(), value_errors.mean(), entropy.mean()
        objective = policy_objective - value_coef * value_error + entropy_coef * mean_entropy
        ctx.save_for_backward(p, log_p, entropy, weight, error_slope, actions)
        ctx.value_coef, ctx.entropy_coef = value_coef, entropy_coef
        ctx.mark_non_differentiable(policy_objective, value_error, mean_entropy, clip_fraction, log_probs)
        return objective, policy_objective, value_error, mean_entropy, clip_fraction, log_probs

    @staticmethod
    def backward(ctx: Any, grad_objective: Tensor, *_: Any) -> tuple[Tensor | None, ...]:
        p, log_p, entropy, weight, error_slope, actions = ctx.saved_tensors
        scale = grad_objective / len(weight)
        grad_logits = (log_p + entropy.unsqueeze(-1)).mul_(p).mul_(-ctx.entropy_coef)
        grad_logits.sub_(p * weight.unsqueeze(-1))
        grad_logits.scatter_add_(-1, actions.unsqueeze(-1), weight.unsqueeze(-1).to(grad_logits.dtype))
        grad_values = error_slope * (-ctx.value_coef)
        return grad_logits.mul_(scale), grad_values.mul_(scale), *[None] * 9


def categorical_actor_critic_objective(
    logits: Tensor, values: Tensor, minibatch: dict[str, Tensor], advantages: Tensor, *,
    clip_range: float | None, value_clip_range: float | None, value_coef: float, entropy_coef: float,
) -> tuple[Tensor, dict[str, Tensor]]:
    """``J`` (to maximize) and its parts, from the policy's ``logits [N, K]`` and ``values [N]``.

    Args:
        minibatch: ``actions``, ``log_probs`` (the acting policy's), ``returns`` and ``values`` (the
            acting critic's), as :meth:`ascentrl.agents.rollouts.RolloutBatch.flat` holds them.
        advantages: the advantages as they enter the surrogate (normalized or not).
        clip_range: PPO's epsilon, or None for A2C's score-function surrogate.
        value_clip_range: ``c`` of the clipped value error, or None for the plain one.

    Returns:
        ``J`` and ``policy_objective``, ``value_error``, ``entropy``, ``clip_fraction`` and the
        ``log_probs`` of the actions under the current policy (all detached).
    """
    objective, policy_objective, value_error, entropy, clip_fraction, log_probs = (
        _CategoricalActorCriticObjective.apply(
            logits, values, minibatch["actions"], minibatch["log_probs"], advantages, minibatch["returns"],
            minibatch["values"], clip_range, value_clip_range, value_coef, entropy_coef))
    return objective, {"policy_objective": policy_objective, "value_error": value_error, "entropy": entropy,
                       "clip_fraction": clip_fraction, "log_probs": log_probs}
