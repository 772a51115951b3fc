"""How to define a finite two-player zero-sum game with chance and hidden information.

A game is a :class:`GameRules` subclass: a handful of methods on immutable states, the same
questions OpenSpiel's ``pyspiel.State`` answers (who moves, which actions are legal, what chance
does, what each player knows, who wins). :func:`ascentrl.games.extensive.build_game` asks them once
for every history, walking the whole tree depth first, and turns the answers into the tensors every
algorithm here works on. Nothing is evaluated through the rules afterwards, so they can be plain,
readable Python.

To define a game:

1. Pick an immutable state type (a tuple or a frozen dataclass): it is a history, so two
   different histories must never compare equal in a way that matters to the rules.
2. :meth:`GameRules.initial_state` is the empty history.
3. :meth:`GameRules.current_player` returns ``0`` or ``1`` for a decision, :data:`CHANCE` for a
   chance event and :data:`TERMINAL` when the game is over.
4. :meth:`GameRules.chance_outcomes` lists ``(outcome, probability)`` pairs at chance nodes
   (the probabilities must sum to one); :meth:`GameRules.legal_actions` lists the acting player's
   actions in ascending order, as integers in ``range(num_distinct_actions)``.
5. :meth:`GameRules.next_state` returns the history extended by one action or outcome.
6. :meth:`GameRules.payoff` is player 0's payoff at a terminal history; player 1 receives its
   negation (the game is zero-sum).
7. :meth:`GameRules.information_state` is the string that identifies what ``player`` knows at a
   history where it acts (its *information set*). Histories that share the string must be
   indistinguishable to that player: same legal actions and, since the games must have perfect
   recall, the same own past information sets and actions. :func:`build_game` checks both.

:mod:`ascentrl.games.extensive.liars_dice` is a complete example in under 100 lines.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence

CHANCE = -1
"""What :meth:`GameRules.current_player` returns at a chance node (OpenSpiel's value)."""
TERMINAL = -4
"""What :meth:`GameRules.current_player` returns when the game is over (OpenSpiel's value)."""

State = Hashable
"""A history of the game, immutable (a tuple or a frozen dataclass)."""


class GameRules(ABC):
    """The rules of a finite two-player zero-sum extensive-form game with chance.

    Attributes:
        name: the game's name, e.g. ``"kuhn_poker"`` (OpenSpiel's short name where there is one).
        num_distinct_actions: actions are integers in ``range(num_distinct_actions)``.
    """

    name: str
    num_distinct_actions: int

    @abstractmethod
    def initial_state(self) -> State:
        """The empty history."""

    @abstractmethod
    def current_player(self, state: State) -> int:
        """``0`` or ``1`` for a decision, :data:`CHANCE` or :data:`TERMINAL`."""

    @abstractmethod
    def chance_outcomes(self, state: State) -> Sequence[tuple[int, float]]:
        """``(outcome, probability)`` pairs at a chance node; the probabilities sum to one."""

    @abstractmethod
    def legal_actions(self, state: State) -> Sequence[int]:
        """The acting player's legal actions, in ascending order."""

    @abstractmethod
    def next_state(self, state: State, action: int) -> State:
        """The history after ``action`` (a player's action or a chance outcome)."""

    @abstractmethod
    def payoff(self, state: State) -> float:
        """Player 0's payoff at a terminal history (player 1 receives its negation)."""

    @abstractmethod
    def information_state(self, state: State, player: int) -> str:
        """The string naming ``player``'s information set at a history where it acts."""

    def action_name(self, action: int) -> str:
        """A readable name of a player's action (used in tables and plots)."""
        return str(action)
