"""Checking :class:`ascentrl.Ascent`'s options, as torch.optim does: every argument up front.

:func:`validate_group` raises ``ValueError`` (or ``TypeError``) naming the first invalid option
of a parameter group and what it accepts, when the optimizer is built and whenever a group is
added; :func:`rule_of` names the update rule a group's options select.
"""

from __future__ import annotations

import math
from typing import Any

from ascentrl._update_paths import FUSED_KERNELS

__all__ = ["ADAPTIVE_MODES", "NONFINITE_POLICIES", "rule_of", "validate_group"]

ADAPTIVE_MODES = (None, "adagrad", "rmsprop", "adam")
NONFINITE_POLICIES = ("raise", "skip", "ignore")


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_range(name: str, value: Any, low: float, high: float, *, high_inclusive: bool) -> None:
    inside = _is_real(value) and low <= value and (value <= high if high_inclusive else value < high)
    if not inside:
        bracket = "]" if high_inclusive else ")"
        raise ValueError(f"{name} must be a number in [{low}, {high}{bracket}, got {value!r}")


def validate_group(group: dict[str, Any]) -> None:
    """Raise ``ValueError``/``TypeError`` naming the first invalid hyperparameter of ``group``."""
    if not _is_real(group["lr"]) or group["lr"] < 0:
        raise ValueError(f"lr must be a finite number >= 0, got {group['lr']!r}")
    adaptive = group["adaptive"]
    if adaptive not in ADAPTIVE_MODES:
        raise ValueError(f"adaptive must be one of {ADAPTIVE_MODES}, got {adaptive!r}")
    _check_range("momentum", group["momentum"], 0.0, 1.0, high_inclusive=False)
    _check_range("dampening", group["dampening"], 0.0, 1.0, high_inclusive=True)
    for flag in ("nesterov", "decoupled_weight_decay"):
        if not isinstance(group[flag], bool):
            raise TypeError(f"{flag} must be a bool, got {group[flag]!r}")
    betas = group["betas"]
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise ValueError(f"betas must be a pair (beta1, beta2) with each in [0, 1), got {betas!r}")
    _check_range("betas[0]", betas[0], 0.0, 1.0, high_inclusive=False)
    _check_range("betas[1]", betas[1], 0.0, 1.0, high_inclusive=False)
    _check_range("alpha", group["alpha"], 0.0, 1.0, high_inclusive=False)
    if not _is_real(group["eps"]) or group["eps"] <= 0:
        raise ValueError(f"eps must be a finite number > 0, got {group['eps']!r}")
    if not _is_real(group["weight_decay"]) or group["weight_decay"] < 0:
        raise ValueError(f"weight_decay must be a finite number >= 0, got {group['weight_decay']!r}")
    for clip in ("clip_value", "clip_norm"):
        if group[clip] is not None and (not _is_real(group[clip]) or group[clip] <= 0):
            raise ValueError(f"{clip} must be None or a finite number > 0, got {group[clip]!r}")
    for path in ("foreach", "fused"):
        if group[path] not in (None, True, False):
            raise TypeError(f"{path} must be None, True or False, got {group[path]!r}")

    momentum, nesterov = group["momentum"], group["nesterov"]
    if adaptive in ("adam", "adagrad") and momentum:
        hint = "set betas[0] instead" if adaptive == "adam" else "use adaptive='rmsprop' or None"
        raise ValueError(f"momentum is not used with adaptive={adaptive!r} ({hint}); got momentum={momentum!r}")
    if nesterov and adaptive in ("adagrad", "rmsprop"):
        raise ValueError(f"nesterov=True is supported with adaptive None or 'adam', got adaptive={adaptive!r}")
    if nesterov and adaptive is None and (momentum <= 0 or group["dampening"] != 0):
        raise ValueError(
            f"nesterov=True needs momentum > 0 and dampening = 0, got momentum={momentum!r}, "
            f"dampening={group['dampening']!r}"
        )
    if group["foreach"] and group["fused"]:
        raise ValueError("foreach=True and fused=True are exclusive; set at most one of them")
    if group["fused"] and rule_of(group) not in FUSED_KERNELS:
        raise ValueError(
            "fused=True supports adaptive None, 'adagrad' and 'adam' without nesterov "
            f"(torch has no fused kernel for adaptive={adaptive!r}, nesterov={nesterov!r}); "
            "use fused=None to pick the fastest available path"
        )
    for index, param in enumerate(group["params"]):
        if not param.is_floating_point():
            raise TypeError(
                f"Ascent optimizes real floating-point tensors; parameter {index} of the group has dtype {param.dtype}"
            )


def rule_of(group: dict[str, Any]) -> str:
    """Name of the update rule for ``group``: sgd, adagrad, rmsprop, adam, adamw or nadam."""
    adaptive = group["adaptive"]
    if adaptive is None:
        return "sgd"
    if adaptive == "adam":
        if group["nesterov"]:
            return "nadam"
        return "adamw" if group["decoupled_weight_decay"] else "adam"
    return adaptive
