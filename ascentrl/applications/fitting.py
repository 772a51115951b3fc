"""The ascent loops shared by the likelihood fits: batched restarts, minibatches, convergence, collapse.

Two loops: :func:`ascend_likelihood` takes :class:`ascentrl.Ascent` (NAdam) steps on the objective,
full batch or on minibatches; :func:`mirror_ascend_likelihood` takes full-batch mirror-ascent steps
whose unit step is EM's update, accelerated (its own docstring). What follows describes the first;
both share the collapse watch and the stopping rule.

A model hands over its unconstrained parameters (every tensor with a leading restart dimension
``R``) and a closure ``objective(batch)`` returning the **mean log-likelihood per observation** of
each restart, shape ``(R,)``, on a minibatch (``batch`` holds indices of points or sequences) or on
all the data (``batch=None``). Then, for each step:

1. ``J = objective(batch)``; ``J.sum().backward()``; one :class:`ascentrl.Ascent` step (NAdam:
   Adam with Nesterov momentum, which needed fewer steps than Adam on the benchmark mixtures).
   Restarts share no parameter and Adam's statistics are per element, so the sum gives every
   restart the step it would take alone: ``R`` restarts are one run on bigger tensors. They
   interact only through the learning-rate schedule and the stopping rule of step 3, which look at
   all of them. The objective is maximized; nothing is negated. A model may give some parameters
   a larger learning rate (``lr_scales``: the HMMs' start and transition logits).
2. Collapse watch: a restart whose Gaussian component's ``tr Σ⁻¹`` exceeds ``1/min_variance``
   (see :mod:`ascentrl.applications.gaussian`) has collapsed. It is recorded
   (:class:`Collapse`: restart, component, step, what was seen), frozen where it was caught and
   left out of the choice of the best restart; with ``on_collapse="raise"``, or when no restart is
   left, a :class:`~ascentrl.applications.gaussian.CovarianceCollapseError` names the component
   and the step. A non-finite objective raises too: a fit never returns a NaN model. A collapse
   can also stall before the threshold (once the learning rate has decayed, a narrow component
   creeps), so at the end every component's own points — the covariance of the data weighted by
   its responsibilities, the matrix EM's M-step would take — are checked: a variance below
   ``min_variance`` along some direction means the likelihood grows without bound by shrinking
   onto them, and the restart is dropped the same way.
3. Full batch: every learning rate is halved when the live restarts' total objective, averaged
   over the last ``window`` steps, has not improved for ``patience`` steps
   (:class:`torch.optim.lr_scheduler.ReduceLROnPlateau`), and the fit stops once
   every live restart's objective stayed within a band of width ``tol`` over the last ``window``
   steps: neither rising (still climbing) nor swinging (Adam's iterates oscillate around a maximum
   before they settle, and often dip first when they start near one). A restart that trails a
   settled one and, at its recent pace, could not catch up within ``max_steps`` is not waited for.
   Minibatches (``batch_size``): epochs of a seeded random permutation, ``max_steps`` steps at a
   constant learning rate (the minibatch objective is too noisy to test convergence on).

The fit ends with the objective of every restart on all the data; the best live restart wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from ascentrl.applications.gaussian import CovarianceCollapseError
from ascentrl.ascent import Ascent

__all__ = ["ON_COLLAPSE", "OPTIMIZERS", "STEP_GROWTH", "AscentSettings", "Collapse", "FitTrace", "ascend_likelihood",
           "log_frequencies", "mirror_ascend_likelihood", "record_fit"]

ON_COLLAPSE = ("drop", "raise")
OPTIMIZERS = ("mirror", "nadam")


@dataclass(frozen=True)
class AscentSettings:
    """How a likelihood fit ascends; every model's constructor validates and forwards these.

    Attributes:
        n_restarts: independent starts fitted together; the best one is kept.
        optimizer: full batch, ``"mirror"`` (:func:`mirror_ascend_likelihood`) or ``"nadam"``
            (:func:`ascend_likelihood`); minibatch fits always take NAdam steps.
        max_steps: upper bound on ascent steps.
        lr: NAdam learning rate (on standardized data, so it means the same for every data set).
        tol: full batch: stop when every live restart's objective (mean log-likelihood per
            observation) stayed within a band of width ``tol`` over the last ``window`` steps.
        batch_size: observations (mixtures) or sequences (HMMs) per step; ``None`` for full batch.
        min_variance: a Gaussian whose ``tr Σ⁻¹`` exceeds ``1/min_variance`` (standardized units)
            has collapsed.
        on_collapse: ``"drop"`` the collapsed restart (and go on with the others) or ``"raise"``.
        window: steps over which convergence is judged.
        patience: full batch: steps without improvement before the learning rate is halved.
    """

    n_restarts: int = 10
    optimizer: str = "mirror"
    max_steps: int = 2000
    lr: float = 0.1
    tol: float = 1e-10
    batch_size: int | None = None
    min_variance: float = 1e-8
    on_collapse: str = "drop"
    window: int = 10
    patience: int = 30

    def __post_init__(self) -> None:
        for name in ("n_restarts", "max_steps", "window", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.batch_size is not None and (
                isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1):
            raise ValueError(f"batch_size must be None (full batch) or a positive integer, got {self.batch_size!r}")
        for name in ("lr", "min_variance"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value < float("inf")):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if not (isinstance(self.tol, (int, float)) and 0 <= self.tol < float("inf")):
            raise ValueError(f"tol must be a finite number >= 0, got {self.tol!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.on_collapse not in ON_COLLAPSE:
            raise ValueError(f"on_collapse must be one of {ON_COLLAPSE}, got {self.on_collapse!r}")

    def full_batch(self, n_items: int) -> bool:
        """Whether every step sees all ``n_items`` (no ``batch_size``, or one at least that large)."""
        return self.batch_size is None or self.batch_size >= n_items

    def mirror(self, n_items: int) -> bool:
        """Whether the fit takes mirror-ascent steps: asked for, and full batch."""
        return self.optimizer == "mirror" and self.full_batch(n_items)


@dataclass(frozen=True)
class Collapse:
    """A restart dropped because the covariance of one of its Gaussians collapsed."""

    restart: int
    component: int
    step: int
    detail: str
    """How it was caught, with the numbers."""


@dataclass
class FitTrace:
    """What a fit did.

    Attributes:
        objectives: mean log-likelihood per observation of every restart on all the data, in the
            units the objective was computed in; ``-inf`` for collapsed restarts.
        best_restart: index of the best live restart.
        steps: ascent steps taken.
        converged: full batch: whether the ``tol`` test passed before ``max_steps``.
        history: the objective of every restart after every step (NAdam) or iteration (mirror
            ascent: three unit steps), shape ``(steps or iterations, R)``.
        collapses: the restarts dropped for a collapsed covariance.
    """

    objectives: Tensor
    best_restart: int
    steps: int
    converged: bool
    history: Tensor
    collapses: tuple[Collapse, ...]


class _CollapseWatch:
    """Drops collapsed restarts: records them, freezes their parameters, raises when it must."""

    def __init__(self, parameters: list[Tensor], settings: AscentSettings, unit: str) -> None:
        self.parameters = parameters
        self.settings = settings
        self.unit = unit
        self.alive = torch.ones(parameters[0].shape[0], dtype=torch.bool)
        self.frozen = [parameter.detach().clone() for parameter in parameters]
        self.collapses: list[Collapse] = []

    def drop(self, collapsed: Tensor, step: int, describe: Callable[[int, int], str]) -> None:
        """Drop the live restarts that have a ``True`` in ``collapsed`` ``(R, K)``.

        ``describe(restart, component)`` says what was seen, for the record and the error.
        """
        newly = self.alive & collapsed.any(-1)
        if not bool(newly.any()):
            return
        for restart in torch.nonzero(newly).flatten().tolist():
            component = int(torch.nonzero(collapsed[restart])[0])
            self.collapses.append(Collapse(restart, component, step, describe(restart, component)))
        self.alive &= ~newly
        if self.settings.on_collapse == "raise" or not bool(self.alive.any()):
            raise self._error(everything=not bool(self.alive.any()))
        with torch.no_grad():
            for parameter, copy in zip(self.parameters, self.frozen):
                copy[newly] = parameter[newly]

    def restore(self) -> None:
        """Put the dropped restarts back where they were caught (the optimizer moved them)."""
        if self.collapses:
            with torch.no_grad():
                for parameter, copy in zip(self.parameters, self.frozen):
                    parameter[~self.alive] = copy[~self.alive]

    def _error(self, everything: bool) -> CovarianceCollapseError:
        first = self.collapses[0]
        scope = "every restart collapsed; the first was" if everything else "collapse in"
        return CovarianceCollapseError(
            f"{scope} restart {first.restart}: the covariance of {self.unit} {first.component} collapsed at step "
            f"{first.step} ({first.detail}); the likelihood is unbounded there. Use fewer {self.unit}s, more data, "
            "covariance_type='diag', or more restarts",
            restart=first.restart, component=first.component, step=first.step)


def ascend_likelihood(
    parameters: list[Tensor],
    objective: Callable[[Tensor | None], Tensor],
    n_items: int,
    settings: AscentSettings,
    generator: torch.Generator,
    precision_traces: Callable[[], Tensor] | None = None,
    own_point_variances: Callable[[], Tensor] | None = None,
    unit: str = "component",
    lr_scales: list[float] | None = None,
) -> FitTrace:
    """Maximize ``objective`` over ``parameters`` for all restarts at once (see the module docstring).

    Args:
        parameters: leaf tensors with ``requires_grad``, each with leading dimension ``R``.
        objective: ``batch -> (R,)`` mean log-likelihood per observation; ``batch`` is a tensor of
            item indices or ``None`` for all ``n_items``.
        n_items: number of items (points or sequences) minibatches are drawn from.
        settings: the fit's settings.
        generator: draws the minibatches.
        precision_traces: ``() -> (R, K)`` ``tr Σ⁻¹`` of every Gaussian (standardized units);
            ``None`` when nothing can collapse (categorical emissions).
        own_point_variances: ``() -> (R, K)`` smallest variance of the points each Gaussian
            explains (weighted by responsibility), checked once at the end.
        unit: what a Gaussian is called in messages (``"component"``, ``"state"``).
        lr_scales: per parameter tensor, a factor on the learning rate (default all 1); the
            plateau schedule halves every one alike.

    Raises:
        CovarianceCollapseError: as described in the module docstring.
    """
    n_restarts = parameters[0].shape[0]
    scales = lr_scales or [1.0] * len(parameters)
    groups = [{"params": [parameter], "lr": settings.lr * scale} for parameter, scale in zip(parameters, scales)]
    optimizer = Ascent(groups, lr=settings.lr, adaptive="adam", nesterov=True, betas=(0.9, 0.99))
    full_batch = settings.full_batch(n_items)
    scheduler = (torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=0.5, patience=settings.patience, threshold=settings.tol / settings.window,
        threshold_mode="abs") if full_batch else None)
    watch = _CollapseWatch(parameters, settings, unit)
    history = torch.empty(settings.max_steps, n_restarts, dtype=parameters[0].dtype)
    batches = _minibatches(n_items, settings.batch_size, generator) if not full_batch else None
    converged = False
    step = 0
    while step < settings.max_steps:
        optimizer.zero_grad(set_to_none=True)
        values = objective(None if batches is None else next(batches))
        if not bool(torch.isfinite(values[watch.alive]).all()):
            restart = int(torch.nonzero(watch.alive & ~torch.isfinite(values.detach()))[0])
            raise FloatingPointError(
                f"the log-likelihood of restart {restart} became {float(values.detach()[restart]):g} at step {step}; "
                "try a smaller lr")
        values[watch.alive].sum().backward()
        optimizer.step()
        history[step] = values.detach()
        step += 1
        if precision_traces is not None:
            with torch.no_grad():
                traces = precision_traces()
            watch.drop(traces > 1 / settings.min_variance, step, lambda r, k, traces=traces: (
                f"tr Σ⁻¹ = {float(traces[r, k]):.3g} > 1/min_variance = {1 / settings.min_variance:.3g} "
                "in standardized units"))
            watch.restore()
        if scheduler is None:
            continue
        # The plateau test sees the mean of the last `window` totals: a single overshooting step
        # (Adam on a narrow component) must not become the best value that later steps never beat.
        scheduler.step(float(history[max(step - settings.window, 0):step].mean(0)[watch.alive].sum()))
        if step > settings.window and _finished(history[step - 1 - settings.window:step], watch.alive,
                                                 settings, settings.max_steps - step):
            converged = True
            break

    if own_point_variances is not None:
        with torch.no_grad():
            variances = own_point_variances()
        watch.drop(variances < settings.min_variance, step, lambda r, k: (
            f"the points it explains have variance {float(variances[r, k]):.2g} < min_variance = "
            f"{settings.min_variance:g} along some direction, so shrinking onto them raises the likelihood "
            "without bound"))
    with torch.no_grad():
        final = objective(None)
    final = torch.where(watch.alive, final, torch.full_like(final, -float("inf")))
    return FitTrace(
        objectives=final,
        best_restart=int(final.argmax()),
        steps=step,
        converged=converged,
        history=history[:step].clone(),
        collapses=tuple(watch.collapses),
    )


def log_frequencies(counts: Tensor, totals: Tensor | float) -> Tensor:
    """``log(counts / totals)`` with both floored at the smallest normal number: an unused
    component or state gets a very negative (finite) log-probability instead of ``-inf``, so every
    unit step's result stays a valid, finite parameter."""
    tiny = torch.finfo(counts.dtype).tiny
    if isinstance(totals, Tensor):
        totals = totals.clamp_min(tiny)
    return torch.log(counts.clamp_min(tiny) / totals)


STEP_GROWTH = 4.0
"""Factor by which a restart's SQUAREM step-length cap grows or shrinks (see mirror_ascend_likelihood)."""


def mirror_ascend_likelihood(
    parameters: list[Tensor],
    evaluate: Callable[[], tuple[Tensor, Tensor]],
    unit_step: Callable[[Tensor], tuple[list[Tensor], Tensor]],
    settings: AscentSettings,
    precision_traces: Callable[[], Tensor] | None = None,
    unit: str = "component",
) -> FitTrace:
    r"""Maximize the full-batch log-likelihood by accelerated mirror ascent, all restarts at once.

    **The unit step.** For a latent-variable model in exponential-family form, the gradient of the
    mean log-likelihood with respect to the natural coefficients is the expected sufficient
    statistics under the posteriors (a mixture's responsibilities); mapping them back to
    parameters by moment matching is a mirror-ascent step of size 1 — exactly EM's update
    (Kunstner, Kumar & Schmidt 2021) — so ``M(θ)``, the unit step from ``θ``, never lowers the objective.

    **Acceleration** (SQUAREM, Varadhan & Roland 2008, scheme S3). One iteration, per restart and
    in the unconstrained parameters: ``θ_1 = M(θ_0)``, ``θ_2 = M(θ_1)``, ``r = θ_1 − θ_0``,
    ``v = θ_2 − θ_1 − r``, ``a = min(max(1, ‖r‖/‖v‖), a_max)``, then

    .. math::  θ' = θ_0 + 2a\,r + a^2 v, \qquad θ_{\text{next}} = M(θ'),

    a step along the extrapolated path of the unit steps (``a = 1`` gives ``θ_3 = M(θ_2)``). Where
    ``θ_next`` would lower a restart's objective below ``J(θ_0)`` (or is not finite), that restart
    takes ``M(θ_2)`` instead, so the objective rises monotonically (the unit step of that
    fallback is taken by the whole batch, so in such an iteration the other restarts take a fourth
    unit step, not counted in ``steps``). The cap ``a_max`` starts at 1
    and, as in the authors' SQUAREM package, grows by :data:`STEP_GROWTH` after an accepted step
    that reached it and shrinks by the same factor (not below 1) after a refused one.

    Args:
        parameters: the model's unconstrained tensors (leading dimension ``R``), updated in place.
        evaluate: ``() -> (J, posteriors)``: the mean log-likelihood per observation ``(R,)`` at the
            current parameters and the posteriors the unit step needs.
        unit_step: ``posteriors -> (targets, collapsed)``: ``M`` — the unit-step values of
            ``parameters`` — and a ``(R, K)`` mask of Gaussians whose moment-matched covariance has
            a variance below ``min_variance`` (their restart is dropped, as in :func:`ascend_likelihood`).
        settings: ``max_steps`` (unit steps; a budget that is not a multiple of three ends with
            plain unit steps), ``tol`` (stop once no live restart's objective rose by
            more than ``tol`` in an iteration, or it trails a settled one beyond catching up, as in
            :func:`ascend_likelihood` with a window of one iteration), ``min_variance``, ``on_collapse``;
            ``lr`` is not used.
        precision_traces, unit: as in :func:`ascend_likelihood`.
    """
    with torch.no_grad():
        n_restarts = parameters[0].shape[0]
        watch = _CollapseWatch(parameters, settings, unit)
        history = torch.empty(settings.max_steps, n_restarts, dtype=parameters[0].dtype)
        per_iteration = replace(settings, window=1)

        def describe(restart: int, component: int) -> str:
            return (f"the points it explains have variance below min_variance = {settings.min_variance:g} along some "
                    "direction, so shrinking onto them raises the likelihood without bound")

        def move(step: int, here: tuple[Tensor, Tensor]) -> None:
            """The unit step from the parameters, where ``evaluate()`` gave ``here``."""
            targets, collapsed = unit_step(here[1])
            watch.drop(collapsed, step, describe)
            for parameter, target in zip(parameters, targets):
                parameter.copy_(target)
            watch.restore()

        def snapshot() -> list[Tensor]:
            return [parameter.clone() for parameter in parameters]

        def reset_where(mask: Tensor, values: list[Tensor]) -> tuple[Tensor, Tensor]:
            """Put the restarts in ``mask`` back to ``values``; evaluate where everything now is."""
            for parameter, value in zip(parameters, values):
                parameter[mask] = value[mask]
            return evaluate()

        def per_restart(factor: Tensor, like: Tensor) -> Tensor:
            return factor.view(-1, *[1] * (like.dim() - 1))

        here = evaluate()
        longest = torch.ones(n_restarts, dtype=here[0].dtype)  # a_max of every restart
        converged = False
        steps = iterations = 0
        while steps + 3 <= settings.max_steps:
            start = snapshot()
            move(steps + 1, here)
            first = snapshot()
            move(steps + 2, evaluate())
            second = snapshot()
            r = [a - b for a, b in zip(first, start)]
            v = [c - a - d for c, a, d in zip(second, first, r)]
            r_norm = torch.sqrt(sum(t.square().flatten(1).sum(1) for t in r))
            v_norm = torch.sqrt(sum(t.square().flatten(1).sum(1) for t in v))
            length = torch.minimum((r_norm / v_norm.clamp_min(torch.finfo(r_norm.dtype).tiny)).clamp_min(1.0), longest)
            for parameter, origin, step_r, step_v in zip(parameters, start, r, v):
                parameter.copy_(origin + 2 * per_restart(length, origin) * step_r
                                + per_restart(length.square(), origin) * step_v)
            watch.restore()
            extrapolated = evaluate()
            fell = watch.alive & ~torch.isfinite(extrapolated[0])  # too far: nothing to take a unit step from
            if bool(fell.any()):
                extrapolated = reset_where(fell, second)
            move(steps + 3, extrapolated)
            arrived = evaluate()
            fell |= watch.alive & ~(arrived[0] >= here[0])  # NaN counts as a fall
            if bool(fell.any()):
                move(steps + 3, reset_where(fell, second))
                arrived = evaluate()
            at_cap = length >= longest
            longest = torch.where(at_cap & ~fell, longest * STEP_GROWTH,
                                  torch.where(at_cap & fell, (longest / STEP_GROWTH).clamp_min(1.0), longest))
            steps += 3
            here = arrived
            values = here[0]
            if not bool(torch.isfinite(values[watch.alive]).all()):
                restart = int(torch.nonzero(watch.alive & ~torch.isfinite(values))[0])
                raise FloatingPointError(f"the log-likelihood of restart {restart} became {float(values[restart]):g} "
                                         f"at step {steps}")
            history[iterations] = values
            iterations += 1
            if precision_traces is not None:
                traces = precision_traces()
                watch.drop(traces > 1 / settings.min_variance, steps, lambda r, k, traces=traces: (
                    f"tr Σ⁻¹ = {float(traces[r, k]):.3g} > 1/min_variance = {1 / settings.min_variance:.3g} "
                    "in standardized units"))
                watch.restore()
            if iterations > 1 and _finished(history[iterations - 2:iterations], watch.alive, per_iteration,
                                            (settings.max_steps - steps) // 3):
                converged = True
                break
        while not converged and steps < settings.max_steps:  # what is left of the budget: plain unit steps
            steps += 1
            move(steps, here)
            here = evaluate()
            history[iterations] = here[0]
            iterations += 1
        final = torch.where(watch.alive, here[0], torch.full_like(here[0], -float("inf")))
        return FitTrace(objectives=final, best_restart=int(final.argmax()), steps=steps, converged=converged,
                        history=history[:iterations].clone(), collapses=tuple(watch.collapses))


def record_fit(model: Any, trace: FitTrace, log_jacobian: float) -> None:
    """Set a fitted model's attributes from its trace, in data units (``log_jacobian`` per observation).

    ``restart_log_likelihoods_`` (``-inf`` for collapsed restarts), ``log_likelihood_`` (the best),
    ``best_restart_``, ``n_steps_``, ``converged_``, ``collapses_`` and ``history_`` (the objective
    of every restart after every step or iteration, :class:`FitTrace`, in standardized units).
    """
    model.restart_log_likelihoods_ = trace.objectives + log_jacobian
    model.log_likelihood_ = float(model.restart_log_likelihoods_[trace.best_restart])
    model.best_restart_ = trace.best_restart
    model.n_steps_ = trace.steps
    model.converged_ = trace.converged
    model.collapses_ = trace.collapses
    model.history_ = trace.history


def _finished(recent: Tensor, alive: Tensor, settings: AscentSettings, steps_left: int) -> bool:
    """Whether every live restart has settled, or trails a settled one beyond catching up.

    ``recent`` holds the last ``window + 1`` objectives ``(window + 1, R)``. A restart has settled
    when its objective stayed within a band of width ``tol``. One that has not settled is given up
    when, rising at most by its band per ``window`` steps, it could not reach the best settled
    restart within the steps left (a restart crawling along a ridge, as EM does on overlapping
    components; scikit-learn's looser default tolerance stops such runs early too).
    """
    spread = recent.amax(0) - recent.amin(0)
    settled = alive & (spread <= settings.tol)
    if not bool(settled.any()):
        return False
    current = recent[-1]
    leader = current[settled].max()
    hopeless = (leader - current) > spread * (steps_left / settings.window)
    return bool((settled | hopeless | ~alive).all())


def _minibatches(n_items: int, batch_size: int, generator: torch.Generator):
    """Endless minibatches of item indices: consecutive slices of a fresh permutation each epoch."""
    while True:
        order = torch.randperm(n_items, generator=generator)
        for start in range(0, n_items - batch_size + 1, batch_size):
            yield order[start:start + batch_size]
