"""Toy benchmarks for ascent optimizers: objectives that are **maximized**, with known optima.

Every benchmark's objective J is the quantity to maximize: compute J, call ``J.backward()``,
step an ascent optimizer, and J goes up.  Nothing is negated into a loss.

* :data:`SEED_BENCHMARKS` — the original ``gradient-ascent`` package's ten benchmarks
  (:mod:`~ascentrl.benchmarks.seed_suite`), with its "maximize" labels made true.
* :data:`CLASSIC_BENCHMARKS` — negated Rosenbrock, Rastrigin, Ackley and Himmelblau
  (:mod:`~ascentrl.benchmarks.classic_suite`, functions in :mod:`~ascentrl.benchmarks.functions`).
* :data:`RAYLEIGH_BENCHMARK` — the top eigenvector of a symmetric matrix by ascent on the
  Rayleigh quotient, checked against ``torch.linalg.eigh``.
* :func:`run_benchmark` runs any of them with any optimizer factory and returns a
  :class:`BenchmarkResult`; :func:`run_escape_experiment` measures how often escape strategies
  take ascent from random starts to the global maximum of a multimodal function.

Example::

    from ascentrl import Ascent
    from ascentrl.benchmarks import get_benchmark, run_benchmark

    benchmark = get_benchmark("rosenbrock")
    result = run_benchmark(benchmark, lambda params: Ascent(params, lr=benchmark.lr, momentum=0.9))
    print(result.final_objective, result.distance_to_optimum)
"""

from ascentrl.benchmarks.classic_suite import CLASSIC_BENCHMARKS
from ascentrl.benchmarks.escape_experiment import (
    MULTIMODAL_PROBLEMS,
    EscapeOutcome,
    MultimodalProblem,
    run_escape_experiment,
)
from ascentrl.benchmarks.problem import Benchmark, OptimumKind, Problem
from ascentrl.benchmarks.rayleigh import RAYLEIGH_BENCHMARK
from ascentrl.benchmarks.runner import BenchmarkResult, OptimizerFactory, run_benchmark
from ascentrl.benchmarks.seed_suite import SEED_BENCHMARKS

ALL_BENCHMARKS: tuple[Benchmark, ...] = (*SEED_BENCHMARKS, *CLASSIC_BENCHMARKS, RAYLEIGH_BENCHMARK)
"""Every benchmark, in table order: the ten seed benchmarks, the classic functions, Rayleigh."""


def get_benchmark(name: str) -> Benchmark:
    """The benchmark called ``name``; raises ``KeyError`` listing the valid names otherwise."""
    for benchmark in ALL_BENCHMARKS:
        if benchmark.name == name:
            return benchmark
    raise KeyError(f"no benchmark named {name!r}; choose one of {[b.name for b in ALL_BENCHMARKS]}")


__all__ = [
    "ALL_BENCHMARKS",
    "Benchmark",
    "BenchmarkResult",
    "CLASSIC_BENCHMARKS",
    "EscapeOutcome",
    "MULTIMODAL_PROBLEMS",
    "MultimodalProblem",
    "OptimizerFactory",
    "OptimumKind",
    "Problem",
    "RAYLEIGH_BENCHMARK",
    "SEED_BENCHMARKS",
    "get_benchmark",
    "run_benchmark",
    "run_escape_experiment",
]
