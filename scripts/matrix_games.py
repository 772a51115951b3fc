"""Let every player of a matrix game ascend its own expected payoff, and see whether it converges.

Each player holds a mixed strategy, starts from a random one (drawn with --seed) and steps with its
own ascentrl.Ascent optimizer under the chosen dynamics (--method). The table reports NashConv —
the total amount the players could gain by deviating, 0 exactly at a Nash equilibrium — of the last
iterate and of the time-averaged strategies.

  python scripts/matrix_games.py --game rock_paper_scissors --method simultaneous
  python scripts/matrix_games.py --game matching_pennies --method optimistic --plot mp.png
  python scripts/matrix_games.py --payoffs my_game.npy --method extragradient --json
  python scripts/matrix_games.py --game all --steps 500

--payoffs reads a .npy payoff tensor of shape (n_players, A_1, ..., A_n) (payoffs[i, a_1, ..., a_n]
is player i's payoff). --game all compares every method on every catalogue game in one table; games
of the same shape run as one batch, each from the start --game NAME would use. A LOLA player
assumes its opponent is a naive learner stepping with --lr (its look-ahead).
--json prints one object with keys method, steps, last_nash_conv, average_nash_conv and strategies
(per-player probabilities of the last iterate); with --game all, a list of such objects, each with a
"game" key (LOLA on the three-player game carries a "skipped" reason instead of results). --plot
draws the trajectory on the unit square (two players, two actions) or on each player's simplex,
with the known equilibria marked. The dynamics run in closed form (ascentrl.games.matrix_dynamics:
the gradients of a matrix game are tensor contractions), which gives autograd's results to 1e-12
ten to twenty times faster; --autograd runs them on autograd instead, for comparison. Exit code 2 on
bad input.
"""

from __future__ import annotations

import sys

from ascentrl.interrupts import exit_quietly_on_signals

if __name__ == "__main__":  # before the slow imports below: Ctrl-C there is one line, not a traceback
    exit_quietly_on_signals(sys.argv[0])

import argparse
import json
import math
from dataclasses import dataclass
from typing import Literal

import torch
from harness.matrix_game_comparison import (
    DynamicsSettings,
    compare_dynamics,
    format_comparison,
    format_run,
    run_dynamics,
    run_summary,
)
from harness.matrix_game_plots import plot_trajectory

from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail
from ascentrl.envs import MATRIX_GAMES, make_matrix_game
from ascentrl.envs.matrix_games import known_equilibria, load_matrix_game
from ascentrl.games import DYNAMICS
from ascentrl.output_folder import check_png_path
from ascentrl.rng import seed_everything
from ascentrl.validation import check_seed


@dataclass
class MatrixGamesConfig:
    """Which game, which dynamics, and what to print or plot."""

    game: str = "matching_pennies"
    """Catalogue game, or 'all' for every method on every catalogue game."""
    payoffs: str | None = None
    """A .npy payoff tensor of shape (n_players, A_1, ..., A_n); replaces --game."""
    method: str = "optimistic"
    """Dynamics: simultaneous, alternating, optimistic, extragradient, sga, consensus or lola."""
    steps: int = 1000
    """Steps of the dynamics."""
    lr: float = 0.2
    """Learning rate of every player's Ascent optimizer."""
    seed: int = 0
    """Seed of the random initial strategies."""
    parameterization: Literal["simplex", "softmax"] = "simplex"
    """Strategies as probabilities kept on the simplex by projection, or as softmax logits."""
    plot: str | None = None
    """Write the trajectory plot to this PNG file (single game only)."""
    json: bool = False
    """Print JSON instead of a table."""
    autograd: bool = False
    """Compute the gradients with autograd instead of in closed form (slower; for comparison)."""

    def __post_init__(self) -> None:
        if self.payoffs is None and self.game not in (*MATRIX_GAMES, "all"):
            raise ValueError(f"--game must be 'all' or one of {', '.join(MATRIX_GAMES)}; got {self.game!r}")
        if self.method not in DYNAMICS:
            raise ValueError(f"--method must be one of {', '.join(DYNAMICS)}; got {self.method!r}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"--steps must be a positive integer, got {self.steps!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"--lr must be a finite number > 0, got {self.lr!r}")
        check_seed("--seed", self.seed)
        if self.plot is not None and self.payoffs is None and self.game == "all":
            raise ValueError("--plot draws one game; choose --game NAME or --payoffs FILE")
        if self.plot is not None:
            check_png_path("--plot", self.plot)


def build_parser() -> CommandLineParser:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, MatrixGamesConfig)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        config = config_from_args(MatrixGamesConfig, arguments)
        if config.payoffs is not None:
            try:
                game = load_matrix_game(config.payoffs)
            except ValueError as error:
                raise ValueError(f"--payoffs {error}") from None
        else:
            game = None if config.game == "all" else make_matrix_game(config.game)
        if game is not None and config.method == "lola" and game.n_players != 2:
            raise ValueError(f"--method lola needs a two-player game; {game.name} has {game.n_players} players")
    except (ValueError, TypeError, OSError) as error:
        fail(parser, error)
    seed_everything(config.seed)
    # The tensors are tiny: splitting their ops across threads costs more than it saves, and on a
    # busy machine thread contention made batched runs ten times slower.
    torch.set_num_threads(1)
    settings = DynamicsSettings(config.steps, config.lr, config.parameterization, config.seed,
                                closed_form=False if config.autograd else None)

    if game is None:
        rows = compare_dynamics(settings, progress=not config.json)
        print(json.dumps(rows) if config.json else format_comparison(settings, rows))
        return 0

    trajectory = run_dynamics(game, settings, config.method, game.random_profile(seed=config.seed))
    print(json.dumps(run_summary(trajectory)) if config.json else format_run(game, settings, trajectory))
    if config.plot is not None:
        plot_trajectory(config.plot, game, trajectory, known_equilibria(game))
        if not config.json:
            print(f"plot written to {config.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
