"""Equilibrium metrics away from equilibrium, where a metric that always answers 0 is wrong.

NashConv, exploitability and best responses are checked at nashpy's equilibria elsewhere
(``test_payoffs.py``); there a constant 0 passes. Here the profiles are *not* equilibria: nashpy's
equilibria moved towards a pure profile, and random interior profiles. The truth is nashpy's own
payoff evaluation ``Game[x, y]``: each player's best deviation value is the largest of its pure
actions' payoffs ``Game[e_a, y]`` (resp. ``Game[x, e_b]``), and NashConv is the sum of the gains
over ``Game[x, y]``. Every case asserts the independent NashConv is clearly positive (≥ 0.05), so
the checks cannot pass vacuously. Float64, tolerance 1e-12.
"""

from __future__ import annotations

import warnings

import nashpy
import numpy as np
import pytest
import torch

from ascentrl.envs import MATRIX_GAMES, make_matrix_game, random_general_sum_game
from ascentrl.games import best_response_values, best_responses, exploitability, nash_conv

TOLERANCE = 1e-12
TWO_PLAYER_GAMES = [name for name in MATRIX_GAMES if make_matrix_game(name).n_players == 2]


def _nashpy_gains(row: np.ndarray, column: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(best deviation values, payoffs at (x, y)) of both players, by nashpy's payoff evaluation."""
    game = nashpy.Game(row, column)
    values = np.asarray(game[x, y], dtype=float)
    row_best = max(game[np.eye(len(x))[a], y][0] for a in range(len(x)))
    column_best = max(game[x, np.eye(len(y))[b]][1] for b in range(len(y)))
    return np.array([row_best, column_best]), values


def _non_equilibria(row: np.ndarray, column: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each nashpy equilibrium mixed 40% towards a pure profile, plus two random interior profiles."""
    generator = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nashpy warns on degenerate games
        equilibria = list(nashpy.Game(row, column).vertex_enumeration())
    profiles = []
    for x, y in equilibria:
        for pure_row, pure_column in ((0, row.shape[1] - 1), (row.shape[0] - 1, 0)):
            profiles.append((0.6 * x + 0.4 * np.eye(len(x))[pure_row], 0.6 * y + 0.4 * np.eye(len(y))[pure_column]))
    for _ in range(2):
        profiles.append((generator.dirichlet(np.ones(row.shape[0])), generator.dirichlet(np.ones(row.shape[1]))))
    return profiles


def _check(payoffs: torch.Tensor, seed: int) -> int:
    """Check every metric at the non-equilibria of one game; returns how many had NashConv ≥ 0.05."""
    row, column = payoffs[0].numpy(), payoffs[1].numpy()
    positive = 0
    for x, y in _non_equilibria(row, column, seed):
        best, values = _nashpy_gains(row, column, x, y)
        expected = float((best - values).sum())
        strategies = [torch.tensor(x), torch.tensor(y)]
        assert float(nash_conv(payoffs, strategies)) == pytest.approx(expected, abs=TOLERANCE)
        assert float(exploitability(payoffs, strategies)) == pytest.approx(expected / 2, abs=TOLERANCE)
        assert best_response_values(payoffs, strategies).tolist() == pytest.approx(best.tolist(), abs=TOLERANCE)
        # A best response earns the best deviation value in nashpy's evaluation.
        responses = [r.numpy().astype(float) for r in best_responses(payoffs, strategies)]
        game = nashpy.Game(row, column)
        assert game[responses[0], y][0] == pytest.approx(best[0], abs=TOLERANCE)
        assert game[x, responses[1]][1] == pytest.approx(best[1], abs=TOLERANCE)
        positive += expected >= 0.05
    return positive


@pytest.mark.parametrize("name", TWO_PLAYER_GAMES)
def test_nash_conv_away_from_the_equilibria_of_catalogue_games(name):
    payoffs = make_matrix_game(name).payoffs.double()
    assert _check(payoffs, seed=0) >= 2


def test_nash_conv_away_from_the_equilibria_of_random_general_sum_games():
    positive = 0
    for seed in range(4):
        payoffs = random_general_sum_game((3, 4), seed=seed).payoffs.double()
        positive += _check(payoffs, seed)
    assert positive >= 8


def test_nash_conv_of_rock_paper_scissors_by_hand():
    """x = (1/2, 1/2, 0) against y = (1/3, 1/3, 1/3): the row player earns 0 and cannot gain (every
    action earns 0 against uniform); the column player's best reply is paper, earning 1/2 against 0
    for y. NashConv = 1/2; a profile pushed to pure rock vs pure scissors: row gains 0, column 2."""
    game = make_matrix_game("rock_paper_scissors")
    payoffs = game.payoffs.double()
    half = [torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64), torch.full((3,), 1 / 3, dtype=torch.float64)]
    assert float(nash_conv(payoffs, half)) == pytest.approx(0.5, abs=TOLERANCE)
    rock, scissors = torch.eye(3, dtype=torch.float64)[0], torch.eye(3, dtype=torch.float64)[2]
    assert float(nash_conv(payoffs, [rock, scissors])) == pytest.approx(2.0, abs=TOLERANCE)
    assert best_responses(payoffs, [rock, scissors])[1].tolist() == [0.0, 1.0, 0.0]
