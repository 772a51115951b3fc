"""Liar's dice with one die each, with OpenSpiel's ``liars_dice`` rules: an example of defining a game.

Each player rolls one die with ``dice_sides`` faces (chance outcome ``k`` is face ``k + 1``); the
highest face is wild. Players bid in turn, player 0 first, on how many dice of both players show a
face: bid ``b`` claims ``b // dice_sides + 1`` dice of face ``b % dice_sides + 1`` (OpenSpiel's
"reset-face" numbering), and every bid must be higher than the last one. Instead of bidding, a
player may call the last bid a lie (action ``2 * dice_sides``, not legal as the first move): the
dice are shown, and the bidder wins 1 if at least that many dice show the face or the wild face,
otherwise the caller wins 1. The information state is the player's die then the bids so far,
``"2 1-1 1-3"`` (OpenSpiel's strings).

The whole definition is the :class:`~ascentrl.games.extensive.rules.GameRules` below: a tuple
history, what each node is, what chance does, the legal moves, the payoff and the information
state string. ``build_game(LiarsDice(dice_sides=3))`` turns it into tensors (96 information sets per
player); OpenSpiel's default ``dice_sides=6`` has 24,576 per player and takes longer to build.
"""

from __future__ import annotations

from ascentrl.games.extensive.rules import CHANCE, TERMINAL, GameRules

DiceState = tuple[tuple[int, ...], tuple[int, ...]]
"""``(faces rolled so far, bids so far)``."""


class LiarsDice(GameRules):
    """Two-player Liar's dice with one die each, as OpenSpiel's ``liars_dice(numdice=1)``.

    Args:
        dice_sides: faces of each die (OpenSpiel's default is 6).
    """

    name = "liars_dice"

    def __init__(self, dice_sides: int = 6) -> None:
        if isinstance(dice_sides, bool) or not isinstance(dice_sides, int) or dice_sides < 2:
            raise ValueError(f"dice_sides must be an integer >= 2, got {dice_sides!r}")
        self.dice_sides = dice_sides
        self.liar = 2 * dice_sides
        self.num_distinct_actions = 2 * dice_sides + 1

    def initial_state(self) -> DiceState:
        return ((), ())

    def current_player(self, state: DiceState) -> int:
        faces, bids = state
        if len(faces) < 2:
            return CHANCE
        if bids and bids[-1] == self.liar:
            return TERMINAL
        return len(bids) % 2

    def chance_outcomes(self, state: DiceState) -> list[tuple[int, float]]:
        return [(outcome, 1.0 / self.dice_sides) for outcome in range(self.dice_sides)]

    def legal_actions(self, state: DiceState) -> list[int]:
        bids = state[1]
        first = bids[-1] + 1 if bids else 0
        return list(range(first, self.liar)) + ([self.liar] if bids else [])

    def next_state(self, state: DiceState, action: int) -> DiceState:
        faces, bids = state
        if len(faces) < 2:
            return (*faces, action + 1), bids
        return faces, (*bids, action)

    def payoff(self, state: DiceState) -> float:
        faces, bids = state
        quantity, face = self._bid(bids[-2])
        matches = sum(die in (face, self.dice_sides) for die in faces)
        bidder = (len(bids) - 2) % 2
        winner = bidder if matches >= quantity else 1 - bidder
        return 1.0 if winner == 0 else -1.0

    def information_state(self, state: DiceState, player: int) -> str:
        faces, bids = state
        return str(faces[player]) + "".join(f" {self.action_name(bid)}" for bid in bids)

    def action_name(self, action: int) -> str:
        if action == self.liar:
            return "Liar"
        quantity, face = self._bid(action)
        return f"{quantity}-{face}"

    def _bid(self, action: int) -> tuple[int, int]:
        return action // self.dice_sides + 1, action % self.dice_sides + 1
