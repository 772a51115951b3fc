"""The interface every solver of an :class:`ExtensiveFormGame` shares, and the average it keeps.

A solver holds a strategy profile for both players and improves it one :meth:`~Solver.step` at a
time. It reports two profiles:

* the **current** (last) iterate, :meth:`~Solver.policy`;
* the **average** iterate, :meth:`~Solver.average_policy`: the average of the realization plans
  of all iterates so far, weighted by ``w_t`` (``1`` unless the solver says otherwise; CFR+ uses
  ``t``), turned back into a policy. Averaging realization plans, not policies, is what makes the
  average of no-regret play converge (Zinkevich et al. 2007).

:attr:`~Solver.reports_average` names the one the solver is judged by: the last iterate for the
ascent dynamics and magnetic mirror descent, the average for CFR and CFR+ (whose last iterate need
not converge).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ascentrl.games.extensive.evaluation import nash_conv
from ascentrl.games.extensive.strategies import realization_plan, table_from_sequences
from ascentrl.games.extensive.tree import ExtensiveFormGame


class Solver:
    """Base class: call :meth:`step` to run one iteration.

    Args:
        game: the game to solve.
    """

    reports_average = False
    """Whether the average (True) or the last iterate (False) is the solver's answer."""

    def __init__(self, game: ExtensiveFormGame) -> None:
        if not isinstance(game, ExtensiveFormGame):
            raise TypeError(f"game must be an ExtensiveFormGame (see build_game), got {type(game).__name__}")
        self.game = game
        self.iteration = 0
        self._plan_sum = torch.zeros(game.num_sequences, dtype=game.dtype)

    def step(self) -> None:
        """Run one iteration and add the new iterate to the average."""
        raise NotImplementedError

    def local_probabilities(self) -> Tensor:
        """The current iterate's local probabilities, shape ``(num_sequences,)``."""
        raise NotImplementedError

    def plan(self) -> Tensor:
        """The current iterate's realization plan."""
        return realization_plan(self.game, self.local_probabilities())

    def policy(self) -> Tensor:
        """The current iterate as a policy table ``(num_infosets, num_distinct_actions)``."""
        return table_from_sequences(self.game, self.local_probabilities())

    def average_policy(self) -> Tensor:
        """The weighted average of the iterates' realization plans, as a policy table."""
        return table_from_sequences(self.game, normalize_by_infoset(self.game, self._plan_sum))

    def average_plan(self) -> Tensor:
        """The realization plan of :meth:`average_policy`."""
        return realization_plan(self.game, normalize_by_infoset(self.game, self._plan_sum))

    def reported_policy(self) -> Tensor:
        """The solver's answer: :meth:`average_policy` if :attr:`reports_average`, else :meth:`policy`."""
        return self.average_policy() if self.reports_average else self.policy()

    def nash_conv(self) -> float:
        """NashConv of the current iterate."""
        return float(nash_conv(self.game, self.plan()))

    def average_nash_conv(self) -> float:
        """NashConv of the average iterate."""
        return float(nash_conv(self.game, self.average_plan()))

    def reported_nash_conv(self) -> float:
        """NashConv of the reported iterate."""
        return self.average_nash_conv() if self.reports_average else self.nash_conv()

    def _accumulate(self, plan: Tensor, weight: float = 1.0) -> None:
        """Add ``weight`` times an iterate's realization plan to the running average."""
        self._plan_sum += weight * plan


def normalize_by_infoset(game: ExtensiveFormGame, weights: Tensor) -> Tensor:
    """Local probabilities proportional to non-negative per-sequence ``weights`` at every information set.

    Each information set's legal actions get ``weights / Σ weights``, or the uniform distribution
    where the weights sum to zero (regret matching's rule, and OpenSpiel's for average policies).
    The two empty sequences get 1. Shape ``(*batch, num_sequences)``.
    """
    infosets = game.sequence_infoset[2:]
    body = weights[..., 2:]
    totals = torch.zeros(*weights.shape[:-1], game.num_infosets, dtype=weights.dtype).index_add(-1, infosets, body)
    counts = game.legal_actions_mask.sum(-1).to(weights.dtype)
    totals = totals[..., infosets]
    positive = totals > 0
    normalized = torch.where(positive, body / torch.where(positive, totals, 1), 1 / counts[infosets])
    return torch.cat([torch.ones(*weights.shape[:-1], 2, dtype=weights.dtype), normalized], -1)
