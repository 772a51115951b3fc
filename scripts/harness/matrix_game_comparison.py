"""Run the game dynamics on matrix games, one game or every method on the whole catalogue.

What ``scripts/matrix_games.py`` prints: each player holds a mixed strategy and ascends its own
expected payoff under a dynamics of :data:`ascentrl.games.DYNAMICS`; a run is summarized by the
NashConv of its last iterate and of its time-averaged strategies. A LOLA player assumes its
opponent is a naive learner stepping with the players' learning rate (its look-ahead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from tqdm import tqdm

from ascentrl.agents.matrix_players import MatrixGamePlayer, Trajectory, play
from ascentrl.envs.matrix_games import MATRIX_GAMES, MatrixGame, make_matrix_game
from ascentrl.games import DYNAMICS

__all__ = ["DynamicsSettings", "compare_dynamics", "format_comparison", "format_run", "run_dynamics", "run_summary"]


@dataclass(frozen=True)
class DynamicsSettings:
    """How every player learns in a run."""

    steps: int
    lr: float
    """Learning rate of every player's Ascent optimizer (and LOLA's look-ahead)."""
    parameterization: Literal["simplex", "softmax"] = "simplex"
    seed: int = 0
    """Seed of the random initial strategies."""
    closed_form: bool | None = None
    """As :func:`ascentrl.agents.play`: None uses the closed form where it applies, False autograd."""


def run_dynamics(game: MatrixGame, settings: DynamicsSettings, method: str,
                 profile: list[torch.Tensor]) -> Trajectory:
    """One run of ``method`` from ``profile`` (batched if the game and the profile are)."""
    players = [
        MatrixGamePlayer(initial_strategy=strategy, parameterization=settings.parameterization, lr=settings.lr)
        for strategy in profile
    ]
    options = {"lookahead": settings.lr} if method == "lola" else {}
    return play(game, players, method=method, steps=settings.steps, closed_form=settings.closed_form, **options)


def run_summary(trajectory: Trajectory, index: tuple[int, ...] = ()) -> dict:
    """The JSON object of one run; ``index`` picks a run out of a batched trajectory."""
    return {
        "method": trajectory.method,
        "steps": trajectory.steps,
        "last_nash_conv": float(trajectory.last_nash_conv[index]),
        "average_nash_conv": float(trajectory.average_nash_conv[index]),
        "strategies": [strategy[index].tolist() for strategy in trajectory.last_strategies],
    }


def format_run(game: MatrixGame, settings: DynamicsSettings, trajectory: Trajectory) -> str:
    """A readable table of one run: each player's last and time-averaged strategy, and NashConv."""
    lines = [f"{game.name}: {trajectory.method}, {trajectory.steps} steps, lr {settings.lr},"
             f" {settings.parameterization} strategies, seed {settings.seed}"]
    width = max(9, *(len(name) + 2 for names in game.action_names for name in names))
    for index, (names, last, average) in enumerate(
        zip(game.action_names, trajectory.last_strategies, trajectory.average_strategies)
    ):
        lines.append(f"{f'player_{index}':<16}" + "".join(f"{name:>{width}}" for name in names))
        lines.append(f"{'  last iterate':<16}" + "".join(f"{p:>{width}.4f}" for p in last.tolist()))
        lines.append(f"{'  time average':<16}" + "".join(f"{p:>{width}.4f}" for p in average.tolist()))
    lines.append(f"NashConv of the last iterate: {float(trajectory.last_nash_conv):.3e}")
    lines.append(f"NashConv of the time average: {float(trajectory.average_nash_conv):.3e}")
    return "\n".join(lines)


def compare_dynamics(settings: DynamicsSettings, *, progress: bool = True) -> list[dict]:
    """Every method on every catalogue game: one JSON object per (game, method), game-major.

    Catalogue games of the same shape run as one batch (one run per method and shape, instead
    of one per method and game), each from the same seeded profile as a single-game run uses, so
    every row equals the single-game run.
    """
    by_shape: dict[tuple[int, ...], list[MatrixGame]] = {}
    for name in MATRIX_GAMES:
        game = make_matrix_game(name)
        by_shape.setdefault(game.num_actions, []).append(game)
    rows = {}
    runs = [(games, method) for games in by_shape.values() for method in DYNAMICS]
    for games, method in tqdm(runs, desc="runs", disable=not progress, leave=False):
        if method == "lola" and games[0].n_players != 2:
            for game in games:
                rows[game.name, method] = {
                    "game": game.name, "method": method, "skipped": "lola is defined for two players"
                }
            continue
        batch = MatrixGame(torch.stack([game.payoffs for game in games]), batch_dims=1, name="catalogue")
        profiles = [game.random_profile(seed=settings.seed) for game in games]
        profile = [torch.stack(strategies) for strategies in zip(*profiles)]
        trajectory = run_dynamics(batch, settings, method, profile)
        for index, game in enumerate(games):
            rows[game.name, method] = {"game": game.name, **run_summary(trajectory, (index,))}
    return [rows[name, method] for name in MATRIX_GAMES for method in DYNAMICS]


def format_comparison(settings: DynamicsSettings, rows: list[dict]) -> str:
    """The table of :func:`compare_dynamics`: NashConv of the last iterate / of the time average."""
    lines = [f"NashConv after {settings.steps} steps (last iterate / time average), lr {settings.lr},"
             f" {settings.parameterization} strategies, seed {settings.seed}"]
    cell = 21
    lines.append(f"{'game':<28}" + "".join(f"{method:>{cell}}" for method in DYNAMICS))
    by_key = {(row["game"], row["method"]): row for row in rows}
    for name in MATRIX_GAMES:
        cells = []
        for method in DYNAMICS:
            row = by_key[name, method]
            text = "n/a" if "skipped" in row else f"{row['last_nash_conv']:.1e} / {row['average_nash_conv']:.1e}"
            cells.append(f"{text:>{cell}}")
        lines.append(f"{name:<28}" + "".join(cells))
    return "\n".join(lines)
