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
import json
import math
import re
from dataclasses import dataclass

import torch
from harness.dynamics_timing import compare_dynamics_paths, time_catalogue
from harness.games_benchmark_report import TARGET_TOLERANCE, format_report, target_verdicts
from harness.zero_sum_timing import bench_zero_sum

from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail
from ascentrl.distributed import DistributedContext, init_distributed
from ascentrl.games import ZERO_SUM_METHODS


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
    zero_sum = bench_zero_sum(config.shape_list(), context, games=config.games, seed=config.seed,
                              method=config.method, tolerance=config.tolerance, max_iterations=config.max_iterations,
                              highs_games=config.highs_games, compare=config.compare)
    report = {
        "seed": config.seed,
        "tolerance": config.tolerance,
        "threads": config.threads,
        "processes": context.world_size,
        "zero_sum": zero_sum,
    }
    if not context.is_main:
        return 0
    if config.dynamics_steps:
        report["dynamics"] = compare_dynamics_paths(steps=config.dynamics_steps, seed=config.seed)
    if config.catalogue_steps:
        report["catalogue"] = {"steps": config.catalogue_steps, **time_catalogue(config.catalogue_steps)}
    report["targets"] = target_verdicts(report)
    print(json.dumps(report) if config.json else format_report(report, dynamics_steps=config.dynamics_steps))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
