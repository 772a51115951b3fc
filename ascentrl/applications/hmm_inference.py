r"""Inference in hidden Markov models, in log space, batched over models and over padded sequences.

An HMM with ``K`` states has start probabilities ``π_i``, transitions ``A_ij = p(z_t = j | z_{t−1} = i)``
and emission densities ``b_j(x) = p(x | z = j)``. Every function takes their logarithms:

* ``log_start`` ``(*B, K)``, ``log_transition`` ``(*B, K, K)``, and
* ``log_emission`` ``(*B, S, T, K)`` with ``log_emission[..., s, t, j] = log b_j(x_{s,t})``,

for a batch ``B`` of models (e.g. restarts) and ``S`` sequences padded to the longest length ``T``;
``lengths`` ``(S,)`` says how many steps of each sequence are real. Padded steps are ignored
exactly, whatever their emission values. Sums over states are ``logsumexp``, so nothing
underflows however long the sequence.

* :func:`forward` — the forward recursion (Rabiner 1989, "A tutorial on hidden Markov models"),
  ``log α_0(j) = log π_j + log b_j(x_0)`` and

  .. math:: \log α_t(j) = \operatorname{logsumexp}_i\big(\log α_{t−1}(i) + \log A_{ij}\big) + \log b_j(x_t),

  one batched operation per time step; the log-likelihood is ``log p(x) = logsumexp_j log α_{L−1}(j)``.
* :func:`log_likelihood` — the same number in ``⌈log₂ T⌉`` batched operations instead of ``T``:
  ``p(x) = α_0ᵀ M_1 M_2 ⋯ M_{L−1} 1`` with ``M_t(i, j) = A_ij b_j(x_t)``, and a matrix product is
  associative, so the ``M_t`` are multiplied pairwise in a tree (in the log semiring, where
  ``(M ⊗ N)_{ij} = logsumexp_k(M_ik + N_kj)``; the parallel-scan idea of Särkkä & García-Fernández
  2021, "Temporal parallelization of Bayesian smoothers", used here for the total only). Padded
  steps are the semiring's identity (``0`` on the diagonal, ``−∞`` elsewhere). It costs ``O(T K³)``
  work instead of ``O(T K²)`` but almost no Python, and autograd through it gives the exact
  gradient that the fits ascend; beyond a memory budget it falls back to :func:`forward`.
* :func:`posteriors` — forward–backward: ``log β_{L−1} = 0``,
  ``log β_t(i) = logsumexp_j(log A_ij + log b_j(x_{t+1}) + log β_{t+1}(j))`` and
  ``γ_t(j) = p(z_t = j | x) = exp(log α_t(j) + log β_t(j) − log p(x))``.
* :func:`expected_counts` — Baum–Welch's E-step as a gradient: ``log p(x)`` is a smooth function
  of the log-probabilities taken as free variables, and ``∂ log p/∂ log π_j = γ_0(j)``,
  ``∂ log p/∂ log A_ij = Σ_t ξ_t(i, j)`` with ``ξ_t(i, j) = p(z_{t−1} = i, z_t = j | x)``, and
  ``∂ log p/∂ log b_j(x_t) = γ_t(j)`` (Eisner 2016, "Inside-outside and forward-backward
  algorithms are just backprop"): one backward pass through :func:`log_likelihood` gives all three.
* :func:`viterbi` — the most probable path: ``δ_t(j) = max_i(δ_{t−1}(i) + log A_ij) + log b_j(x_t)``
  with back-pointers, then backtracking from ``argmax_j δ_{L−1}(j)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ascentrl.applications.data import valid_mask

__all__ = ["expected_counts", "forward", "log_likelihood", "posteriors", "viterbi"]

TREE_MEMORY_BUDGET = 2**25
"""Largest ``K³·T·S·|B|/2`` for which :func:`log_likelihood` multiplies in a tree (about 256 MB of
float64 at the first level); beyond it the sequential forward recursion is used."""


def _step_is_real(lengths: Tensor, t: int) -> Tensor:
    """``(S, 1)`` mask of the sequences that have a step ``t``."""
    return (t < lengths).unsqueeze(-1)


def forward(log_start: Tensor, log_transition: Tensor, log_emission: Tensor,
            lengths: Tensor) -> tuple[Tensor, Tensor]:
    """The forward recursion (see the module docstring).

    Returns:
        ``log α`` of shape ``(*B, S, T, K)`` (at padded steps: the last real step's value) and the
        log-likelihood of every sequence, ``(*B, S)``.
    """
    alpha = log_start.unsqueeze(-2) + log_emission[..., 0, :]
    alphas = [alpha]
    transition = log_transition.unsqueeze(-3)  # (*B, 1, K, K): broadcast over sequences
    for t in range(1, log_emission.shape[-2]):
        moved = torch.logsumexp(alpha.unsqueeze(-1) + transition, dim=-2) + log_emission[..., t, :]
        alpha = torch.where(_step_is_real(lengths, t), moved, alpha)
        alphas.append(alpha)
    return torch.stack(alphas, dim=-2), torch.logsumexp(alpha, dim=-1)


class _PairwiseLogMatmul(torch.autograd.Function):
    """``M_{2t} ⊗ M_{2t+1}`` for a ``(2T, K, K, N)`` stack of log-matrices, shape ``(T, K, K, N)``.

    ``(A ⊗ B)_{ij} = log Σ_k exp(A_ik + B_kj)``, scaled as in the scaled forward algorithm: with
    ``a_i = max_k A_ik`` and ``b_j = max_k B_kj``, ``(A ⊗ B)_ij = a_i + b_j + log S_ij`` where
    ``S_ij = Σ_k e^{A_ik − a_i} e^{B_kj − b_j}``. Every exponential is at most 1 and, for each ``i``,
    some term is not far below 1 unless a transition probability is below ``e^{−700}``. ``S`` is
    floored at the smallest normal number, so an impossible entry becomes ``≈ −708 + a_i + b_j``
    (negligible next to the others) instead of a ``−∞`` whose gradient would be NaN.

    The batch ``N`` is the last, contiguous dimension, so every operation runs over long vectors
    instead of ``K × K`` blocks. Backward, with ``G = g / S`` and ``Ã = e^{A − a}``, ``B̃ = e^{B − b}``:
    ``∂/∂A_ik = Ã_ik Σ_j G_ij B̃_kj`` and ``∂/∂B_kj = B̃_kj Σ_i G_ij Ã_ik`` (``a`` and ``b`` cancel
    exactly, so they carry no gradient). Written by hand it keeps only the ``K × K`` factors for
    the backward pass and skips the zero-filled gradients of the strided pairs autograd would make.
    """

    @staticmethod
    def forward(ctx: Any, products: Tensor) -> Tensor:
        pairs = products.unflatten(0, (-1, 2))
        left, right = pairs[:, 0], pairs[:, 1]
        # A state no other state can reach (a column of log 0 in a given model) has peak −∞; 0 instead
        # keeps −∞ − (−∞) = NaN out, and its entries stay negligible (≈ −708).
        row_peak = left.amax(2, keepdim=True).nan_to_num(neginf=0.0)  # (T, K, 1, N)
        column_peak = right.amax(1, keepdim=True).nan_to_num(neginf=0.0)  # (T, 1, K, N)
        scaled_left = torch.exp(left - row_peak)
        scaled_right = torch.exp(right - column_peak)
        total = (scaled_left.unsqueeze(3) * scaled_right.unsqueeze(1)).sum(2)
        total.clamp_min_(torch.finfo(products.dtype).tiny)
        ctx.save_for_backward(scaled_left, scaled_right, total)
        return torch.log(total).add_(row_peak).add_(column_peak)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        scaled_left, scaled_right, total = ctx.saved_tensors
        ratio = (grad_output / total).unsqueeze(2)  # G_ij, (T, K, 1, K, N)
        grad_left = (ratio * scaled_right.unsqueeze(1)).sum(3) * scaled_left
        grad_right = (ratio * scaled_left.unsqueeze(3)).sum(1) * scaled_right
        return torch.stack([grad_left, grad_right], dim=1).flatten(0, 1)


def log_likelihood(log_start: Tensor, log_transition: Tensor, log_emission: Tensor, lengths: Tensor) -> Tensor:
    """``log p(x_s)`` of every sequence, ``(*B, S)``, by the tree of matrix products (module docstring).

    Differentiable in all three inputs; ``∂ log p(x)/∂ log b_j(x_t) = γ_t(j)``, the posterior.
    """
    *batch, n_sequences, steps, n_states = log_emission.shape
    if log_emission[..., 0, 0].numel() * max(steps // 2, 1) * n_states**3 > TREE_MEMORY_BUDGET:
        return forward(log_start, log_transition, log_emission, lengths)[1]
    # Layout (T, K, N) with N = |B|·S sequences-of-models last (see _log_matmul).
    emission = log_emission.movedim((-2, -1), (0, 1)).reshape(steps, n_states, -1)
    start = log_start.movedim(-1, 0).unsqueeze(-1).expand(n_states, *batch, n_sequences).reshape(n_states, -1)
    initial = start + emission[0]  # log α_0, (K, N)
    if steps == 1:
        return torch.logsumexp(initial, dim=0).view(*batch, n_sequences)
    transition = log_transition.movedim((-2, -1), (0, 1)).unsqueeze(-1)
    transition = transition.expand(n_states, n_states, *batch, n_sequences).reshape(n_states, n_states, -1)
    # M_t(i, j) = log A_ij + log b_j(x_t) for t = 1 .. T−1; the identity where a sequence has ended
    products = transition.unsqueeze(0) + emission[1:].unsqueeze(1)  # (T−1, K, K, N)
    identity = torch.full((n_states, n_states, 1), -float("inf"), dtype=products.dtype, device=products.device)
    identity.diagonal(dim1=0, dim2=1).fill_(0.0)
    real = valid_mask(lengths, steps)[:, 1:].T.reshape(steps - 1, *(1 for _ in batch), n_sequences)
    real = real.expand(steps - 1, *batch, n_sequences).reshape(steps - 1, 1, 1, -1)
    products = torch.where(real, products, identity)
    while products.shape[0] > 1:
        if products.shape[0] % 2:
            products = torch.cat([products, identity.expand(1, n_states, n_states, products.shape[-1])])
        products = _PairwiseLogMatmul.apply(products)
    total = initial.unsqueeze(1) + products[0]  # (K, K, N)
    return torch.logsumexp(total.flatten(0, 1), dim=0).view(*batch, n_sequences)


def posteriors(log_start: Tensor, log_transition: Tensor, log_emission: Tensor,
               lengths: Tensor) -> tuple[Tensor, Tensor]:
    """State posteriors ``γ_t(j) = p(z_t = j | x)`` by forward–backward.

    Returns:
        ``γ`` of shape ``(*B, S, T, K)`` (zero at padded steps) and the log-likelihoods ``(*B, S)``.
    """
    log_alpha, log_p = forward(log_start, log_transition, log_emission, lengths)
    steps = log_emission.shape[-2]
    beta = torch.zeros_like(log_alpha[..., 0, :])
    betas = [beta]
    transition = log_transition.unsqueeze(-3)
    for t in range(steps - 2, -1, -1):
        incoming = (log_emission[..., t + 1, :] + beta).unsqueeze(-2)  # (*B, S, 1, K)
        moved = torch.logsumexp(transition + incoming, dim=-1)
        # β is 0 at a sequence's last real step and stays 0 over its padding
        beta = torch.where(_step_is_real(lengths, t + 1), moved, torch.zeros_like(moved))
        betas.append(beta)
    log_beta = torch.stack(betas[::-1], dim=-2)
    gamma = torch.exp(log_alpha + log_beta - log_p.unsqueeze(-1).unsqueeze(-1))
    return gamma * valid_mask(lengths, steps).unsqueeze(-1), log_p


def expected_counts(log_start: Tensor, log_transition: Tensor, log_emission: Tensor,
                    lengths: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Baum–Welch's expected counts by one backward pass through :func:`log_likelihood` (module docstring).

    Returns:
        ``Σ_s γ_{s,0}`` ``(*B, K)``, ``Σ_{s,t} ξ_{s,t}`` ``(*B, K, K)``, ``γ`` ``(*B, S, T, K)`` (zero
        at padded steps) and the log-likelihood of every sequence ``(*B, S)``; none carries a graph.
    """
    with torch.enable_grad():
        free = [tensor.detach().requires_grad_() for tensor in (log_start, log_transition, log_emission)]
        log_p = log_likelihood(*free, lengths)
        start, transition, gamma = torch.autograd.grad(log_p.sum(), free)
    return start, transition, gamma, log_p.detach()


def viterbi(log_start: Tensor, log_transition: Tensor, log_emission: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """The most probable state path of every sequence.

    Returns:
        ``log max_z p(x, z)`` of shape ``(*B, S)`` and the path, ``(*B, S, T)`` int64 (at padded
        steps: the last real state).
    """
    n_states = log_start.shape[-1]
    steps = log_emission.shape[-2]
    delta = log_start.unsqueeze(-2) + log_emission[..., 0, :]
    transition = log_transition.unsqueeze(-3)
    stay = torch.arange(n_states, device=delta.device).expand_as(delta)
    pointers = []
    for t in range(1, steps):
        best, previous = (delta.unsqueeze(-1) + transition).max(dim=-2)  # over the previous state i
        real = _step_is_real(lengths, t)
        delta = torch.where(real, best + log_emission[..., t, :], delta)
        pointers.append(torch.where(real, previous, stay))
    best_log_probability, state = delta.max(dim=-1)
    path = [state]
    for pointer in reversed(pointers):
        state = pointer.gather(-1, state.unsqueeze(-1)).squeeze(-1)
        path.append(state)
    return best_log_probability, torch.stack(path[::-1], dim=-1)
