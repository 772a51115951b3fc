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
* Solvers: ascent dynamics, magnetic mirror descent, CFR and CFR+ (:data:`SOLVERS`).
* OpenSpiel-keyed policy files: :func:`policy_to_dict`, :func:`policy_from_dict`.
"""

from ascentrl.games.extensive.evaluation import (
    best_response_values,
    best_responses,
    counterfactual_values,
    expected_payoffs,
    exploitability,
    nash_conv,
    payoff_gradient,
)
from ascentrl.games.extensive.kuhn_poker import KuhnPoker
from ascentrl.games.extensive.leduc_poker import LeducPoker
from ascentrl.games.extensive.liars_dice import LiarsDice
from ascentrl.games.extensive.rules import CHANCE, TERMINAL, GameRules
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

EXTENSIVE_GAMES: dict[str, type[GameRules]] = {
    "kuhn_poker": KuhnPoker,
    "leduc_poker": LeducPoker,
    "liars_dice": LiarsDice,
}
"""Every built-in game by its OpenSpiel short name."""


def make_game(name: str, **parameters) -> ExtensiveFormGame:
    """Build a game of :data:`EXTENSIVE_GAMES` by name, e.g. ``make_game("liars_dice", dice_sides=3)``."""
    if name not in EXTENSIVE_GAMES:
        raise ValueError(f"game must be one of {', '.join(EXTENSIVE_GAMES)}; got {name!r}")
    return build_game(EXTENSIVE_GAMES[name](**parameters))


__all__ = [
    "CHANCE",
    "EXTENSIVE_GAMES",
    "TERMINAL",
    "ExtensiveFormGame",
    "GameRules",
    "KuhnPoker",
    "LeducPoker",
    "LiarsDice",
    "TreeLevel",
    "behavioural_policy",
    "best_response_values",
    "best_responses",
    "build_game",
    "check_policy",
    "counterfactual_values",
    "expected_payoffs",
    "exploitability",
    "local_probabilities",
    "make_game",
    "nash_conv",
    "payoff_gradient",
    "random_policy",
    "realization_plan",
    "sequence_form",
    "table_from_sequences",
    "uniform_policy",
]
