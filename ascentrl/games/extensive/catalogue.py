"""The built-in games and solvers by name, as the scripts and the environments spell them."""

from __future__ import annotations

from ascentrl.games.extensive.cfr import CFR, CFRPlus
from ascentrl.games.extensive.dynamics import (
    MagneticMirrorDescent,
    TreeplexExtragradient,
    TreeplexOptimisticAscent,
    TreeplexSimultaneousAscent,
)
from ascentrl.games.extensive.kuhn_poker import KuhnPoker
from ascentrl.games.extensive.leduc_poker import LeducPoker
from ascentrl.games.extensive.liars_dice import LiarsDice
from ascentrl.games.extensive.rules import GameRules
from ascentrl.games.extensive.solver import Solver
from ascentrl.games.extensive.tree import ExtensiveFormGame, build_game

EXTENSIVE_GAMES: dict[str, type[GameRules]] = {
    "kuhn_poker": KuhnPoker,
    "leduc_poker": LeducPoker,
    "liars_dice": LiarsDice,
}
"""Every built-in game by its OpenSpiel short name."""

SOLVERS: dict[str, type[Solver]] = {
    "simultaneous": TreeplexSimultaneousAscent,
    "optimistic": TreeplexOptimisticAscent,
    "extragradient": TreeplexExtragradient,
    "mmd": MagneticMirrorDescent,
    "cfr": CFR,
    "cfr_plus": CFRPlus,
}
"""Every solver by the name used in scripts and :func:`make_solver`."""


def make_game(name: str, **parameters) -> ExtensiveFormGame:
    """Build a game of :data:`EXTENSIVE_GAMES` by name, e.g. ``make_game("liars_dice", dice_sides=3)``."""
    if name not in EXTENSIVE_GAMES:
        raise ValueError(f"game must be one of {', '.join(EXTENSIVE_GAMES)}; got {name!r}")
    return build_game(EXTENSIVE_GAMES[name](**parameters))


def make_solver(method: str, game: ExtensiveFormGame, **options) -> Solver:
    """The solver called ``method`` (a key of :data:`SOLVERS`) on ``game``, with its keyword ``options``."""
    if method not in SOLVERS:
        raise ValueError(f"method must be one of {', '.join(SOLVERS)}; got {method!r}")
    return SOLVERS[method](game, **options)
