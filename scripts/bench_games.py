"""Benchmark the game solvers and dynamics against their peers, each in the same run.

1. Zero-sum solver. For every shape of --shapes, --games random zero-sum games (standard normal row
   payoffs, seeded) are solved in one batch by ascentrl.games.solve_zero_sum_games (default: exact —
   batched simplex pivoting, then the equilibrium equations on the supports). Every returned
   profile's NashConv is computed; a game counts as certified at NashConv <= --tolerance. The peer
   is scipy's HiGHS linear program, one program per game (both strategies from it), timed on the
   first --highs-games games of each shape; the speed-up compares the time per game, and the values
   must agree. --compare also runs the first-order methods (primal-dual and extragradient with
   restarts) on the same games.
2. Dynamics. Every method of ascentrl.games.DYNAMICS for --dynamics-steps steps on matching pennies
   (simplex and softmax strategies), in closed form and on autograd: CPU milliseconds per 1,000
   steps and the largest difference between the two trajectories.
3. The catalogue: scripts/matrix_games.py --game all --steps --catalogue-steps in a subprocess, in
   closed form and with --autograd: wall and CPU seconds (interpreter start and imports included).

  python scripts/bench_games.py [--shapes 3x3,4x6,10x10] [--games 10000] [--compare] [--json]
  torchrun --standalone --nproc_per_node 2 scripts/bench_games.py --dynamics-steps 0 --catalogue-steps 0

Under torchrun every rank builds the same seeded games, solves its contiguous share of them
(ascentrl.distributed.shard_slice) and the solutions are gathered on every rank; the wall time runs
from a barrier before the solve to the end of the gather. Only rank 0 runs the peers and prints.

Targets: 100% of games certified at NashConv <= 1e-9 and >= 30x HiGHS per game, every shape; every
dynamics <= 50 ms per 1,000 steps of a 2x2 game and equal to autograd to 1e-12; --game all --steps
2000 in <= 5 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import time
from dataclasses import dataclass

import numpy as np
import torch
from harness.dynamics_timing import compare_dynamics_paths, time_catalogue
from harness.zero_sum_peers import time_highs

from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail
from ascentrl.distributed import DistributedContext, gather_shards, init_distributed, shard_slice
from ascentrl.envs import random_zero_sum_game
from ascentrl.games import ZERO_SUM_METHODS, ZeroSumSolution, solve_zero_sum_games

TARGET_TOLERANCE = 1e-9
TARGET_SPEEDUP = 30.0
TARGET_MS_PER_1000_STEPS = 50.0
TARGET_DIFFERENCE = 1e-12
TARGET_CATALOGUE_SECONDS = 5.0


@dataclass
class BenchConfig:
    """What to solve and run, and how to measure it."""

    shapes: str = "3x3,4x6,10x10"
    """Game shapes, comma-separated ROWSxCOLUMNS (each at most 10x10 is the issue's scope; any size runs)."""
    games: int = 10_000
    """Random zero-sum games per shape, solved in one batch."""
    seed: int = 0
    """Seed of the random games (shape k uses seed + k)."""
    method: str = "exact"
    """Zero-sum method: exact, primal_dual or extragradient."""
    tolerance: float = TARGET_TOLERANCE
    """A game counts as certified at NashConv <= tolerance."""
    max_iterations: int = 20_000
    """Pivots (exact) or iterations (first-order) after which unsolved games are given up."""
    highs_games: int = 300
    """Games per shape solved by scipy's HiGHS (its time per game is measured on these); 0 skips it."""
    compare: bool = False
    """Also run the first-order methods with restarts on the same games."""
    dynamics_steps: int = 1000
    """Steps of each dynamics in the closed-form vs autograd comparison; 0 skips it."""
    catalogue_steps: int = 2000
    """Steps of the timed scripts/matrix_games.py --game all runs; 0 skips them."""
    threads: int = 1
    """torch threads; one is fastest for these small tensors, since splitting them across cores costs more
    than it saves."""
    json: bool = False
    """Print one JSON object instead of text."""

    def __post_init__(self) -> None:
        self.shape_list()
        for name in ("games", "max_iterations", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("highs_games", "dynamics_steps", "catalogue_steps", "seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)!r}")
        if self.method not in ZERO_SUM_METHODS:
            raise ValueError(f"--method must be one of {', '.join(ZERO_SUM_METHODS)}; got {self.method!r}")
        if not (math.isfinite(self.tolerance) and self.tolerance > 0):
            raise ValueError(f"--tolerance must be a finite number > 0, got {self.tolerance!r}")

    def shape_list(self) -> list[tuple[int, int]]:
        shapes = []
        for text in self.shapes.split(","):
            match = re.fullmatch(r"\s*(\d+)x(\d+)\s*", text)
            if match is None or min(int(match[1]), int(match[2])) < 1:
                raise ValueError(f"--shapes must be comma-separated ROWSxCOLUMNS with sizes >= 1, e.g. 3x3,4x6; "
                                 f"got {self.shapes!r}")
            shapes.append((int(match[1]), int(match[2])))
        return shapes


def timed_solve(row_payoffs: torch.Tensor, context: DistributedContext, **options) -> tuple[ZeroSumSolution, float]:
    """Solve this rank's share of the games and gather the whole solution; time it all."""
    if context.is_distributed:
        torch.distributed.barrier()
    start = time.perf_counter()
    share = solve_zero_sum_games(row_payoffs[shard_slice(len(row_payoffs), context)], **options)
    solution = ZeroSumSolution(*(gather_shards(getattr(share, field.name), context)
                                 for field in dataclasses.fields(ZeroSumSolution)))
    return solution, time.perf_counter() - start


def solver_report(name: str, solution: ZeroSumSolution, seconds: float) -> dict:
    iterations = solution.iterations.double()
    return {
        "solver": name,
        "fraction_solved": float(solution.converged.double().mean()),
        "solved": int(solution.converged.sum()),
        "wall_seconds": seconds,
        "us_per_game": 1e6 * seconds / len(solution.nash_conv),
        "median_iterations": float(iterations.median()),
        "max_iterations": float(iterations.max()),
        "worst_nash_conv": float(solution.nash_conv.max()),
    }


def bench_shape(config: BenchConfig, index: int, shape: tuple[int, int], context: DistributedContext) -> dict:
    """Solve the games of one shape (and, on rank 0, time HiGHS on them)."""
    game = random_zero_sum_game(shape, count=config.games, seed=config.seed + index)
    row_payoffs = game.payoffs[:, 0].contiguous()
    options = {"method": config.method, "tolerance": config.tolerance, "max_iterations": config.max_iterations}
    solve_zero_sum_games(row_payoffs[:64], **options)  # warm-up: first-call allocations and dispatch
    solution, seconds = timed_solve(row_payoffs, context, **options)
    entry = {"shape": f"{shape[0]}x{shape[1]}", "games": config.games,
             "ours": solver_report(config.method, solution, seconds)}
    if config.compare:
        entry["baselines"] = [
            solver_report(f"{method} + restarts", *timed_solve(row_payoffs, context, **{**options, "method": method}))
            for method in ZERO_SUM_METHODS if method != config.method
        ]
    if context.is_main and config.highs_games:
        count = min(config.highs_games, config.games)
        highs = time_highs(row_payoffs[:count].numpy())
        ours_per_game = seconds / config.games
        entry["highs"] = {
            "games_measured": count,
            "us_per_game": 1e6 * highs["seconds_per_game"],
            "worst_nash_conv": highs["worst_nash_conv"],
            "max_value_difference": float(np.abs(solution.values[:count].numpy() - highs["values"]).max()),
        }
        entry["speedup"] = highs["seconds_per_game"] / ours_per_game
    return entry


def build_parser() -> CommandLineParser:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, BenchConfig)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        config = config_from_args(BenchConfig, parser.parse_args(argv))
    except (ValueError, TypeError) as error:
        fail(parser, error)
    try:
        context = init_distributed()
    except (ValueError, RuntimeError) as error:
        fail(parser, error)
    with context:
        return run(config, context)


def run(config: BenchConfig, context: DistributedContext) -> int:
    """Solve, measure and (on rank 0) compare with the peers and print."""
    torch.set_num_threads(config.threads)
    report = {
        "seed": config.seed,
        "tolerance": config.tolerance,
        "threads": config.threads,
        "processes": context.world_size,
        "zero_sum": [bench_shape(config, index, shape, context) for index, shape in enumerate(config.shape_list())],
    }
    if not context.is_main:
        return 0
    if config.dynamics_steps:
        report["dynamics"] = compare_dynamics_paths(steps=config.dynamics_steps, seed=config.seed)
    if config.catalogue_steps:
        report["catalogue"] = {"steps": config.catalogue_steps, **time_catalogue(config.catalogue_steps)}
    report["targets"] = targets(report)
    print(json.dumps(report) if config.json else format_report(config, report))
    return 0


def targets(report: dict) -> dict:
    """Each target of the issue: met or not (None where its measurement was skipped)."""
    shapes = report["zero_sum"]
    met = {
        "certified": all(entry["ours"]["fraction_solved"] == 1.0 for entry in shapes)
        and report["tolerance"] <= TARGET_TOLERANCE,
        "speedup": all(entry["speedup"] >= TARGET_SPEEDUP for entry in shapes) if "speedup" in shapes[0] else None,
        "dynamics_speed": None, "dynamics_equality": None, "catalogue_seconds": None,
    }
    if "dynamics" in report:
        rows = report["dynamics"]
        met["dynamics_speed"] = all(row["closed_form_ms_per_1000_steps"] <= TARGET_MS_PER_1000_STEPS for row in rows)
        met["dynamics_equality"] = all(row["max_difference"] <= TARGET_DIFFERENCE for row in rows)
    if "catalogue" in report:
        met["catalogue_seconds"] = report["catalogue"]["closed_form"]["wall_seconds"] <= TARGET_CATALOGUE_SECONDS
    return met


def format_report(config: BenchConfig, report: dict) -> str:
    lines = [f"Zero-sum games: standard normal payoffs (seed {config.seed}), float64, {config.threads} torch thread(s)"
             f" x {report['processes']} process(es); certified = NashConv <= {config.tolerance:g}",
             f"{'shape':<7}{'games':>8}{'solver':>26}{'certified':>11}{'seconds':>9}{'us/game':>9}"
             f"{'pivots/it (med, max)':>22}{'worst NashConv':>16}"]
    for entry in report["zero_sum"]:
        for row in [entry["ours"], *entry.get("baselines", [])]:
            lines.append(f"{entry['shape']:<7}{entry['games']:>8}{row['solver']:>26}"
                         f"{100 * row['fraction_solved']:>10.2f}%{row['wall_seconds']:>9.3f}{row['us_per_game']:>9.1f}"
                         f"{row['median_iterations']:>14.0f}, {row['max_iterations']:<6.0f}"
                         f"{row['worst_nash_conv']:>16.2e}")
        if "highs" in entry:
            highs = entry["highs"]
            lines.append(f"{'':<7}HiGHS on the first {highs['games_measured']}: {highs['us_per_game']:.0f} us/game,"
                         f" worst NashConv {highs['worst_nash_conv']:.1e}; ours is {entry['speedup']:.0f}x faster per"
                         f" game; values agree to {highs['max_value_difference']:.1e}")
    if "dynamics" in report:
        lines.append(f"\nDynamics on matching pennies, {config.dynamics_steps} steps, CPU ms per 1,000 steps:")
        lines.append(f"{'method':<15}{'strategies':>11}{'closed form':>13}{'autograd':>10}{'ratio':>8}"
                     f"{'max difference':>16}")
        for row in report["dynamics"]:
            lines.append(f"{row['method']:<15}{row['parameterization']:>11}{row['closed_form_ms_per_1000_steps']:>13.1f}"
                         f"{row['autograd_ms_per_1000_steps']:>10.0f}{row['speedup']:>7.0f}x{row['max_difference']:>16.1e}")
    if "catalogue" in report:
        catalogue = report["catalogue"]
        closed, autograd = catalogue["closed_form"], catalogue["autograd"]
        lines.append(f"\nscripts/matrix_games.py --game all --steps {catalogue['steps']}: closed form"
                     f" {closed['wall_seconds']:.2f} s wall ({closed['cpu_seconds']:.2f} s CPU), --autograd"
                     f" {autograd['wall_seconds']:.1f} s wall ({autograd['cpu_seconds']:.1f} s CPU), ratio"
                     f" {autograd['wall_seconds'] / closed['wall_seconds']:.0f}x; outputs agree to"
                     f" {catalogue['max_difference']:.1e}")
    verdicts = {True: "met", False: "NOT met", None: "not measured"}
    lines.append("\nTargets: " + "; ".join(f"{name} {verdicts[value]}" for name, value in report["targets"].items()))
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
