"""The batched zero-sum solver timed on random games of each shape, against scipy's HiGHS.

Used by ``scripts/bench_games.py``. For every shape, ``games`` random zero-sum games (standard
normal row payoffs from :func:`ascentrl.envs.random_zero_sum_game`, shape ``k`` seeded ``seed + k``)
are solved in one batch by :func:`ascentrl.games.solve_zero_sum_games`, after an untimed warm-up
solve of 64 of them (first-call allocations and dispatch). A row reports the fraction of games
certified (NashConv ≤ the tolerance), the wall time and time per game, the pivots or iterations
used and the worst NashConv.

Under torchrun every rank solves its contiguous share of the batch
(:func:`ascentrl.distributed.shard_slice`) and the solutions are gathered on every rank; the clock
runs from a barrier before the solve to the end of the gather. Only the main rank times the peer:
HiGHS (:func:`harness.zero_sum_peers.time_highs`) on the first ``highs_games`` games of the shape,
whose values must agree with ours; the speed-up compares the time per game.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch

from ascentrl.distributed import DistributedContext, gather_shards, shard_slice
from ascentrl.envs import random_zero_sum_game
from ascentrl.games import ZERO_SUM_METHODS, ZeroSumSolution, solve_zero_sum_games
from harness.zero_sum_peers import time_highs

__all__ = ["bench_zero_sum"]


def bench_zero_sum(
    shapes: list[tuple[int, int]], context: DistributedContext, *, games: int, seed: int, method: str,
    tolerance: float, max_iterations: int, highs_games: int, compare: bool,
) -> list[dict]:
    """One entry per shape: our solver's row, the other methods' rows with ``compare``, and HiGHS.

    Args:
        shapes: ``(rows, columns)`` of the games, one batch per shape.
        context: this process's rank and world (a single process outside torchrun).
        games: random games per shape.
        seed: the games of shape ``k`` are seeded ``seed + k``.
        method: our zero-sum method (one of :data:`ascentrl.games.ZERO_SUM_METHODS`).
        tolerance: a game counts as certified at NashConv ≤ ``tolerance``.
        max_iterations: pivots (exact) or iterations (first-order) before unsolved games are given up.
        highs_games: games per shape solved by HiGHS on the main rank; 0 skips the peer.
        compare: also run the other methods (with restarts) on the same games.
    """
    options = {"method": method, "tolerance": tolerance, "max_iterations": max_iterations}
    return [_bench_shape(shape, context, games=games, seed=seed + index, options=options, highs_games=highs_games,
                         compare=compare)
            for index, shape in enumerate(shapes)]


def _bench_shape(shape: tuple[int, int], context: DistributedContext, *, games: int, seed: int, options: dict,
                 highs_games: int, compare: bool) -> dict:
    """Solve the games of one shape (and, on the main rank, time HiGHS on them)."""
    game = random_zero_sum_game(shape, count=games, seed=seed)
    row_payoffs = game.payoffs[:, 0].contiguous()
    solve_zero_sum_games(row_payoffs[:64], **options)  # warm-up: first-call allocations and dispatch
    solution, seconds = _timed_solve(row_payoffs, context, **options)
    entry = {"shape": f"{shape[0]}x{shape[1]}", "games": games,
             "ours": _solver_report(options["method"], solution, seconds)}
    if compare:
        entry["baselines"] = [
            _solver_report(f"{method} + restarts", *_timed_solve(row_payoffs, context, **{**options, "method": method}))
            for method in ZERO_SUM_METHODS if method != options["method"]
        ]
    if context.is_main and highs_games:
        count = min(highs_games, games)
        highs = time_highs(row_payoffs[:count].numpy())
        ours_per_game = seconds / games
        entry["highs"] = {
            "games_measured": count,
            "us_per_game": 1e6 * highs["seconds_per_game"],
            "worst_nash_conv": highs["worst_nash_conv"],
            "max_value_difference": float(np.abs(solution.values[:count].numpy() - highs["values"]).max()),
        }
        entry["speedup"] = highs["seconds_per_game"] / ours_per_game
    return entry


def _timed_solve(row_payoffs: torch.Tensor, context: DistributedContext, **options) -> tuple[ZeroSumSolution, float]:
    """Solve this rank's share of the games and gather the whole solution; time it all."""
    if context.is_distributed:
        torch.distributed.barrier()
    start = time.perf_counter()
    share = solve_zero_sum_games(row_payoffs[shard_slice(len(row_payoffs), context)], **options)
    solution = ZeroSumSolution(*(gather_shards(getattr(share, field.name), context)
                                 for field in dataclasses.fields(ZeroSumSolution)))
    return solution, time.perf_counter() - start


def _solver_report(name: str, solution: ZeroSumSolution, seconds: float) -> dict:
    """The JSON row of one solver on one shape."""
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
