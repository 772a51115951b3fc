"""Which implementation updates one bucket of parameters: torch's fused kernel, multi-tensor or for-loop.

:func:`choose_path` picks, for one device/dtype bucket of a parameter group, the path the group's
``fused``/``foreach`` flags ask for, or by default the fastest one that supports the update rule:
torch's fused kernel (SGD, Adam/AdamW, Adagrad, called with ``maximize=True``) where torch has one
for the device, else the multi-tensor rule of :mod:`ascentrl._update_rules`. :func:`update_bucket`
then runs it. All paths compute the same update (tests prove them identical in float64).
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import Tensor
from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

from ascentrl import _update_rules as rules

__all__ = ["FUSED_KERNELS", "choose_path", "fused_update", "update_bucket"]

FUSED_KERNELS = {
    "sgd": torch._fused_sgd_,
    "adam": torch._fused_adam_,
    "adamw": torch._fused_adamw_,
    "adagrad": torch._fused_adagrad_,
}


@functools.cache
def _has_fused_kernels(device_type: str) -> bool:
    """Whether torch has fused optimizer kernels for ``device_type`` (asked once per device type)."""
    return device_type in _get_fused_kernels_supported_devices()


def choose_path(group: dict[str, Any], rule: str, device: torch.device) -> str:
    """``"fused"``, ``"foreach"`` or ``"forloop"`` for one device/dtype bucket of ``group``."""
    fused_possible = rule in FUSED_KERNELS and _has_fused_kernels(device.type)
    if group["fused"]:
        if not fused_possible:
            raise RuntimeError(f"fused=True is not supported for parameters on device {device}")
        return "fused"
    if group["foreach"] is not None:
        return "foreach" if group["foreach"] else "forloop"
    if group["fused"] is None and fused_possible:
        return "fused"
    # torch's foreach ops run on every device (natively on GPUs, as a C++ loop elsewhere); on
    # CPU that loop still beats a Python loop, so unlike torch.optim we default to it there too.
    return "foreach"


def update_bucket(
    group: dict[str, Any],
    rule: str,
    device: torch.device,
    params: list[Tensor],
    grads: list[Tensor],
    state_lists: list[list[Any]],
) -> None:
    """Apply ``rule`` with ``group``'s hyperparameters to one bucket on ``device``, along the path
    :func:`choose_path` picks.

    ``grads`` are ∇J (never modified). New SGD momentum buffers are written into ``state_lists[0]``
    in place of ``None``; the caller stores them in the optimizer's state.
    """
    path = choose_path(group, rule, device)
    if path == "fused":
        fused_update(rule, group, params, grads, state_lists)
        return
    lr, weight_decay, decoupled = group["lr"], group["weight_decay"], group["decoupled_weight_decay"]
    foreach = path == "foreach"
    if rule == "sgd":
        update = rules.sgd_foreach if foreach else rules.sgd_forloop
        update(params, grads, state_lists[0], lr=lr, momentum=group["momentum"], dampening=group["dampening"],
               nesterov=group["nesterov"], weight_decay=weight_decay, decoupled_weight_decay=decoupled)
    elif rule == "adagrad":
        update = rules.adagrad_foreach if foreach else rules.adagrad_forloop
        update(params, grads, *state_lists, lr=lr, eps=group["eps"], weight_decay=weight_decay,
               decoupled_weight_decay=decoupled)
    elif rule == "rmsprop":
        update = rules.rmsprop_foreach if foreach else rules.rmsprop_forloop
        update(params, grads, *state_lists, lr=lr, alpha=group["alpha"], eps=group["eps"],
               momentum=group["momentum"], weight_decay=weight_decay, decoupled_weight_decay=decoupled)
    else:
        update = rules.adam_foreach if foreach else rules.adam_forloop
        beta1, beta2 = group["betas"]
        update(params, grads, *state_lists, lr=lr, beta1=beta1, beta2=beta2, eps=group["eps"],
               nesterov=rule == "nadam", weight_decay=weight_decay, decoupled_weight_decay=decoupled)


def fused_update(rule: str, group: dict[str, Any], params: list[Tensor], grads: list[Tensor],
                 state_lists: list[list[Any]]) -> None:
    """Call torch's fused kernel for ``rule`` with ``maximize=True`` on one non-empty bucket.

    No ``grad_scale`` is passed: the kernels would unscale the gradients in place.
    """
    lr, weight_decay = group["lr"], group["weight_decay"]
    kernel = FUSED_KERNELS[rule]
    if rule != "sgd":
        rules.increment_steps(state_lists[-1])
    if rule in ("adam", "adamw"):
        exp_avgs, exp_avg_sqs, steps = state_lists
        beta1, beta2 = group["betas"]
        kernel(params, grads, exp_avgs, exp_avg_sqs, [], steps, lr=lr, beta1=beta1, beta2=beta2,
               weight_decay=weight_decay, eps=group["eps"], amsgrad=False, maximize=True, grad_scale=None,
               found_inf=None)
        return
    if group["decoupled_weight_decay"]:  # the SGD and Adagrad kernels only know coupled decay
        rules._decay_weights(params, lr, weight_decay, foreach=True)
        weight_decay = 0.0
    if rule == "adagrad":
        sums, steps = state_lists
        kernel(params, grads, sums, steps, lr=lr, lr_decay=0.0, weight_decay=weight_decay, eps=group["eps"],
               maximize=True, grad_scale=None, found_inf=None)
        return
    (buffers,) = state_lists
    hyper = dict(lr=lr, weight_decay=weight_decay, momentum=group["momentum"], dampening=group["dampening"],
                 nesterov=group["nesterov"], maximize=True, grad_scale=None, found_inf=None)
    if not group["momentum"]:
        kernel(params, grads, [], is_first_step=False, **hyper)
        return
    # The kernel sets b₁ = ĝ on its first step for every buffer it gets: parameters with and without
    # a momentum buffer so far go in separate calls.
    fresh = [i for i, buffer in enumerate(buffers) if buffer is None]
    for i in fresh:
        buffers[i] = torch.empty_like(grads[i])
    fresh_set = set(fresh)
    old = [i for i in range(len(params)) if i not in fresh_set]
    for subset, first in ((fresh, True), (old, False)):
        if subset:
            kernel([params[i] for i in subset], [grads[i] for i in subset], [buffers[i] for i in subset],
                   is_first_step=first, **hyper)
