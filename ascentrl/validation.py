"""Argument checks shared by every config and training call: each raises ``ValueError`` naming the
argument, what it must be, and what it got.

They replace per-class validation closures, so every config reports bad input the same way:
``num_envs must be a positive integer, got 0``, ``gamma must be in [0.0, 1.0], got 1.5``,
``method must be one of ('independent', 'shared'), got 'nope'``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "SEED_LIMIT",
    "check_bool",
    "check_choice",
    "check_keyword_arguments",
    "check_number",
    "check_positive_int",
    "check_positive_ints",
    "check_seed",
]

SEED_LIMIT = 2**63
"""Seeds are below this: what torch's and numpy's generators (and a checkpoint's int64) accept."""


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_positive_int(name: str, value: Any, *, allow_none: bool = False) -> None:
    """``value`` is an int >= 1 (or ``None`` when ``allow_none``)."""
    if value is None and allow_none:
        return
    if not _is_integer(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer{' or None' if allow_none else ''}, got {value!r}")


def check_positive_ints(name: str, values: Iterable[Any]) -> tuple[int, ...]:
    """Every entry of ``values`` is an int >= 1; returns them as a tuple (e.g. hidden layer widths)."""
    values = tuple(values)
    for value in values:
        check_positive_int(f"{name} entries", value)
    return values


def check_number(name: str, value: Any, low: float = -math.inf, high: float = math.inf, *,
                 include_low: bool = True, include_high: bool = True) -> None:
    """``value`` is a finite real number in the interval from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    too_low = value < low or (value == low and not include_low)
    too_high = value > high or (value == high and not include_high)
    if too_low or too_high:
        interval = f"{'[' if include_low else '('}{low}, {high}{']' if include_high else ')'}"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    """``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")


def check_bool(name: str, value: Any, *, allow_none: bool = False) -> None:
    """``value`` is ``True`` or ``False`` (or ``None`` when ``allow_none``)."""
    if not isinstance(value, bool) and not (allow_none and value is None):
        raise ValueError(f"{name} must be a bool{' or None' if allow_none else ''}, got {value!r}")


def check_seed(name: str, value: Any) -> None:
    """``value`` is an int with ``0 <= value < 2**63`` (:data:`SEED_LIMIT`)."""
    if not _is_integer(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if value >= SEED_LIMIT:
        raise ValueError(f"{name} must be below 2**63 = {SEED_LIMIT}, got {value!r}")


def check_keyword_arguments(name: str, value: Any, *, reserved: Mapping[str, str] | None = None) -> None:
    """``value`` is a dict with string keys (keyword arguments of something), none of them in ``reserved``.

    ``reserved`` maps a key that must not appear to the option to set instead, e.g.
    ``{"lr": "lr", "clip_norm": "max_grad_norm"}``.
    """
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise ValueError(f"{name} must be a dict of keyword arguments, got {value!r}")
    for key, instead in (reserved or {}).items():
        if key in value:
            raise ValueError(f"{name} must not contain {key!r}; set {instead} instead")
