"""Counterfactual regret minimization: CFR (Zinkevich et al. 2007) and CFR+ (Tammelin 2014), batched.

The baselines the ascent dynamics are measured against, written as OpenSpiel's Python solvers
(``open_spiel.python.algorithms.cfr``) run them, so their iterates agree:

1. Start from the uniform policy, with zero cumulative regrets and policy sums.
2. Players update in turn (*alternating updates*, player 0 first). For player ``i``, compute the
   payoff gradient of the current profile — it carries chance's and the opponent's reach — and
   from it, bottom-up, the counterfactual action values ``q(Ia)`` and information-set values
   ``v(I) = Σ_a π(I, a) q(Ia)`` (:func:`~ascentrl.games.extensive.evaluation.counterfactual_values`).
3. Add the instantaneous regrets ``q(Ia) − v(I)`` to player ``i``'s cumulative regrets ``R``, and
   ``w_t · x_i(Ia)`` (own reach times action probability) to its policy sums.
4. CFR+ only: clip the cumulative regrets at zero (*regret matching+*), and weight the policy sums
   by the iteration number, ``w_t = t`` (*linear averaging*); CFR uses ``w_t = 1``.
5. *Regret matching*: the new policy at ``I`` is proportional to ``max(R(Ia), 0)``, uniform when
   no regret is positive. Player ``1 − i`` then updates against player ``i``'s new policy.

The answer is the average policy; the current policy of CFR and CFR+ need not converge. Every
step is a few tensor operations per level of the game tree, for both players' trees at once.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ascentrl.games.extensive.evaluation import counterfactual_values, payoff_gradient
from ascentrl.games.extensive.solver import Solver, normalize_by_infoset
from ascentrl.games.extensive.strategies import local_probabilities, realization_plan, uniform_policy
from ascentrl.games.extensive.tree import ExtensiveFormGame


class CFR(Solver):
    """Counterfactual regret minimization with alternating updates (OpenSpiel's ``CFRSolver``).

    Args:
        game: the game to solve.
        regret_matching_plus: clip cumulative regrets at zero after every update (CFR+).
        linear_averaging: weight iterate ``t`` by ``t`` in the average policy (CFR+).
    """

    reports_average = True

    def __init__(self, game: ExtensiveFormGame, *, regret_matching_plus: bool = False,
                 linear_averaging: bool = False) -> None:
        super().__init__(game)
        self.regret_matching_plus = bool(regret_matching_plus)
        self.linear_averaging = bool(linear_averaging)
        self.regrets = torch.zeros(game.num_sequences, dtype=game.dtype)
        self._local = local_probabilities(game, uniform_policy(game))
        self._owned = [game.sequence_player == player for player in (0, 1)]

    def local_probabilities(self) -> Tensor:
        return self._local

    def step(self) -> None:
        self.iteration += 1
        weight = float(self.iteration) if self.linear_averaging else 1.0
        infosets = self.game.sequence_infoset[2:]
        for owned in self._owned:
            plan = realization_plan(self.game, self._local)
            action_values, infoset_values = counterfactual_values(self.game, payoff_gradient(self.game, plan),
                                                                  self._local)
            instant = torch.cat([torch.zeros(2, dtype=plan.dtype), action_values[2:] - infoset_values[infosets]])
            self.regrets = torch.where(owned, self.regrets + instant, self.regrets)
            self._plan_sum = torch.where(owned, self._plan_sum + weight * plan, self._plan_sum)
            if self.regret_matching_plus:
                self.regrets = self.regrets.clamp_min(0)
            self._local = regret_matching(self.game, self.regrets)


class CFRPlus(CFR):
    """CFR+: regret matching+, alternating updates and linear averaging (OpenSpiel's ``CFRPlusSolver``).

    Args:
        game: the game to solve.
    """

    def __init__(self, game: ExtensiveFormGame) -> None:
        super().__init__(game, regret_matching_plus=True, linear_averaging=True)


def regret_matching(game: ExtensiveFormGame, regrets: Tensor) -> Tensor:
    """Local probabilities proportional to the positive part of cumulative ``regrets`` (uniform if none)."""
    return normalize_by_infoset(game, regrets.clamp_min(0))
