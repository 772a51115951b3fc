"""MatrixGame, the catalogue and the random game generators (ascentrl.envs.matrix_games).

Truths used: the payoff tables of the textbook games, nashpy's equilibria (vertex enumeration)
for every two-player catalogue game, and NashConv = 0 (by definition of an equilibrium) for the
three-player one.
"""

from __future__ import annotations

import warnings

import nashpy
import numpy as np
import pytest
import torch

from ascentrl.envs import (
    MATRIX_GAMES,
    MatrixGame,
    make_matrix_game,
    random_general_sum_game,
    random_zero_sum_game,
)

CATALOGUE = (
    "prisoners_dilemma",
    "matching_pennies",
    "rock_paper_scissors",
    "biased_rock_paper_scissors",
    "stag_hunt",
    "chicken",
    "battle_of_the_sexes",
    "coordination",
    "shapley",
    "matching_pennies_3p",
)
ZERO_SUM = {"matching_pennies", "rock_paper_scissors", "biased_rock_paper_scissors"}


def test_accepts_numpy_torch_and_lists_alike():
    table = [[[3, 0], [5, 1]], [[3, 5], [0, 1]]]
    games = [MatrixGame(table), MatrixGame(np.array(table)), MatrixGame(torch.tensor(table))]
    for game in games:
        assert game.payoffs.dtype == torch.float64
        assert game.n_players == 2 and game.num_actions == (2, 2) and game.batch_shape == ()
        assert torch.equal(game.payoffs, games[0].payoffs)


@pytest.mark.parametrize(
    ("payoffs", "batch_dims", "message"),
    [
        (np.zeros((2, 2)), 0, r"must have shape \(\*batch, n_players, A_1, ..., A_n\)"),
        (np.zeros(5), 0, r"must have shape"),
        (np.zeros((4, 2, 2)), 1, r"must have shape .* 1 batch dimension"),
        (np.zeros((3, 2, 2)), 0, r"3 entries on its players axis .* but 2 action axes"),
        (np.zeros((2, 2, 2, 2)), 0, r"2 entries on its players axis .* but 3 action axes"),
        (np.zeros((5, 3, 2, 2)), 1, r"3 entries on its players axis \(dimension 1\)"),
        (np.zeros((2, 2, 0)), 0, "every player needs at least one action"),
        (np.array([[[1.0, np.nan], [0, 0]], [[0, 0], [0, 0]]]), 0, "must be finite"),
        (np.array([[[1.0, np.inf], [0, 0]], [[0, 0], [0, 0]]]), 0, "must be finite"),
    ],
)
def test_invalid_payoffs_say_what_is_wrong(payoffs, batch_dims, message):
    with pytest.raises(ValueError, match=message):
        MatrixGame(payoffs, batch_dims=batch_dims)


def test_invalid_types_and_arguments():
    with pytest.raises(TypeError, match="numeric"):
        MatrixGame(np.array([[["a", "b"]]]))
    with pytest.raises(TypeError, match="real"):
        MatrixGame(torch.zeros(2, 2, 2, dtype=torch.complex64))
    with pytest.raises(ValueError, match="batch_dims must be an int >= 0"):
        MatrixGame(np.zeros((2, 2, 2)), batch_dims=-1)
    with pytest.raises(ValueError, match=r"action_names must give \[2, 2\] names"):
        MatrixGame(np.zeros((2, 2, 2)), action_names=[("a", "b"), ("c",)])
    game = make_matrix_game("prisoners_dilemma")
    with pytest.raises(ValueError, match=r"one action per player within \(2, 2\)"):
        game.payoff((0, 2))
    with pytest.raises(ValueError, match=r"strategies\[1\] must have 2 probabilities"):
        game.nash_conv([[0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    with pytest.raises(ValueError, match="one strategy per player"):
        game.nash_conv([[0.5, 0.5]])


def test_catalogue_names():
    assert MATRIX_GAMES == CATALOGUE
    for name in CATALOGUE:
        game = make_matrix_game(name)
        assert game.name == name
        assert game.is_zero_sum() == (name in ZERO_SUM)
    with pytest.raises(ValueError, match="unknown matrix game 'poker'; choose one of prisoners_dilemma, "):
        make_matrix_game("poker")


def test_textbook_payoffs():
    dilemma = make_matrix_game("prisoners_dilemma")
    assert dilemma.action_names == (("cooperate", "defect"),) * 2
    assert dilemma.payoff((1, 0)).tolist() == [5.0, 0.0]  # the defector exploits the cooperator
    assert dilemma.payoff((1, 1)).tolist() == [1.0, 1.0]
    rps = make_matrix_game("rock_paper_scissors")
    assert rps.payoff((1, 0)).tolist() == [1.0, -1.0]  # paper beats rock
    assert rps.payoff((2, 2)).tolist() == [0.0, 0.0]
    pennies_3p = make_matrix_game("matching_pennies_3p")
    assert pennies_3p.num_actions == (2, 2, 2)
    # Player 1 matches 2, player 2 matches 3, player 3 mismatches player 1.
    assert pennies_3p.payoff((0, 0, 1)).tolist() == [1.0, -1.0, 1.0]


@pytest.mark.parametrize("name", [name for name in CATALOGUE if name != "matching_pennies_3p"])
def test_listed_equilibria_are_exactly_nashpys(name):
    game = make_matrix_game(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = list(nashpy.Game(game.payoffs[0].numpy(), game.payoffs[1].numpy()).vertex_enumeration())
    listed = [np.concatenate([p.numpy() for p in profile]) for profile in game.equilibria]
    found = [np.concatenate(profile) for profile in found]
    assert len(listed) == len({tuple(np.round(p, 9)) for p in found})
    for profile in found:
        assert min(np.abs(profile - other).max() for other in listed) <= 1e-9
    for profile in game.equilibria:
        assert float(game.nash_conv(profile)) <= 1e-12


def test_three_player_matching_pennies_equilibrium():
    game = make_matrix_game("matching_pennies_3p")
    (uniform,) = game.equilibria
    assert float(game.nash_conv(uniform)) == 0.0
    heads = [[1.0, 0.0]] * 3
    assert float(game.nash_conv(heads)) == pytest.approx(2.0)  # player 3 gains 2 by mismatching


def test_random_games_are_reproducible():
    first = random_zero_sum_game((3, 4), count=6, seed=3)
    again = random_zero_sum_game((3, 4), count=6, seed=3)
    other = random_zero_sum_game((3, 4), count=6, seed=4)
    assert first.payoffs.shape == (6, 2, 3, 4) and first.batch_dims == 1
    assert torch.equal(first.payoffs, again.payoffs)
    assert not torch.equal(first.payoffs, other.payoffs)
    assert first.is_zero_sum() and torch.equal(first.payoffs[:, 1], -first.payoffs[:, 0])

    general = random_general_sum_game((2, 3, 2), seed=5)
    assert general.payoffs.shape == (3, 2, 3, 2) and general.batch_shape == ()
    assert torch.equal(general.payoffs, random_general_sum_game((2, 3, 2), seed=5).payoffs)
    assert not general.is_zero_sum()
    single = random_zero_sum_game((3, 3), seed=0)
    assert single.payoffs.shape == (2, 3, 3)


def test_random_generator_arguments():
    with pytest.raises(ValueError, match="exactly 2 action counts"):
        random_zero_sum_game((2, 2, 2))
    with pytest.raises(ValueError, match="at least 2 action counts"):
        random_general_sum_game((3,))
    with pytest.raises(ValueError, match="action counts >= 1"):
        random_general_sum_game((3, 0))
    with pytest.raises(ValueError, match="count must be None or an int >= 1"):
        random_zero_sum_game(count=0)
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        random_zero_sum_game(seed=-1)


def test_random_profiles_are_seeded_points_of_the_simplex():
    game = random_general_sum_game((2, 3, 4), count=5, seed=0)
    profile = game.random_profile(count=7, seed=1)
    assert [tuple(s.shape) for s in profile] == [(7, 5, 2), (7, 5, 3), (7, 5, 4)]
    for strategy in profile:
        assert bool((strategy >= 0).all())
        assert torch.allclose(strategy.sum(-1), torch.ones(7, 5, dtype=torch.float64), atol=1e-12)
    assert all(torch.equal(a, b) for a, b in zip(profile, game.random_profile(count=7, seed=1)))
    assert not torch.equal(profile[0], game.random_profile(count=7, seed=2)[0])


def test_batched_metrics_equal_one_game_at_a_time():
    batch = random_general_sum_game((3, 2), count=4, seed=6)
    profile = batch.random_profile(seed=7)
    conv = batch.nash_conv(profile)
    values = batch.expected_payoffs(profile)
    for index in range(4):
        single = MatrixGame(batch.payoffs[index])
        strategies = [strategy[index] for strategy in profile]
        assert float(conv[index]) == pytest.approx(float(single.nash_conv(strategies)), abs=1e-12)
        assert torch.allclose(values[index], single.expected_payoffs(strategies), atol=1e-12)
