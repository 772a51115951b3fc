"""Exact Euclidean projection onto the probability simplex.

The projection of ``v`` onto ``Δ = {x : x ≥ 0, Σ x = 1}`` is ``x = max(v − τ, 0)`` for the one
threshold ``τ`` that makes ``x`` sum to one (Held, Wolfe & Crowder 1974; Duchi et al. 2008,
"Efficient projections onto the l1-ball for learning in high dimensions"). With ``u`` the entries
of ``v`` sorted in decreasing order and ``S_k = u_1 + … + u_k``, the threshold is

    τ = max_k (S_k − 1) / k,

because ``k ↦ (S_k − 1)/k`` increases exactly as long as ``u_k`` is still in the support
(Condat 2016, "Fast projection onto the simplex and the l1 ball", section 2). Taking the maximum
avoids the usual search for the support size, so the projection is five tensor operations — one
sort, one cumulative sum, one division, one maximum and one clamp — batched over every other
dimension.
"""

import torch
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
    size = values.shape[dim]
    sorted_values = torch.sort(values, dim=dim, descending=True).values
    counts_shape = [1] * values.dim()
    counts_shape[dim] = size
    counts = torch.arange(1, size + 1, dtype=values.dtype, device=values.device).view(counts_shape)
    threshold = ((sorted_values.cumsum(dim) - 1) / counts).amax(dim, keepdim=True)
    return (values - threshold).clamp_min(0)
