r"""Inverse-time learning-rate decay: the step-size schedules of stochastic approximation.

A learner that follows noisy gradient estimates with a constant learning rate ``η`` does not
converge: its iterate keeps moving in a cloud around the solution whose size grows with ``η``. The
remedy of stochastic approximation (Robbins and Monro 1951, "A stochastic approximation method") is
a rate that decays, slowly enough to still travel any distance (``Σ η_t = ∞``) and fast enough to
average the noise away (``Σ η_t² < ∞`` for convergence of the iterate itself). The schedules here
decay with the iteration count ``t`` (the number of scheduler steps, one per training iteration):

.. math::

    \eta_t = \frac{\eta_0}{(1 + t/\tau)^{p}}

- ``p = 1`` (``lr_schedule="inverse"``): ``η_t = η_0 / (1 + t/τ)``, the Robbins–Monro rate ``a/t``
  with ``a = η_0 τ``; the rate halves after ``τ`` iterations. It meets both conditions above, and
  on a problem that contracts at rate ``λ`` per unit step its mean squared error falls like
  ``1/t`` once ``a λ > 1/2`` (Chung 1954, "On a stochastic approximation method").
- ``p = 1/2`` (``"inverse_sqrt"``): ``η_t = η_0 / √(1 + t/τ)``, the ``1/√t`` rate of robust
  stochastic approximation for merely convex or monotone problems, there paired with averaging
  (Nemirovski, Juditsky, Lan and Shapiro 2009, "Robust stochastic approximation approach to
  stochastic programming"). On a contracting problem the noise cloud still shrinks, like ``√η_t``,
  but ``Σ η_t² = ∞``: the classical guarantee for the last iterate does not apply.

``τ`` (``time_scale``) keeps the first ``~τ`` iterations near ``η_0``, so a run can travel towards
the solution before the rate decays. Gradient-ascent-descent methods on games need more than a
decaying rate: see :class:`ascentrl.games.Extragradient` and :class:`ascentrl.games.OptimisticAscent`
(their ``extrapolation_lr``).

:class:`InverseTimeLR` is a ``torch.optim.lr_scheduler.LRScheduler`` whose rate is computed in
closed form from ``t`` (never by multiplying the previous rate), so a scheduler rebuilt from its
``state_dict`` continues bit for bit; loading a state also sets the optimizer's rates to the ones
that state implies (a rebuilt scheduler has just reset them to ``η_0``), so the update that follows
a resume already uses the decayed rate.
"""

from __future__ import annotations

import math
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

__all__ = ["INVERSE_TIME_POWERS", "InverseTimeLR"]

INVERSE_TIME_POWERS: dict[str, float] = {"inverse": 1.0, "inverse_sqrt": 0.5}
"""The ``lr_schedule`` names of :class:`InverseTimeLR` and their powers ``p``."""


class InverseTimeLR(LRScheduler):
    r"""Sets every parameter group's rate to ``η_0 (1 + t/τ)^{-p}`` after ``t`` scheduler steps.

    ``η_0`` is the group's ``initial_lr`` (its ``lr`` when the scheduler is built). Call
    :meth:`step` after each optimizer step (once per training iteration), as for any torch scheduler.

    Args:
        optimizer: the wrapped optimizer.
        time_scale: ``τ > 0``, in scheduler steps: the rate is ``η_0 / 2^p`` after ``τ`` steps.
        power: ``p > 0``; 1 for ``η_0/(1 + t/τ)``, 0.5 for ``η_0/√(1 + t/τ)``.
        last_epoch: as in ``torch.optim.lr_scheduler``: the index of the last step, -1 to start.

    Raises:
        ValueError: ``time_scale`` or ``power`` is not a finite number > 0.
    """

    def __init__(self, optimizer: Optimizer, time_scale: float, power: float = 1.0, last_epoch: int = -1) -> None:
        for name, value in (("time_scale", time_scale), ("power", power)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        self.time_scale = float(time_scale)
        self.power = float(power)
        super().__init__(optimizer, last_epoch)

    def factor(self, step: int) -> float:
        """``(1 + step/τ)^{-p}``: the rate after ``step`` scheduler steps, relative to ``η_0``."""
        return (1.0 + step / self.time_scale) ** -self.power

    def get_lr(self) -> list[float]:
        return self._get_closed_form_lr()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` and set every group's rate to the one of the restored step."""
        super().load_state_dict(state_dict)
        for group, rate in zip(self.optimizer.param_groups, self._get_closed_form_lr(), strict=True):
            group["lr"] = rate

    def _get_closed_form_lr(self) -> list[float]:
        factor = self.factor(self.last_epoch)
        return [base_lr * factor for base_lr in self.base_lrs]
