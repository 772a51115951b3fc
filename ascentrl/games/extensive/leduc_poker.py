"""Leduc poker (Southey et al. 2005, "Bayes' bluff"), with OpenSpiel's two-player ``leduc_poker`` rules.

Six cards, two suits of three ranks: card ``c`` has rank ``c // 2`` (0 and 1 are Jacks, 2 and 3
Queens, 4 and 5 Kings). Each player starts with 100 chips and antes one. The game:

1. Chance deals a private card to player 0, then to player 1 (uniformly among the cards left;
   the outcome is the card's number).
2. First betting round, player 0 first. Actions: fold (0), only when facing a bet; call (1),
   which checks when nothing is owed; raise (2) by 2 chips, at most two raises per round. The
   round ends when both players have checked, or when a raise has been called.
3. Chance deals one public card from the four left, and the second betting round starts with
   player 0, raises now 4 chips.
4. A fold ends the game: the other player takes the pot. At showdown a pair (private card of the
   public card's rank) wins, otherwise the higher rank; equal ranks split the pot.

A player's payoff is its chips at the end minus its 100 chips at the start. The information
state strings are OpenSpiel's, e.g. ``"[Observer: 0][Private: 5][Round 2][Player: 0][Pot: 6]
[Money: 99 95][Public: 2][Round1: 1 1][Round2: 1 2]"`` (one line): the observer, its card, the
round, the player to act, the pot, each player's remaining chips, the public card once dealt, and
each round's actions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ascentrl.games.extensive.rules import CHANCE, TERMINAL, GameRules

FOLD, CALL, RAISE = 0, 1, 2
STARTING_CHIPS = 100
RAISE_AMOUNTS = (2, 4)
"""Chips added by a raise in the first and in the second round."""
MAX_RAISES_PER_ROUND = 2
_DECK = tuple(range(6))


@dataclass(frozen=True)
class LeducState:
    """A history of Leduc poker and the bookkeeping OpenSpiel derives from it.

    Attributes:
        private_cards: the cards dealt to player 0 and player 1 so far.
        public_card: the public card, or ``None`` before it is dealt.
        betting: the actions of the first and of the second round.
        player: the player to act, :data:`CHANCE` or :data:`TERMINAL`.
        contributions: chips each player has put in the pot (ante included).
        stakes: what each player must have put in to stay in (the current bet level).
        raises: raises in the current round.
        calls: calls (and checks) since the last raise of the current round.
        folder: the player who folded, or ``None``.
    """

    private_cards: tuple[int, ...] = ()
    public_card: int | None = None
    betting: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    player: int = CHANCE
    contributions: tuple[int, int] = (1, 1)
    stakes: int = 1
    raises: int = 0
    calls: int = 0
    folder: int | None = None

    @property
    def round(self) -> int:
        """The betting round, 1 or 2."""
        return 1 if self.public_card is None else 2


class LeducPoker(GameRules):
    """Two-player Leduc poker exactly as OpenSpiel's ``leduc_poker`` (default parameters)."""

    name = "leduc_poker"
    num_distinct_actions = 3

    def initial_state(self) -> LeducState:
        return LeducState()

    def current_player(self, state: LeducState) -> int:
        return state.player

    def chance_outcomes(self, state: LeducState) -> list[tuple[int, float]]:
        dealt = {*state.private_cards, state.public_card}
        left = [card for card in _DECK if card not in dealt]
        return [(card, 1.0 / len(left)) for card in left]

    def legal_actions(self, state: LeducState) -> list[int]:
        actions = [FOLD] if state.stakes > state.contributions[state.player] else []
        actions.append(CALL)
        if state.raises < MAX_RAISES_PER_ROUND:
            actions.append(RAISE)
        return actions

    def next_state(self, state: LeducState, action: int) -> LeducState:
        if state.player == CHANCE:
            if len(state.private_cards) < 2:
                private_cards = (*state.private_cards, action)
                return replace(state, private_cards=private_cards, player=0 if len(private_cards) == 2 else CHANCE)
            return replace(state, public_card=action, player=0)
        player, other = state.player, 1 - state.player
        round_index = state.round - 1
        betting = list(state.betting)
        betting[round_index] = (*betting[round_index], action)
        state = replace(state, betting=tuple(betting))
        if action == FOLD:
            return replace(state, folder=player, player=TERMINAL)
        contributions = list(state.contributions)
        if action == CALL:
            contributions[player] = state.stakes
            state = replace(state, contributions=tuple(contributions), calls=state.calls + 1)
            round_over = state.calls == 2 if state.raises == 0 else state.calls == 1
            if not round_over:
                return replace(state, player=other)
            if state.round == 2:
                return replace(state, player=TERMINAL)
            return replace(state, player=CHANCE, raises=0, calls=0)
        stakes = state.stakes + RAISE_AMOUNTS[round_index]
        contributions[player] = stakes
        return replace(state, contributions=tuple(contributions), stakes=stakes, raises=state.raises + 1,
                       calls=0, player=other)

    def payoff(self, state: LeducState) -> float:
        chips = state.contributions
        if state.folder is not None:
            return float(chips[1] if state.folder == 1 else -chips[0])
        ranks = [_hand_rank(card, state.public_card) for card in state.private_cards]
        if ranks[0] == ranks[1]:
            return 0.0
        return float(chips[1] if ranks[0] > ranks[1] else -chips[0])

    def information_state(self, state: LeducState, player: int) -> str:
        pot = sum(state.contributions)
        money = " ".join(str(STARTING_CHIPS - chips) for chips in state.contributions)
        public = "" if state.public_card is None else f"[Public: {state.public_card}]"
        first, second = (" ".join(str(action) for action in actions) for actions in state.betting)
        return (f"[Observer: {player}][Private: {state.private_cards[player]}][Round {state.round}]"
                f"[Player: {state.player}][Pot: {pot}][Money: {money}]{public}[Round1: {first}][Round2: {second}]")

    def action_name(self, action: int) -> str:
        return ("Fold", "Call", "Raise")[action]


def _hand_rank(private_card: int, public_card: int) -> int:
    """A number that orders hands: pairs above every other hand, then by the higher rank."""
    low, high = sorted((private_card, public_card))
    if low // 2 == high // 2:
        return 100 + low // 2
    return 10 * (high // 2) + low // 2
