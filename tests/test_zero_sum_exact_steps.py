"""The steps of the exact zero-sum solver (ascentrl.games.zero_sum_exact), each against its own truth.

``test_zero_sum.py`` checks what the solver returns; a wrong step that still ends at *some* optimal
basis passes there, because step 5 re-solves the equilibrium equations on the supports. Here each
step is held to what its docstring says: the normalization maps every game onto [1, 2]; the initial
tableau is the hand-written ``[B I 1; 1 0 0]``; the pivoting follows a textbook tableau simplex
written below (one game at a time, row by row, plain numpy) rule for rule — Dantzig's entering
variable, then Bland's after ``bland_after`` pivots; the ratio test among entries above 1e-9 of the
column's largest with ties to the smallest basic variable; optimal when no reduced cost exceeds
1e-12 — including on hand-made tableaux that sit exactly on those tolerances; pivot counts derived
by hand; and one primal-dual (PDHG) iteration computed by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ascentrl.envs import random_zero_sum_game
from ascentrl.games import zero_sum, zero_sum_exact


def reference_pivoting(tableau: np.ndarray, basis: np.ndarray, max_pivots: int, bland_after: int
                       ) -> tuple[np.ndarray, int]:
    """A textbook tableau simplex on one game: the final basis and the number of pivots."""
    tableau, basis = tableau.copy(), basis.copy()
    rows, variables = tableau.shape[0] - 1, tableau.shape[1] - 1
    pivots = 0
    while True:
        reduced_costs = tableau[rows, :variables]
        improvable = np.flatnonzero(reduced_costs > 1e-12)
        if improvable.size == 0 or pivots == max_pivots:
            return basis, pivots
        entering = int(np.argmax(reduced_costs)) if pivots < bland_after else int(improvable[0])
        column = tableau[:rows, entering]
        candidates = [r for r in range(rows) if column[r] > 1e-9 * column.max()]
        ratios = {r: max(tableau[r, variables], 0.0) / column[r] for r in candidates}
        smallest = min(ratios.values())
        leaving = min((r for r in candidates if ratios[r] <= smallest + 1e-12 * (1 + smallest)), key=lambda r: basis[r])
        tableau[leaving] /= tableau[leaving, entering]
        for r in range(rows + 1):
            if r != leaving:
                tableau[r] -= tableau[r, entering] * tableau[leaving]
        basis[leaving] = entering
        pivots += 1


def game_tableaux(shape: tuple[int, int], count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    payoffs = random_zero_sum_game(shape, count=count, seed=seed).payoffs[:, 0].contiguous()
    tableau = zero_sum_exact._initial_tableau(zero_sum_exact._normalized(payoffs))
    slack_basis = (shape[1] + torch.arange(shape[0])).repeat(count, 1)
    return tableau, slack_basis


def test_normalization_maps_every_game_onto_one_to_two():
    payoffs = torch.stack([
        torch.tensor([[1000.0, 1001.0], [1002.0, 1003.0]]),  # offset far from the others
        torch.tensor([[0.0, 0.5], [0.25, 0.1]]),  # spread below one
        torch.tensor([[-3.0, 9.0], [0.0, 1.0]]),
        torch.full((2, 2), 7.0),  # constant: every entry maps to 1
    ]).double()
    normalized = zero_sum_exact._normalized(payoffs)
    assert normalized[:3].amin((1, 2)).tolist() == [1.0, 1.0, 1.0]
    assert normalized[:3].amax((1, 2)).tolist() == [2.0, 2.0, 2.0]
    assert normalized[3].tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert torch.allclose(normalized[1], torch.tensor([[1.0, 2.0], [1.5, 1.2]], dtype=torch.float64), atol=1e-15)


def test_initial_tableau_is_the_slack_basis_tableau():
    normalized = torch.tensor([[[1.0, 2.0, 1.5], [1.25, 1.0, 2.0]]], dtype=torch.float64)
    expected = torch.tensor([[[1.0, 2.0, 1.5, 1.0, 0.0, 1.0],
                              [1.25, 1.0, 2.0, 0.0, 1.0, 1.0],
                              [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]]], dtype=torch.float64)
    tableau = zero_sum_exact._initial_tableau(normalized)
    assert tableau.shape == expected.shape and tableau.dtype == torch.float64
    assert torch.equal(tableau, expected)


@pytest.mark.parametrize("bland_after", [0, 1, 2, 3, 1000])
@pytest.mark.parametrize("shape", [(3, 3), (4, 6), (6, 4)])
def test_pivoting_follows_the_textbook_simplex(shape, bland_after):
    tableau, basis = game_tableaux(shape, count=40, seed=sum(shape) + bland_after)
    for max_pivots in (1, 2, 50):
        final_basis, pivots = zero_sum_exact._pivot(tableau, basis, max_pivots, bland_after=bland_after)
        assert pivots.dtype == torch.long
        for game in range(tableau.shape[0]):
            expected_basis, expected_pivots = reference_pivoting(
                tableau[game].numpy(), basis[game].numpy(), max_pivots, bland_after)
            assert final_basis[game].tolist() == expected_basis.tolist()
            assert int(pivots[game]) == expected_pivots


@pytest.mark.parametrize("shape", [(3, 3), (4, 6), (10, 10)])
def test_the_solver_switches_to_blands_rule_after_twice_the_actions(shape):
    """The solver's pivot counts are the textbook simplex's with the switch at 2(m + n) pivots, and
    differ (on some game) from Bland's rule from the start: the switch point is observable."""
    tableau, basis = game_tableaux(shape, count=60, seed=7)
    payoffs = random_zero_sum_game(shape, count=60, seed=7).payoffs[:, 0].contiguous()
    _, _, pivots = zero_sum_exact.solve_exactly(payoffs, max_pivots=10_000)
    switch = 2 * sum(shape)
    expected = [reference_pivoting(t.numpy(), b.numpy(), 10_000, switch)[1] for t, b in zip(tableau, basis)]
    bland_from_start = [reference_pivoting(t.numpy(), b.numpy(), 10_000, 0)[1] for t, b in zip(tableau, basis)]
    assert pivots.tolist() == expected
    assert expected != bland_from_start


def test_pivot_counts_by_hand():
    """1×1: one pivot. ``[[3, 1, 2]]`` normalizes to ``[[2, 1, 1.5]]``: Dantzig enters ``q_1`` (ties to
    the first), leaving reduced costs ``(0, 1/2, 1/4)``; then ``q_2``, after which none is positive."""
    _, _, one = zero_sum_exact.solve_exactly(torch.tensor([[[5.0]]]), max_pivots=100)
    _, _, two = zero_sum_exact.solve_exactly(torch.tensor([[[3.0, 1.0, 2.0]]]), max_pivots=100)
    assert one.tolist() == [1] and two.tolist() == [2]


def hand_tableau(column: list[float], right_hand_side: list[float], reduced_costs: list[float]) -> torch.Tensor:
    """A two-row tableau whose first variable's column is ``column``; slacks are variables 3 and 4."""
    rows = [[column[r], 0.5, 0.5, float(r == 0), float(r == 1), right_hand_side[r]] for r in range(2)]
    return torch.tensor([rows + [[*reduced_costs, 0.0, 0.0, 0.0]]], dtype=torch.float64)


SLACKS = torch.tensor([[3, 4]])


def test_a_reduced_cost_at_the_optimality_tolerance_is_optimal():
    at_tolerance = hand_tableau([1.0, 1.0], [1.0, 1.0], [1e-12, 0.0, 0.0])
    basis, pivots = zero_sum_exact._pivot(at_tolerance, SLACKS, 10, bland_after=10)
    assert pivots.tolist() == [0] and basis.tolist() == [[3, 4]]
    above = hand_tableau([1.0, 1.0], [1.0, 1.0], [2e-12, 0.0, 0.0])
    assert zero_sum_exact._pivot(above, SLACKS, 10, bland_after=10)[1].tolist() == [1]


@pytest.mark.parametrize(("tiny", "eligible"), [(4e-9, False), (5e-9, True)])
def test_pivot_entries_at_the_tolerance_of_the_largest_are_skipped(tiny, eligible):
    """Column ``(4, tiny)``, right-hand side ``(4, 1e-12)``: the tiny row has the smaller ratio, but
    an entry at most 1e-9 of the column's largest (4e-9) is not a pivot."""
    tableau = hand_tableau([4.0, tiny], [4.0, 1e-12], [1.0, 0.0, 0.0])
    basis, _ = zero_sum_exact._pivot(tableau, SLACKS, 1, bland_after=10)
    assert basis.tolist() == ([[3, 0]] if eligible else [[0, 4]])


def test_the_pivot_tolerance_is_relative_to_each_games_own_column():
    """Two games in one batch: the second's large column must not raise the first's threshold, and a
    column whose largest entry is below one must not lower it."""
    first = hand_tableau([1.0, 1e-6], [1.0, 1e-12], [1.0, 0.0, 0.0])  # 1e-6 is a valid pivot here
    second = hand_tableau([1e4, 1.0], [1.0, 1.0], [1.0, 0.0, 0.0])
    small = hand_tableau([0.5, 1e-9], [1.0, 1e-15], [1.0, 0.0, 0.0])  # 1e-9 > 1e-9 · 0.5: a pivot
    basis, _ = zero_sum_exact._pivot(torch.cat([first, second, small]), SLACKS.repeat(3, 1), 1, bland_after=10)
    assert basis.tolist() == [[3, 0], [0, 4], [3, 0]]


def test_exact_steps_run_in_float64_whatever_the_input():
    payoffs = random_zero_sum_game((4, 5), count=20, seed=3).payoffs[:, 0].contiguous()
    rounded = payoffs.float()
    row, column, _ = zero_sum_exact.solve_exactly(rounded, max_pivots=1000)
    assert row.dtype == column.dtype == torch.float64
    reference_row, reference_column, _ = zero_sum_exact.solve_exactly(rounded.double(), max_pivots=1000)
    assert torch.equal(row, reference_row) and torch.equal(column, reference_column)


def test_one_primal_dual_iteration_by_hand():
    """PDHG on ``A = [[2, 0], [0, 1]]`` from ``x = y = (1/2, 1/2)`` with step 0.1:
    ``x⁺ = Π(x + 0.1·Ay) = Π(0.6, 0.55) = (0.525, 0.475)``; the column player answers the
    extrapolation ``2x⁺ − x = (0.55, 0.45)``: ``y⁺ = Π(y − 0.1·Aᵀ(0.55, 0.45)) = Π(0.39, 0.455)
    = (0.4675, 0.5325)`` (interior projections: ``v − mean(v) + 1/2``)."""
    payoffs = torch.tensor([[2.0, 0.0], [0.0, 1.0]], dtype=torch.float64).unsqueeze(-1)  # (m, n, games)
    half = torch.full((2, 1), 0.5, dtype=torch.float64)
    x, y, _, _ = zero_sum._primal_dual_iteration(payoffs, half, half, torch.full((1,), 0.1, dtype=torch.float64))
    assert torch.allclose(x[:, 0], torch.tensor([0.525, 0.475], dtype=torch.float64), atol=1e-15)
    assert torch.allclose(y[:, 0], torch.tensor([0.4675, 0.5325], dtype=torch.float64), atol=1e-15)


def test_the_indifferent_strategy_by_hand_with_a_negative_entry_removed():
    """``A = diag(1, 2, −1)`` on full supports: ``Ay = v·1`` and ``1ᵀy = 1`` give ``y = (2, 1, −2)``
    (``v = 2``); the negative entry is clamped and the rest renormalized: ``(2/3, 1/3, 0)``."""
    payoffs = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, -1.0]]], dtype=torch.float64)
    full = torch.ones(1, 3, dtype=torch.bool)
    strategy = zero_sum_exact._indifferent_strategy(payoffs, full, full)
    assert torch.allclose(strategy, torch.tensor([[2 / 3, 1 / 3, 0.0]], dtype=torch.float64), atol=1e-15, rtol=0)


@pytest.mark.parametrize(("payoffs", "opponent_support", "support"), [
    ([[0.0, 0.0], [0.0, 0.0]], [True, True], [True, True]),  # singular: the solve gives NaN
    ([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [-1.0, 0.0, 0.0]], [True, True, False], [True, True, False]),  # ±inf
], ids=["nan", "infinite"])
def test_a_singular_kernel_falls_back_to_uniform_play(payoffs, opponent_support, support):
    payoffs = torch.tensor([payoffs], dtype=torch.float64)
    actions = payoffs.shape[2]
    strategy = zero_sum_exact._indifferent_strategy(payoffs, torch.tensor([opponent_support]), torch.tensor([support]))
    assert torch.equal(strategy, torch.full((1, actions), 1.0 / actions, dtype=torch.float64))


@pytest.mark.parametrize(("gap", "tied"), [(1.5e-12, True), (2.5e-12, False)])
def test_ratios_within_the_tie_tolerance_leave_by_the_smallest_basic_variable(gap, tied):
    """Ratios 1 + gap (row 0, basic variable 3) and 1 (row 1, basic variable 4): within
    1e-12·(1 + 1) = 2e-12 they tie and the row of the smaller basic variable, 0, leaves; beyond, the
    smaller ratio's row does."""
    tableau = hand_tableau([1.0, 1.0], [1.0 + gap, 1.0], [1.0, 0.0, 0.0])
    basis, _ = zero_sum_exact._pivot(tableau, SLACKS, 1, bland_after=10)
    assert basis.tolist() == ([[0, 4]] if tied else [[3, 0]])
