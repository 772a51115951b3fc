"""ascentrl.games.extensive: the games, strategies and exact evaluation, with OpenSpiel as the oracle.

Truths used: OpenSpiel's own games (information sets, legal actions, chance), its
``exploitability.nash_conv`` / ``best_response`` and ``expected_game_score.policy_value`` on the
uniform policy and on random tabular policies (agreement to 1e-9), the NashConv of uniform play
quoted in issue 12 (Kuhn 0.916667, Leduc 4.747222), autograd (the payoff gradient is the
derivative of the expected payoff), the treeplex constraints of a realization plan, and
hand-written games that break the rules ``build_game`` must refuse.
"""

from __future__ import annotations

import numpy as np
import pyspiel
import pytest
import torch
from harness.openspiel_policies import to_tabular_policy
from open_spiel.python import policy as openspiel_policy
from open_spiel.python.algorithms import expected_game_score
from open_spiel.python.algorithms import exploitability as openspiel_exploitability

from ascentrl.games.extensive import (
    CHANCE,
    TERMINAL,
    GameRules,
    behavioural_policy,
    best_response_values,
    best_responses,
    build_game,
    check_policy,
    expected_payoffs,
    exploitability,
    make_game,
    nash_conv,
    payoff_gradient,
    payoff_gradient_matrix,
    random_policy,
    sequence_form,
    uniform_policy,
)
from ascentrl.games.extensive.evaluation import counterfactual_reach, counterfactual_values
from ascentrl.games.extensive.strategies import local_probabilities

TOLERANCE = 1e-9
GAMES = {"kuhn_poker": ("kuhn_poker", {}), "leduc_poker": ("leduc_poker", {}),
         "liars_dice(dice_sides=3)": ("liars_dice", {"dice_sides": 3})}



pytestmark = pytest.mark.usefixtures("one_torch_thread")

@pytest.fixture(scope="module", params=list(GAMES))
def pair(request):
    """(our game, OpenSpiel's game, an OpenSpiel TabularPolicy over it) for each game."""
    name, parameters = GAMES[request.param]
    openspiel_game = pyspiel.load_game(request.param)
    return make_game(name, **parameters), openspiel_game, openspiel_policy.TabularPolicy(openspiel_game)


def openspiel_values(openspiel_game, tabular) -> tuple[float, np.ndarray]:
    value = expected_game_score.policy_value(openspiel_game.new_initial_state(), [tabular, tabular])
    return openspiel_exploitability.nash_conv(openspiel_game, tabular), np.asarray(value)


def test_information_sets_and_legal_actions_are_openspiels(pair):
    game, _, tabular = pair
    assert set(game.information_states) == set(tabular.state_lookup)
    for key, row in tabular.state_lookup.items():
        assert game.legal_actions_mask[game.infoset_index[key]].tolist() == tabular.legal_actions_mask[row].astype(
            bool).tolist(), key
    players = {key: player for player, keys in enumerate(tabular.states_per_player) for key in keys}
    assert [players[key] for key in game.information_states] == game.infoset_player.tolist()


def test_tree_sizes():
    kuhn, leduc = make_game("kuhn_poker"), make_game("leduc_poker")
    assert (kuhn.num_infosets, kuhn.num_sequences, kuhn.num_terminal_histories) == (12, 26, 30)
    assert (leduc.num_infosets, leduc.num_sequences, leduc.num_terminal_histories) == (936, 2186, 5520)


@pytest.mark.parametrize(("name", "expected"), [("kuhn_poker", 0.916667), ("leduc_poker", 4.747222)])
def test_uniform_nash_conv_quoted_in_the_issue(name, expected):
    game = make_game(name)
    assert float(nash_conv(game, sequence_form(game, uniform_policy(game)))) == pytest.approx(expected, abs=5e-7)


def test_uniform_and_random_policies_agree_with_openspiel(pair):
    game, openspiel_game, tabular = pair
    generator = torch.Generator().manual_seed(7)
    policies = [uniform_policy(game), *random_policy(game, batch_shape=(2,), generator=generator)]
    for policy in policies:
        ours_tabular = to_tabular_policy(game, openspiel_game, policy)
        expected_nash_conv, expected_values = openspiel_values(openspiel_game, ours_tabular)
        plan = sequence_form(game, policy)
        assert float(nash_conv(game, plan)) == pytest.approx(expected_nash_conv, abs=TOLERANCE)
        assert float(exploitability(game, plan)) == pytest.approx(expected_nash_conv / 2, abs=TOLERANCE)
        assert expected_payoffs(game, plan).numpy() == pytest.approx(expected_values, abs=TOLERANCE)
    del tabular


def test_best_responses_match_openspiel_and_attain_their_value():
    game, openspiel_game = make_game("kuhn_poker"), pyspiel.load_game("kuhn_poker")
    policy = random_policy(game, generator=torch.Generator().manual_seed(3))
    plan = sequence_form(game, policy)
    values = best_response_values(game, plan)
    tabular = to_tabular_policy(game, openspiel_game, policy)
    for player in (0, 1):
        expected = openspiel_exploitability.best_response(openspiel_game, tabular, player)["best_response_value"]
        assert float(values[player]) == pytest.approx(expected, abs=TOLERANCE)
    response = best_responses(game, plan)
    assert bool(((response == 0) | (response == 1)).all()) and torch.equal(response.sum(-1), torch.ones(12).double())
    for player in (0, 1):
        # Player i's rows of the response, the policy's rows for the other player.
        mixed = torch.where((game.infoset_player == player).unsqueeze(-1), response, policy)
        assert float(expected_payoffs(game, sequence_form(game, mixed))[player]) == pytest.approx(
            float(values[player]), abs=1e-12)


def test_batched_evaluation_equals_one_at_a_time():
    game = make_game("leduc_poker")
    policies = random_policy(game, batch_shape=(2, 3), generator=torch.Generator().manual_seed(1))
    plans = sequence_form(game, policies)
    batched = (nash_conv(game, plans), expected_payoffs(game, plans), best_responses(game, plans))
    assert batched[0].shape == (2, 3) and batched[1].shape == (2, 3, 2)
    for index in np.ndindex(2, 3):
        assert float(batched[0][index]) == pytest.approx(float(nash_conv(game, plans[index])), abs=1e-12)
        assert torch.allclose(batched[1][index], expected_payoffs(game, plans[index]), atol=1e-12)
        assert torch.equal(batched[2][index], best_responses(game, plans[index]))


def test_payoff_gradient_is_the_derivative_of_each_players_payoff():
    game = make_game("leduc_poker")
    plan = sequence_form(game, random_policy(game, generator=torch.Generator().manual_seed(2))).requires_grad_()
    payoffs = expected_payoffs(game, plan)
    own = torch.zeros(game.num_sequences, dtype=torch.float64)
    for player in (0, 1):
        gradient = torch.autograd.grad(payoffs[player], plan, retain_graph=True)[0]
        owned = game.sequence_player == player
        own[owned] = gradient[owned]
    assert torch.allclose(payoff_gradient(game, plan.detach()), own, atol=1e-14)
    assert torch.allclose(payoff_gradient_matrix(game) @ plan.detach(), own, atol=1e-14)
    # Each player's payoff is linear in its own plan: u_i = <g_i, x_i>.
    for player in (0, 1):
        owned = game.sequence_player == player
        value = float(payoffs[player].detach())
        assert float((own[owned] * plan.detach()[owned]).sum()) == pytest.approx(value, abs=1e-12)


def test_realization_plans_lie_on_the_treeplex_and_convert_back():
    game = make_game("leduc_poker")
    policy = random_policy(game, generator=torch.Generator().manual_seed(4))
    plan = sequence_form(game, policy)
    assert torch.equal(plan[:2], torch.ones(2, dtype=torch.float64)) and bool((plan >= 0).all())
    children = torch.zeros(game.num_infosets, dtype=torch.float64).index_add(0, game.sequence_infoset[2:], plan[2:])
    assert torch.allclose(children, plan[game.infoset_parent], atol=1e-14)  # Σ_a x(Ia) = x(p(I))
    assert torch.allclose(behavioural_policy(game, plan), policy, atol=1e-12)
    # Probabilities below an information set the owner never reaches are arbitrary: uniform comes back.
    pure = policy.clone()
    first = game.infoset_index[
        "[Observer: 0][Private: 0][Round 1][Player: 0][Pot: 2][Money: 99 99][Round1: ][Round2: ]"]
    pure[first] = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)  # always call: never raise here
    back = behavioural_policy(game, sequence_form(game, pure))
    unreached = game.infoset_index[
        "[Observer: 0][Private: 0][Round 1][Player: 0][Pot: 8][Money: 97 95][Round1: 2 2][Round2: ]"]
    assert torch.allclose(back[unreached], uniform_policy(game)[unreached])


def test_counterfactual_reach_times_own_reach_sums_to_one_per_level():
    game = make_game("leduc_poker")
    plan = sequence_form(game, random_policy(game, generator=torch.Generator().manual_seed(5)))
    reach = counterfactual_reach(game, plan) * plan[game.infoset_parent]
    first_choices = game.infoset_parent < 2
    for player in (0, 1):  # the player's first information sets partition all deals
        assert float(reach[first_choices & (game.infoset_player == player)].sum()) == pytest.approx(1.0, abs=1e-12)


def test_counterfactual_reach_and_values_of_a_batch_equal_one_at_a_time():
    game = make_game("kuhn_poker")
    policies = random_policy(game, batch_shape=(2, 3), generator=torch.Generator().manual_seed(6))
    plans = sequence_form(game, policies)
    reach = counterfactual_reach(game, plans)
    values, infoset_values = counterfactual_values(game, payoff_gradient(game, plans),
                                                   local_probabilities(game, policies))
    assert reach.shape == (2, 3, game.num_infosets) and infoset_values.shape == (2, 3, game.num_infosets)
    for index in np.ndindex(2, 3):
        one = counterfactual_values(game, payoff_gradient(game, plans[index]),
                                    local_probabilities(game, policies[index]))
        assert torch.equal(reach[index], counterfactual_reach(game, plans[index]))
        assert torch.allclose(values[index], one[0], atol=1e-12)
        assert torch.allclose(infoset_values[index], one[1], atol=1e-12)
        # q(root) of each player is that player's expected payoff
        assert torch.allclose(values[index][:2], expected_payoffs(game, plans[index]), atol=1e-12)


def test_an_indifferent_player_best_responds_with_the_lowest_action():
    """In the hand-written game player 1 receives a1 - card, so action 1 is its best response
    everywhere, and player 0's move changes nothing: ties go to action 0 (the docstring's rule).
    When neither move matters (payoff = card), every row is action 0, so no information set of a
    level has the last action as its best one."""

    class Indifferent(_BrokenRules):
        def payoff(self, state):
            return float(state[0])

    first, second = torch.tensor([1.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 1.0], dtype=torch.float64)
    game = build_game(_BrokenRules("none"))
    response = best_responses(game, sequence_form(game, uniform_policy(game)))
    assert torch.equal(response, torch.where((game.infoset_player == 0).unsqueeze(-1), first, second))
    game = build_game(Indifferent("none"))
    response = best_responses(game, sequence_form(game, uniform_policy(game)))
    assert torch.equal(response, first.expand(game.num_infosets, 2))


def test_evaluation_refuses_what_is_not_a_realization_plan():
    game = make_game("kuhn_poker")
    plan = sequence_form(game, uniform_policy(game))
    for bad, shown in ((plan.tolist(), "got list"), (plan[:5], r"got \(5,\)"), (torch.tensor(1.0), r"got \(\)")):
        for evaluate in (nash_conv, counterfactual_reach):
            with pytest.raises(ValueError, match=f"shape \\(\\*batch, {game.num_sequences}\\), {shown}"):
                evaluate(game, bad)


def test_check_policy_names_the_problem():
    game = make_game("kuhn_poker")
    with pytest.raises(ValueError, match="shape"):
        check_policy(game, torch.ones(3, 2))
    bad = uniform_policy(game)
    bad[4] = torch.tensor([0.7, 0.7], dtype=torch.float64)
    with pytest.raises(ValueError, match="sum to 1.4"):
        check_policy(game, bad)


class _BrokenRules(GameRules):
    """One chance card (0 or 1) for player 0, who then moves; ``flaw`` breaks one rule on purpose."""

    name = "broken"
    num_distinct_actions = 2

    def __init__(self, flaw: str) -> None:
        self.flaw = flaw

    def initial_state(self):
        return ()

    def current_player(self, state):
        return (CHANCE, 0, 1, TERMINAL)[min(len(state), 3)]

    def chance_outcomes(self, state):
        return [(0, 0.5), (1, 0.6 if self.flaw == "chance" else 0.5)]

    def legal_actions(self, state):
        return [1, 0] if self.flaw == "order" else [0, 1]

    def next_state(self, state, action):
        return (*state, action)

    def payoff(self, state):
        return float(state[0] - state[2])

    def information_state(self, state, player):
        if self.flaw == "shared":
            return "same"
        if self.flaw == "recall" and player == 1:
            return "forgets"  # player 1 sees nothing, fine; player 0's own move is below
        return f"p{player}:{state[0] if player == 0 else state[1]}"


@pytest.mark.parametrize(("flaw", "message"), [
    ("chance", "summing to 1"), ("order", "ascending"), ("shared", "belongs to both players")])
def test_build_game_refuses_broken_rules(flaw, message):
    with pytest.raises(ValueError, match=message):
        build_game(_BrokenRules(flaw))


def test_build_game_refuses_imperfect_recall():
    class Forgetful(_BrokenRules):
        """Player 0 moves twice and forgets its first move."""

        def current_player(self, state):
            return (CHANCE, 0, 0, TERMINAL)[min(len(state), 3)]

        def information_state(self, state, player):
            return f"card {state[0]}"

    with pytest.raises(ValueError, match="perfect recall"):
        build_game(Forgetful("none"))
    assert build_game(_BrokenRules("none")).num_infosets == 4  # the unbroken game builds
