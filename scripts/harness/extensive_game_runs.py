"""Run a solver of :mod:`ascentrl.games.extensive` with a clock and a NashConv curve, and plot curves.

What ``scripts/extensive_games.py`` and ``scripts/bench_extensive_games.py`` share. The clock runs
only while a solver steps: evaluating NashConv (exactly, after the step) is left out, as the
benchmark does for the OpenSpiel solvers it compares with. :func:`run_solver` runs one solver to
the end; a :class:`Contender` runs any solver (ours or a peer, given as a step and an evaluation)
a slice of time at a time, so that several can take turns.
"""

from __future__ import annotations

import io
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ascentrl.files import write_atomically
from ascentrl.games.extensive import Solver

__all__ = ["Contender", "CurvePoint", "SolverRun", "plot_nash_conv", "run_solver"]


@dataclass(frozen=True)
class CurvePoint:
    """NashConv of the reported iterate after ``iteration`` steps and ``seconds`` of solving."""

    iteration: int
    seconds: float
    nash_conv: float


@dataclass
class SolverRun:
    """What one run did: its iterations, solving time, final NashConv of both iterates and its curve."""

    method: str
    iterations: int = 0
    seconds: float = 0.0
    last_nash_conv: float = math.nan
    average_nash_conv: float = math.nan
    reached_target: bool | None = None
    curve: list[CurvePoint] = field(default_factory=list)

    def summary(self) -> dict:
        """The JSON object of ``scripts/extensive_games.py --json``."""
        return {"method": self.method, "iterations": self.iterations, "seconds": self.seconds,
                "last_nash_conv": self.last_nash_conv, "average_nash_conv": self.average_nash_conv}


def run_solver(solver: Solver, method: str, iterations: int, *, target_nash_conv: float | None = None,
               curve_points: int = 200) -> SolverRun:
    """Step ``solver`` up to ``iterations`` times, or until its reported iterate's NashConv ≤ the target.

    With a target the reported NashConv is evaluated after every step (so the run stops at the
    first iterate that reaches it); without one, at about ``curve_points`` iterations spaced
    evenly on a log scale. Each evaluation becomes a point of the curve.
    """
    run = SolverRun(method)
    checkpoints = _log_spaced(iterations, curve_points)
    solving = 0.0
    for iteration in range(1, iterations + 1):
        started = time.perf_counter()
        solver.step()
        solving += time.perf_counter() - started
        if target_nash_conv is None and iteration not in checkpoints:
            continue
        reported = solver.reported_nash_conv()
        reached = target_nash_conv is not None and reported <= target_nash_conv
        if iteration in checkpoints or reached:
            run.curve.append(CurvePoint(iteration, solving, reported))
        if reached:
            break
    run.iterations, run.seconds = solver.iteration, solving
    run.last_nash_conv, run.average_nash_conv = solver.nash_conv(), solver.average_nash_conv()
    if target_nash_conv is not None:
        run.reached_target = solver.reported_nash_conv() <= target_nash_conv
    return run


class Contender:
    """One solver racing to the target NashConv, advanced a slice at a time so that every contender
    runs under the same load of a shared machine (contenders take turns, as in
    :mod:`harness.optimizer_timing`).

    Args:
        name: the row's label.
        step: runs one iteration.
        evaluate: NashConv of the reported iterate (called off the clock).
        target: stop once NashConv is at or below it.
        seconds: most seconds of solving.
        evaluate_every: iterations between evaluations.
    """

    def __init__(self, name: str, step: Callable[[], object], evaluate: Callable[[], float], *, target: float,
                 seconds: float, evaluate_every: int) -> None:
        self.run, self.finished = SolverRun(name), False
        self._step, self._evaluate = step, evaluate
        self._target, self._seconds, self._every = target, seconds, evaluate_every

    def advance(self, slice_seconds: float) -> None:
        """Step for about ``slice_seconds`` of solving, or until finished."""
        run, budget = self.run, self.run.seconds + slice_seconds
        while not self.finished and run.seconds < budget:
            started = time.perf_counter()
            self._step()
            run.seconds += time.perf_counter() - started
            run.iterations += 1
            out_of_time = run.seconds >= self._seconds
            if run.iterations % self._every and not out_of_time:
                continue
            value = self._evaluate()
            run.reached_target = value <= self._target
            self.finished = run.reached_target or out_of_time
            # Points about 2% apart in iterations draw the curve; the last one is always kept.
            if self.finished or not run.curve or run.iterations >= 1.02 * run.curve[-1].iteration:
                run.curve.append(CurvePoint(run.iterations, run.seconds, value))


def plot_nash_conv(path: str | os.PathLike, curves: dict[str, list[CurvePoint]], *, title: str,
                   target: float | None = None) -> None:
    """NashConv against iterations (left) and against seconds of solving (right), log-log; PNG, atomic."""
    from matplotlib.figure import Figure  # only runs that plot pay for matplotlib
    from matplotlib.ticker import NullFormatter

    figure = Figure(figsize=(11, 4.2), layout="constrained")
    by_iteration, by_seconds = figure.subplots(1, 2)
    for label, curve in curves.items():
        points = [point for point in curve if point.nash_conv > 0]
        by_iteration.plot([p.iteration for p in points], [p.nash_conv for p in points], label=label)
        by_seconds.plot([p.seconds for p in points], [p.nash_conv for p in points], label=label)
    for axes, xlabel in ((by_iteration, "iterations"), (by_seconds, "seconds of solving")):
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.xaxis.set_minor_formatter(NullFormatter())  # minor labels of short log ranges overlap
        axes.set_xlabel(xlabel)
        axes.set_ylabel("NashConv")
        if target is not None:
            axes.axhline(target, linestyle="--", color="grey", label=f"target {target:g}")
        axes.grid(alpha=0.3, which="both")
    by_iteration.legend(loc="best")
    figure.suptitle(title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    write_atomically(path, buffer.getvalue())


def _log_spaced(iterations: int, points: int) -> set[int]:
    """About ``points`` iteration numbers from 1 to ``iterations``, evenly spaced on a log scale."""
    marks = {iterations}
    for index in range(points):
        marks.add(max(1, round(iterations ** (index / max(points - 1, 1)))))
    return marks
