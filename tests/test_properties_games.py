"""Property-based tests of payoff tensors and NashConv (ascentrl.games.payoffs).

Truths used: a brute-force sum over every pure action profile (``u_i(x) = sum_a prod_j x_j(a_j)
payoffs[i][a]``), and the invariances NashConv must have by definition: it is a sum of
non-negative incentives, unchanged when a constant is added to one player's payoffs, unchanged
when a player's actions are relabelled together with its strategy, and zero at a pure Nash
equilibrium.
"""

from __future__ import annotations

import itertools
import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ascentrl.games.payoffs import expected_payoffs, nash_conv

EXAMPLES = settings(max_examples=50, deadline=None)
FINITE = st.floats(-5, 5, allow_nan=False, allow_infinity=False)


@st.composite
def games(draw):
    """A payoff tensor ``(n, A_1, ..., A_n)`` (float64) and a full-support mixed profile."""
    players = draw(st.integers(2, 3))
    actions = draw(st.lists(st.integers(1, 3), min_size=players, max_size=players))
    cells = players * math.prod(actions)
    payoffs = torch.tensor(draw(st.lists(FINITE, min_size=cells, max_size=cells)),
                           dtype=torch.float64).reshape(players, *actions)
    strategies = []
    for count in actions:
        weights = torch.tensor(draw(st.lists(st.floats(0, 1), min_size=count, max_size=count)),
                               dtype=torch.float64) + 1e-3
        strategies.append(weights / weights.sum())
    return payoffs, strategies


def brute_force_payoff(payoffs, strategies, player, replaced=None):
    """``u_player(x)`` by enumerating pure profiles; ``replaced`` swaps in a strategy for ``player``."""
    profile = list(strategies)
    if replaced is not None:
        profile[player] = replaced
    total = 0.0
    for actions in itertools.product(*(range(len(strategy)) for strategy in profile)):
        probability = math.prod(float(profile[j][a]) for j, a in enumerate(actions))
        total += probability * float(payoffs[(player, *actions)])
    return total


@EXAMPLES
@given(games())
def test_expected_payoffs_and_nash_conv_match_brute_force_enumeration(game):
    payoffs, strategies = game
    values = expected_payoffs(payoffs, strategies)
    incentive_sum = 0.0
    for player, strategy in enumerate(strategies):
        value = brute_force_payoff(payoffs, strategies, player)
        assert math.isclose(float(values[player]), value, rel_tol=1e-9, abs_tol=1e-9)
        best = max(brute_force_payoff(payoffs, strategies, player, torch.eye(len(strategy))[a])
                   for a in range(len(strategy)))
        incentive_sum += best - value
    assert math.isclose(float(nash_conv(payoffs, strategies)), incentive_sum, rel_tol=1e-9, abs_tol=1e-9)


@EXAMPLES
@given(games())
def test_nash_conv_is_non_negative(game):
    payoffs, strategies = game
    assert float(nash_conv(payoffs, strategies)) >= -1e-12


@EXAMPLES
@given(games(), st.data())
def test_nash_conv_ignores_a_constant_added_to_one_players_payoffs(game, data):
    payoffs, strategies = game
    player = data.draw(st.integers(0, len(strategies) - 1))
    constant = data.draw(FINITE)
    shifted = payoffs.clone()
    shifted[player] += constant
    torch.testing.assert_close(nash_conv(shifted, strategies), nash_conv(payoffs, strategies),
                               rtol=1e-9, atol=1e-9)


@EXAMPLES
@given(games(), st.data())
def test_nash_conv_is_invariant_to_relabelling_a_players_actions(game, data):
    payoffs, strategies = game
    player = data.draw(st.integers(0, len(strategies) - 1))
    count = len(strategies[player])
    order = torch.tensor(data.draw(st.permutations(range(count))))
    # Action k of the relabelled game is action order[k] of the original, for every player's payoffs.
    relabelled = payoffs.index_select(1 + player, order)
    moved = list(strategies)
    moved[player] = strategies[player][order]
    torch.testing.assert_close(nash_conv(relabelled, moved), nash_conv(payoffs, strategies),
                               rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(expected_payoffs(relabelled, moved), expected_payoffs(payoffs, strategies),
                               rtol=1e-9, atol=1e-9)


@EXAMPLES
@given(games(), st.data())
def test_nash_conv_is_zero_at_a_planted_pure_equilibrium(game, data):
    payoffs, strategies = game
    players = len(strategies)
    profile = tuple(data.draw(st.integers(0, len(strategy) - 1)) for strategy in strategies)
    planted = payoffs.clone()
    for player in range(players):
        # Make profile[player] a best response: raise its payoff above every unilateral deviation.
        deviations = [planted[(player, *profile[:player], a, *profile[player + 1:])]
                      for a in range(len(strategies[player]))]
        planted[(player, *profile)] = torch.stack(deviations).max() + data.draw(st.floats(0, 1))
    pure = [torch.eye(len(strategy), dtype=torch.float64)[action] for strategy, action in zip(strategies, profile)]
    assert abs(float(nash_conv(planted, pure))) <= 1e-12
    # Any deviation of one player to another pure action cannot gain (each incentive is >= 0 and sums to 0).
    for player in range(players):
        for action in range(len(strategies[player])):
            gain = (brute_force_payoff(planted, pure, player, torch.eye(len(strategies[player]),
                                                                        dtype=torch.float64)[action])
                    - brute_force_payoff(planted, pure, player))
            assert gain <= 1e-12
