"""The batched zero-sum solver (ascentrl.games.zero_sum) against nashpy and known equilibria.

Truths used: the unique equilibria of matching pennies, rock-paper-scissors and biased RPS; for
random games nashpy's equilibrium (vertex enumeration) and the minimax theorem: at a profile
with duality gap ``ε`` the payoff ``xᵀAy`` lies within ``ε`` of the game's value, so it must match
nashpy's value to the solver's tolerance. NashConv is recomputed here in numpy. Speed is measured
by ``scripts/bench_games.py``, never here.
"""

from __future__ import annotations

import warnings

import nashpy
import numpy as np
import pytest
import torch

from ascentrl.envs import make_matrix_game, random_zero_sum_game
from ascentrl.games import ZERO_SUM_METHODS, solve_zero_sum_games

TOLERANCE = 1e-6


def duality_gap(row_payoffs: np.ndarray, row: np.ndarray, column: np.ndarray) -> np.ndarray:
    """``max_i (A y)_i − min_j (Aᵀ x)_j`` per game, in numpy."""
    return np.einsum("gab,gb->ga", row_payoffs, column).max(-1) - np.einsum("ga,gab->gb", row, row_payoffs).min(-1)


def nashpy_solutions(row_payoffs: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [next(iter(nashpy.Game(matrix).vertex_enumeration())) for matrix in row_payoffs]


@pytest.mark.parametrize("method", ZERO_SUM_METHODS)
def test_known_equilibria(method):
    names = ["rock_paper_scissors", "biased_rock_paper_scissors"]
    payoffs = torch.stack([make_matrix_game(name).payoffs[0] for name in names])
    solution = solve_zero_sum_games(payoffs, method=method, tolerance=1e-9)
    expected = torch.tensor([[1 / 3, 1 / 3, 1 / 3], [1 / 16, 10 / 16, 5 / 16]], dtype=torch.float64)
    assert bool(solution.converged.all())
    assert torch.allclose(solution.row_strategies, expected, atol=1e-8)
    assert torch.allclose(solution.column_strategies, expected, atol=1e-8)  # symmetric games
    pennies = solve_zero_sum_games(make_matrix_game("matching_pennies").payoffs[:1], method=method)
    assert torch.allclose(pennies.row_strategies, torch.full((1, 2), 0.5, dtype=torch.float64), atol=1e-6)


@pytest.fixture(scope="module")
def random_games() -> tuple[torch.Tensor, list[tuple[np.ndarray, np.ndarray]]]:
    """150 random 3×3 zero-sum games and nashpy's equilibrium of each (solved once)."""
    payoffs = random_zero_sum_game((3, 3), count=150, seed=5).payoffs[:, 0].contiguous()
    return payoffs, nashpy_solutions(payoffs.numpy())


@pytest.mark.parametrize("method", ZERO_SUM_METHODS)
@pytest.mark.parametrize("restarts", [True, False])
def test_random_games_against_nashpy(random_games, method, restarts):
    payoffs, reference = random_games
    solution = solve_zero_sum_games(payoffs, method=method, restarts=restarts, tolerance=TOLERANCE)
    assert bool(solution.converged.all())
    matrices = payoffs.numpy()
    row, column = solution.row_strategies.numpy(), solution.column_strategies.numpy()
    gap = duality_gap(matrices, row, column)
    assert np.allclose(gap, solution.nash_conv.numpy(), atol=1e-12)
    assert gap.max() <= TOLERANCE
    ours = np.einsum("ga,gab,gb->g", row, matrices, column)
    values = np.array([r @ matrix @ c for matrix, (r, c) in zip(matrices, reference)])
    assert np.abs(ours - values).max() <= TOLERANCE
    # Matrix games are sharp, so a gap of 1e-6 puts the profile within a few 1e-6 of the
    # (unique, for games with continuous random entries) equilibrium.
    distance = [max(np.abs(row[g] - r).max(), np.abs(column[g] - c).max()) for g, (r, c) in enumerate(reference)]
    assert max(distance) <= 2e-5


def test_rectangular_games():
    for shape in ((2, 5), (4, 2)):
        payoffs = random_zero_sum_game(shape, count=40, seed=6).payoffs[:, 0].contiguous()
        solution = solve_zero_sum_games(payoffs)
        assert solution.row_strategies.shape == (40, shape[0])
        assert solution.column_strategies.shape == (40, shape[1])
        assert bool(solution.converged.all())
        matrices = payoffs.numpy()
        row, column = solution.row_strategies.numpy(), solution.column_strategies.numpy()
        assert duality_gap(matrices, row, column).max() <= TOLERANCE
        for strategies in (row, column):
            assert (strategies >= 0).all() and np.allclose(strategies.sum(-1), 1, atol=1e-12)
        values = [r @ m @ c for m, (r, c) in zip(matrices, nashpy_solutions(matrices))]
        assert np.abs(np.einsum("ga,gab,gb->g", row, matrices, column) - values).max() <= TOLERANCE


def test_iteration_cap_and_fixed_step():
    payoffs = random_zero_sum_game((3, 3), count=50, seed=7).payoffs[:, 0].contiguous()
    capped = solve_zero_sum_games(payoffs, max_iterations=3, check_every=1)
    assert bool((capped.iterations <= 3).all())
    assert torch.equal(capped.converged, capped.nash_conv <= TOLERANCE)
    assert not bool(capped.converged.all())
    norm = float(torch.linalg.matrix_norm(payoffs, ord=2).max())
    fixed = solve_zero_sum_games(payoffs, step_size=0.9 / norm, tolerance=1e-4)
    assert bool(fixed.converged.all())
    gap = duality_gap(payoffs.numpy(), fixed.row_strategies.numpy(), fixed.column_strategies.numpy())
    assert gap.max() <= 1e-4


def test_same_input_same_output():
    payoffs = random_zero_sum_game((3, 3), count=20, seed=8).payoffs[:, 0].contiguous()
    first, second = solve_zero_sum_games(payoffs), solve_zero_sum_games(payoffs)
    assert torch.equal(first.row_strategies, second.row_strategies)
    assert torch.equal(first.iterations, second.iterations)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"row_payoffs": torch.zeros(2, 3, 3, dtype=torch.long)}, TypeError, "floating-point"),
        ({"row_payoffs": torch.zeros(3, 3)}, ValueError, r"shape \(games, m, n\)"),
        ({"row_payoffs": torch.full((1, 2, 2), float("nan"))}, ValueError, "finite"),
        ({"method": "simplex"}, ValueError, "method must be one of"),
        ({"tolerance": -1.0}, ValueError, "tolerance must be a finite number >= 0"),
        ({"max_iterations": 0}, ValueError, "max_iterations must be an int >= 1"),
        ({"step_scale": 1.0}, ValueError, r"step_scale must be in \(0, 1\)"),
        ({"step_size": 0.0}, ValueError, "step_size must be None or a finite number > 0"),
        ({"restart_factor": 0.0}, ValueError, r"restart_factor must be in \(0, 1\)"),
        ({"check_every": 0}, ValueError, "check_every must be an int >= 1"),
    ],
)
def test_bad_arguments(options, error, message):
    arguments = {"row_payoffs": torch.zeros(1, 2, 2, dtype=torch.float64), **options}
    with pytest.raises(error, match=message):
        solve_zero_sum_games(arguments.pop("row_payoffs"), **arguments)
