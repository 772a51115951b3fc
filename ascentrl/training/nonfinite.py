"""NaN and inf in an update: found before anything is applied, reported with what and where.

A learner's ``update`` calls :func:`non_finite_report` on its objectives and gradients before it
steps, and raises :class:`NonFiniteUpdateError` with the report; the training loop of
:class:`ascentrl.training.Learner` then puts the learning state back as it was before the update and
either stops (:func:`stopped_on_non_finite` says at which iteration, and which checkpoint is the last
good one) or skips the update.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import Tensor

__all__ = ["NonFiniteUpdateError", "non_finite_report", "stopped_on_non_finite"]


class NonFiniteUpdateError(FloatingPointError):
    """An objective or a gradient was NaN or infinite; the update was not applied."""


def non_finite_report(objectives: Mapping[str, Tensor | None],
                      parameters: Mapping[str, Iterable[Tensor]]) -> str | None:
    """Describe the first NaN/inf among ``objectives`` and the gradients of ``parameters``.

    Args:
        objectives: name -> scalar objective (``None`` entries are skipped).
        parameters: name -> parameters whose ``.grad`` to check (missing gradients are skipped).

    Returns:
        ``None`` when everything is finite, else e.g. ``"the policy objective is nan"`` or
        ``"the value network's gradient holds 3 non-finite entries"``.
    """
    for name, objective in objectives.items():
        if objective is not None and not bool(torch.isfinite(objective.detach()).all()):
            return f"the {name} is {float(objective.detach()):g}"
    for name, tensors in parameters.items():
        gradients = [tensor.grad for tensor in tensors if tensor.grad is not None]
        bad = sum(int((~torch.isfinite(gradient)).sum()) for gradient in gradients)
        if bad:
            return f"the {name}'s gradient holds {bad} non-finite entries"
    return None


def stopped_on_non_finite(iteration: int, error: NonFiniteUpdateError,
                          last_checkpoint: tuple[str, int] | None) -> NonFiniteUpdateError:
    """The error that stops training on a NaN/inf: what, at which iteration, and what is left."""
    left = (f"Last good checkpoint: {last_checkpoint[0]} (iteration {last_checkpoint[1]})"
            if last_checkpoint else "No checkpoint was written")
    return NonFiniteUpdateError(f"iteration {iteration}: {error}; training stopped. {left}. "
                                "on_nonfinite='skip' would skip such updates instead")
