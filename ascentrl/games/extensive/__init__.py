"""Two-player zero-sum games with turns, chance and hidden information, solved exactly with tensors.

Pure tensor math with no Gymnasium or PettingZoo imports; :mod:`ascentrl.envs.poker_envs` builds
PettingZoo environments on top of it. Every player **maximizes** its own expected payoff.

* Define a game with :class:`GameRules` (:mod:`~ascentrl.games.extensive.rules`), or take one of
  :data:`EXTENSIVE_GAMES` (Kuhn and Leduc poker with OpenSpiel's rules, Liar's dice);
  :func:`build_game` / :func:`make_game` walk it once into an :class:`ExtensiveFormGame`.
* Strategies: policy tables, local probabilities and realization plans
  (:mod:`~ascentrl.games.extensive.strategies`).
* Exact evaluation: :func:`expected_payoffs`, :func:`best_responses`, :func:`nash_conv`,
  :func:`exploitability` (:mod:`~ascentrl.games.extensive.evaluation`).
* Solvers (:data:`SOLVERS`, :func:`make_solver`): simultaneous, optimistic and extragradient
  mirror ascent, magnetic mirror descent, CFR and CFR+.
* Policy files keyed by OpenSpiel information-state strings: :func:`save_policy`,
  :func:`load_policy`, :func:`policy_to_dict`, :func:`policy_from_dict`.
"""

from ascentrl.games.extensive.catalogue import EXTENSIVE_GAMES, SOLVERS, make_game, make_solver
from ascentrl.games.extensive.cfr import CFR, CFRPlus
from ascentrl.games.extensive.dynamics import (
    MagneticMirrorDescent,
    TreeplexAscent,
    TreeplexExtragradient,
    TreeplexOptimisticAscent,
    TreeplexSimultaneousAscent,
)
from ascentrl.games.extensive.evaluation import (
    best_response_values,
    best_responses,
    counterfactual_reach,
    counterfactual_values,
    expected_payoffs,
    exploitability,
    nash_conv,
    payoff_gradient,
    payoff_gradient_matrix,
)
from ascentrl.games.extensive.kuhn_poker import KuhnPoker
from ascentrl.games.extensive.leduc_poker import LeducPoker
from ascentrl.games.extensive.liars_dice import LiarsDice
from ascentrl.games.extensive.mirror import DilatedEntropy, DilatedEuclidean, DilatedRegularizer
from ascentrl.games.extensive.policy_files import load_policy, policy_from_dict, policy_to_dict, save_policy
from ascentrl.games.extensive.rules import CHANCE, TERMINAL, GameRules
from ascentrl.games.extensive.solver import Solver
from ascentrl.games.extensive.strategies import (
    behavioural_policy,
    check_policy,
    local_probabilities,
    random_policy,
    realization_plan,
    sequence_form,
    table_from_sequences,
    uniform_policy,
)
from ascentrl.games.extensive.tree import ExtensiveFormGame, TreeLevel, build_game

__all__ = [
    "CFR",
    "CHANCE",
    "EXTENSIVE_GAMES",
    "SOLVERS",
    "TERMINAL",
    "CFRPlus",
    "DilatedEntropy",
    "DilatedEuclidean",
    "DilatedRegularizer",
    "ExtensiveFormGame",
    "GameRules",
    "KuhnPoker",
    "LeducPoker",
    "LiarsDice",
    "MagneticMirrorDescent",
    "Solver",
    "TreeLevel",
    "TreeplexAscent",
    "TreeplexExtragradient",
    "TreeplexOptimisticAscent",
    "TreeplexSimultaneousAscent",
    "behavioural_policy",
    "best_response_values",
    "best_responses",
    "build_game",
    "check_policy",
    "counterfactual_reach",
    "counterfactual_values",
    "expected_payoffs",
    "exploitability",
    "load_policy",
    "local_probabilities",
    "make_game",
    "make_solver",
    "nash_conv",
    "payoff_gradient",
    "payoff_gradient_matrix",
    "policy_from_dict",
    "policy_to_dict",
    "random_policy",
    "realization_plan",
    "save_policy",
    "sequence_form",
    "table_from_sequences",
    "uniform_policy",
]
