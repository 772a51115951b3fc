r"""Objectives of the multi-agent learners, all to be **maximized** (``J.backward()``, then ascend).

Two kinds, both computed from one batch of sampled episodes (:class:`MultiAgentBatch` layout:
``[n_agents, T, N]``, one episode per column, starting at step 0):

1. :func:`reinforce_objective`: agent i's REINFORCE surrogate
   ``J_i(theta_i) = (1/N) sum_{t,n: valid} log pi_i(a_t^i | o_t^i) Psi_t^i`` with
   ``Psi = G - b`` (reward-to-go minus the leave-one-out batch mean, or minus a learned value
   ``V_i(o_t^i)``), built from :mod:`ascentrl.returns`. It depends on agent i's own parameters
   only: its gradient is agent i's policy gradient, but its derivative with respect to any other
   agent's parameters is 0. A learned value ascends :func:`value_objective`,
   ``J_V = -mean_{t,n: valid} (V(o_t) - G_t)^2``, i.e. it regresses onto the returns.

2. :func:`joint_return_estimates`: agent i's expected return ``u_i(theta_1, ..., theta_n)`` as a
   function of **every** agent's parameters, which is what the game dynamics of
   :mod:`ascentrl.games` differentiate (LOLA, SGA and consensus need the cross derivatives
   ``grad_{theta_j} grad_{theta_i} u_k``; extragradient and alternating evaluate ``u`` after some
   agents moved). With ``l_t = sum_j log pi_j(a_t^j|o_t^j) - log mu_j(a_t^j|o_t^j)`` the log
   importance ratio of the joint action at step t (``mu`` = the policies that sampled the batch)
   and ``L_t = sum_{k <= t} l_k``:

   .. math::

       \hat u_i(\theta) = \frac{1}{N} \sum_{n} \sum_{t} \gamma^t \Big[ e^{L_t} r_t^i
                          + (1 - e^{l_t})\, b_t^i \Big]

   At ``theta = mu`` its value is the mean discounted return, its gradient is the policy
   gradient ``(1/N) sum gamma^t grad l_t (G_t^i - b_t^i)`` (reward-to-go form: ``r_t`` only
   depends on the actions up to ``t``), and its derivatives of every order are unbiased
   estimates of those of ``u_i`` (the DiCE estimator, Foerster et al. 2018, "DiCE: the infinitely
   differentiable Monte Carlo estimator", with the baseline term of Mao et al. 2019, "A baseline
   for any order gradient estimation"). Away from ``mu`` it is the importance-sampled return
   estimate, so extragradient's look-ahead point gets a correct off-policy gradient. The
   surrogate of item 1 has none of these cross terms: fed to LOLA it would make LOLA plain
   simultaneous ascent.

   Unlike item 1, the step weight ``gamma^t`` is kept, so the gradient is that of the discounted
   return itself (the two agree for ``gamma = 1`` or one-step episodes). LOLA's product of two
   estimates from the same batch is biased by their covariance, as in LOLA-DiCE.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from ascentrl.returns import (
    batch_mean_baseline,
    normalize_advantages,
    reward_to_go,
    score_function_objective,
)

__all__ = ["joint_return_estimates", "masked_kl", "masked_log_probs", "reinforce_objective", "reinforce_weights",
           "value_objective"]


def masked_log_probs(logits: Tensor, actions: Tensor, masks: Tensor | None = None) -> tuple[Tensor, Tensor]:
    r"""``log pi(a|o)`` and the entropy ``H(pi(.|o))`` of ``pi = softmax(logits)`` over the legal actions.

    Masked-out actions get probability 0: ``pi(a|o) = e^{z_a} / sum_{b legal} e^{z_b}``. Every row
    of ``masks`` must allow at least one action. Shapes: ``logits [..., A]``, ``actions [...]``.
    """
    if masks is not None:
        logits = logits.masked_fill(~masks, float("-inf"))
    log_probs = torch.log_softmax(logits, dim=-1)
    chosen = log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    # 0 * log 0 = 0 for masked actions, written without producing 0 * -inf = nan.
    finite = torch.where(torch.isfinite(log_probs), log_probs, torch.zeros_like(log_probs))
    entropy = -(finite.exp() * finite).sum(dim=-1)
    return chosen, entropy


def masked_kl(logits: Tensor, reference_logits: Tensor, masks: Tensor | None = None) -> Tensor:
    r"""``KL(pi || rho) = sum_a pi(a|o) (log pi(a|o) - log rho(a|o))`` of ``pi = softmax(logits)`` and
    ``rho = softmax(reference_logits)``, both over the legal actions of ``masks`` (shapes ``[..., A]``;
    the result ``[...]``). Illegal actions have probability 0 under both and add nothing."""
    if masks is not None:
        logits = logits.masked_fill(~masks, float("-inf"))
        reference_logits = reference_logits.masked_fill(~masks, float("-inf"))
    log_probs = torch.log_softmax(logits, dim=-1)
    legal = torch.isfinite(log_probs)
    # Both log-probabilities are -inf on illegal actions: replaced by 0 there, so that neither the
    # value nor the gradient meets 0 * (-inf - -inf) = nan.
    finite = torch.where(legal, log_probs, torch.zeros_like(log_probs))
    reference = torch.where(legal, torch.log_softmax(reference_logits, dim=-1), torch.zeros_like(log_probs))
    return (finite.exp() * (finite - reference) * legal).sum(dim=-1)


def reinforce_weights(
    rewards: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    valid: Tensor,
    gamma: float,
    *,
    baseline: Literal["none", "mean", "value"],
    normalize: bool,
    values: Tensor | None = None,
) -> Tensor:
    """One agent's score-function weights ``Psi_t = G_t - b_t`` (optionally normalized), ``[T, N]``.

    ``G_t`` is the discounted reward-to-go of :func:`ascentrl.returns.reward_to_go` (no bootstrap:
    a truncated episode's return stops at the cut), ``b_t`` the leave-one-out batch mean of
    :func:`ascentrl.returns.batch_mean_baseline`, the learned ``values`` ``V(o_t)`` (taken as
    constants), or 0. Invalid steps get weight 0.
    """
    if baseline not in ("none", "mean", "value"):
        raise ValueError(f"baseline must be 'none', 'mean' or 'value', got {baseline!r}")
    if (baseline == "value") != (values is not None):
        raise ValueError("values are needed for baseline 'value', and only for it")
    returns = reward_to_go(rewards, terminated, truncated, gamma, valid=valid)
    if baseline == "mean":
        weights = returns - batch_mean_baseline(returns, valid)
    elif baseline == "value":
        weights = returns - values.detach()
    else:
        weights = returns
    if normalize:
        weights = normalize_advantages(weights, valid)
    return weights * valid


def reinforce_objective(
    log_probs: Tensor,
    weights: Tensor,
    valid: Tensor,
    *,
    entropy: Tensor | None = None,
    entropy_coef: float = 0.0,
) -> Tensor:
    """``J(theta) = (1/N) sum_{t,n: valid} [log pi(a_t|o_t) Psi_t + beta H(pi(.|o_t))]``, to maximize.

    ``N`` (the number of episodes) is ``log_probs.shape[-1]``; shapes ``[T, N]``.
    """
    num_episodes = log_probs.shape[-1]
    objective = score_function_objective(log_probs, weights, valid, num_episodes=num_episodes)
    if entropy is not None and entropy_coef:
        objective = objective + entropy_coef * (entropy * valid).sum() / num_episodes
    return objective


def value_objective(values: Tensor, rewards: Tensor, terminated: Tensor, truncated: Tensor, valid: Tensor,
                    gamma: float) -> Tensor:
    """``J_V = -mean_{t,n: valid} (V(o_t) - G_t)^2``, to maximize: the value regresses onto the
    reward-to-go ``G_t`` of :func:`reinforce_weights`. Shapes ``[T, N]``."""
    returns = reward_to_go(rewards, terminated, truncated, gamma, valid=valid)
    errors = torch.where(valid, values - returns, torch.zeros_like(values))
    return -(errors * errors).sum() / valid.sum().clamp(min=1)


def joint_return_estimates(
    log_probs: Tensor,
    behaviour_log_probs: Tensor,
    rewards: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    valid: Tensor,
    gamma: float,
    *,
    baseline: Literal["none", "mean"],
) -> Tensor:
    """Every agent's importance-weighted return estimate ``u_i``, shape ``[n_agents]`` (module docstring).

    Args:
        log_probs: ``log pi_j(a_t^j|o_t^j)`` at the current parameters, ``[n_agents, T, N]``,
            differentiable in every agent's parameters.
        behaviour_log_probs: the same under the policies that sampled the batch (constants).
        rewards, terminated, truncated, valid: ``[n_agents, T, N]`` as in a
            :class:`~ascentrl.agents.multiagent_rollout.MultiAgentBatch` (one episode per column).
        gamma: discount in [0, 1].
        baseline: ``"mean"`` adds the leave-one-out batch-mean baseline term, ``"none"`` omits it.
    """
    if baseline not in ("none", "mean"):
        raise ValueError(f"baseline must be 'none' or 'mean', got {baseline!r}")
    if not (log_probs.shape == behaviour_log_probs.shape == rewards.shape == valid.shape):
        raise ValueError(
            "log_probs, behaviour_log_probs, rewards and valid must all have shape [n_agents, T, N], got "
            f"{[tuple(t.shape) for t in (log_probs, behaviour_log_probs, rewards, valid)]}"
        )
    steps, num_episodes = rewards.shape[1], rewards.shape[2]
    step_log_ratio = torch.where(valid, log_probs - behaviour_log_probs.detach(),
                                 torch.zeros_like(log_probs)).sum(dim=0)
    path_weight = step_log_ratio.cumsum(dim=0).exp()
    discounts = gamma ** torch.arange(steps, dtype=rewards.dtype).unsqueeze(1)
    estimates = []
    for agent in range(rewards.shape[0]):
        agent_valid = valid[agent]
        total = (discounts * path_weight * rewards[agent] * agent_valid).sum()
        if baseline == "mean":
            returns = reward_to_go(rewards[agent], terminated[agent], truncated[agent], gamma, valid=agent_valid)
            base = batch_mean_baseline(returns, agent_valid)
            total = total + (discounts * (1 - step_log_ratio.exp()) * base * agent_valid).sum()
        estimates.append(total / num_episodes)
    return torch.stack(estimates)
