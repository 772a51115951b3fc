"""Exact Euclidean projection onto the probability simplex.

The projection of ``v`` onto ``Δ = {x : x ≥ 0, Σ x = 1}`` is ``x = max(v − τ, 0)`` for the one
threshold ``τ`` that makes ``x`` sum to one (Held, Wolfe & Crowder 1974; Duchi et al. 2008,
"Efficient projections onto the l1-ball for learning in high dimensions"). With ``u`` the entries
of ``v`` sorted in decreasing order and ``S_k = u_1 + … + u_k``, the threshold is

    τ = max_k (S_k − 1) / k,

because ``k ↦ (S_k − 1)/k`` increases exactly as long as ``u_k`` is still in the support
(Condat 2016, "Fast projection onto the simplex and the l1 ball", section 2). Taking the maximum
avoids the usual search for the support size, so the projection is six tensor operations — one
sort, one cumulative sum, one fused multiply-add for ``(S_k − 1)/k``, one maximum, one subtraction
and one clamp — batched over every other dimension. :func:`project_array_to_simplex` takes the same
steps on NumPy arrays, for the closed-form game dynamics (:mod:`ascentrl.games.matrix_dynamics`).
"""

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor


def project_to_simplex(values: Tensor, dim: int = -1) -> Tensor:
    """Project every slice of ``values`` along ``dim`` onto the probability simplex.

    Args:
        values: a floating-point tensor; each slice along ``dim`` is projected independently.
        dim: the dimension that indexes actions (the simplex coordinates).

    Returns:
        A tensor of the same shape whose slices along ``dim`` are non-negative and sum to one, and
        each is the closest such vector (in Euclidean distance) to the corresponding input slice.

    Raises:
        TypeError: if ``values`` is not a floating-point tensor.
        ValueError: if ``values`` has no entries along ``dim``.
    """
    if not isinstance(values, Tensor) or not values.is_floating_point():
        raise TypeError(f"values must be a floating-point torch.Tensor, got {values!r:.80}")
    if values.dim() == 0 or values.shape[dim] == 0:
        raise ValueError(
            f"values must have at least one entry along dim={dim}, got shape {tuple(values.shape)}"
        )
    return _project(values, _reciprocal_counts(values.shape[dim], values, dim), dim)


def _reciprocal_counts(size: int, like: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    """``(1/k, −1/k)`` for ``k = 1, …, size``, shaped to run along ``dim`` of tensors like ``like``."""
    shape = [1] * like.dim()
    shape[dim] = size
    reciprocals = 1.0 / torch.arange(1, size + 1, dtype=like.dtype, device=like.device).view(shape)
    return reciprocals, -reciprocals


def _project(values: Tensor, reciprocals: tuple[Tensor, Tensor], dim: int) -> Tensor:
    """The projection itself, once ``values`` is checked and :func:`_reciprocal_counts` built."""
    positive, negative = reciprocals
    # topk of every entry sorts in decreasing order, at half the cost of a full sort on short slices.
    sorted_values = values.topk(values.shape[dim], dim).values
    threshold = torch.addcmul(negative, sorted_values.cumsum(dim), positive).amax(dim, keepdim=True)  # (S_k − 1)/k
    return (values - threshold).clamp_min_(0.0)


def project_array_to_simplex(values: NDArray[np.floating], out: NDArray[np.floating] | None = None
                             ) -> NDArray[np.floating]:
    """:func:`project_to_simplex` along the last axis of a NumPy array, by the same steps (sort in
    decreasing order, ``τ = max_k (S_k − 1)/k``, ``max(v − τ, 0)``); with ``out`` (which may be
    ``values`` or a view of it) the result is written there."""
    counts = np.arange(1, values.shape[-1] + 1, dtype=values.dtype)
    sorted_values = np.sort(values, axis=-1)[..., ::-1]
    threshold = ((sorted_values.cumsum(-1) - 1.0) / counts).max(-1, keepdims=True)
    result = np.subtract(values, threshold, out=out)
    return np.maximum(result, 0.0, out=result)
