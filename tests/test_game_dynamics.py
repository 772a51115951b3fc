"""Game dynamics (ascentrl.games.dynamics) and the matrix-game players that use them.

Truths used:
* one step of every dynamics worked out by hand on the bilinear game ``u_1 = x·y``,
  ``u_2 = −x·y`` (gradient ``g = (y, −x)``, game Jacobian ``J = [[0, 1], [−1, 0]]``, so
  ``Jᵀg = Aᵀg = (x, y)``), on two games with a symmetric part (where the SGA sign rule and the
  difference between ``J`` and ``Jᵀ`` show), and on matching pennies / the prisoner's dilemma
  with simplex players;
* the closed form of simultaneous ascent on ``x·y``: ``‖θ_t‖² = (1 + η²)^t ‖θ_0‖²``;
* nashpy's equilibria of the catalogue games;
* torch.optim.SGD(maximize=True) as a second ascending optimizer.

Step sizes are those of plain gradient ascent (``Ascent`` with default options), so a step is
``θ ← θ + η · direction``.
"""

from __future__ import annotations

import warnings

import nashpy
import numpy as np
import pytest
import torch
from torch import Tensor

from ascentrl import Ascent
from ascentrl.agents import MatrixGamePlayer, play
from ascentrl.envs import MatrixGame, make_matrix_game, random_general_sum_game
from ascentrl.games import DYNAMICS, make_dynamics

LR = 0.1


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def scalar_players(*values: float) -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.tensor(value, dtype=torch.float64)) for value in values]


def ascents(players, lr: float = LR) -> list[Ascent]:
    """One plain gradient-ascent optimizer per player (a player is a tensor or a list of them)."""
    return [Ascent([player] if isinstance(player, Tensor) else player, lr=lr) for player in players]


def bilinear(x: Tensor, y: Tensor):
    return lambda: [x * y, -x * y]


def values_after_steps(method: str, objectives_of, start, steps: int = 1, **options) -> list[float]:
    players = scalar_players(*start)
    dynamics = make_dynamics(method, players, objectives_of(*players), ascents(players), **options)
    for _ in range(steps):
        dynamics.step()
    return [p.item() for p in players]


# From (x, y) = (1, 0.5) with η = 0.1; derivations in the comments.
BILINEAR_STEPS = [
    ("simultaneous", {}, 1, [1.05, 0.4]),  # (x + ηy, y − ηx)
    ("alternating", {}, 1, [1.05, 0.395]),  # y answers the new x: 0.5 − 0.1 · 1.05
    ("optimistic", {}, 1, [1.05, 0.4]),  # no previous gradient: a plain step
    ("optimistic", {}, 2, [1.08, 0.29]),  # x₁ + η(2y₁ − y₀), y₁ − η(2x₁ − x₀)
    ("extragradient", {}, 1, [1.04, 0.395]),  # look-ahead (1.05, 0.4), then x + η·0.4, y − η·1.05
    ("sga", {}, 1, [0.95, 0.35]),  # λ = +1 (⟨g, Jᵀg⟩ = 0, score = ε): (y − x, −x − y)
    ("sga", {"adjustment": 0.5}, 1, [1.0, 0.375]),  # (y − x/2, −x − y/2)
    ("consensus", {"consensus_weight": 0.5}, 1, [1.0, 0.375]),  # g − γJᵀg = (y − γx, −x − γy)
    ("lola", {"lookahead": 0.3}, 1, [1.02, 0.385]),  # (y − ηₗx, −x − ηₗy)
]


@pytest.mark.parametrize(("method", "options", "steps", "expected"), BILINEAR_STEPS)
def test_steps_on_the_bilinear_game(method, options, steps, expected):
    assert values_after_steps(method, bilinear, (1.0, 0.5), steps, **options) == pytest.approx(expected, abs=1e-12)


def quadratic(curvature: float):
    """``u_1 = c x²/2 + x y``, ``u_2 = c y²/2 − x y``: ``J = [[c, 1], [−1, c]]``, ``Aᵀg = (x − cy, y + cx)``."""
    return lambda x, y: lambda: [curvature * x**2 / 2 + x * y, curvature * y**2 / 2 - x * y]


@pytest.mark.parametrize(
    ("curvature", "start", "options", "expected"),
    [
        # score = −⟨g, Jᵀg⟩⟨Aᵀg, Jᵀg⟩/d + ε = −c(c²+1)²r⁴/2 + 0.1 with d = 2 parameters.
        (1.0, (1.0, 0.0), {}, [1.2, 0.0]),  # score −1.9: λ = −1, direction g + Aᵀg = (2, 0)
        (-1.0, (1.0, 0.0), {}, [0.8, 0.0]),  # score +2.1: λ = +1, direction g − Aᵀg = (−2, 0)
        (1.0, (1.0, 0.0), {"alignment": False}, [1.0, -0.2]),  # λ = +1: g − Aᵀg = (0, −2)
        (1.0, (0.3, 0.0), {}, [0.3, -0.06]),  # score −0.0162 + 0.1 > 0: λ = +1, (0, −2x)
        (1.0, (0.3, 0.0), {"alignment_epsilon": 0.01}, [0.36, 0.0]),  # now score < 0: λ = −1, (2x, 0)
    ],
)
def test_sga_sign_alignment_rule(curvature, start, options, expected):
    assert values_after_steps("sga", quadratic(curvature), start, **options) == pytest.approx(expected, abs=1e-12)


def cubic(x: Tensor, y: Tensor):
    """``u_1 = x y``, ``u_2 = x y²``: ``g = (y, 2xy)``, ``J = [[0, 1], [2y, 2x]]``; at (1, 1)
    ``g = (1, 2)``, ``Jᵀg = (4, 5)``, ``Jg = (2, 6)``, ``Aᵀg = (1, −0.5)``."""
    return lambda: [x * y, x * y**2]


@pytest.mark.parametrize(
    ("method", "options", "expected"),
    [
        ("consensus", {"consensus_weight": 0.5}, [0.9, 0.95]),  # g − Jᵀg/2 = (−1, −0.5)
        # ⟨g, Jᵀg⟩ = 14, ⟨Aᵀg, Jᵀg⟩ = 1.5: score < 0, λ = −1, g + Aᵀg = (2, 1.5)
        ("sga", {}, [1.2, 1.15]),
        ("sga", {"alignment": False}, [1.0, 1.25]),  # g − Aᵀg = (0, 2.5)
        # Player 1: y + ηₗ ∂ₓ[stop(∂_y u_1) · ∂_y u_2] = y + ηₗ · 2 x₀ y = 1 + 0.5 · 2.
        # Player 2: 2xy + ηₗ ∂_y[stop(∂ₓ u_2) · ∂ₓ u_1] = 2 + ηₗ · y₀² = 2 + 0.5.
        ("lola", {"lookahead": 0.5}, [1.2, 1.25]),
    ],
)
def test_second_order_terms_on_a_general_sum_game(method, options, expected):
    assert values_after_steps(method, cubic, (1.0, 1.0), **options) == pytest.approx(
        expected, abs=1e-12
    )


def test_lola_holds_the_opponents_gradient_of_my_payoff_constant():
    # Without the stop-gradient player 1's shaping would be ∂ₓ[x · 2xy] = 4xy = 2 at (1, 0.5),
    # not 2y = 1; player 2's would be ∂_y[y³] = 0.75, not y² = 0.25.
    assert values_after_steps("lola", cubic, (1.0, 0.5), lookahead=0.5) == pytest.approx(
        [1.0 + LR * (0.5 + 0.5 * 1.0), 0.5 + LR * (1.0 + 0.5 * 0.25)], abs=1e-12
    )


def test_simultaneous_ascent_spirals_out_of_the_bilinear_game_exactly():
    players = scalar_players(1.0, 0.5)
    dynamics = make_dynamics("simultaneous", players, bilinear(*players), ascents(players))
    for _ in range(100):
        dynamics.step()
    radius_squared = sum(p.item() ** 2 for p in players)
    assert radius_squared == pytest.approx(1.25 * (1 + LR**2) ** 100, rel=1e-12)


@pytest.mark.parametrize(("method", "options"), [("sga", {}), ("consensus", {}), ("lola", {"lookahead": 1.0})])
def test_sga_consensus_and_lola_converge_on_the_bilinear_game(method, options):
    # Each step is the linear map [[1 − η, η], [−η, 1 − η]] of modulus √0.82 ≈ 0.906.
    players = scalar_players(1.0, 0.5)
    dynamics = make_dynamics(method, players, bilinear(*players), ascents(players), **options)
    radii = []
    for _ in range(250):
        dynamics.step()
        radii.append(torch.stack(list(players)).norm().item())
    assert all(later < earlier for earlier, later in zip(radii, radii[1:]))
    assert radii[-1] == pytest.approx(1.25**0.5 * 0.82 ** (250 / 2), rel=1e-9)


def polynomial_game(x: Tensor, y: Tensor) -> list[Tensor]:
    """A general-sum game of two 2-vectors with symmetric and antisymmetric Jacobian parts."""
    return [x[0] * y[1] - x[1] * y[0] + 0.3 * (x[0] * y[1]) ** 2, x[1] * y[0] - 0.5 * x[0] * y[0] + 0.2 * y[1] ** 3]


@pytest.mark.parametrize("method", sorted(DYNAMICS))
def test_players_may_hold_several_tensors(method):
    """Splitting a player's vector into tensors (as a network's layers are) changes nothing."""
    start = ([0.4, -0.3], [0.2, 0.5])
    whole = [torch.nn.Parameter(torch.tensor(values, dtype=torch.float64)) for values in start]
    dynamics = make_dynamics(method, whole, lambda: polynomial_game(*whole), ascents(whole))
    halves = [torch.nn.Parameter(torch.tensor(value, dtype=torch.float64)) for value in start[0]]
    other = torch.nn.Parameter(torch.tensor(start[1], dtype=torch.float64))
    split = make_dynamics(
        method, [halves, other], lambda: polynomial_game(torch.stack(halves), other), ascents([halves, other])
    )
    for _ in range(5):
        dynamics.step()
        split.step()
    assert torch.allclose(torch.stack(halves).detach(), whole[0].detach(), atol=1e-12, rtol=0)
    assert torch.allclose(other.detach(), whole[1].detach(), atol=1e-12, rtol=0)
    assert not torch.allclose(whole[0].detach(), torch.tensor(start[0], dtype=torch.float64))


def test_torch_optimizers_that_maximize_are_accepted():
    players = scalar_players(1.0, 0.5)
    optimizers = [torch.optim.SGD([player], lr=LR, maximize=True) for player in players]
    make_dynamics("extragradient", players, bilinear(*players), optimizers).step()
    assert [p.item() for p in players] == pytest.approx([1.04, 0.395], abs=1e-12)


def test_step_returns_the_objectives_before_the_step():
    players = scalar_players(1.0, 0.5)
    values = make_dynamics("sga", players, bilinear(*players), ascents(players)).step()
    assert values.tolist() == [0.5, -0.5]


# Matching pennies from x = (0.7, 0.3), y = (0.4, 0.6), η = 0.1. With simplex players the
# gradients are tangent: g_1 = (2y₀ − 1)(1, −1) = −0.2(1, −1), g_2 = −(2x₀ − 1)(1, −1) = −0.4(1, −1);
# J = [[0, M], [−M, 0]] with M = [[1, −1], [−1, 1]], so Jᵀg = Aᵀg = (0.8(1, −1), −0.4(1, −1)).
# Generally g_1 = (2y₀ − 1)(1, −1) and g_2 = −(2x₀ − 1)(1, −1).
PENNIES_STEPS = [
    ("simultaneous", {}, 1, [[0.68, 0.32], [0.36, 0.64]]),
    ("alternating", {}, 1, [[0.68, 0.32], [0.364, 0.636]]),  # g_2 at x₁ = (0.68, 0.32): −0.36(1, −1)
    # Second step along 2g₁ − g₀: (2·(−0.28) + 0.2)(1, −1) and (2·(−0.36) + 0.4)(1, −1).
    ("optimistic", {}, 2, [[0.644, 0.356], [0.328, 0.672]]),
    # Look-ahead (0.68, 0.32), (0.36, 0.64), whose gradients are −0.28(1, −1) and −0.36(1, −1).
    ("extragradient", {}, 1, [[0.672, 0.328], [0.364, 0.636]]),
    ("sga", {}, 1, [[0.6, 0.4], [0.4, 0.6]]),  # g − Aᵀg = (−1.0(1, −1), 0)
    ("consensus", {"consensus_weight": 0.5}, 1, [[0.64, 0.36], [0.38, 0.62]]),  # (−0.6, −0.2)(1, −1)
    # Player 1's shaping: ∂_θ₁⟨0.4(1, −1), −(θ₁₀ − θ₁₁)(1, −1)⟩ = −0.8(1, −1); player 2's:
    # ∂_θ₂⟨0.2(1, −1), (θ₂₀ − θ₂₁)(1, −1)⟩ = 0.4(1, −1). With ηₗ = 0.5: (−0.6, −0.2)(1, −1).
    ("lola", {"lookahead": 0.5}, 1, [[0.64, 0.36], [0.38, 0.62]]),
]


@pytest.mark.parametrize(("method", "options", "steps", "expected"), PENNIES_STEPS)
def test_steps_on_matching_pennies(method, options, steps, expected):
    players = [
        MatrixGamePlayer(initial_strategy=p, parameterization="simplex", lr=LR) for p in ([0.7, 0.3], [0.4, 0.6])
    ]
    trajectory = play(make_matrix_game("matching_pennies"), players, method=method, steps=steps, **options)
    assert [s.tolist() for s in trajectory.last_strategies] == [pytest.approx(e, abs=1e-12) for e in expected]


@pytest.mark.parametrize(
    ("method", "options", "expected"),
    [
        # A y = (1.5, 3): the uniform strategy plus 0.1·(1.5, 3), projected (τ = 0.225).
        ("simultaneous", {}, [0.425, 0.575]),
        # In the tangent space the game Jacobian [[0, M], [M, 0]] (M = P A P) is symmetric: no
        # rotation, so SGA is simultaneous ascent. (The raw gradients' normal components made
        # it look like one, and SGA cooperated.)
        ("sga", {}, [0.425, 0.575]),
        # g_1 = P A y = (−0.75, 0.75); shaping M ᵀ P Aᵀx = −0.25·[[1, −1], [−1, 1]](1.75, −1.75)
        # = (−0.875, 0.875): x = (0.5, 0.5) + 0.1·(−1.625, 1.625).
        ("lola", {"lookahead": 1.0}, [0.3375, 0.6625]),
    ],
)
def test_one_step_on_the_prisoners_dilemma_from_uniform(method, options, expected):
    players = [MatrixGamePlayer(2, parameterization="simplex", lr=LR) for _ in range(2)]
    trajectory = play(make_matrix_game("prisoners_dilemma"), players, method=method, steps=1, **options)
    for strategy in trajectory.last_strategies:
        assert strategy.tolist() == pytest.approx(expected, abs=1e-12)


# Six random games in which SGA's sign rule picks λ = −1 for some games (1 and 2) at some steps
# and never for the others, so a sign shared across the batch would show.
BATCH_GAMES = random_general_sum_game((3, 2), count=6, seed=1)
BATCH_PROFILE = BATCH_GAMES.random_profile(seed=101)


def play_batch(game, strategies, method, **options):
    players = [MatrixGamePlayer(initial_strategy=s, parameterization="simplex", lr=0.3) for s in strategies]
    return play(game, players, method=method, steps=15, **options)


def test_the_sga_sign_is_chosen_per_game():
    aligned = play_batch(BATCH_GAMES, BATCH_PROFILE, "sga")
    fixed_sign = play_batch(BATCH_GAMES, BATCH_PROFILE, "sga", alignment=False)
    differs = [not torch.equal(aligned.strategies[0][:, g], fixed_sign.strategies[0][:, g]) for g in range(6)]
    assert differs == [False, True, True, False, False, False]


@pytest.mark.parametrize("method", sorted(DYNAMICS))
def test_batched_runs_equal_runs_one_game_at_a_time(method):
    batched = play_batch(BATCH_GAMES, BATCH_PROFILE, method)
    for index in range(6):
        single = play_batch(MatrixGame(BATCH_GAMES.payoffs[index]), [s[index] for s in BATCH_PROFILE], method)
        for ours, reference in zip(batched.strategies, single.strategies):
            assert torch.allclose(ours[:, index], reference, atol=1e-12, rtol=0)


def nashpy_equilibrium(name: str) -> list[Tensor]:
    payoffs = make_matrix_game(name).payoffs.numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (equilibrium,) = nashpy.Game(payoffs[0], payoffs[1]).vertex_enumeration()
    return [torch.tensor(strategy) for strategy in equilibrium]


def play_from_random_starts(name: str, method: str, *, lr: float, steps: int, count: int = 3, **options):
    game = make_matrix_game(name)
    players = [
        MatrixGamePlayer(initial_strategy=s, parameterization="simplex", lr=lr)
        for s in game.random_profile(count=count, seed=1)
    ]
    return play(game, players, method=method, steps=steps, **options)


@pytest.mark.parametrize("name", ["matching_pennies", "rock_paper_scissors"])
def test_simultaneous_ascent_cycles_while_its_time_average_converges(name):
    steps = 1000
    trajectory = play_from_random_starts(name, "simultaneous", lr=0.1, steps=steps)
    assert float(trajectory.nash_conv[steps // 2 :].min()) >= 0.3  # the last iterate never settles
    equilibrium = nashpy_equilibrium(name)
    early = [s[: steps // 4 + 1].mean(0) for s in trajectory.strategies]
    game = make_matrix_game(name)
    assert bool((trajectory.average_nash_conv <= 0.02).all())
    assert bool((trajectory.average_nash_conv < game.nash_conv(early)).all())
    for average, target in zip(trajectory.average_strategies, equilibrium):
        assert float((average - target).abs().max()) <= 0.02


@pytest.mark.parametrize("method", ["optimistic", "extragradient"])
@pytest.mark.parametrize(
    ("name", "lr"), [("matching_pennies", 0.2), ("rock_paper_scissors", 0.2), ("biased_rock_paper_scissors", 0.5)]
)
def test_optimistic_and_extragradient_converge_in_the_last_iterate(method, name, lr):
    trajectory = play_from_random_starts(name, method, lr=lr, steps=400)
    assert float(trajectory.last_nash_conv.max()) <= 1e-6
    for strategy, target in zip(trajectory.last_strategies, nashpy_equilibrium(name)):
        assert float((strategy - target).abs().max()) <= 1e-6


@pytest.mark.parametrize("method", sorted(DYNAMICS))
def test_prisoners_dilemma_goes_to_defect_defect(method):
    trajectory = play_from_random_starts("prisoners_dilemma", method, lr=0.2, steps=60, count=4)
    defect = torch.tensor([0.0, 1.0], dtype=torch.float64)
    for strategy in trajectory.last_strategies:
        assert torch.allclose(strategy, defect.expand_as(strategy), atol=1e-12)
    assert float(trajectory.last_nash_conv.max()) <= 1e-12


@pytest.mark.parametrize("method", ["simultaneous", "optimistic", "extragradient", "sga"])
def test_stag_hunt_goes_to_the_pure_equilibrium_of_its_basin(method):
    # The mixed equilibrium P(stag) = 0.75 separates the basins of (stag, stag) and (hare, hare).
    starts = torch.tensor([[0.9, 0.1], [0.6, 0.4]], dtype=torch.float64)
    players = [MatrixGamePlayer(initial_strategy=starts, parameterization="simplex", lr=0.2) for _ in range(2)]
    game = make_matrix_game("stag_hunt")
    trajectory = play(game, players, method=method, steps=100)
    stag, hare = [1.0, 0.0], [0.0, 1.0]
    for strategy in trajectory.last_strategies:
        assert strategy.tolist() == [pytest.approx(stag, abs=1e-12), pytest.approx(hare, abs=1e-12)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        equilibria = list(nashpy.Game(*game.payoffs.numpy()).vertex_enumeration())
    found = [np.concatenate([s[run].numpy() for s in trajectory.last_strategies]) for run in range(2)]
    for profile in found:
        assert min(np.abs(profile - np.concatenate(e)).max() for e in equilibria) <= 1e-6


def test_documented_non_nash_fixed_points():
    """Genuine behaviour described in the dynamics module docstring, not a bug."""
    # Consensus with γ = 1 on coordination: in tangent coordinates J = [[0, 1], [1, 0]], so
    # g − Jᵀg = 0 at every symmetric profile, equilibrium or not.
    players = [MatrixGamePlayer(initial_strategy=[0.3, 0.7], parameterization="simplex", lr=0.2) for _ in range(2)]
    trajectory = play(make_matrix_game("coordination"), players, method="consensus", steps=5)
    assert [s.tolist() for s in trajectory.last_strategies] == [pytest.approx([0.3, 0.7], abs=1e-12)] * 2
    assert float(trajectory.last_nash_conv) == pytest.approx(2 * (0.7 - 0.58))  # both would play right
    # LOLA with a long look-ahead in chicken: each driver going straight "teaches" the other to
    # swerve, so (straight, straight) is a fixed point; with a short look-ahead it is left.
    for lookahead, stays in ((1.0, True), (0.05, False)):
        players = [MatrixGamePlayer(initial_strategy=[0.0, 1.0], parameterization="simplex", lr=0.2) for _ in range(2)]
        trajectory = play(make_matrix_game("chicken"), players, method="lola", steps=1, lookahead=lookahead)
        moved = float((trajectory.last_strategies[0] - torch.tensor([0.0, 1.0], dtype=torch.float64)).abs().max())
        assert (moved <= 1e-12) == stays


def test_documented_stalls_of_sga_and_consensus():
    """Genuine behaviour described in the dynamics module docstring, not a bug."""
    # SGA in Jordan's three-player matching pennies: at (tails, tails, heads) the sign rule picks
    # λ = −1 and every adjusted direction points out of the simplex or vanishes.
    start = ([0.0, 1.0], [0.0, 1.0], [1.0, 0.0])
    players = [MatrixGamePlayer(initial_strategy=p, parameterization="simplex", lr=0.2) for p in start]
    trajectory = play(make_matrix_game("matching_pennies_3p"), players, method="sga", steps=3)
    assert [s.tolist() for s in trajectory.last_strategies] == [pytest.approx(p, abs=1e-12) for p in start]
    assert float(trajectory.last_nash_conv) == pytest.approx(2.0)
    # Consensus in chicken with lr = 0.2: the consensus step lr·γ·‖J‖² = 5 overshoots, and the
    # iterates end in a two-cycle between profiles that are not equilibria.
    game = make_matrix_game("chicken")
    players = [MatrixGamePlayer(initial_strategy=s, parameterization="simplex", lr=0.2) for s in game.random_profile()]
    trajectory = play(game, players, method="consensus", steps=40)
    for strategy in trajectory.strategies:
        assert torch.allclose(strategy[-1], strategy[-3], atol=1e-12)
        assert not torch.allclose(strategy[-1], strategy[-2], atol=1e-3)
    assert float(trajectory.nash_conv[-2:].min()) >= 1.0


def test_play_records_the_trajectory():
    trajectory = play_from_random_starts("rock_paper_scissors", "simultaneous", lr=0.1, steps=7, count=2)
    game = make_matrix_game("rock_paper_scissors")
    assert trajectory.steps == 7 and trajectory.method == "simultaneous"
    assert [tuple(s.shape) for s in trajectory.strategies] == [(8, 2, 3), (8, 2, 3)]
    assert torch.allclose(trajectory.strategies[0][0], game.random_profile(count=2, seed=1)[0], atol=1e-15)
    assert torch.allclose(trajectory.nash_conv, game.nash_conv(trajectory.strategies), atol=1e-15)
    assert torch.allclose(trajectory.payoffs, game.expected_payoffs(trajectory.strategies), atol=1e-15)
    assert torch.allclose(trajectory.average_strategies[1], trajectory.strategies[1].mean(0), atol=1e-15)


def test_softmax_players_ascend_through_the_logits():
    # From logits 0 against y = (0.4, 0.6): ∇_logits u_1 = x ⊙ (d − ⟨x, d⟩) with d = A y = (−0.2, 0.2).
    players = [MatrixGamePlayer(2, lr=LR), MatrixGamePlayer(initial_strategy=[0.4, 0.6], lr=LR)]
    play(make_matrix_game("matching_pennies"), players, method="alternating", steps=1)
    logits = players[0].parameter.detach() - torch.tensor(0.5, dtype=torch.float64).log()
    assert logits.tolist() == pytest.approx([-0.01, 0.01], abs=1e-12)
    assert players[0].strategy().sum().item() == pytest.approx(1.0)


def test_bad_dynamics_arguments():
    x, y = scalar_players(1.0, 0.5)
    objectives = bilinear(x, y)
    with pytest.raises(ValueError, match="method must be one of"):
        make_dynamics("gradient_descent", [x, y], objectives, ascents([x, y]))
    with pytest.raises(ValueError, match="would descend"):
        make_dynamics("simultaneous", [x, y], objectives, [torch.optim.SGD([x], lr=0.1), Ascent([y], lr=0.1)])
    with pytest.raises(ValueError, match=r"optimizers\[0\] must hold exactly the parameters of players\[0\]"):
        make_dynamics("simultaneous", [x, y], objectives, [Ascent([y], lr=0.1), Ascent([x], lr=0.1)])
    with pytest.raises(ValueError, match="leaf tensors with requires_grad=True"):
        make_dynamics("simultaneous", [x * 2, y], objectives, ascents([x, y]))
    z = scalar_players(0.0)[0]
    with pytest.raises(ValueError, match="needs 2 players, got 3"):
        make_dynamics("lola", [x, y, z], lambda: [x, y, z], ascents([x, y, z]))
    for name in ("consensus_weight", "lookahead", "adjustment"):
        method = {"consensus_weight": "consensus", "lookahead": "lola", "adjustment": "sga"}[name]
        with pytest.raises(ValueError, match=f"{name} must be a finite number >= 0"):
            make_dynamics(method, [x, y], objectives, ascents([x, y]), **{name: -1.0})
    dynamics = make_dynamics("simultaneous", [x, y], lambda: [x * y], ascents([x, y]))
    with pytest.raises(ValueError, match="returned 1 values for 2 players"):
        dynamics.step()


def test_bad_player_and_play_arguments():
    with pytest.raises(ValueError, match="parameterization must be one of"):
        MatrixGamePlayer(2, parameterization="logits")
    with pytest.raises(ValueError, match="strictly positive"):
        MatrixGamePlayer(initial_strategy=[1.0, 0.0])
    with pytest.raises(ValueError, match="must hold probabilities"):
        MatrixGamePlayer(initial_strategy=[0.7, 0.7], parameterization="simplex")
    game = make_matrix_game("matching_pennies")
    players = [MatrixGamePlayer(2), MatrixGamePlayer(2)]
    with pytest.raises(ValueError, match="steps must be an int >= 1"):
        play(game, players, steps=0)
    with pytest.raises(ValueError, match="method must be one of"):
        play(game, players, method="fictitious_play")
    with pytest.raises(ValueError, match=r"players\[1\] has 3 actions"):
        play(game, [MatrixGamePlayer(2), MatrixGamePlayer(3)])
    batched = [MatrixGamePlayer(initial_strategy=[[0.5, 0.5]] * 2), MatrixGamePlayer(2)]
    with pytest.raises(ValueError, match=r"players\[1\] holds strategies of batch shape \(\)"):
        play(game, batched)
