"""The gradient pass of :meth:`ascentrl.Ascent.step`: buckets, the norm and the NaN/inf check.

Before anything changes, a step reads every gradient exactly once:

1. The parameters of each group that have a gradient are split into :class:`Bucket` s of one device
   and dtype (one per group in the usual case), each updated by one fused or multi-tensor call.
2. :func:`gradient_norm` computes ‖∇J‖₂ = (Σ_groups Σ_buckets Σ_t ‖g_t‖²)^½ in that read. The norm is
   logged in ``last_stats``, scales norm clipping, and is the NaN/inf check: a NaN or ±inf entry
   makes it NaN or inf, so one ``isfinite`` test on a Python float decides whether the step may go
   on. How the read is done depends on the tensors (see :func:`squared_norm`); on a 64-64
   actor-critic it is a flat copy and one reduction, three torch calls whatever the layer count.
3. Only when that test fails, :func:`first_nonfinite` looks for the parameter to name. If every
   entry is finite after all, the fast norm overflowed (a float32 norm above ~1.8·10¹⁹):
   :func:`exact_gradient_norm` recomputes it in float64, and a finite gradient is never refused.

The gradients themselves are never modified (clipping works on copies, in the optimizer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch._utils import _flatten_dense_tensors
from torch.optim import Optimizer

__all__ = ["Batch", "Bucket", "exact_gradient_norm", "first_nonfinite", "gradient_norm", "split_by_device_and_dtype",
           "squared_norm"]

# Mean elements per tensor below which the norm copies CPU tensors into one flat vector first.
# Measured here on 12-tensor actor-critics: equal cost at ~3,000 (128-128), the copy 1.6x faster at
# ~900 (64-64) and 2.5x slower at ~12,000 (256-256), where the per-tensor cost is no longer the bulk.
_FLATTEN_BELOW = 2048


@dataclass(slots=True)
class Bucket:
    """The parameters of one group that share a device and a dtype, with their gradients (or the
    clipped copies that replace them) and their state lists, in the update rule's order."""

    device: torch.device
    dtype: torch.dtype
    params: list[Tensor]
    grads: list[Tensor]
    state_lists: list[list[Any]]


@dataclass(slots=True)
class Batch:
    """One parameter group's part of a step: its update rule, its parameters that have a gradient
    (in the group's order), their buckets, and the squared norm of their gradients once measured."""

    group: dict[str, Any]
    rule: str
    params: list[Tensor]
    buckets: list[Bucket]
    norm_squared: float = 0.0


def split_by_device_and_dtype(params: list[Tensor], grads: list[Tensor], state_lists: list[list[Any]]) -> list[Bucket]:
    """The buckets of one group's non-empty lists.

    Usually every tensor shares the first one's device and dtype, which a look at each tensor's
    attributes confirms in less time than torch's grouping takes. A sparse gradient, or one whose
    dtype differs from its parameter's (``grad_dtype``), goes to the general path, which rejects the
    first and groups the second.
    """
    device, dtype = params[0].device, params[0].dtype
    for param, grad in zip(params, grads):
        if param.dtype is not dtype or grad.dtype is not dtype or param.device != device or grad.is_sparse:
            break
    else:
        return [Bucket(device, dtype, params, grads, state_lists)]
    if any(grad.is_sparse for grad in grads):
        raise RuntimeError("Ascent does not support sparse gradients")
    grouped = Optimizer._group_tensors_by_device_and_dtype([params, grads, *state_lists], with_indices=True)
    return [Bucket(device, dtype, lists[0], lists[1], lists[2:]) for (device, dtype), (lists, _) in grouped.items()]


def squared_norm(tensors: list[Tensor]) -> float:
    """Σ‖t‖² over a non-empty list of one device and dtype, reading each tensor once.

    Many small CPU tensors (an actor-critic's layers) are copied into one flat vector whose norm is
    one reduction: a norm per tensor would cost more in per-tensor overhead than the copy. Otherwise
    the multi-tensor kernel computes each tensor's norm, and the norm of those is taken in float64.
    Either way the norms are accumulated in the tensors' dtype, as ``clip_grad_norm_`` does. (torch.dot
    looked faster on a few large tensors once, but took ~7x longer than this on this CPU's BLAS at other
    times.)
    """
    if tensors[0].is_cpu and sum(map(Tensor.numel, tensors)) < _FLATTEN_BELOW * len(tensors):
        norm = float(torch.linalg.vector_norm(_flatten_dense_tensors(tensors)))
    else:
        norm = float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(tensors)), dtype=torch.float64))
    return norm * norm


def gradient_norm(batches: list[Batch]) -> float:
    """‖∇J‖₂ over every group, storing each group's squared norm in its batch (norm clipping uses it)."""
    total = 0.0
    for batch in batches:
        group_total = 0.0
        for bucket in batch.buckets:
            group_total += squared_norm(bucket.grads)
        batch.norm_squared = group_total
        total += group_total
    return math.sqrt(total)


def exact_gradient_norm(batches: list[Batch]) -> float:
    """:func:`gradient_norm` with every sum of squares in float64, for finite gradients whose fast
    norm overflowed: finite unless the float64 sum overflows too (entries above ~10¹⁵⁴)."""
    total = 0.0
    for batch in batches:
        batch.norm_squared = sum(
            float(torch.linalg.vector_norm(grad, dtype=torch.float64)) ** 2
            for bucket in batch.buckets for grad in bucket.grads
        )
        total += batch.norm_squared
    return math.sqrt(total)


def first_nonfinite(param_groups: list[dict[str, Any]]) -> tuple[int, int, Tensor] | None:
    """``(group index, index in the group, parameter)`` of the first gradient holding a NaN or ±inf."""
    for group_index, group in enumerate(param_groups):
        for index, param in enumerate(group["params"]):
            if param.grad is not None and not bool(torch.isfinite(param.grad).all()):
                return group_index, index, param
    return None
