"""The solvers of ascentrl.games.extensive: CFR against OpenSpiel's, ascent dynamics against known equilibria.

Truths used: OpenSpiel's Python CFRSolver and CFRPlusSolver (iterate by iterate), Kuhn poker's
game value −1/18 and its equilibria (Kuhn 1950: player 0 bets the Jack with some α ∈ [0, 1/3],
the King with 3α, never the Queen, and calls a bet with the Queen with α + 1/3; player 1's
equilibrium is unique), OpenSpiel's ``exploitability.nash_conv`` of the learned policies
(agreement to 1e-9), the definition of a proximal step (no feasible plan scores higher), and the
sign convention: one ascent step raises each player's own payoff against the other's old policy;
and uniform play's NashConv, which ascentrl.games' generic dynamics with Ascent must cut by an
order of magnitude on softmax policies through the differentiable payoffs. Convergence speed is
measured by ``scripts/bench_extensive_games.py``, never here.
"""

from __future__ import annotations

import numpy as np
import pyspiel
import pytest
import torch
from harness.openspiel_policies import to_tabular_policy
from open_spiel.python.algorithms import cfr as openspiel_cfr
from open_spiel.python.algorithms import exploitability as openspiel_exploitability

from ascentrl import Ascent
from ascentrl.games import make_dynamics
from ascentrl.games.extensive import (
    CFR,
    SOLVERS,
    CFRPlus,
    DilatedEntropy,
    DilatedEuclidean,
    TreeplexExtragradient,
    expected_payoffs,
    local_probabilities,
    make_game,
    make_solver,
    nash_conv,
    random_policy,
    realization_plan,
    sequence_form,
)
from ascentrl.games.extensive.mirror import dilation_weights

pytestmark = pytest.mark.usefixtures("one_torch_thread")

@pytest.fixture(scope="module")
def kuhn():
    return make_game("kuhn_poker")


@pytest.fixture(scope="module")
def leduc():
    return make_game("leduc_poker")


def table_rows(game, tabular) -> dict[str, np.ndarray]:
    return {key: tabular.action_probability_array[row] for key, row in tabular.state_lookup.items()}


@pytest.mark.parametrize(("name", "iterations"), [("kuhn_poker", 40), ("leduc_poker", 2)])
@pytest.mark.parametrize(("ours", "theirs"), [(CFR, openspiel_cfr.CFRSolver), (CFRPlus, openspiel_cfr.CFRPlusSolver)])
def test_cfr_iterates_match_openspiel(name, iterations, ours, theirs):
    game = make_game(name)
    solver, reference = ours(game), theirs(pyspiel.load_game(name))
    for _ in range(iterations):
        solver.step()
        reference.evaluate_and_update_policy()
        for mine, other in ((solver.policy(), reference.current_policy()),
                            (solver.average_policy(), reference.average_policy())):
            for key, row in table_rows(game, other).items():
                assert np.allclose(mine[game.infoset_index[key]].numpy(), row, atol=1e-12, rtol=0), key


def solve_kuhn(kuhn, method: str, iterations: int, **options):
    solver = make_solver(method, kuhn, **options)
    for _ in range(iterations):
        solver.step()
    return solver


def test_extragradient_finds_the_kuhn_equilibrium_family_and_value(kuhn):
    solver = solve_kuhn(kuhn, "extragradient", 600)
    assert solver.nash_conv() <= 1e-10
    policy = solver.policy()

    def bet(key: str) -> float:
        return float(policy[kuhn.infoset_index[key], 1])  # action 1: bet, or call a bet

    alpha = bet("0")
    assert -1e-9 <= alpha <= 1 / 3 + 1e-9
    assert bet("1") == pytest.approx(0, abs=1e-6) and bet("2") == pytest.approx(3 * alpha, abs=1e-6)
    assert bet("0pb") == pytest.approx(0, abs=1e-6) and bet("1pb") == pytest.approx(alpha + 1 / 3, abs=1e-6)
    assert bet("2pb") == pytest.approx(1, abs=1e-6)
    player_1 = {"0p": 1 / 3, "0b": 0, "1p": 0, "1b": 1 / 3, "2p": 1, "2b": 1}
    for key, probability in player_1.items():
        assert bet(key) == pytest.approx(probability, abs=1e-6), key
    payoffs = expected_payoffs(kuhn, solver.plan())
    assert float(payoffs[0]) == pytest.approx(-1 / 18, abs=1e-9) and float(payoffs.sum()) == 0


@pytest.mark.parametrize(("method", "iterations", "options", "bound"), [
    ("optimistic", 1500, {}, 1e-6),
    ("extragradient", 300, {"regularizer": "entropy"}, 1e-6),
    ("mmd", 1500, {}, 1e-6),
    ("simultaneous", 1500, {}, 0.05),  # the average; the last iterate circles
    ("cfr_plus", 1500, {}, 1e-3),
])
def test_every_solver_converges_on_kuhn_and_openspiel_agrees(kuhn, method, iterations, options, bound):
    solver = solve_kuhn(kuhn, method, iterations, **options)
    reported = solver.average_nash_conv() if method == "simultaneous" else solver.reported_nash_conv()
    assert reported <= bound
    openspiel_game = pyspiel.load_game("kuhn_poker")
    for policy in (solver.policy(), solver.average_policy()):
        expected = openspiel_exploitability.nash_conv(openspiel_game, to_tabular_policy(kuhn, openspiel_game, policy))
        assert float(nash_conv(kuhn, sequence_form(kuhn, policy))) == pytest.approx(expected, abs=1e-9)


def test_learned_leduc_policy_agrees_with_openspiel(leduc):
    solver = make_solver("extragradient", leduc)
    for _ in range(30):
        solver.step()
    openspiel_game = pyspiel.load_game("leduc_poker")
    expected = openspiel_exploitability.nash_conv(openspiel_game, to_tabular_policy(leduc, openspiel_game,
                                                                                    solver.policy()))
    assert solver.nash_conv() == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("method", ["simultaneous", "optimistic", "extragradient", "mmd"])
def test_one_step_raises_each_players_own_payoff(leduc, method):
    """Objectives are maximized: against the opponent's old policy, each player's new policy earns more."""
    solver = make_solver(method, leduc, step_size=0.1, **({"adaptive": False} if method == "extragradient" else {}))
    before = solver.policy()
    solver.step()
    after = solver.policy()
    for player in (0, 1):
        mixed = torch.where((leduc.infoset_player == player).unsqueeze(-1), after, before)
        old, new = (float(expected_payoffs(leduc, sequence_form(leduc, p))[player]) for p in (before, mixed))
        assert new > old + 1e-6


@pytest.mark.parametrize("regularizer", [DilatedEuclidean, DilatedEntropy])
def test_proximal_step_is_the_exact_maximizer(leduc, regularizer):
    """``argmax_x ⟨s, x⟩ − D(x ‖ r)``: no nearby feasible plan scores higher."""
    generator = torch.Generator().manual_seed(0)
    geometry = regularizer(leduc, dilation_weights(leduc, "payoff"))
    reference = geometry.from_local(local_probabilities(leduc, random_policy(leduc, generator=generator)))
    scores = torch.randn(leduc.num_sequences, dtype=torch.float64, generator=generator)
    best_state = geometry.step(scores, [reference], [1.0])

    def objective(state):
        plan = realization_plan(leduc, geometry.to_local(state))
        return float((scores * plan).sum() - geometry.divergence(state, plan, reference))

    best = objective(best_state)
    for _ in range(100):
        other = local_probabilities(leduc, random_policy(leduc, generator=generator))
        mixture = 0.98 * geometry.to_local(best_state) + 0.02 * other
        assert objective(geometry.from_local(mixture)) <= best + 1e-12


def test_adaptive_extragradient_settles_below_the_stable_step(kuhn):
    solver = TreeplexExtragradient(kuhn, step_size=10.0)  # far too large for Kuhn poker: it must back off
    for _ in range(300):
        solver.step()
    assert solver.rejected_steps > 0 and solver.step_size < 3.5
    assert solver.nash_conv() <= 1e-9


def test_solvers_are_deterministic(leduc):
    first, second = make_solver("optimistic", leduc), make_solver("optimistic", leduc)
    for _ in range(5):
        first.step()
        second.step()
    assert torch.equal(first.policy(), second.policy())


def test_bad_arguments_are_refused(kuhn):
    with pytest.raises(ValueError, match="method must be one of"):
        make_solver("newton", kuhn)
    with pytest.raises(ValueError, match="step_size"):
        make_solver("optimistic", kuhn, step_size=-1.0)
    with pytest.raises(ValueError, match="regularizer"):
        make_solver("extragradient", kuhn, regularizer="l1")
    with pytest.raises(ValueError, match="magnet_every"):
        make_solver("mmd", kuhn, magnet_every=0)
    with pytest.raises(TypeError, match="ExtensiveFormGame"):
        SOLVERS["cfr"]("kuhn_poker")


def test_game_dynamics_with_ascent_optimizers_learn_softmax_policies(kuhn):
    """The payoffs are differentiable, so ascentrl.games' dynamics and Ascent train any parameterization."""
    owned = [torch.nonzero(kuhn.infoset_player == player).flatten() for player in (0, 1)]
    logits = [torch.zeros(len(rows), 2, dtype=torch.float64, requires_grad=True) for rows in owned]

    def policy():
        table = torch.zeros(kuhn.num_infosets, 2, dtype=torch.float64)
        for rows, player_logits in zip(owned, logits):
            table = table.index_put((rows,), torch.softmax(player_logits, -1))
        return table

    def objectives():
        payoffs = expected_payoffs(kuhn, sequence_form(kuhn, policy()))
        return [payoffs[0], payoffs[1]]

    dynamics = make_dynamics("extragradient", logits, objectives, [Ascent([theta], lr=3.0) for theta in logits])
    for _ in range(300):
        dynamics.step()
    with torch.no_grad():
        assert float(nash_conv(kuhn, sequence_form(kuhn, policy()))) <= 0.05  # uniform play: 0.917
