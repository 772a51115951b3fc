"""The closed-form game dynamics against the autograd path: compute time per 1,000 steps and equality.

Used by ``scripts/bench_games.py``. Every method of :data:`ascentrl.games.DYNAMICS` runs on a
two-player 2×2 game from the same seeded start, once through :func:`ascentrl.agents.play`'s closed
form and once on autograd; a run's time is the process CPU time of ``play`` (the best of
``repeats`` runs for the closed form), and the two trajectories are compared entry by entry at
every step. :func:`time_catalogue` times ``scripts/matrix_games.py --game all`` in a subprocess, both
ways, and checks that the two JSON outputs agree.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from ascentrl.agents import MatrixGamePlayer, play
from ascentrl.envs import make_matrix_game
from ascentrl.games import DYNAMICS

__all__ = ["compare_dynamics_paths", "time_catalogue"]

_SCRIPT = Path(__file__).resolve().parents[1] / "matrix_games.py"


def compare_dynamics_paths(
    *, steps: int = 1000, game: str = "matching_pennies", parameterizations: tuple[str, ...] = ("simplex", "softmax"),
    lr: float = 0.2, seed: int = 0, repeats: int = 3,
) -> list[dict]:
    """One row per method and parameterization: milliseconds of CPU per 1,000 steps both ways, the
    ratio, and the largest difference between the two trajectories' strategies over all steps."""
    matrix_game = make_matrix_game(game)
    start = matrix_game.random_profile(seed=seed)
    rows = []
    for parameterization in parameterizations:
        for method in DYNAMICS:
            runs = [_timed_play(matrix_game, start, method, parameterization, lr, steps, True) for _ in range(repeats)]
            closed_seconds, closed = min(runs, key=lambda timed: timed[0])
            autograd_seconds, autograd = _timed_play(matrix_game, start, method, parameterization, lr, steps, False)
            difference = max(float((a - b).abs().max()) for a, b in zip(closed.strategies, autograd.strategies))
            rows.append({
                "method": method,
                "parameterization": parameterization,
                "closed_form_ms_per_1000_steps": 1e3 * closed_seconds * 1000 / steps,
                "autograd_ms_per_1000_steps": 1e3 * autograd_seconds * 1000 / steps,
                "speedup": autograd_seconds / closed_seconds,
                "max_difference": difference,
            })
    return rows


def _timed_play(game, start, method: str, parameterization: str, lr: float, steps: int, closed_form: bool):
    """CPU seconds of one :func:`play` from ``start`` (LOLA looks ahead by ``lr``), and its trajectory."""
    players = [MatrixGamePlayer(initial_strategy=strategy, parameterization=parameterization, lr=lr)
               for strategy in start]
    options = {"lookahead": lr} if method == "lola" else {}
    begin = time.process_time()
    trajectory = play(game, players, method=method, steps=steps, closed_form=closed_form, **options)
    return time.process_time() - begin, trajectory


def time_catalogue(steps: int) -> dict:
    """``scripts/matrix_games.py --game all --steps STEPS --json`` in a subprocess, closed form and
    ``--autograd``: wall and CPU seconds of each (interpreter start and imports included) and the
    largest difference between their NashConv figures and strategies."""
    results, outputs = {}, {}
    for name, extra in (("closed_form", []), ("autograd", ["--autograd"])):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        begin = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, str(_SCRIPT), "--game", "all", "--steps", str(steps), "--json", *extra],
            capture_output=True, text=True, check=True,
        )
        wall = time.perf_counter() - begin
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        results[name] = {"wall_seconds": wall, "cpu_seconds": cpu}
        outputs[name] = json.loads(completed.stdout)
    results["max_difference"] = max(_row_difference(a, b) for a, b in zip(outputs["closed_form"], outputs["autograd"]))
    return results


def _row_difference(first: dict, second: dict) -> float:
    if "skipped" in first:
        return 0.0
    numbers = [abs(first[key] - second[key]) for key in ("last_nash_conv", "average_nash_conv")]
    for a, b in zip(first["strategies"], second["strategies"]):
        numbers += [abs(p - q) for p, q in zip(a, b)]
    return max(numbers)
