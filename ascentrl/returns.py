"""Returns, advantages and the score-function objective of policy-gradient methods.

Every function works on a rollout laid out as ``[T, N]`` tensors: ``T`` consecutive steps of ``N``
environments run side by side (a Gymnasium vector env). Step ``t`` of env ``n`` means: the agent saw
``s_t``, took ``a_t``, received ``r_t`` and the env returned ``s_{t+1}`` with the flags

- ``terminated[t]``: ``s_{t+1}`` is terminal; nothing follows, its value is 0;
- ``truncated[t]``: the episode was cut (a time limit) although ``s_{t+1}`` is not terminal.

The rollout itself may also end in the middle of an episode (after step ``T - 1``); that cut is
treated exactly like a truncation.

What happens at a cut depends on whether a value estimate is supplied (``next_values[t] = V(s_{t+1})``):

- with ``next_values``, the return after a cut is bootstrapped: ``G_t = r_t + gamma * V(s_{t+1})``;
- without it, nothing is added after the cut, so ``G_t`` is the discounted sum of the rewards the
  episode actually received (the finite-horizon return; for time-limited tasks that is the quantity
  the task scores, but it under-estimates the infinite-horizon return of the states near the cut).

Gymnasium >= 1.0 vector envs reset a finished sub-env on the *next* call to ``step``
(``AutoresetMode.NEXT_STEP``): that call ignores the action, returns the first observation of the
new episode and reward 0. Such steps are not transitions of the MDP; :func:`next_step_autoreset_mask`
finds them and every function here takes a ``valid`` mask that keeps them out.

No Gymnasium import here: only torch.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "batch_mean_baseline",
    "episode_returns",
    "first_episode_mask",
    "gae_advantages",
    "next_step_autoreset_mask",
    "normalize_advantages",
    "reward_to_go",
    "score_function_objective",
]


def _check_mask(name: str, mask: Tensor | None) -> None:
    # Masks are combined with | and ~ and used as indices; a float 0/1 tensor would fail deep
    # inside torch (or, worse, be used as a multiplier), so it is refused here by name.
    if mask is not None and mask.dtype != torch.bool:
        raise TypeError(f"{name} must be a bool tensor, got dtype {mask.dtype}")


def _check_rollout(rewards: Tensor, **tensors: Tensor | None) -> None:
    """Shapes ``[T, N]`` with ``T >= 1`` for everything; bool dtype for the flags and masks."""
    if rewards.dim() != 2:
        raise ValueError(f"rewards must have shape [T, N], got shape {tuple(rewards.shape)}")
    if rewards.shape[0] == 0:
        raise ValueError("rewards must hold at least one step (T >= 1), got T = 0")
    for name, tensor in tensors.items():
        if tensor is not None and tensor.shape != rewards.shape:
            raise ValueError(
                f"{name} must have the shape of rewards {tuple(rewards.shape)}, "
                f"got {tuple(tensor.shape)}"
            )
        if name in ("terminated", "truncated", "valid"):
            _check_mask(name, tensor)


def _check_discount(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")


def _check_flags(terminated: Tensor, truncated: Tensor) -> None:
    _check_mask("terminated", terminated)
    _check_mask("truncated", truncated)
    if terminated.dim() != 2 or terminated.shape != truncated.shape:
        raise ValueError(
            f"terminated and truncated must have the same shape [T, N], got {tuple(terminated.shape)} "
            f"and {tuple(truncated.shape)}"
        )


def _backward_recursion(terms: Tensor, carry: Tensor) -> Tensor:
    """``y_{T-1} = x_{T-1}``, ``y_t = x_t + c_t y_{t+1}``: one multiply-add per step, backwards."""
    result = torch.empty_like(terms)
    result[-1] = terms[-1]
    for t in range(terms.shape[0] - 2, -1, -1):
        torch.addcmul(terms[t], carry[t], result[t + 1], out=result[t])
    return result


def next_step_autoreset_mask(
    terminated: Tensor, truncated: Tensor, done_before: Tensor | None = None
) -> Tensor:
    """Mark the real transitions of a rollout from a NEXT_STEP-autoreset vector env.

    ``valid[t] = not (terminated[t-1] or truncated[t-1])``: the step after an episode ended only
    resets the sub-env. ``done_before`` (shape ``[N]``) holds the flags of the step just before this
    rollout (all False at the start of training).

    Returns:
        Boolean tensor ``[T, N]``, True where the step is a real transition.
    """
    _check_flags(terminated, truncated)
    _check_mask("done_before", done_before)
    done = terminated | truncated
    if done_before is None:
        done_before = torch.zeros_like(done[0])
    elif done_before.shape != done.shape[1:]:
        raise ValueError(
            f"done_before must have shape [N] = {tuple(done.shape[1:])}, got {tuple(done_before.shape)}"
        )
    return ~torch.cat((done_before.unsqueeze(0), done[:-1]), dim=0)


def first_episode_mask(terminated: Tensor, truncated: Tensor) -> Tensor:
    """Mark the steps of the first episode of each env in a rollout that starts at a reset.

    ``valid[t] = no episode ended before step t``. Used to collect whole episodes: run the vector env
    until every sub-env has finished once, and learn only from the first episode of each, so that
    long episodes are not under-represented (episodes that happen to finish before the slowest one
    are short ones, and learning from them would bias the estimate).
    """
    _check_flags(terminated, truncated)
    done = (terminated | truncated).to(torch.int64)
    ended_before = torch.cumsum(done, dim=0) - done
    return ended_before == 0


def reward_to_go(
    rewards: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    gamma: float,
    *,
    next_values: Tensor | None = None,
    valid: Tensor | None = None,
) -> Tensor:
    r"""Discounted reward-to-go ``G_t`` of every step, ``[T, N]``.

    .. math::

        G_t = r_t + \gamma \begin{cases}
            0 & \text{terminated}_t \\
            V(s_{t+1}) \text{ or } 0 & \text{truncated}_t \text{ or } t = T - 1
                \text{ (bootstrap if next\_values is given)} \\
            G_{t+1} & \text{otherwise}
        \end{cases}

    ``terminated`` wins when both flags are set. Steps where ``valid`` is False get ``G_t = 0``.

    Args:
        rewards: ``r_t``, float ``[T, N]``.
        terminated, truncated: bool ``[T, N]``, the flags returned with ``r_t``.
        gamma: discount factor in [0, 1].
        next_values: ``V(s_{t+1})``, ``[T, N]``; the value of the observation returned by step t
            (under NEXT_STEP autoreset that is the final observation of a finished episode).
            Without it, truncations and the end of the rollout add nothing.
        valid: bool ``[T, N]``, False for steps to ignore (see :func:`next_step_autoreset_mask`).
    """
    _check_rollout(rewards, terminated=terminated, truncated=truncated,
                   next_values=next_values, valid=valid)
    _check_discount("gamma", gamma)
    continues = ~(terminated | truncated)
    # The value carried into step t from the future: G_{t+1} while the episode goes on, otherwise a
    # bootstrap (or 0) added to the reward once, so the backward pass is a single multiply-add.
    immediate = rewards.clone()
    if next_values is not None:
        cut = ~terminated & truncated
        cut[-1] = ~terminated[-1]
        immediate = immediate + cut * (gamma * next_values)  # gamma * bool would be float32
    carry = gamma * continues.to(rewards.dtype)
    returns = _backward_recursion(immediate, carry)
    if valid is not None:
        returns = returns * valid
    return returns


def episode_returns(
    rewards: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    gamma: float,
    *,
    next_values: Tensor | None = None,
    valid: Tensor | None = None,
) -> Tensor:
    r"""Whole-episode return ``R(tau) = G_{t_0}`` broadcast to every step of the episode, ``[T, N]``.

    ``t_0`` is the first step of the episode containing step t: ``t = 0`` or the step after an episode
    ended. This is the weight of the original REINFORCE estimator
    ``grad J = E[R(tau) * sum_t grad log pi(a_t|s_t)]``. Bootstrapping and masking as in
    :func:`reward_to_go`. An episode already under way when the rollout started only counts its
    rewards from step 0; collect rollouts that start at a reset to get true episode returns.
    """
    to_go = reward_to_go(rewards, terminated, truncated, gamma, next_values=next_values, valid=valid)
    steps = torch.arange(rewards.shape[0], device=rewards.device).unsqueeze(1).expand_as(rewards)
    starts = torch.ones_like(terminated)
    starts[1:] = terminated[:-1] | truncated[:-1]
    if valid is not None:
        starts[1:] |= ~valid[:-1]
    start_index = torch.cummax(torch.where(starts, steps, torch.zeros_like(steps)), dim=0).values
    returns = to_go.gather(0, start_index)
    if valid is not None:
        returns = returns * valid
    return returns


def batch_mean_baseline(returns: Tensor, valid: Tensor) -> Tensor:
    r"""Leave-one-out batch mean of the returns at each time step, ``[T, N]``.

    .. math::

        b_t^{(n)} = \frac{\sum_{m \ne n} \text{valid}_{t,m} R_{t,m}}{\sum_{m \ne n} \text{valid}_{t,m}}
        \quad (0 \text{ if no other env is valid at step } t)

    For a batch of episodes that all start at step 0, this baseline depends on the time step and
    on the *other* episodes only, never on episode ``n``'s own actions, so subtracting it leaves the
    REINFORCE gradient unbiased, while it removes what all episodes share at step ``t``. When every
    episode of a batch reaches the time limit, ``R_t - b_t`` is exactly 0 and the update is zero
    rather than noise.
    """
    if returns.shape != valid.shape:
        raise ValueError(
            f"returns and valid must have the same shape, got {tuple(returns.shape)} and {tuple(valid.shape)}"
        )
    _check_mask("valid", valid)
    weights = valid.to(returns.dtype)
    # Sums are taken relative to one valid return per step, so that equal returns give exactly
    # R_t - b_t = 0: summing the raw returns leaves a rounding residue (~1e-5 in float32) that
    # advantage normalization would blow up into full-size random weights.
    reference = returns.gather(1, valid.to(torch.uint8).argmax(dim=1, keepdim=True))
    centered = (returns - reference) * weights
    others_sum = centered.sum(dim=1, keepdim=True) - centered
    others_count = weights.sum(dim=1, keepdim=True) - weights
    return torch.where(others_count > 0, reference + others_sum / others_count.clamp(min=1),
                       torch.zeros_like(returns))


def gae_advantages(
    rewards: Tensor,
    values: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    gamma: float,
    lam: float,
    *,
    valid: Tensor | None = None,
) -> Tensor:
    r"""Generalized advantage estimation, GAE(gamma, lambda) (Schulman et al., 2016), ``[T, N]``.

    .. math::

        \delta_t = r_t + \gamma (1 - \text{terminated}_t) V(s_{t+1}) - V(s_t), \qquad
        A_t = \delta_t + \gamma \lambda (1 - \text{done}_t) A_{t+1}, \quad A_T = 0

    with ``done_t = terminated_t or truncated_t``. A truncation (and the end of the rollout)
    bootstraps through ``V(s_{t+1})`` inside ``delta_t``. ``lam = 1`` gives
    ``G_t - V(s_t)`` with ``G`` from :func:`reward_to_go` (bootstrapped), provided
    ``next_values[t] = values[t + 1]`` wherever step t does not end an episode (true when both come
    from the same value function); ``lam = 0`` gives the one-step TD error. The return target for a
    value function is ``A_t + V(s_t)``.

    Args:
        values: ``V(s_t)``, ``[T, N]``.
        next_values: ``V(s_{t+1})``, ``[T, N]`` (final observation where an episode ended).
        lam: lambda in [0, 1].
        Others as in :func:`reward_to_go`. Steps where ``valid`` is False get ``A_t = 0``.
    """
    _check_rollout(rewards, values=values, next_values=next_values, terminated=terminated,
                   truncated=truncated, valid=valid)
    _check_discount("gamma", gamma)
    _check_discount("lam", lam)
    deltas = rewards + (~terminated) * (gamma * next_values) - values  # keeps the dtype of the values
    carry = gamma * lam * (~(terminated | truncated)).to(rewards.dtype)
    advantages = _backward_recursion(deltas, carry)
    if valid is not None:
        advantages = advantages * valid
    return advantages


def normalize_advantages(advantages: Tensor, valid: Tensor | None = None, eps: float = 1e-8) -> Tensor:
    r"""``(A - mean(A)) / (std(A) + eps)`` over the valid steps; invalid steps become 0.

    Rescaling the weights of the score function by a positive constant does not change the
    direction of the gradient, and subtracting the mean acts as a batch-constant baseline. Both
    statistics include the episode's own weights, so the normalized estimate is biased by
    ``O(1/N)`` for ``N`` episodes (unlike :func:`batch_mean_baseline`, which leaves each episode out).
    """
    _check_mask("valid", valid)
    if valid is None:  # every step counts: no mask to build and apply (a minibatch's hot path)
        if advantages.numel() < 2:
            return torch.zeros_like(advantages)
        flat = advantages.reshape(-1)
        return (advantages - flat.mean()) / (flat.std() + eps)
    if valid.shape != advantages.shape:
        raise ValueError(
            f"valid must have the shape of advantages {tuple(advantages.shape)}, got {tuple(valid.shape)}"
        )
    selected = advantages[valid]
    if selected.numel() < 2:
        return torch.zeros_like(advantages)
    normalized = (advantages - selected.mean()) / (selected.std() + eps)
    return normalized * valid


def score_function_objective(
    log_probs: Tensor,
    weights: Tensor,
    valid: Tensor | None = None,
    *,
    num_episodes: int | None = None,
) -> Tensor:
    r"""The score-function (REINFORCE) surrogate objective, to be **maximized**.

    .. math::

        J(\theta) = \frac{1}{M} \sum_{t, n:\ \text{valid}} \log \pi_\theta(a_t \mid s_t)\, \Psi_t

    ``weights`` (``Psi``) are constants (detached); only ``log_probs`` carries the gradient.
    With ``M`` = number of valid steps this is ``mean(log pi * Psi)``. With ``M = num_episodes``
    its gradient is the sample mean over episodes of ``sum_t grad log pi(a_t|s_t) Psi_t``: for
    ``Psi_t = G_t - b(s_t)`` with ``gamma = 1`` (or ``Psi_t = gamma^t (G_t - b(s_t))``) that is an
    unbiased estimate of ``grad E[sum_t gamma^t r_t]`` (policy gradient theorem). The usual
    ``Psi_t = G_t - b(s_t)`` with ``gamma < 1`` drops the ``gamma^t`` state weighting, as nearly every
    implementation does. Both normalizations give the same direction.

    Call ``J.backward()`` and an ascent step; never negate it.
    """
    if log_probs.shape != weights.shape:
        raise ValueError(
            f"log_probs and weights must have the same shape, got {tuple(log_probs.shape)} "
            f"and {tuple(weights.shape)}"
        )
    _check_mask("valid", valid)
    if valid is not None and valid.shape != log_probs.shape:
        raise ValueError(
            f"valid must have the shape of log_probs {tuple(log_probs.shape)}, got {tuple(valid.shape)}"
        )
    products = log_probs * weights.detach()
    if valid is not None:
        products = torch.where(valid, products, torch.zeros_like(products))
        count = int(valid.sum())
    else:
        count = products.numel()
    if num_episodes is not None:
        if isinstance(num_episodes, bool) or not isinstance(num_episodes, int) or num_episodes <= 0:
            raise ValueError(f"num_episodes must be a positive integer, got {num_episodes!r}")
        count = num_episodes
    return products.sum() / max(count, 1)
