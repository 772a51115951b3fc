"""Run the toy benchmarks with every optimizer and print one table.

Rows are the benchmarks of :mod:`ascentrl.benchmarks` (every objective J is maximized); columns
are optimizers, each run with the benchmark's learning rate and step count:

* ``Ascent`` variants: ``ascent`` (plain), ``momentum`` (μ = 0.9), ``nesterov`` (μ = 0.9),
  ``adam``, ``rmsprop`` and ``adagrad`` (``adaptive=...``);
* ``GradientAscent`` with the original package's defaults (momentum 0.9, beta 0.999);
* ``torch.optim.SGD`` and ``torch.optim.Adam`` with ``maximize=True`` (``torch.SGD``, ``torch.Adam``).

Each cell shows the final J, the distance to the optimum (where the optimum is a known point)
and the seconds spent.  ``--json`` prints one record per run instead.

    python scripts/benchmarks.py                 # the table
    python scripts/benchmarks.py --only rosenbrock --only himmelblau --steps 500
    python scripts/benchmarks.py --json > benchmarks.json
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ascentrl import Ascent, GradientAscent
from ascentrl.benchmarks import ALL_BENCHMARKS, Benchmark, BenchmarkResult, get_benchmark, run_benchmark
from ascentrl.cli import CommandLineParser, fail
from ascentrl.validation import check_positive_int, check_seed

OptimizerBuilder = Callable[[list[Tensor], float], torch.optim.Optimizer]

OPTIMIZERS: dict[str, OptimizerBuilder] = {
    "ascent": lambda params, lr: Ascent(params, lr=lr),
    "momentum": lambda params, lr: Ascent(params, lr=lr, momentum=0.9),
    "nesterov": lambda params, lr: Ascent(params, lr=lr, momentum=0.9, nesterov=True),
    "adam": lambda params, lr: Ascent(params, lr=lr, adaptive="adam"),
    "rmsprop": lambda params, lr: Ascent(params, lr=lr, adaptive="rmsprop"),
    "adagrad": lambda params, lr: Ascent(params, lr=lr, adaptive="adagrad"),
    "GradientAscent": lambda params, lr: GradientAscent(params, lr=lr),
    "torch.SGD": lambda params, lr: torch.optim.SGD(params, lr=lr, maximize=True),
    "torch.Adam": lambda params, lr: torch.optim.Adam(params, lr=lr, maximize=True),
}
"""Table columns: name → ``build(params, lr)``; every optimizer maximizes."""

COLUMN_WIDTHS = {name: max(11, len(name) + 2) for name in OPTIMIZERS}


def parse_arguments() -> argparse.Namespace:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        choices=[benchmark.name for benchmark in ALL_BENCHMARKS],
                        help="run only this benchmark (repeatable): %(choices)s")
    parser.add_argument("--steps", type=int, default=None, help="override every benchmark's step count")
    parser.add_argument("--seed", type=int, default=0, help="seed for models, inputs and start points")
    parser.add_argument("--json", action="store_true", help="print one JSON record per run instead of the table")
    arguments = parser.parse_args()
    try:
        check_positive_int("--steps", arguments.steps, allow_none=True)
        check_seed("--seed", arguments.seed)
    except ValueError as error:
        fail(parser, error)
    return arguments


def run_all(benchmarks: list[Benchmark], steps: int | None, seed: int) -> dict[tuple[str, str], BenchmarkResult]:
    """Every benchmark with every optimizer, keyed by (benchmark name, optimizer name)."""
    results = {}
    for benchmark in benchmarks:
        for name, build in OPTIMIZERS.items():
            results[benchmark.name, name] = run_benchmark(
                benchmark, lambda params, build=build, lr=benchmark.lr: build(params, lr), steps=steps, seed=seed)
    return results


def _number(value: float) -> str:
    return f"{value + 0.0:.4g}" if math.isfinite(value) else str(value)  # + 0.0 turns -0.0 into 0


def _cell_lines(result: BenchmarkResult) -> tuple[str, str, str]:
    """The cell's three lines: final J, distance to the optimum, seconds."""
    objective = f"div@{result.steps}" if result.diverged else _number(result.final_objective)
    distance = "-" if result.distance_to_optimum is None else f"{result.distance_to_optimum:.2e}"
    return objective, distance, f"{result.wall_time:.2f}"


def _optimum_label(benchmark: Benchmark, result: BenchmarkResult) -> str:
    if result.optimum_value is None:
        return "unbounded"
    return f"{benchmark.optimum_kind} {_number(result.optimum_value)}"


def format_table(benchmarks: list[Benchmark], results: dict[tuple[str, str], BenchmarkResult],
                 steps: int | None, seed: int) -> str:
    """One table: a block of three lines (J, distance, seconds) per benchmark, a column per optimizer."""
    title_width = max(len(b.name) for b in benchmarks) + 14
    header = f"{'benchmark':<{title_width}}{'':<10}" + "".join(f"{name:>{COLUMN_WIDTHS[name]}}" for name in OPTIMIZERS)
    rule = "-" * len(header)
    lines = [f"Toy benchmarks (seed {seed}): final J (maximized), distance to the optimum, seconds", rule, header, rule]
    for benchmark in benchmarks:
        cells = {name: _cell_lines(results[benchmark.name, name]) for name in OPTIMIZERS}
        first = results[benchmark.name, next(iter(OPTIMIZERS))]
        titles = (benchmark.name, f"  {_optimum_label(benchmark, first)}",
                  f"  lr {benchmark.lr:g}, {benchmark.steps if steps is None else steps} steps")
        for row, (title, quantity) in enumerate(zip(titles, ("final J", "distance", "seconds"))):
            lines.append(f"{title:<{title_width}}{quantity:<10}"
                         + "".join(f"{cells[name][row]:>{COLUMN_WIDTHS[name]}}" for name in OPTIMIZERS))
        lines.append("")
    total = sum(result.wall_time for result in results.values())
    lines.append(f"total optimizer time {total:.1f} s; div@k: diverged (non-finite J or gradient) after k steps; "
                 "distance '-': the optimum is not a known point")
    return "\n".join(lines)


def _json_safe(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def main() -> None:
    arguments = parse_arguments()
    # Tiny tensors: thread start-up costs more than the work (and much more on a busy machine).
    torch.set_num_threads(1)
    benchmarks = [get_benchmark(name) for name in arguments.only] if arguments.only else list(ALL_BENCHMARKS)
    results = run_all(benchmarks, arguments.steps, arguments.seed)
    if arguments.json:
        records = [{"optimizer": optimizer, "seed": arguments.seed,
                    **{key: _json_safe(value) for key, value in result.to_dict().items()}}
                   for (_, optimizer), result in results.items()]
        print(json.dumps(records, indent=1))
    else:
        print(format_table(benchmarks, results, arguments.steps, arguments.seed))


if __name__ == "__main__":
    main()
