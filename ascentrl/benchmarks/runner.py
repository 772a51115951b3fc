"""Run a benchmark with any optimizer and record what happened.

The loop is the library's sign convention in its plainest form: evaluate the objective J,
call ``J.backward()``, step.  No negation anywhere — J goes **up**.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from ascentrl.benchmarks.problem import Benchmark

OptimizerFactory = Callable[[list[Tensor]], torch.optim.Optimizer]
"""``make_optimizer(params)`` → an optimizer that *maximizes* (e.g. ``ascentrl.Ascent`` or a
torch.optim optimizer with ``maximize=True``), typically built with ``benchmark.lr``."""


@dataclass(frozen=True)
class BenchmarkResult:
    """The outcome of one run of a benchmark.

    Attributes:
        benchmark: the benchmark's name.
        steps: ascent steps taken (fewer than asked if the run diverged).
        initial_objective: J at the start point.
        final_objective: J after the last step.
        optimum_value: the problem's maximum, local maximum or supremum; ``None`` if unbounded.
        distance_to_optimum: distance to the optimum after the last step, if it is a known point.
        wall_time: seconds spent in the ascent loop (building the problem excluded).
        diverged: True if J or a gradient stopped being finite; the run stopped there.
    """

    benchmark: str
    steps: int
    initial_objective: float
    final_objective: float
    optimum_value: float | None
    distance_to_optimum: float | None
    wall_time: float
    diverged: bool

    @property
    def growth(self) -> float:
        """J_final − J_initial: how far ascent pushed J (the measure for unbounded objectives)."""
        return self.final_objective - self.initial_objective

    @property
    def gap(self) -> float | None:
        """optimum − J_final (≥ 0 up to rounding, for a global maximum or supremum); None if unbounded."""
        return None if self.optimum_value is None else self.optimum_value - self.final_objective

    def to_dict(self) -> dict[str, Any]:
        """The fields plus ``growth`` and ``gap``, for JSON."""
        return {**asdict(self), "growth": self.growth, "gap": self.gap}


def run_benchmark(benchmark: Benchmark, make_optimizer: OptimizerFactory, *,
                  steps: int | None = None, seed: int = 0) -> BenchmarkResult:
    """Maximize ``benchmark``'s objective with the optimizer from ``make_optimizer``.

    Each step evaluates J, calls ``J.backward()`` and ``optimizer.step()``.  The run stops early,
    with ``diverged=True``, if J is not finite or the optimizer raises ``FloatingPointError``
    (as :class:`ascentrl.Ascent` does for a non-finite gradient, before changing anything).

    Args:
        benchmark: what to maximize.
        make_optimizer: builds the optimizer from the problem's parameter list.
        steps: number of steps; defaults to ``benchmark.steps``.
        seed: passed to ``benchmark.build``; the same seed gives the same problem.
    """
    problem = benchmark.build(seed)
    optimizer = make_optimizer(problem.parameters)
    total_steps = benchmark.steps if steps is None else steps
    with torch.no_grad():
        initial_objective = float(problem.objective())

    taken, diverged = 0, False
    start = time.perf_counter()
    for _ in range(total_steps):
        optimizer.zero_grad(set_to_none=True)
        objective = problem.objective()
        if not math.isfinite(float(objective.detach())):
            diverged = True
            break
        objective.backward()
        try:
            optimizer.step()
        except FloatingPointError:
            diverged = True
            break
        taken += 1
    wall_time = time.perf_counter() - start

    with torch.no_grad():
        final_objective = float(problem.objective())
    distance = None if problem.distance_to_optimum is None else problem.distance_to_optimum()
    return BenchmarkResult(
        benchmark=benchmark.name,
        steps=taken,
        initial_objective=initial_objective,
        final_objective=final_objective,
        optimum_value=problem.optimum_value,
        distance_to_optimum=distance,
        wall_time=wall_time,
        diverged=diverged or not math.isfinite(final_objective),
    )
