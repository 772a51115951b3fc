"""Benchmarks on the classic test functions of :mod:`ascentrl.benchmarks.functions`.

Each starts from a fixed point (the seed is not used) and reports the Euclidean distance to
the nearest global maximizer:

====================  ===============  =====  =====  ====================================================
name                  start            lr     steps  what local ascent does
====================  ===============  =====  =====  ====================================================
``rosenbrock``        (−1.2, 1)        1e-3   2000   follows the curved ridge to the maximum 0 at (1, 1)
``rastrigin``         (2.2, −1.3)      1e-3   1000   stops at the local maximum near (2, −1), J ≈ −4.97
``ackley``            (1.3, −0.7)      1e-2   1000   stops at a local maximum near (1, −1)
``himmelblau``        (0, 0)           1e-2   1000   reaches the maximum 0 at (3, 2)
====================  ===============  =====  =====  ====================================================

Rastrigin and Ackley are here to show what local ascent cannot do; escaping their local maxima
is measured by :mod:`ascentrl.benchmarks.escape_experiment`.  The learning rates keep plain
ascent stable: ``rastrigin``'s local maxima have curvature ≈ 4π²A ≈ 400, and ``rosenbrock``'s
ridge has curvature up to ≈ 1000 near (1, 1) and ≈ 1400 at the start, so lr · curvature < 2.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ascentrl.benchmarks.functions import (
    HIMMELBLAU_MAXIMIZERS,
    distance_to_nearest,
    negated_ackley,
    negated_himmelblau,
    negated_rastrigin,
    negated_rosenbrock,
)
from ascentrl.benchmarks.problem import Benchmark, Problem, parameter


def _point_problem(function: Callable[[Tensor], Tensor], start: list[float],
                   maximizers: tuple[tuple[float, ...], ...]) -> Callable[[int], Problem]:
    """A builder for J = ``function``(x) from ``start``, with distance to the nearest maximizer."""
    maximizer_tensor = torch.tensor(maximizers)

    def build(seed: int) -> Problem:
        point = parameter(start)

        def distance() -> float:
            with torch.no_grad():
                return float(distance_to_nearest(point, maximizer_tensor))

        return Problem([point], lambda: function(point), 0.0, distance)

    return build


CLASSIC_BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark("rosenbrock", "J = -[(1-x)^2 + 100(y-x^2)^2], start (-1.2, 1); max 0 at (1, 1)",
              _point_problem(negated_rosenbrock, [-1.2, 1.0], ((1.0, 1.0),)), 1e-3, 2000, "global"),
    Benchmark("rastrigin", "J = -[20 + sum(x^2 - 10 cos 2 pi x)], start (2.2, -1.3); max 0 at 0",
              _point_problem(negated_rastrigin, [2.2, -1.3], ((0.0, 0.0),)), 1e-3, 1000, "global"),
    Benchmark("ackley", "J = negated Ackley, start (1.3, -0.7); max 0 at 0",
              _point_problem(negated_ackley, [1.3, -0.7], ((0.0, 0.0),)), 1e-2, 1000, "global"),
    Benchmark("himmelblau", "J = -[(x^2+y-11)^2 + (x+y^2-7)^2], start (0, 0); max 0 at 4 points",
              _point_problem(negated_himmelblau, [0.0, 0.0], HIMMELBLAU_MAXIMIZERS), 1e-2, 1000, "global"),
)
"""Negated Rosenbrock, Rastrigin, Ackley and Himmelblau, each from one fixed start point."""
