"""The batched zero-sum solver (ascentrl.games.zero_sum) against nashpy, scipy's LP and known equilibria.

Truths used: the unique equilibria of matching pennies, rock-paper-scissors and biased RPS; for
random games nashpy's equilibrium (vertex enumeration) and the value of scipy's HiGHS linear
program; the minimax theorem: at a profile with duality gap ``ε`` the payoff ``xᵀAy`` lies within
``ε`` of the game's value, so it must match the oracle's value to the tolerance; games built with a
known value (a saddle point, an antisymmetric matrix). NashConv is recomputed here in numpy. Speed
is measured by ``scripts/bench_games.py``, never here.
"""

from __future__ import annotations

import warnings

import nashpy
import numpy as np
import pytest
import torch
from harness.zero_sum_peers import highs_equilibrium

from ascentrl.envs import make_matrix_game, random_zero_sum_game
from ascentrl.games import ZERO_SUM_METHODS, solve_zero_sum_games, zero_sum_exact

TOLERANCE = 1e-6
FIRST_ORDER = ("primal_dual", "extragradient")


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


@pytest.mark.parametrize(
    ("method", "restarts"),
    [(method, restarts) for method in FIRST_ORDER for restarts in (True, False)] + [("exact", True)],
)
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
    capped = solve_zero_sum_games(payoffs, method="primal_dual", max_iterations=3, check_every=1)
    assert bool((capped.iterations <= 3).all())
    assert torch.equal(capped.converged, capped.nash_conv <= TOLERANCE)
    assert not bool(capped.converged.all())
    norm = float(torch.linalg.matrix_norm(payoffs, ord=2).max())
    fixed = solve_zero_sum_games(payoffs, method="primal_dual", step_size=0.9 / norm, tolerance=1e-4)
    assert bool(fixed.converged.all())
    gap = duality_gap(payoffs.numpy(), fixed.row_strategies.numpy(), fixed.column_strategies.numpy())
    assert gap.max() <= 1e-4


@pytest.mark.parametrize("method", ZERO_SUM_METHODS)
def test_same_input_same_output(method):
    payoffs = random_zero_sum_game((3, 3), count=20, seed=8).payoffs[:, 0].contiguous()
    first, second = solve_zero_sum_games(payoffs, method=method), solve_zero_sum_games(payoffs, method=method)
    assert torch.equal(first.row_strategies, second.row_strategies)
    assert torch.equal(first.iterations, second.iterations)


# ---------------------------------------------------------------------------- the exact method
SHAPES = [(rows, columns) for rows in range(2, 11) for columns in range(2, 11)]


def seeded_batch(rows: int, columns: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Games of one shape: standard normal, ternary (−1, 0, 1: many ties), duplicated rows and columns,
    a saddle point of value 0.3, all zeros, and (square shapes) antisymmetric. Returns the games
    and the known values (NaN where only the LP knows it)."""
    generator = np.random.default_rng(seed)
    games, values = [], []

    def add(matrix: np.ndarray, value: float = np.nan) -> None:
        games.append(matrix)
        values.append(value)

    for _ in range(5):
        add(generator.standard_normal((rows, columns)))
    for _ in range(3):
        add(generator.integers(-1, 2, (rows, columns)).astype(np.float64))
    for _ in range(2):  # every row and column a copy of one of a few: degenerate, many equilibria
        base = generator.integers(-2, 3, (max(1, rows // 2), max(1, columns // 2))).astype(np.float64)
        add(base[generator.integers(0, base.shape[0], rows)][:, generator.integers(0, base.shape[1], columns)])
    for _ in range(2):  # row r guarantees 0.3, column c concedes at most 0.3: a pure equilibrium
        matrix = generator.standard_normal((rows, columns))
        r, c = generator.integers(rows), generator.integers(columns)
        matrix[r, :] = 0.3 + np.abs(matrix[r, :])
        matrix[:, c] = 0.3 - np.abs(matrix[:, c])
        matrix[r, c] = 0.3
        add(matrix, 0.3)
    add(np.zeros((rows, columns)), 0.0)
    if rows == columns:  # a symmetric game: value 0
        half = generator.standard_normal((rows, columns))
        add(half - half.T, 0.0)
    return np.stack(games), np.array(values)


@pytest.fixture(scope="module")
def certified_batches() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every shape of SHAPES: the games, their known values and HiGHS's values (solved once)."""
    batches = []
    for index, (rows, columns) in enumerate(SHAPES):
        games, known = seeded_batch(rows, columns, seed=100 + index)
        batches.append((games, known, np.array([highs_equilibrium(matrix)[2] for matrix in games])))
    return batches


def test_every_game_is_certified_exactly(certified_batches):
    count = 0
    for games, known, lp_values in certified_batches:
        solution = solve_zero_sum_games(torch.from_numpy(games))
        row, column = solution.row_strategies.numpy(), solution.column_strategies.numpy()
        for strategies in (row, column):
            assert (strategies >= 0).all() and np.allclose(strategies.sum(-1), 1, atol=1e-12)
        gap = duality_gap(games, row, column)
        assert np.allclose(gap, solution.nash_conv.numpy(), atol=1e-15)  # the certificate is honest
        assert gap.max() <= 1e-9 and bool(solution.converged.all())
        values = solution.values.numpy()
        assert np.allclose(values, np.einsum("ga,gab,gb->g", row, games, column), atol=1e-15)
        assert np.abs(values - lp_values).max() <= 1e-9
        assert np.abs(values - known)[~np.isnan(known)].max() <= 1e-9
        count += len(games)
    assert count == sum(len(games) for games, _, _ in certified_batches) > 1000


def test_blands_rule_alone_also_certifies(certified_batches):
    """The anti-cycling rule the solver falls back to after 2(m + n) pivots, used from the start."""
    for games, _, lp_values in certified_batches[::7]:
        payoffs = torch.from_numpy(games)
        rows, columns = games.shape[1:]
        slack_basis = (columns + torch.arange(rows)).repeat(len(games), 1)
        tableau = zero_sum_exact._initial_tableau(zero_sum_exact._normalized(payoffs))
        basis, _ = zero_sum_exact._pivot(tableau, slack_basis, 10_000, bland_after=0)
        row, column = (s.numpy() for s in zero_sum_exact._strategies_on_supports(payoffs, basis))
        assert duality_gap(games, row, column).max() <= 1e-9
        assert np.abs(np.einsum("ga,gab,gb->g", row, games, column) - lp_values).max() <= 1e-9


def test_a_strict_saddle_point_is_found_as_a_pure_equilibrium():
    payoffs = torch.tensor([[[3.0, 1.0, 4.0], [-2.0, 0.0, 5.0], [2.0, -1.0, -3.0]]], dtype=torch.float64)
    solution = solve_zero_sum_games(payoffs)  # row 0 guarantees 1; column 1 concedes at most 1
    assert solution.row_strategies[0].tolist() == pytest.approx([1.0, 0.0, 0.0], abs=1e-15)
    assert solution.column_strategies[0].tolist() == pytest.approx([0.0, 1.0, 0.0], abs=1e-15)
    assert float(solution.values) == pytest.approx(1.0, abs=1e-15) and float(solution.nash_conv) <= 1e-15


def test_uncertified_games_are_reported_as_such():
    payoffs = random_zero_sum_game((6, 6), count=40, seed=9).payoffs[:, 0].contiguous()
    capped = solve_zero_sum_games(payoffs, max_iterations=1)  # one pivot: not enough for most
    assert bool((capped.iterations <= 1).all()) and not bool(capped.converged.all())
    gap = duality_gap(payoffs.numpy(), capped.row_strategies.numpy(), capped.column_strategies.numpy())
    assert np.allclose(gap, capped.nash_conv.numpy(), atol=1e-15)
    assert torch.equal(capped.converged, capped.nash_conv <= 1e-9)


def test_float32_input_comes_back_as_float32():
    payoffs = random_zero_sum_game((4, 5), count=30, seed=10).payoffs[:, 0].contiguous()
    single = solve_zero_sum_games(payoffs.float(), tolerance=1e-5)
    assert single.row_strategies.dtype == single.nash_conv.dtype == torch.float32
    assert bool(single.converged.all())
    exact = solve_zero_sum_games(payoffs)
    assert torch.allclose(single.values.double(), exact.values, atol=1e-5)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"row_payoffs": torch.zeros(2, 3, 3, dtype=torch.long)}, TypeError, "floating-point"),
        ({"row_payoffs": torch.zeros(3, 3)}, ValueError, r"shape \(games, m, n\)"),
        ({"row_payoffs": torch.full((1, 2, 2), float("nan"))}, ValueError, "finite"),
        ({"method": "simplex"}, ValueError, "method must be one of"),
        ({"tolerance": -1.0}, ValueError, "tolerance must be None or a finite number >= 0"),
        ({"method": "exact", "max_iterations": 0}, ValueError, "max_iterations must be an int >= 1"),
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
