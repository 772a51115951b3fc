"""A perfect tic-tac-toe player for PettingZoo's ``classic/tictactoe-v3``, by exhaustive minimax.

The player reads the observation exactly as PettingZoo gives it — ``{"observation": (3, 3, 2)
int8, "action_mask": 9 int8}``, channel 0 the mover's marks and channel 1 the opponent's, square
``3 * row + column`` being action ``3 * row + column`` — so it is an opponent for
:meth:`ascentrl.agents.MultiAgentReinforce.play_against` like any user policy.

The value of a position for the player to move is the minimax value of the game tree below it:
+1 if it can force a win, 0 a draw, -1 a loss (negamax: a move's value is minus the value of the
position it leaves to the opponent). Positions are memoized (there are 5,478 legal ones), so the
whole tree is searched once per process. Among the moves of best value the player picks one
uniformly at random from its own seeded generator, so games against it cover every line of perfect
play rather than one.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

__all__ = ["PerfectTicTacToe", "position_value"]

_LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))


def _won(marks: int) -> bool:
    """Whether the squares in the bitmask ``marks`` hold a line."""
    return any(all(marks >> square & 1 for square in line) for line in _LINES)


@cache
def position_value(mover: int, opponent: int) -> int:
    """Minimax value (+1, 0, -1) for the player to move, whose marks are the bitmask ``mover``."""
    if _won(opponent):
        return -1
    empty = [square for square in range(9) if not (mover | opponent) >> square & 1]
    if not empty:
        return 0
    return max(-position_value(opponent, mover | 1 << square) for square in empty)


def _bitmask(plane: np.ndarray) -> int:
    return sum(1 << square for square, filled in enumerate(np.asarray(plane).reshape(-1)) if filled)


class PerfectTicTacToe:
    """``policy(observation) -> action``: a move of best minimax value, chosen at random among ties.

    Args:
        seed: seed of the generator that breaks ties between equally good moves.
    """

    __name__ = "perfect_play"

    def __init__(self, seed: int = 0) -> None:
        self.generator = np.random.default_rng(seed)

    def best_moves(self, observation: Any) -> list[int]:
        """Every legal move of best minimax value."""
        board = np.asarray(observation["observation"])
        mover, opponent = _bitmask(board[:, :, 0]), _bitmask(board[:, :, 1])
        legal = np.flatnonzero(observation["action_mask"]).tolist()
        values = {square: -position_value(opponent, mover | 1 << square) for square in legal}
        best = max(values.values())
        return [square for square, value in values.items() if value == best]

    def __call__(self, observation: Any) -> int:
        return int(self.generator.choice(self.best_moves(observation)))
