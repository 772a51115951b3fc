"""Benchmark: solve 10,000 random zero-sum 3×3 games in one batch, against nashpy.

The games have standard normal row payoffs (seeded; the column player gets the negation) and are
solved from the uniform profile by ascentrl.games.solve_zero_sum_games: restarted primal-dual
dynamics with a step size per game from its payoff norm, frozen as soon as NashConv <= tolerance.
The script prints the fraction solved to NashConv <= 1e-6 and the wall time, then times nashpy on
the same games (support enumeration, and its linear program) for the speed-up. nashpy takes
~2.4 ms per game, so by default it runs on the first --nashpy-games games and its per-game time is
extrapolated to the whole batch (the output says so). --compare also runs the plain baselines
(one fixed step for all games; per-game steps without restarts; extragradient with restarts).

  python scripts/bench_games.py [--games 10000] [--nashpy-games 500] [--compare] [--json]
  torchrun --standalone --nproc_per_node 2 scripts/bench_games.py

Under torchrun every rank builds the same seeded games, solves its contiguous share of them
(ascentrl.distributed.shard_slice) and the solutions are gathered on every rank; the wall time runs
from a barrier before the solve to the end of the gather. Only rank 0 times nashpy and prints.

Target: >= 99.9% of games at NashConv <= 1e-6 in <= 2 s on 2 CPU cores, >= 10x nashpy.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail
from ascentrl.distributed import DistributedContext, gather_shards, init_distributed, shard_slice
from ascentrl.envs import random_zero_sum_game
from ascentrl.games import ZeroSumSolution, solve_zero_sum_games

TARGET_FRACTION = 0.999
TARGET_SECONDS = 2.0
TARGET_SPEEDUP = 10.0


@dataclass
class BenchConfig:
    """What to solve and how to measure it."""

    games: int = 10_000
    """Number of random 3x3 zero-sum games in the batch."""
    seed: int = 0
    """Seed of the random games."""
    tolerance: float = 1e-6
    """A game counts as solved at NashConv <= tolerance."""
    max_iterations: int = 5_000
    """Iterations after which unsolved games are given up."""
    nashpy_games: int = 500
    """Games solved by nashpy (its per-game time is extrapolated); 0 skips nashpy."""
    threads: int = 1
    """torch threads; one is fastest for these small tensors, since splitting a 30k-element op across cores
    costs more than it saves."""
    compare: bool = False
    """Also run the baselines: fixed step, per-game step without restarts, extragradient with restarts."""
    json: bool = False
    """Print one JSON object instead of text."""

    def __post_init__(self) -> None:
        for name in ("games", "max_iterations", "threads"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if self.nashpy_games < 0:
            raise ValueError(f"--nashpy-games must be >= 0, got {self.nashpy_games!r}")
        if self.seed < 0:
            raise ValueError(f"--seed must be >= 0, got {self.seed!r}")
        if not (math.isfinite(self.tolerance) and self.tolerance > 0):
            raise ValueError(f"--tolerance must be a finite number > 0, got {self.tolerance!r}")


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
    iterations = solution.iterations[solution.converged].double()
    return {
        "solver": name,
        "fraction_solved": float(solution.converged.double().mean()),
        "solved": int(solution.converged.sum()),
        "wall_seconds": seconds,
        "median_iterations": float(iterations.median()) if len(iterations) else None,
        "p99_iterations": float(torch.quantile(iterations, 0.99)) if len(iterations) else None,
        "worst_nash_conv": float(solution.nash_conv.max()),
    }


def time_nashpy(row_payoffs: np.ndarray, tolerance: float) -> dict:
    """Seconds per game for nashpy's support enumeration (first equilibrium) and linear program."""
    import nashpy

    def nash_conv(matrix, row, column) -> float:
        return float((matrix @ column).max() - (row @ matrix).min())

    games = [nashpy.Game(matrix) for matrix in row_payoffs]
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nashpy warns about (numerically) degenerate games
        for name, solve in (
            ("support_enumeration", lambda game: next(iter(game.support_enumeration()), None)),
            ("linear_program", lambda game: game.linear_program()),
        ):
            start = time.perf_counter()
            equilibria = [solve(game) for game in games]
            seconds = time.perf_counter() - start
            solved = sum(
                eq is not None and nash_conv(m, *eq) <= tolerance for m, eq in zip(row_payoffs, equilibria)
            )
            results[name] = {
                "seconds_per_game": seconds / len(games),
                "fraction_solved": solved / len(games),
                "equilibria": equilibria,
            }
    return results


def agreement(solution: ZeroSumSolution, equilibria: list, count: int) -> float:
    """Largest distance between our solved profiles and nashpy's on the first ``count`` games."""
    distances = []
    for index in range(count):
        if equilibria[index] is None or not bool(solution.converged[index]):
            continue
        row, column = equilibria[index]
        ours = torch.cat([solution.row_strategies[index], solution.column_strategies[index]]).numpy()
        distances.append(float(np.linalg.norm(ours - np.concatenate([row, column]))))
    return max(distances) if distances else float("nan")


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
    """Solve, measure and (on rank 0) compare with nashpy and print."""
    torch.set_num_threads(config.threads)
    game = random_zero_sum_game((3, 3), count=config.games, seed=config.seed)
    row_payoffs = game.payoffs[:, 0].contiguous()
    options = {"tolerance": config.tolerance, "max_iterations": config.max_iterations}

    solve_zero_sum_games(row_payoffs[:64], **options)  # warm-up: first-call allocations and dispatch
    solution, seconds = timed_solve(row_payoffs, context, **options)
    report = {
        "games": config.games,
        "seed": config.seed,
        "tolerance": config.tolerance,
        "threads": config.threads,
        "processes": context.world_size,
        "ours": solver_report("primal_dual + restarts (default)", solution, seconds),
    }
    if config.compare:
        baselines = {
            "extragradient, one fixed step 0.7/max‖A‖₂, no restarts": dict(
                method="extragradient", restarts=False,
                step_size=0.7 / float(torch.linalg.matrix_norm(row_payoffs, ord=2).max())),
            "extragradient, per-game step 0.7/‖A‖₂, no restarts": dict(
                method="extragradient", restarts=False, step_scale=0.7),
            "extragradient, per-game step 0.7/‖A‖₂, restarts": dict(method="extragradient", step_scale=0.7),
        }
        report["baselines"] = [
            solver_report(name, *timed_solve(row_payoffs, context, **options, **kwargs))
            for name, kwargs in baselines.items()
        ]
    if not context.is_main:
        return 0
    if config.nashpy_games:
        count = min(config.nashpy_games, config.games)
        nashpy_results = time_nashpy(row_payoffs[:count].numpy(), config.tolerance)
        report["nashpy"] = {"games_measured": count}
        for name, result in nashpy_results.items():
            extrapolated = result["seconds_per_game"] * config.games
            report["nashpy"][name] = {
                "ms_per_game": 1e3 * result["seconds_per_game"],
                "seconds_for_all_games": extrapolated,
                "fraction_solved": result["fraction_solved"],
                "speedup": extrapolated / seconds,
                "max_distance_to_ours": agreement(solution, result["equilibria"], count),
            }
    slowest_nashpy = min((v["seconds_for_all_games"] for k, v in report.get("nashpy", {}).items()
                          if isinstance(v, dict)), default=None)
    report["target_met"] = (
        report["ours"]["fraction_solved"] >= TARGET_FRACTION
        and seconds <= TARGET_SECONDS
        and (slowest_nashpy is None or slowest_nashpy / seconds >= TARGET_SPEEDUP)
    )
    if config.json:
        print(json.dumps(report))
    else:
        print_report(config, report)
    return 0


def print_report(config: BenchConfig, report: dict) -> None:
    ours = report["ours"]
    print(f"{config.games:,} random zero-sum 3x3 games (standard normal payoffs, seed {config.seed}), float64,"
          f" {config.threads} torch thread(s) x {report['processes']} process(es), from the uniform profile")
    print(f"{'solver':<58}{'solved':>9}{'seconds':>9}{'median it':>11}{'p99 it':>8}{'worst NashConv':>16}")
    for row in [ours, *report.get("baselines", [])]:
        print(f"{row['solver']:<58}{100 * row['fraction_solved']:>8.2f}%{row['wall_seconds']:>9.3f}"
              f"{_number(row['median_iterations']):>11}{_number(row['p99_iterations']):>8}"
              f"{row['worst_nash_conv']:>16.2e}")
    print(f"(solved = NashConv <= {config.tolerance:g} within {config.max_iterations:,} iterations)")
    if "nashpy" in report:
        nashpy = report["nashpy"]
        print(f"nashpy, measured on the first {nashpy['games_measured']:,} games and extrapolated to {config.games:,}:")
        for name in ("support_enumeration", "linear_program"):
            row = nashpy[name]
            print(f"  {name:<20} {row['ms_per_game']:.2f} ms/game -> {row['seconds_for_all_games']:.1f} s;"
                  f" solved {100 * row['fraction_solved']:.1f}%; ours is {row['speedup']:.1f}x faster;"
                  f" max distance to our equilibria {row['max_distance_to_ours']:.1e}")
    verdict = "met" if report["target_met"] else "NOT met"
    print(f"target (>= {100 * TARGET_FRACTION:g}% in <= {TARGET_SECONDS:g} s, >= {TARGET_SPEEDUP:g}x nashpy): {verdict}"
          f" — {100 * ours['fraction_solved']:.2f}% in {ours['wall_seconds']:.3f} s")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


if __name__ == "__main__":
    raise SystemExit(main())
