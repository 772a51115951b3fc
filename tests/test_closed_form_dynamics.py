"""The closed-form dynamics on matrix games (ascentrl.games.matrix_dynamics, matrix_gradients).

Truths used: the autograd path of :func:`ascentrl.agents.play` (``closed_form=False``), which
differentiates the payoff closure and steps the players' own ``Ascent`` optimizers — whole
trajectories, final parameters and optimizer state must agree to 1e-12; and the dense game Jacobian
``J = ∂g/∂θ`` from ``torch.autograd.functional.jacobian`` of the gradient map, against which the
closed-form Hessian products (derived in the module docstring) are checked directly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ascentrl.agents import MatrixGamePlayer, play
from ascentrl.envs import MatrixGame, make_matrix_game, random_general_sum_game
from ascentrl.games import DYNAMICS, ClosedFormDynamics, make_dynamics
from ascentrl.games.matrix_gradients import MatrixGameGradients

TOLERANCE = 1e-12
GAMES = {
    "matching_pennies": make_matrix_game("matching_pennies"),
    "shapley": make_matrix_game("shapley"),
    "three_player_pennies": make_matrix_game("matching_pennies_3p"),
    "two_by_three": random_general_sum_game((2, 3), seed=3),
    "three_player_2x3x4": random_general_sum_game((2, 3, 4), seed=4),
    "batch_of_4x2": random_general_sum_game((4, 2), count=5, seed=5),
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")

def players_for(game: MatrixGame, parameterization: str, seed: int = 7, **ascent_options) -> list[MatrixGamePlayer]:
    return [MatrixGamePlayer(initial_strategy=s, parameterization=parameterization, **ascent_options)
            for s in game.random_profile(seed=seed)]


def both_paths(game: MatrixGame, method: str, parameterization: str, steps: int, *, player_options=None, **options):
    """The same run twice: closed form and autograd; returns both trajectories and both player lists."""
    runs = []
    for closed_form in (True, False):
        players = players_for(game, parameterization, **(player_options or {"lr": 0.2}))
        runs.append((play(game, players, method=method, steps=steps, closed_form=closed_form, **options), players))
    return runs


def assert_same_runs(runs) -> None:
    (closed, closed_players), (autograd, autograd_players) = runs
    assert closed.closed_form and not autograd.closed_form
    for ours, reference in zip(closed.strategies, autograd.strategies):
        assert ours.shape == reference.shape
        assert torch.allclose(ours, reference, atol=TOLERANCE, rtol=0)  # every step, every entry
    assert torch.allclose(closed.nash_conv, autograd.nash_conv, atol=TOLERANCE, rtol=0)
    for ours, reference in zip(closed_players, autograd_players):
        assert torch.allclose(ours.parameter, reference.parameter, atol=TOLERANCE, rtol=0)
        assert ours.optimizer.steps == reference.optimizer.steps
        ours_stats, reference_stats = ours.optimizer.last_stats, reference.optimizer.last_stats
        assert ours_stats.step == reference_stats.step and ours_stats.lr == reference_stats.lr
        assert ours_stats.grad_norm == pytest.approx(reference_stats.grad_norm, abs=1e-10)
        buffer = ours.optimizer.state[ours.parameter].get("momentum_buffer")
        reference_buffer = reference.optimizer.state[reference.parameter].get("momentum_buffer")
        assert (buffer is None) == (reference_buffer is None)
        if buffer is not None:
            assert torch.allclose(buffer, reference_buffer, atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("parameterization", ["simplex", "softmax"])
@pytest.mark.parametrize("method", list(DYNAMICS))
@pytest.mark.parametrize("name", list(GAMES))
def test_closed_form_equals_autograd_step_by_step(name, method, parameterization):
    game = GAMES[name]
    if method == "lola" and game.n_players != 2:
        pytest.skip("LOLA is defined for two players")
    assert_same_runs(both_paths(game, method, parameterization, steps=120))


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("sga", {"alignment": False, "adjustment": 0.5}),
        ("sga", {"alignment_epsilon": 0.0}),
        ("consensus", {"consensus_weight": 0.3}),
        ("lola", {"lookahead": 0.2}),
        ("extragradient", {"extrapolation_lr": 0.35}),
        ("optimistic", {"extrapolation_lr": 0.35}),
    ],
)
def test_method_options_act_the_same(method, options):
    for parameterization in ("simplex", "softmax"):
        assert_same_runs(both_paths(GAMES["batch_of_4x2"], method, parameterization, steps=60, **options))


@pytest.mark.parametrize("method", ["extragradient", "optimistic"])
def test_two_step_sizes_with_momentum_act_exactly_as_ascent(method):
    for parameterization in ("simplex", "softmax"):
        runs = both_paths(GAMES["two_by_three"], method, parameterization, steps=40,
                          player_options={"lr": 0.1, "momentum": 0.5}, extrapolation_lr=0.3)
        assert_same_runs(runs)


@pytest.mark.parametrize(
    "ascent_options",
    [
        {"lr": 0.2, "momentum": 0.5},
        {"lr": 0.1, "momentum": 0.9, "nesterov": True},
        {"lr": 0.1, "momentum": 0.5, "dampening": 0.3},
        {"lr": 0.2, "weight_decay": 0.1},
        {"lr": 0.2, "momentum": 0.5, "weight_decay": 0.1, "decoupled_weight_decay": True},
    ],
)
@pytest.mark.parametrize("method", ["simultaneous", "alternating", "extragradient", "sga"])
def test_ascent_options_act_exactly_as_ascent(method, ascent_options):
    for parameterization in ("simplex", "softmax"):
        runs = both_paths(GAMES["two_by_three"], method, parameterization, steps=40, player_options=ascent_options)
        assert_same_runs(runs)


@pytest.mark.parametrize("method", ["simultaneous", "optimistic", "consensus"])
def test_players_with_their_own_learning_rates(method):
    game = GAMES["three_player_2x3x4"]
    runs = []
    for closed_form in (True, False):
        players = [MatrixGamePlayer(initial_strategy=s, parameterization="simplex", lr=lr, momentum=0.3)
                   for s, lr in zip(game.random_profile(seed=2), (0.05, 0.2, 0.4))]
        runs.append((play(game, players, method=method, steps=50, closed_form=closed_form), players))
    assert_same_runs(runs)


def test_a_second_run_continues_from_the_optimizers_state():
    game = GAMES["shapley"]
    runs = []
    for closed_form in (True, False):
        players = players_for(game, "softmax", lr=0.1, momentum=0.8)
        play(game, players, method="optimistic", steps=25, closed_form=False)  # momentum buffers now exist
        runs.append((play(game, players, method="optimistic", steps=25, closed_form=closed_form), players))
    assert_same_runs(runs)


def test_a_hand_set_start_off_the_simplex():
    """x = θ − mean(θ) + 1/A off the simplex's affine hull (the closed form otherwise reads x = θ)."""
    game = GAMES["two_by_three"]
    runs = []
    for closed_form in (True, False):
        players = players_for(game, "simplex", lr=0.2)
        with torch.no_grad():
            players[1].parameter.copy_(torch.tensor([0.9, 0.5, -0.1], dtype=torch.float64))
        runs.append((play(game, players, method="alternating", steps=20, closed_form=closed_form), players))
    assert_same_runs(runs)
    assert runs[0][0].strategies[1][0].tolist() == pytest.approx([0.8, 0.4, -0.2], abs=1e-15)


def test_many_starts_of_one_game():
    game = make_matrix_game("rock_paper_scissors")
    runs = []
    for closed_form in (True, False):
        players = [MatrixGamePlayer(initial_strategy=s, parameterization="simplex", lr=0.3)
                   for s in game.random_profile(count=4, seed=3)]
        runs.append((play(game, players, method="sga", steps=60, closed_form=closed_form), players))
    assert_same_runs(runs)


@pytest.mark.parametrize(
    ("player_options", "reason"),
    [
        ({"adaptive": "adam"}, "adaptive='adam'"),
        ({"clip_norm": 1.0}, "clip_norm=1.0"),
        ({"escape": "noise"}, "escape strategy"),
        ({"track_update_norm": True}, "tracks update norms"),
    ],
)
def test_settings_outside_the_closed_form_run_on_autograd(player_options, reason):
    game = GAMES["matching_pennies"]
    players = players_for(game, "simplex", lr=0.1, **player_options)
    assert not play(game, players, method="simultaneous", steps=3).closed_form
    with pytest.raises(ValueError, match=f"closed_form=True, but .*optimizers\\[0\\] .*{reason}"):
        play(game, players_for(game, "simplex", lr=0.1, **player_options), method="simultaneous", steps=3,
             closed_form=True)


def test_games_too_large_for_the_operator_run_on_autograd():
    game = random_general_sum_game((17, 17, 17, 17), seed=1)  # (4·17)^4 > 2^24 operator entries
    players = players_for(game, "softmax", lr=0.1)
    assert not play(game, players, method="simultaneous", steps=1).closed_form
    with pytest.raises(ValueError, match="too large: its Hessian-block operator would hold 21,381,376 entries"):
        play(game, players, method="simultaneous", steps=1, closed_form=True)


def test_players_with_different_parameterizations_run_on_autograd():
    game = GAMES["matching_pennies"]
    players = [MatrixGamePlayer(2, parameterization="simplex"), MatrixGamePlayer(2, parameterization="softmax")]
    assert not play(game, players, method="sga", steps=3).closed_form
    with pytest.raises(ValueError, match="parameterizations"):
        play(game, players, method="sga", steps=3, closed_form=True)
    with pytest.raises(ValueError, match="closed_form must be None, True or False"):
        play(game, players, closed_form="yes")


# --------------------------------------------------------- the Hessian products, against autograd's J
def dense_game_jacobian(game: MatrixGame, parameters: list[torch.Tensor], parameterization: str):
    """``g(θ)`` and ``J = ∂g/∂θ`` over the flattened parameters, by autograd (one game, no batch)."""
    sizes = [p.numel() for p in parameters]

    def strategy(theta: torch.Tensor) -> torch.Tensor:
        return torch.softmax(theta, -1) if parameterization == "softmax" else theta - theta.mean() + 1 / len(theta)

    def gradient(flat: torch.Tensor) -> torch.Tensor:
        thetas = list(flat.split(sizes))
        values = game.expected_payoffs_by_player([strategy(t) for t in thetas])
        grads = [torch.autograd.grad(value, theta, create_graph=True)[0] for value, theta in zip(values, thetas)]
        return torch.cat(grads)

    flat = torch.cat(parameters).requires_grad_(True)
    return gradient(flat).detach(), torch.autograd.functional.jacobian(gradient, flat)


@pytest.mark.parametrize("parameterization", ["simplex", "softmax"])
@pytest.mark.parametrize("name", ["two_by_three", "three_player_2x3x4"])
def test_hessian_products_equal_the_dense_jacobian(name, parameterization):
    game = GAMES[name]
    parameters = [s.log() if parameterization == "softmax" else s for s in game.random_profile(seed=11)]
    gradient, jacobian = dense_game_jacobian(game, parameters, parameterization)
    gradients = MatrixGameGradients(game.payoffs, game.num_actions, (), softmax=parameterization == "softmax",
                                    dtype=torch.float64)
    theta = gradients.stack(parameters)
    strategies = gradients.strategies(theta)
    closed_gradient = gradients.gradient(strategies)

    def flatten(stacked):
        return torch.from_numpy(np.concatenate(gradients.unstack(stacked)))

    assert torch.allclose(flatten(closed_gradient), gradient, atol=1e-13, rtol=0)
    transposed, antisymmetric = gradients.sga_products(strategies, closed_gradient)
    assert torch.allclose(flatten(transposed), jacobian.T @ gradient, atol=1e-12, rtol=0)
    assert torch.allclose(flatten(antisymmetric), (jacobian.T - jacobian) @ gradient / 2, atol=1e-12, rtol=0)
    consensus = gradients.transposed_hessian_product(strategies, closed_gradient)
    assert torch.allclose(flatten(consensus), jacobian.T @ gradient, atol=1e-12, rtol=0)


@pytest.mark.parametrize("parameterization", ["simplex", "softmax"])
def test_lola_shaping_equals_autograd(parameterization):
    """Player p's shaping ∇_{θ_p}⟨stop(∇_{θ_o} u_p), ∇_{θ_o} u_o⟩, by autograd, per player."""
    game = GAMES["two_by_three"]
    players = players_for(game, parameterization, seed=12)
    parameters = [player.parameter for player in players]
    values = game.expected_payoffs_by_player([player.strategy() for player in players])
    expected = []
    for player, opponent in ((0, 1), (1, 0)):
        own_opponent = torch.autograd.grad(values[opponent], parameters[opponent], create_graph=True)[0]
        cross = torch.autograd.grad(values[player], parameters[opponent], retain_graph=True)[0]
        expected.append(torch.autograd.grad((own_opponent * cross).sum(), parameters[player], retain_graph=True)[0])
    dynamics = make_dynamics("lola", parameters, lambda: values, [player.optimizer for player in players])
    closed = ClosedFormDynamics(dynamics, game.payoffs, [parameterization] * 2)
    shaping = closed.game.lola_shaping(closed.game.strategies(closed._theta))
    for ours, reference in zip(closed.game.unstack(shaping), expected):
        assert torch.allclose(torch.from_numpy(ours), reference, atol=1e-13, rtol=0)
