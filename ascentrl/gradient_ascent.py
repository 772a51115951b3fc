"""``GradientAscent``: the constructor of the original ``gradient-ascent`` 0.0.2 package, done right.

Code written for ``from gradient_ascent.main import GradientAscent`` migrates by changing the
import to ``from ascentrl import GradientAscent``; the constructor and the loop
``zero_grad(); J.backward(); step()`` stay the same.  The objective J is maximized.

Update, on top of :class:`ascentrl.Ascent` with ``adaptive="adam"``, ``betas=(momentum, beta)``:
at step t = 0, 1, 2, … the learning rate is

    η_t = lr · min(1, (t + 1) / warmup_steps) · lr_decay^t     (factors omitted when unset)

and gradients are clamped to [−clip_value, clip_value] (on a copy) before a bias-corrected Adam
step (Nesterov-Adam with ``nesterov=True``).  Every ``logging_interval`` steps the step, lr and
gradient norm are logged at INFO level on the ``ascentrl.gradient_ascent`` logger.

Differences from the original, each of which fixed a defect:

* It is a real ``torch.optim.Optimizer``: parameter groups, ``state_dict``/``load_state_dict``
  and ``torch.optim.lr_scheduler`` schedulers work (the original was a plain class that
  schedulers refused).  The warmup/decay factor multiplies whatever lr a scheduler has set.
* ``lr_decay`` is applied once per step (the original multiplied the lr once per *parameter*
  inside its loop, so a model with k tensors decayed k times per step).
* ``clip_value`` clips the gradient that the update uses (the original's clipping never reached
  the update).
* Nesterov momentum is Dozat's Nesterov-Adam (the original's buffer grew as v = 2μv + g).
* Moments are bias-corrected exponential averages, so the first step has size ≈ lr (the
  original's first step was ≈ 31.6 × lr, and its momentum v = μv + g grew to 10 × the gradient).
* ``step()`` never prints and never swallows exceptions; metrics go through ``logging``.
* The original's ``v``/``m`` dictionaries are not exposed; the moments live in
  ``optimizer.state[p]["exp_avg"]``/``["exp_avg_sq"]`` (torch.optim's names and meaning).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from torch import Tensor

from ascentrl.ascent import Ascent

logger = logging.getLogger(__name__)


class GradientAscent(Ascent):
    """Seed-compatible ascent optimizer: Adam-style momentum and adaptive rates, clipping,
    linear warmup, per-step multiplicative decay and periodic logging (see the module doc).

    Args:
        parameters: parameters or parameter groups to optimize.
        lr: base learning rate (> 0).
        momentum: first-moment decay β₁ ∈ [0, 1).
        beta: second-moment decay β₂ ∈ [0, 1).
        eps: ε > 0 in the adaptive denominator.
        nesterov: use Nesterov-Adam.
        clip_value: clamp gradient elements to [−clip_value, clip_value] (None: no clipping).
        lr_decay: multiply the lr by this factor once per step, in (0, 1] (None: no decay).
        warmup_steps: ramp the lr linearly from lr/warmup_steps to lr over this many steps (≥ 0).
        logging_interval: log every this many steps (≥ 1), or None to never log.
    """

    def __init__(
        self,
        parameters: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 0.01,
        momentum: float = 0.9,
        beta: float = 0.999,
        eps: float = 1e-8,
        nesterov: bool = False,
        clip_value: float | None = None,
        lr_decay: float | None = None,
        warmup_steps: int = 0,
        logging_interval: int | None = 10,
    ) -> None:
        if lr_decay is not None and not (isinstance(lr_decay, (int, float)) and 0 < lr_decay <= 1):
            raise ValueError(f"lr_decay must be None or a number in (0, 1], got {lr_decay!r}")
        if not isinstance(warmup_steps, int) or isinstance(warmup_steps, bool) or warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an int >= 0, got {warmup_steps!r}")
        if logging_interval is not None and (
            not isinstance(logging_interval, int) or isinstance(logging_interval, bool) or logging_interval < 1
        ):
            raise ValueError(f"logging_interval must be None or an int >= 1, got {logging_interval!r}")
        super().__init__(
            parameters, lr=lr, adaptive="adam", betas=(momentum, beta), eps=eps, nesterov=nesterov,
            clip_value=clip_value,
        )
        self.lr_decay = lr_decay
        self.warmup_steps = warmup_steps
        self.logging_interval = logging_interval

    # The original exposed its options as attributes; keep them readable.
    @property
    def lr(self) -> float:
        return self.param_groups[0]["lr"]

    @property
    def momentum(self) -> float:
        return self.param_groups[0]["betas"][0]

    @property
    def beta(self) -> float:
        return self.param_groups[0]["betas"][1]

    @property
    def eps(self) -> float:
        return self.param_groups[0]["eps"]

    @property
    def nesterov(self) -> bool:
        return self.param_groups[0]["nesterov"]

    @property
    def clip_value(self) -> float | None:
        return self.param_groups[0]["clip_value"]

    @property
    def step_count(self) -> int:
        return self.steps

    def lr_factor(self, step: int) -> float:
        """min(1, (t + 1) / warmup_steps) · lr_decay^t for step t (0-based)."""
        factor = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
        if self.lr_decay is not None:
            factor *= self.lr_decay**step
        return factor

    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """One ascent step with the warmup/decay factor applied on top of each group's lr."""
        factor = self.lr_factor(self.steps)
        scheduled = [group["lr"] for group in self.param_groups]
        for group in self.param_groups:
            group["lr"] = group["lr"] * factor
        try:
            objective = super().step(closure)
        finally:  # leave each group's lr as a scheduler (or the user) set it
            for group, lr in zip(self.param_groups, scheduled):
                group["lr"] = lr
        stats = self.last_stats
        if self.logging_interval is not None and stats is not None and stats.step % self.logging_interval == 0:
            logger.info("step %d: lr=%.6g grad_norm=%.6g", stats.step, stats.lr, stats.grad_norm)
        return objective
