"""ascentrl: learning as gradient ascent on the objective you want to maximize.

Sign convention, everywhere in this library: objectives are **maximized**. Compute the
objective ``J``, call ``J.backward()`` and then ``optimizer.step()``; ``J`` goes up.
Never negate an objective to turn it into a loss.

The names below are imported on first use, so that importing a light submodule (e.g.
``ascentrl.interrupts``, which scripts install before anything else) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_EXPORTS = {
    "Ascent": "ascentrl.ascent",
    "NonFiniteGradientError": "ascentrl.ascent",
    "StepStats": "ascentrl.ascent",
    "EscapeStrategy": "ascentrl.escape",
    "GradientNoise": "ascentrl.escape",
    "PerturbedAscent": "ascentrl.escape",
    "GradientAscent": "ascentrl.gradient_ascent",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ascentrl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
