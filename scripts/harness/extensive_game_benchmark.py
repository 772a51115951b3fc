"""Our extensive-form solvers against OpenSpiel's CFR+ on Kuhn and Leduc poker: the race and its table.

Used by ``scripts/bench_extensive_games.py``. :func:`bench_game` builds one
:class:`harness.extensive_game_runs.Contender` per solver, all from uniform play: each of ours
(evaluated after every step, by its ``reported_nash_conv``), OpenSpiel's C++ CFR+ through
``pyspiel.CFRPlusSolver`` and, given seconds for it, OpenSpiel's Python CFR+
(``open_spiel.python.algorithms.cfr.CFRPlusSolver``); the peers' average policies are converted to
our tables (:mod:`harness.openspiel_policies`) and scored by the same exact
:func:`ascentrl.games.extensive.nash_conv`, every ``check_every`` steps. The contenders take turns
until each has reached the game's target or spent its seconds; the result holds one row per
solver, its curve, the ratio of OpenSpiel C++ CFR+'s time to ours, and the verdict on the target
of issue 12. :func:`format_game` prints it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pyspiel
from open_spiel.python.algorithms import cfr as openspiel_cfr

from ascentrl.games.extensive import ExtensiveFormGame, make_game, make_solver, nash_conv, sequence_form
from harness.extensive_game_runs import Contender, SolverRun, plot_nash_conv
from harness.openspiel_policies import from_cpp_policy, from_tabular_policy

__all__ = ["KUHN_SECONDS", "LAST_ITERATE_METHODS", "LEDUC_SPEEDUP", "TARGETS", "bench_game", "format_game"]

TARGETS = {"kuhn_poker": 1e-6, "leduc_poker": 1e-3}
"""NashConv each game's runs stop at."""
KUHN_SECONDS = 1.0
"""Kuhn: our best last iterate reaches its target within this many seconds of solving."""
LEDUC_SPEEDUP = 2.0
"""Leduc: our best last iterate reaches its target at least this many times faster than OpenSpiel's C++ CFR+."""
LAST_ITERATE_METHODS = ("simultaneous", "optimistic", "extragradient", "mmd")
"""Our solvers whose reported iterate is the last one (the others report the average)."""


def bench_game(name: str, *, methods: Sequence[str], seconds: float, python_seconds: float, check_every: int,
               slice_seconds: float, plot: str | None = None) -> dict:
    """Every solver on one game, in turns; the rows and the verdict.

    Args:
        name: ``kuhn_poker`` or ``leduc_poker``.
        methods: our solvers to race (names of :data:`ascentrl.games.extensive.SOLVERS`).
        seconds: most seconds of solving for each of ours and OpenSpiel's C++ CFR+ on Leduc (a sixth on Kuhn).
        python_seconds: seconds of OpenSpiel's Python CFR+ on Leduc (a sixth on Kuhn); 0 leaves it out.
        check_every: OpenSpiel's solvers are evaluated every this many iterations.
        slice_seconds: seconds of solving per turn.
        plot: write the NashConv curves to this PNG.
    """
    game, target = make_game(name), TARGETS[name]
    racers = _contenders(name, game, methods=methods, seconds=seconds, python_seconds=python_seconds,
                         check_every=check_every)
    while not all(racer.finished for racer in racers):
        for racer in racers:
            racer.advance(slice_seconds)
    runs = {racer.run.method: racer.run for racer in racers}
    cpp = runs["OpenSpiel C++ CFR+"]
    rows = []
    for label, run in runs.items():
        method = label.removeprefix("ours: ")
        reported = "last" if method in LAST_ITERATE_METHODS else "average"
        final = run.curve[-1].nash_conv if run.curve else math.nan
        row = {"solver": label, "reported_iterate": reported, "iterations": run.iterations, "seconds": run.seconds,
               "nash_conv": final, "reached_target": bool(run.reached_target),
               "curve": [[point.iteration, point.seconds, point.nash_conv] for point in run.curve]}
        if label.startswith("ours") and run.reached_target and cpp.reached_target:
            row["speedup_over_openspiel_cpp"] = cpp.seconds / run.seconds
        rows.append(row)
    verdict = _verdict(name, rows, cpp)
    if plot is not None:
        plot_nash_conv(plot, {label: run.curve for label, run in runs.items()},
                       title=f"{name}: NashConv of the reported iterate", target=target)
    return {"game": name, "target_nash_conv": target, "rows": rows, **verdict}


def _contenders(name: str, game: ExtensiveFormGame, *, methods: Sequence[str], seconds: float,
                python_seconds: float, check_every: int) -> list[Contender]:
    """Our solvers and OpenSpiel's C++ and Python CFR+ on one game, from uniform play."""
    openspiel_game, target = pyspiel.load_game(name), TARGETS[name]
    seconds = seconds if name == "leduc_poker" else seconds / 6
    racers = []
    for method in methods:
        make_solver(method, game).step()  # warm-up: first-call allocations and dispatch
        solver = make_solver(method, game)
        racers.append(Contender(f"ours: {method}", solver.step, solver.reported_nash_conv, target=target,
                                seconds=seconds, evaluate_every=1))

    def average_nash_conv(solver, read_policy):
        return lambda: float(nash_conv(game, sequence_form(game, read_policy(solver.average_policy()))))

    cpp = pyspiel.CFRPlusSolver(openspiel_game)
    racers.append(Contender("OpenSpiel C++ CFR+", cpp.evaluate_and_update_policy,
                            average_nash_conv(cpp, lambda policy: from_cpp_policy(game, policy)),
                            target=target, seconds=seconds, evaluate_every=check_every))
    python_seconds = python_seconds if name == "leduc_poker" else python_seconds / 6
    if python_seconds > 0:
        python = openspiel_cfr.CFRPlusSolver(openspiel_game)
        racers.append(Contender("OpenSpiel Python CFR+", python.evaluate_and_update_policy,
                                average_nash_conv(python, lambda policy: from_tabular_policy(game, policy)),
                                target=target, seconds=python_seconds, evaluate_every=check_every))
    return racers


def _verdict(name: str, rows: list[dict], cpp: SolverRun) -> dict:
    """Whether our best last-iterate solver met the game's target of issue 12."""
    ours = [row for row in rows if row["solver"].startswith("ours") and row["reported_iterate"] == "last"
            and row["reached_target"]]
    if not ours:
        return {"target_met": False, "target": "no last-iterate solver of ours reached the target NashConv"}
    best = min(ours, key=lambda row: row["seconds"])
    if name == "kuhn_poker":
        return {"target_met": best["seconds"] <= KUHN_SECONDS,
                "target": f"last iterate <= {TARGETS[name]:g} in <= {KUHN_SECONDS:g} s: {best['solver']} took "
                          f"{best['seconds']:.3f} s ({best['iterations']} iterations)"}
    if not cpp.reached_target:
        return {"target_met": True,
                "target": f"{best['solver']} reached {TARGETS[name]:g} in {best['seconds']:.2f} s; OpenSpiel C++ "
                          f"CFR+ did not within {cpp.seconds:.1f} s"}
    speedup = cpp.seconds / best["seconds"]
    return {"target_met": speedup >= LEDUC_SPEEDUP,
            "target": f"last iterate <= {TARGETS[name]:g} >= {LEDUC_SPEEDUP:g}x faster than OpenSpiel C++ CFR+: "
                      f"{best['solver']} {best['seconds']:.2f} s vs {cpp.seconds:.2f} s = {speedup:.2f}x"}


def format_game(report: dict) -> str:
    """The table of one game's :func:`bench_game`, the NashConv marks of each curve and the verdict."""
    lines = ["", f"{report['game']}: from uniform play to NashConv <= {report['target_nash_conv']:g} "
             "(seconds of solving; evaluation off the clock)",
             f"{'solver':<28}{'iterate':>9}{'iterations':>12}{'seconds':>10}{'NashConv':>11}{'x C++ CFR+':>12}"]
    for row in report["rows"]:
        speedup = row.get("speedup_over_openspiel_cpp")
        lines.append(f"{row['solver']:<28}{row['reported_iterate']:>9}{row['iterations']:>12,}{row['seconds']:>10.3f}"
                     f"{row['nash_conv']:>11.2e}{'' if speedup is None else f'{speedup:.2f}x':>12}")
    for row in report["rows"]:
        marks = _curve_marks(row["curve"])
        if marks:
            points = ", ".join(f"{nash:.1e} at {seconds:.2f} s" for seconds, nash in marks)
            lines.append(f"  {row['solver']}: {points}")
    lines.append(f"target: {'met' if report['target_met'] else 'NOT met'} — {report['target']}")
    return "\n".join(lines)


def _curve_marks(curve: list[list[float]]) -> list[tuple[float, float]]:
    """The first time each curve went below 1e-1, 1e-2, ...: NashConv against wall time."""
    marks, threshold = [], 1e-1
    for _, seconds, value in curve:
        while value <= threshold:
            marks.append((seconds, value))
            threshold /= 10
    return marks
