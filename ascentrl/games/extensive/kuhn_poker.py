"""Kuhn poker (Kuhn 1950, "A simplified two-person poker"), with OpenSpiel's ``kuhn_poker`` rules.

Three cards, 0 < 1 < 2 (Jack, Queen, King). Both players ante one chip and chance deals one card
to each (player 0 first, uniformly among the cards left). Player 0 acts first; each player may
pass (action 0) or bet one chip (action 1):

* pass, pass: showdown for the antes (the higher card wins 1);
* bet, pass or pass, bet, pass: the player who passed after a bet folds and loses its ante (1);
* bet, bet or pass, bet, bet: showdown for two chips each (the higher card wins 2).

The information state of a player is its card followed by the betting so far, one letter per
action, ``p`` or ``b``: ``"1pb"`` is player 0 holding the Queen, facing a bet after passing
(OpenSpiel's strings, so policies exchange with OpenSpiel by key). The game value for player 0 is
−1/18; player 0's equilibria form a one-parameter family and player 1's equilibrium is unique.
"""

from __future__ import annotations

from ascentrl.games.extensive.rules import CHANCE, TERMINAL, GameRules

PASS, BET = 0, 1
_CARDS = (0, 1, 2)
_TERMINAL_BETTING = {(PASS, PASS), (BET, PASS), (BET, BET), (PASS, BET, PASS), (PASS, BET, BET)}

KuhnState = tuple[tuple[int, ...], tuple[int, ...]]
"""``(cards dealt so far, actions so far)``."""


class KuhnPoker(GameRules):
    """Two-player Kuhn poker exactly as OpenSpiel's ``kuhn_poker``."""

    name = "kuhn_poker"
    num_distinct_actions = 2

    def initial_state(self) -> KuhnState:
        return ((), ())

    def current_player(self, state: KuhnState) -> int:
        cards, betting = state
        if len(cards) < 2:
            return CHANCE
        if betting in _TERMINAL_BETTING:
            return TERMINAL
        return len(betting) % 2

    def chance_outcomes(self, state: KuhnState) -> list[tuple[int, float]]:
        left = [card for card in _CARDS if card not in state[0]]
        return [(card, 1.0 / len(left)) for card in left]

    def legal_actions(self, state: KuhnState) -> list[int]:
        return [PASS, BET]

    def next_state(self, state: KuhnState, action: int) -> KuhnState:
        cards, betting = state
        if len(cards) < 2:
            return (*cards, action), betting
        return cards, (*betting, action)

    def payoff(self, state: KuhnState) -> float:
        cards, betting = state
        # Chips each player put in: the ante plus one for each bet or call.
        chips = [1 + sum(betting[turn] for turn in range(player, len(betting), 2)) for player in (0, 1)]
        if betting[-1] == PASS and BET in betting:
            folder = (len(betting) - 1) % 2
            return -chips[0] if folder == 0 else chips[1]
        return chips[1] if cards[0] > cards[1] else -chips[0]

    def information_state(self, state: KuhnState, player: int) -> str:
        cards, betting = state
        return str(cards[player]) + "".join("pb"[action] for action in betting)

    def action_name(self, action: int) -> str:
        return ("Pass", "Bet")[action]
