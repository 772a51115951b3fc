"""Payoff metrics (ascentrl.games.payoffs) against hand-computed values, enumeration and nashpy.

Truths used: payoffs worked out by hand for small games; a reference that enumerates every pure
joint action (``u_i(x) = Σ_a Π_j x_j[a_j] · payoffs[i, a]``) for batched checks; nashpy's
equilibria (vertex enumeration), at which NashConv must be zero. All in float64; tolerances
are rounding-level (1e-12) unless stated.
"""

from __future__ import annotations

import itertools
import math
import warnings

import nashpy
import numpy as np
import pytest
import torch
from torch import Tensor

from ascentrl.envs import MATRIX_GAMES, make_matrix_game, random_general_sum_game, random_zero_sum_game
from ascentrl.games import (
    best_response_values,
    best_responses,
    deviation_payoffs,
    distance_to_equilibrium,
    expected_payoffs,
    expected_payoffs_by_player,
    exploitability,
    nash_conv,
)

PRISONERS_DILEMMA = torch.tensor(
    [[[3.0, 0.0], [5.0, 1.0]], [[3.0, 5.0], [0.0, 1.0]]], dtype=torch.float64
)  # row player's and column player's payoffs; actions (cooperate, defect)


def as_tensors(*probabilities) -> list[Tensor]:
    return [torch.tensor(p, dtype=torch.float64) for p in probabilities]


def enumerated_payoffs(payoffs: Tensor, strategies: list[Tensor]) -> Tensor:
    """``u_i(x)`` of one unbatched game by summing over every pure joint action."""
    n_players = len(strategies)
    values = torch.zeros(n_players, dtype=torch.float64)
    for joint in itertools.product(*(range(len(s)) for s in strategies)):
        probability = math.prod(float(strategies[j][a]) for j, a in enumerate(joint))
        values += probability * payoffs[(slice(None), *joint)]
    return values


def enumerated_deviations(payoffs: Tensor, strategies: list[Tensor], player: int) -> Tensor:
    """``u_player(a, x_{-player})`` for every action ``a``, by enumeration."""
    actions = len(strategies[player])
    deviations = torch.empty(actions, dtype=torch.float64)
    for action in range(actions):
        pure = torch.zeros(actions, dtype=torch.float64)
        pure[action] = 1
        profile = [pure if j == player else s for j, s in enumerate(strategies)]
        deviations[action] = enumerated_payoffs(payoffs, profile)[player]
    return deviations


def nashpy_equilibria(row: np.ndarray, column: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nashpy warns on degenerate games (e.g. coordination)
        return list(nashpy.Game(row, column).vertex_enumeration())


def test_prisoners_dilemma_by_hand():
    cooperate_often, defect_often = as_tensors([0.8, 0.2], [0.3, 0.7])
    strategies = [cooperate_often, defect_often]
    # Row: 0.8·(0.3·3 + 0.7·0) + 0.2·(0.3·5 + 0.7·1) = 0.72 + 0.44; column by symmetry of roles.
    row_value = 0.8 * 0.9 + 0.2 * 2.2
    column_value = 0.3 * (0.8 * 3 + 0.2 * 0) + 0.7 * (0.8 * 5 + 0.2 * 1)
    values = expected_payoffs(PRISONERS_DILEMMA, strategies)
    assert values.tolist() == pytest.approx([row_value, column_value], abs=1e-12)
    row_deviations, column_deviations = deviation_payoffs(PRISONERS_DILEMMA, strategies)
    assert row_deviations.tolist() == pytest.approx([0.9, 2.2], abs=1e-12)
    assert column_deviations.tolist() == pytest.approx([2.4, 4.2], abs=1e-12)
    assert best_response_values(PRISONERS_DILEMMA, strategies).tolist() == pytest.approx([2.2, 4.2])
    assert [r.tolist() for r in best_responses(PRISONERS_DILEMMA, strategies)] == [[0, 1], [0, 1]]
    incentives = (2.2 - row_value) + (4.2 - column_value)
    assert float(nash_conv(PRISONERS_DILEMMA, strategies)) == pytest.approx(incentives, abs=1e-12)
    assert float(exploitability(PRISONERS_DILEMMA, strategies)) == pytest.approx(incentives / 2, abs=1e-12)


def test_pure_profiles_of_matching_pennies():
    payoffs = make_matrix_game("matching_pennies").payoffs
    heads, tails = as_tensors([1, 0], [0, 1])
    # Both heads: the row player wins 1 and cannot do better; the column player loses 1 and
    # would win 1 by switching to tails, an incentive of 2.
    assert float(nash_conv(payoffs, [heads, heads])) == pytest.approx(2.0)
    assert float(exploitability(payoffs, [heads, heads])) == pytest.approx(1.0)
    assert expected_payoffs(payoffs, [heads, tails]).tolist() == [-1.0, 1.0]
    uniform = as_tensors([0.5, 0.5])[0]
    assert float(nash_conv(payoffs, [uniform, uniform])) == 0.0
    # Ties break to the lowest action: against the uniform strategy both actions are best.
    assert [r.tolist() for r in best_responses(payoffs, [uniform, uniform])] == [[1, 0], [1, 0]]


def test_three_player_game_against_enumeration():
    game = random_general_sum_game((2, 3, 4), seed=7)
    strategies = [s for s in game.random_profile(seed=8)]
    values = expected_payoffs(game.payoffs, strategies)
    assert torch.allclose(values, enumerated_payoffs(game.payoffs, strategies), atol=1e-12)
    deviations = deviation_payoffs(game.payoffs, strategies)
    for player in range(3):
        expected = enumerated_deviations(game.payoffs, strategies, player)
        assert torch.allclose(deviations[player], expected, atol=1e-12)
    incentives = sum(
        float(enumerated_deviations(game.payoffs, strategies, i).max() - values[i]) for i in range(3)
    )
    assert float(nash_conv(game.payoffs, strategies)) == pytest.approx(incentives, abs=1e-12)
    assert float(exploitability(game.payoffs, strategies)) == pytest.approx(incentives / 3, abs=1e-12)


def test_batched_over_games_and_profiles():
    """Games ``(G, n, …)`` against profiles ``(P, 1, A_i)`` broadcast to ``(P, G)``."""
    games = random_general_sum_game((2, 3), count=4, seed=9)
    profile = games.random_profile(count=5, seed=10)  # shapes (5, 4, A_i): one per run and game
    first = [profile[0][:, :1], profile[1][:, :1]]  # (5, 1, A_i): each broadcast over the games
    values = expected_payoffs(games.payoffs, first)
    conv = nash_conv(games.payoffs, first)
    best = best_response_values(games.payoffs, first)
    assert values.shape == (5, 4, 2) and conv.shape == (5, 4) and best.shape == (5, 4, 2)
    for run in range(5):
        for game in range(4):
            strategies = [first[0][run, 0], first[1][run, 0]]
            expected = enumerated_payoffs(games.payoffs[game], strategies)
            assert torch.allclose(values[run, game], expected, atol=1e-12)
            deviations = [enumerated_deviations(games.payoffs[game], strategies, i) for i in range(2)]
            expected_best = torch.stack([d.max() for d in deviations])
            assert torch.allclose(best[run, game], expected_best, atol=1e-12)
            assert float(conv[run, game]) == pytest.approx(float((expected_best - expected).sum()), abs=1e-12)


def test_expected_payoff_gradient_is_the_deviation_payoff():
    game = random_general_sum_game((3, 2, 2), seed=11)
    strategies = [s.requires_grad_() for s in game.random_profile(seed=12)]
    values = expected_payoffs(game.payoffs, strategies)
    deviations = deviation_payoffs(game.payoffs, [s.detach() for s in strategies])
    for player in range(3):
        (gradient,) = torch.autograd.grad(values[player], strategies[player], retain_graph=True)
        assert torch.allclose(gradient, deviations[player], atol=1e-12)


def test_payoffs_by_player_are_the_same_values_with_separate_graphs():
    game = random_general_sum_game((3, 2, 2), count=4, seed=17)
    strategies = [s.requires_grad_() for s in game.random_profile(seed=18)]
    separate = expected_payoffs_by_player(game.payoffs, strategies)
    stacked = expected_payoffs(game.payoffs, strategies)
    assert len(separate) == 3 and all(value.shape == (4,) for value in separate)
    assert torch.equal(torch.stack(separate, -1), stacked)
    for player in range(3):
        ours = torch.autograd.grad(separate[player].sum(), strategies, allow_unused=True, retain_graph=True)
        reference = torch.autograd.grad(stacked[:, player].sum(), strategies, retain_graph=True)
        for gradient, expected in zip(ours, reference):
            assert torch.allclose(gradient, expected, atol=1e-12)


@pytest.mark.parametrize("name", [name for name in MATRIX_GAMES if make_matrix_game(name).n_players == 2])
def test_nash_conv_is_zero_at_nashpy_equilibria_of_catalogue_games(name):
    payoffs = make_matrix_game(name).payoffs
    equilibria = nashpy_equilibria(payoffs[0].numpy(), payoffs[1].numpy())
    assert equilibria, f"nashpy found no equilibrium of {name}"
    rows = torch.tensor(np.array([row for row, _ in equilibria]))
    columns = torch.tensor(np.array([column for _, column in equilibria]))
    assert float(nash_conv(payoffs, [rows, columns]).abs().max()) <= 1e-12


def test_nash_conv_is_zero_at_nashpy_equilibria_of_random_games():
    general = random_general_sum_game((3, 4), count=20, seed=13).payoffs
    zero_sum = random_zero_sum_game((4, 3), count=20, seed=14).payoffs
    for payoffs in (general, zero_sum):
        rows, columns, games = [], [], []
        for index, game in enumerate(payoffs):
            for row, column in nashpy_equilibria(game[0].numpy(), game[1].numpy()):
                rows.append(row), columns.append(column), games.append(index)
        assert len(set(games)) == 20  # every game has an equilibrium
        strategies = [torch.tensor(np.array(rows)), torch.tensor(np.array(columns))]
        conv = nash_conv(payoffs[games], strategies)
        assert float(conv.abs().max()) <= 1e-9


def test_exploitability_of_zero_sum_games_is_the_mean_loss_to_best_responses():
    games = random_zero_sum_game((3, 3), count=30, seed=15)
    row, column = games.random_profile(seed=16)
    row_matrix = games.payoffs[:, 0]
    value = torch.einsum("ga,gab,gb->g", row, row_matrix, column)
    column_best = torch.einsum("ga,gab->gb", row, row_matrix).amin(-1)  # column minimizes x'Ay
    row_best = torch.einsum("gab,gb->ga", row_matrix, column).amax(-1)
    expected = ((row_best - value) + (value - column_best)) / 2
    assert torch.allclose(exploitability(games.payoffs, [row, column]), expected, atol=1e-12)


def test_distance_to_equilibrium():
    strategies = as_tensors([1.0, 0.0], [0.2, 0.3, 0.5])
    equilibrium = as_tensors([0.5, 0.5], [1 / 3, 1 / 3, 1 / 3])
    expected = math.sqrt(0.25 + 0.25 + (0.2 - 1 / 3) ** 2 + (0.3 - 1 / 3) ** 2 + (0.5 - 1 / 3) ** 2)
    assert float(distance_to_equilibrium(strategies, equilibrium)) == pytest.approx(expected, abs=1e-12)
    batched = [torch.stack([strategies[0], equilibrium[0]]), strategies[1]]  # batch of two rows
    assert distance_to_equilibrium(batched, equilibrium).tolist() == pytest.approx(
        [expected, float(torch.linalg.vector_norm(strategies[1] - equilibrium[1]))], abs=1e-12
    )
    with pytest.raises(ValueError, match="2 players but equilibrium has 1"):
        distance_to_equilibrium(strategies, equilibrium[:1])


def test_bad_profiles_are_refused():
    heads = as_tensors([1.0, 0.0])[0]
    with pytest.raises(TypeError, match="payoffs must be a torch.Tensor"):
        nash_conv(PRISONERS_DILEMMA.numpy(), [heads, heads])
    with pytest.raises(ValueError, match="cannot hold a game of 3 players"):
        nash_conv(PRISONERS_DILEMMA, [heads, heads, heads])
    with pytest.raises(ValueError, match=r"strategies\[1\] has 3 actions but the game gives that player 2"):
        expected_payoffs(PRISONERS_DILEMMA, [heads, torch.ones(3, dtype=torch.float64) / 3])
    with pytest.raises(ValueError, match="players axis"):
        nash_conv(torch.zeros(3, 2, 2, dtype=torch.float64), [heads, heads])


def test_best_responses_of_a_batch_are_per_game_float_one_hots():
    """Matching pennies at two profiles: the row player (payoff 1 on the diagonal) answers column
    (0.8, 0.2) with action 0 and (0.1, 0.9) with action 1; the responses keep the payoffs' dtype."""
    game = make_matrix_game("matching_pennies")
    row = torch.tensor([[0.5, 0.5], [0.5, 0.5]], dtype=torch.float64)
    column = torch.tensor([[0.8, 0.2], [0.1, 0.9]], dtype=torch.float64)
    responses = best_responses(game.payoffs, [row, column])
    assert responses[0].dtype == torch.float64
    assert responses[0].tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_a_one_player_game_is_a_game():
    payoffs = torch.tensor([[3.0, 5.0, 4.0]], dtype=torch.float64)  # (players = 1, A = 3)
    strategy = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64)
    assert float(nash_conv(payoffs, [strategy])) == pytest.approx(5.0 - (1.5 + 1.25 + 1.0))


def test_a_strategy_that_is_not_a_tensor_is_refused_by_name():
    game = make_matrix_game("matching_pennies")
    with pytest.raises(ValueError, match=r"strategies\[1\] must be a tensor"):
        nash_conv(game.payoffs, [torch.tensor([0.5, 0.5], dtype=torch.float64), [0.5, 0.5]])
