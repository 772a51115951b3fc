"""Game-theory core: simplex projection, payoff metrics, learning dynamics, a batched solver.

Pure tensor math with no Gymnasium or PettingZoo imports; :mod:`ascentrl.envs` builds the
user-facing :class:`~ascentrl.envs.MatrixGame` on top of it. Every player **maximizes** its
own objective: dynamics step along ``+∇u_i`` and nothing is negated.
"""

from ascentrl.games.dynamics import (
    DYNAMICS,
    AlternatingAscent,
    ConsensusOptimization,
    Extragradient,
    GameDynamics,
    LookaheadOpponentLearning,
    OptimisticAscent,
    SimultaneousAscent,
    SymplecticGradientAdjustment,
    make_dynamics,
)
from ascentrl.games.matrix_dynamics import ClosedFormDynamics, closed_form_unsupported
from ascentrl.games.payoffs import (
    best_response_values,
    best_responses,
    deviation_payoffs,
    distance_to_equilibrium,
    expected_payoffs,
    expected_payoffs_by_player,
    exploitability,
    nash_conv,
)
from ascentrl.games.simplex import project_to_simplex
from ascentrl.games.zero_sum import ZERO_SUM_METHODS, ZeroSumSolution, solve_zero_sum_games

__all__ = [
    "DYNAMICS",
    "ZERO_SUM_METHODS",
    "AlternatingAscent",
    "ClosedFormDynamics",
    "ConsensusOptimization",
    "Extragradient",
    "GameDynamics",
    "LookaheadOpponentLearning",
    "OptimisticAscent",
    "SimultaneousAscent",
    "SymplecticGradientAdjustment",
    "ZeroSumSolution",
    "best_response_values",
    "closed_form_unsupported",
    "best_responses",
    "deviation_payoffs",
    "distance_to_equilibrium",
    "expected_payoffs",
    "expected_payoffs_by_player",
    "exploitability",
    "make_dynamics",
    "nash_conv",
    "project_to_simplex",
    "solve_zero_sum_games",
]
