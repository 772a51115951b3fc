"""Plot a matrix-game trajectory: the unit square for 2x2 games, else one panel per player
(the probability simplex for three actions, probabilities over steps otherwise), with the time
average and the known equilibria marked. matplotlib only, no pyplot."""

from __future__ import annotations

import io
import math
import os

import numpy as np
import torch

from ascentrl.agents.matrix_players import Trajectory
from ascentrl.envs.matrix_games import MatrixGame
from ascentrl.files import write_atomically

__all__ = ["plot_trajectory"]


def plot_trajectory(path: str | os.PathLike, game: MatrixGame, trajectory: Trajectory,
                    equilibria: list[list[torch.Tensor]]) -> None:
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
    _write_png(path, figure)


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


def _write_png(path: str | os.PathLike, figure) -> None:
    """The figure as a PNG, written atomically (a reader never sees half an image)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    write_atomically(path, buffer.getvalue())
