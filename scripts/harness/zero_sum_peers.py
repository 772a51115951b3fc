"""The peer of the zero-sum solver: scipy's HiGHS linear program, one game at a time.

Used by ``scripts/bench_games.py`` to time them against :func:`ascentrl.games.solve_zero_sum_games`
on the same games, and by the tests as oracles of the game value.

HiGHS solves the row player's program ``max v`` subject to ``Aᵀx ≥ v·1``, ``1ᵀx = 1``, ``x ≥ 0``
(Dantzig 1951); the duals of the ``n`` inequality constraints are the column player's minimax
strategy, so one program per game gives both strategies and the value.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["highs_equilibrium", "nash_conv", "time_highs"]


def highs_equilibrium(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``(x, y, value)`` of the zero-sum game with row payoffs ``matrix`` by HiGHS.

    Raises:
        RuntimeError: if HiGHS does not report an optimal solution.
    """
    from scipy.optimize import linprog

    rows, columns = matrix.shape
    objective = np.zeros(rows + 1)
    objective[-1] = -1.0  # linprog minimizes: minimize −v
    result = linprog(
        objective,
        A_ub=np.hstack([-matrix.T, np.ones((columns, 1))]),
        b_ub=np.zeros(columns),
        A_eq=np.hstack([np.ones((1, rows)), np.zeros((1, 1))]),
        b_eq=[1.0],
        bounds=[(0, None)] * rows + [(None, None)],
        method="highs",
    )
    if result.status != 0:
        raise RuntimeError(f"HiGHS did not solve the game: {result.message}")
    return result.x[:rows], -result.ineqlin.marginals, -result.fun


def nash_conv(matrix: np.ndarray, row: np.ndarray, column: np.ndarray) -> float:
    """``max_i (Ay)_i − min_j (Aᵀx)_j`` of one profile."""
    return float((matrix @ column).max() - (row @ matrix).min())


def time_highs(row_payoffs: np.ndarray) -> dict:
    """Seconds per game for HiGHS (one linear program per game, both strategies from it), the
    values it found and the worst NashConv of its profiles. One untimed solve first loads scipy."""
    highs_equilibrium(row_payoffs[0])
    start = time.perf_counter()
    solutions = [highs_equilibrium(matrix) for matrix in row_payoffs]
    seconds = time.perf_counter() - start
    return {
        "seconds_per_game": seconds / len(row_payoffs),
        "values": np.array([value for _, _, value in solutions]),
        "worst_nash_conv": max(nash_conv(matrix, x, y) for matrix, (x, y, _) in zip(row_payoffs, solutions)),
    }
