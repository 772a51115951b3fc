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
with the known equilibria marked. Exit code 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from tqdm import tqdm

from ascentrl.agents import MatrixGamePlayer, Trajectory, play
from ascentrl.envs import MATRIX_GAMES, MatrixGame, make_matrix_game
from ascentrl.games import DYNAMICS, solve_zero_sum_games
from ascentrl.runs import CommandLineParser, add_config_arguments, config_from_args, fail, seed_everything


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

    def __post_init__(self) -> None:
        if self.payoffs is None and self.game not in (*MATRIX_GAMES, "all"):
            raise ValueError(f"--game must be 'all' or one of {', '.join(MATRIX_GAMES)}; got {self.game!r}")
        if self.method not in DYNAMICS:
            raise ValueError(f"--method must be one of {', '.join(DYNAMICS)}; got {self.method!r}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"--steps must be a positive integer, got {self.steps!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"--lr must be a finite number > 0, got {self.lr!r}")
        if self.seed < 0:
            raise ValueError(f"--seed must be >= 0, got {self.seed!r}")
        if self.plot is not None and self.payoffs is None and self.game == "all":
            raise ValueError("--plot draws one game; choose --game NAME or --payoffs FILE")


def load_payoffs(path: str) -> MatrixGame:
    """A user's game from a .npy file, validated by :class:`MatrixGame`."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"--payoffs {path}: cannot read a .npy array ({error})") from None
    try:
        return MatrixGame(array, name=Path(path).stem)
    except (ValueError, TypeError) as error:
        raise ValueError(f"--payoffs {path}: {error}") from None


def equilibria_to_mark(game: MatrixGame) -> list[list[torch.Tensor]]:
    """Known equilibria of catalogue games; for a user's two-player zero-sum game, solve it."""
    if game.equilibria:
        return [list(profile) for profile in game.equilibria]
    if game.n_players == 2 and game.is_zero_sum():
        solution = solve_zero_sum_games(game.payoffs[0].unsqueeze(0))
        if bool(solution.converged[0]):
            return [[solution.row_strategies[0], solution.column_strategies[0]]]
    return []


def method_options(method: str, config: MatrixGamesConfig) -> dict:
    """LOLA's player assumes its opponent is a naive learner stepping with the players' --lr."""
    return {"lookahead": config.lr} if method == "lola" else {}


def run(game: MatrixGame, config: MatrixGamesConfig, method: str, profile: list[torch.Tensor]) -> Trajectory:
    """One run of ``method`` from ``profile`` (batched if the game and the profile are)."""
    players = [
        MatrixGamePlayer(initial_strategy=strategy, parameterization=config.parameterization, lr=config.lr)
        for strategy in profile
    ]
    return play(game, players, method=method, steps=config.steps, **method_options(method, config))


def summary(trajectory: Trajectory, index: tuple[int, ...] = ()) -> dict:
    """The JSON object of one run; ``index`` picks a run out of a batched trajectory."""
    return {
        "method": trajectory.method,
        "steps": trajectory.steps,
        "last_nash_conv": float(trajectory.last_nash_conv[index]),
        "average_nash_conv": float(trajectory.average_nash_conv[index]),
        "strategies": [strategy[index].tolist() for strategy in trajectory.last_strategies],
    }


def print_run(game: MatrixGame, config: MatrixGamesConfig, trajectory: Trajectory) -> None:
    print(
        f"{game.name}: {trajectory.method}, {trajectory.steps} steps, lr {config.lr},"
        f" {config.parameterization} strategies, seed {config.seed}"
    )
    width = max(9, *(len(name) + 2 for names in game.action_names for name in names))
    for index, (names, last, average) in enumerate(
        zip(game.action_names, trajectory.last_strategies, trajectory.average_strategies)
    ):
        print(f"{f'player_{index}':<16}" + "".join(f"{name:>{width}}" for name in names))
        print(f"{'  last iterate':<16}" + "".join(f"{p:>{width}.4f}" for p in last.tolist()))
        print(f"{'  time average':<16}" + "".join(f"{p:>{width}.4f}" for p in average.tolist()))
    print(f"NashConv of the last iterate: {float(trajectory.last_nash_conv):.3e}")
    print(f"NashConv of the time average: {float(trajectory.average_nash_conv):.3e}")


def compare_all(config: MatrixGamesConfig) -> list[dict]:
    """Every method on every catalogue game: one JSON object per (game, method), game-major.

    Catalogue games of the same shape run as one batch (one run per method and shape, instead
    of one per method and game), each from the same seeded profile as ``--game NAME`` uses, so
    every row equals the single-game run.
    """
    by_shape: dict[tuple[int, ...], list[MatrixGame]] = {}
    for name in MATRIX_GAMES:
        game = make_matrix_game(name)
        by_shape.setdefault(game.num_actions, []).append(game)
    rows = {}
    runs = [(games, method) for games in by_shape.values() for method in DYNAMICS]
    for games, method in tqdm(runs, desc="runs", disable=config.json, leave=False):
        if method == "lola" and games[0].n_players != 2:
            for game in games:
                rows[game.name, method] = {
                    "game": game.name, "method": method, "skipped": "lola is defined for two players"
                }
            continue
        batch = MatrixGame(torch.stack([game.payoffs for game in games]), batch_dims=1, name="catalogue")
        profiles = [game.random_profile(seed=config.seed) for game in games]
        profile = [torch.stack(strategies) for strategies in zip(*profiles)]
        trajectory = run(batch, config, method, profile)
        for index, game in enumerate(games):
            rows[game.name, method] = {"game": game.name, **summary(trajectory, (index,))}
    return [rows[name, method] for name in MATRIX_GAMES for method in DYNAMICS]


def print_comparison(config: MatrixGamesConfig, rows: list[dict]) -> None:
    """The table of :func:`compare_all`: NashConv of the last iterate / of the time average."""
    print(
        f"NashConv after {config.steps} steps (last iterate / time average), lr {config.lr},"
        f" {config.parameterization} strategies, seed {config.seed}"
    )
    cell = 21
    print(f"{'game':<28}" + "".join(f"{method:>{cell}}" for method in DYNAMICS))
    by_key = {(row["game"], row["method"]): row for row in rows}
    for name in MATRIX_GAMES:
        cells = []
        for method in DYNAMICS:
            row = by_key[name, method]
            text = "n/a" if "skipped" in row else f"{row['last_nash_conv']:.1e} / {row['average_nash_conv']:.1e}"
            cells.append(f"{text:>{cell}}")
        print(f"{name:<28}" + "".join(cells))


def plot_trajectory(path: str, game: MatrixGame, trajectory: Trajectory, equilibria) -> None:
    """Unit square for 2×2 games, otherwise one panel per player (simplex or probabilities)."""
    from matplotlib.figure import Figure

    strategies = [s.numpy() for s in trajectory.strategies]
    running_average = [np.cumsum(s, axis=0) / np.arange(1, len(s) + 1)[:, None] for s in strategies]
    title = f"{game.name}: {trajectory.method}, {trajectory.steps} steps"
    if game.n_players == 2 and game.num_actions == (2, 2):
        figure = Figure(figsize=(5.5, 5.2), layout="constrained")
        axes = figure.subplots()
        axes.plot(strategies[0][:, 0], strategies[1][:, 0], lw=0.8, label="iterates")
        axes.plot(running_average[0][:, 0], running_average[1][:, 0], "--", lw=0.8, label="time average")
        axes.plot(strategies[0][0, 0], strategies[1][0, 0], "o", color="black", label="start")
        for index, profile in enumerate(equilibria):
            axes.plot(float(profile[0][0]), float(profile[1][0]), "*", ms=14, color="red",
                      label="Nash equilibrium" if index == 0 else None)
        axes.set_xlim(-0.02, 1.02)
        axes.set_ylim(-0.02, 1.02)
        axes.set_xlabel(f"player_0: P({game.action_names[0][0]})")
        axes.set_ylabel(f"player_1: P({game.action_names[1][0]})")
        axes.legend(loc="best")
        axes.set_title(title)
    else:
        figure = Figure(figsize=(4.6 * game.n_players, 4.4), layout="constrained")
        panels = figure.subplots(1, game.n_players, squeeze=False)[0]
        for player, axes in enumerate(panels):
            marks = [np.asarray(profile[player], dtype=float) for profile in equilibria]
            _plot_player(axes, strategies[player], running_average[player], marks, game.action_names[player])
            axes.set_title(f"player_{player}")
        figure.suptitle(title)
    figure.savefig(path, dpi=110)


def _plot_player(axes, strategy: np.ndarray, average: np.ndarray, marks: list[np.ndarray], names) -> None:
    actions = strategy.shape[1]
    if actions == 3:
        # Barycentric coordinates: vertex k of an equilateral triangle is pure action k.
        corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2]])
        outline = np.vstack([corners, corners[:1]])
        axes.plot(outline[:, 0], outline[:, 1], color="grey", lw=0.8)
        for corner, name in zip(corners, names):
            axes.annotate(name, corner, ha="center", va="bottom" if corner[1] > 0 else "top")
        points, averaged = strategy @ corners, average @ corners
        axes.plot(points[:, 0], points[:, 1], lw=0.8, label="iterates")
        axes.plot(averaged[:, 0], averaged[:, 1], "--", lw=0.8, label="time average")
        axes.plot(points[0, 0], points[0, 1], "o", color="black", label="start")
        for index, mark in enumerate(marks):
            point = mark @ corners
            axes.plot(point[0], point[1], "*", ms=14, color="red", label="Nash equilibrium" if index == 0 else None)
        axes.set_aspect("equal")
        axes.axis("off")
    else:
        steps = np.arange(len(strategy))
        for action, name in enumerate(names):
            line = axes.plot(steps, strategy[:, action], lw=0.8, label=f"P({name})")[0]
            axes.plot(steps, average[:, action], "--", lw=0.8, color=line.get_color(), label=f"P({name}), time average")
            for mark in marks:
                axes.axhline(mark[action], ls=":", color=line.get_color())
        axes.set_xlabel("step")
        axes.set_ylim(-0.02, 1.02)
    axes.legend(loc="best", fontsize="small")


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
            game = load_payoffs(config.payoffs)
        else:
            game = None if config.game == "all" else make_matrix_game(config.game)
        if game is not None and config.method == "lola" and game.n_players != 2:
            raise ValueError(f"--method lola needs a two-player game; {game.name} has {game.n_players} players")
        if config.plot is not None:
            Path(config.plot).parent.mkdir(parents=True, exist_ok=True)
    except (ValueError, TypeError, OSError) as error:
        fail(parser, error)
    seed_everything(config.seed)
    # The tensors are tiny: splitting their ops across threads costs more than it saves, and on a
    # busy machine thread contention made batched runs ten times slower.
    torch.set_num_threads(1)

    if game is None:
        rows = compare_all(config)
        if config.json:
            print(json.dumps(rows))
        else:
            print_comparison(config, rows)
        return 0

    trajectory = run(game, config, config.method, game.random_profile(seed=config.seed))
    if config.json:
        print(json.dumps(summary(trajectory)))
    else:
        print_run(game, config, trajectory)
    if config.plot is not None:
        plot_trajectory(config.plot, game, trajectory, equilibria_to_mark(game))
        if not config.json:
            print(f"plot written to {config.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
