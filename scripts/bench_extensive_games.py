"""Benchmark: time to a target NashConv on Kuhn and Leduc poker, ours against OpenSpiel's CFR+, same run.

Every solver starts from uniform play and is timed only while it steps; the solvers take turns
(--slice-seconds of solving each), so a shared machine's changing load falls on all of them alike.
NashConv of each one's reported iterate (ours: the last iterate for the ascent methods and mmd, the
average for cfr/cfr_plus; OpenSpiel's CFR+: the average policy) is evaluated exactly between
steps, off the clock, with ascentrl.games.extensive.nash_conv (tested against OpenSpiel's
exploitability to 1e-9). The peers, in the same process and run:

* OpenSpiel's C++ CFR+ through pyspiel (pyspiel.CFRPlusSolver), checked every --check-every steps;
* OpenSpiel's Python CFR+ (open_spiel.python.algorithms.cfr.CFRPlusSolver), for --python-seconds.

Each run stops at the game's target (Kuhn 1e-6, Leduc 1e-3) or after --seconds of solving. The
table prints NashConv against iterations and seconds, and the ratio of OpenSpiel C++ CFR+'s time
to the target over ours. Timings are wall-clock on a possibly shared machine: compare the ratios.

  python scripts/bench_extensive_games.py [--game all] [--methods extragradient cfr_plus] [--json]
  python scripts/bench_extensive_games.py --game leduc_poker --plot leduc.png

Targets (issue 12): Kuhn — the last iterate at NashConv <= 1e-6 within 1 s; Leduc — the last
iterate at NashConv <= 1e-3 at least 2x faster than OpenSpiel's C++ CFR+ reaches it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import dataclass

import pyspiel
import torch
from harness.extensive_game_runs import CurvePoint, SolverRun, plot_nash_conv
from harness.openspiel_policies import from_cpp_policy, from_tabular_policy
from open_spiel.python.algorithms import cfr as openspiel_cfr

from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail
from ascentrl.games.extensive import SOLVERS, ExtensiveFormGame, make_game, make_solver, nash_conv, sequence_form

TARGETS = {"kuhn_poker": 1e-6, "leduc_poker": 1e-3}
"""NashConv each game's runs stop at."""
KUHN_SECONDS = 1.0
LEDUC_SPEEDUP = 2.0
LAST_ITERATE_METHODS = ("simultaneous", "optimistic", "extragradient", "mmd")


@dataclass
class BenchConfig:
    """Which games and solvers, and how long each may run."""

    game: str = "all"
    """kuhn_poker, leduc_poker or all."""
    methods: tuple[str, ...] = ("extragradient", "cfr_plus")
    """Our solvers to time (simultaneous, optimistic, extragradient, mmd, cfr, cfr_plus)."""
    seconds: float = 60.0
    """Most seconds of solving for each of our solvers and for OpenSpiel's C++ CFR+ on Leduc (a sixth of it on
    Kuhn, where the averages of CFR+ need minutes to reach 1e-6)."""
    python_seconds: float = 30.0
    """Seconds of solving for OpenSpiel's Python CFR+ on Leduc (a sixth of it on Kuhn); 0 skips it."""
    check_every: int = 10
    """OpenSpiel's solvers are evaluated every this many iterations (ours after every one)."""
    slice_seconds: float = 0.25
    """Solvers take turns, each running this many seconds of solving per turn."""
    threads: int = 1
    """torch threads (one is fastest for these small tensors)."""
    plot: str | None = None
    """Write NashConv against iterations and seconds to this PNG (one game only)."""
    json: bool = False
    """Print one JSON object instead of tables."""

    def __post_init__(self) -> None:
        if self.game not in (*TARGETS, "all"):
            raise ValueError(f"--game must be one of {', '.join(TARGETS)} or all; got {self.game!r}")
        unknown = [method for method in self.methods if method not in SOLVERS]
        if unknown or not self.methods:
            raise ValueError(f"--methods must name one or more of {', '.join(SOLVERS)}; got {list(self.methods)}")
        for name in ("seconds", "python_seconds", "slice_seconds"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0) or (name != "python_seconds" and value == 0):
                raise ValueError(f"--{name.replace('_', '-')} must be a finite number > 0, got {value!r}")
        for name in ("check_every", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(self, name)!r}")
        if self.plot is not None and self.game == "all":
            raise ValueError("--plot draws one game; choose --game kuhn_poker or --game leduc_poker")


class Contender:
    """One solver racing to the target NashConv, advanced a slice at a time so that every contender
    runs under the same load of a shared machine (contenders take turns, as in bench_optimizer.py).

    Args:
        name: the row's label.
        step: runs one iteration.
        evaluate: NashConv of the reported iterate (called off the clock).
        target: stop once NashConv is at or below it.
        seconds: most seconds of solving.
        evaluate_every: iterations between evaluations.
    """

    def __init__(self, name: str, step, evaluate, *, target: float, seconds: float, evaluate_every: int) -> None:
        self.run, self.finished = SolverRun(name), False
        self._step, self._evaluate = step, evaluate
        self._target, self._seconds, self._every = target, seconds, evaluate_every

    def advance(self, slice_seconds: float) -> None:
        """Step for about ``slice_seconds`` of solving, or until finished."""
        run, budget = self.run, self.run.seconds + slice_seconds
        while not self.finished and run.seconds < budget:
            started = time.perf_counter()
            self._step()
            run.seconds += time.perf_counter() - started
            run.iterations += 1
            out_of_time = run.seconds >= self._seconds
            if run.iterations % self._every and not out_of_time:
                continue
            value = self._evaluate()
            run.reached_target = value <= self._target
            self.finished = run.reached_target or out_of_time
            # Points about 2% apart in iterations draw the curve; the last one is always kept.
            if self.finished or not run.curve or run.iterations >= 1.02 * run.curve[-1].iteration:
                run.curve.append(CurvePoint(run.iterations, run.seconds, value))


def contenders(name: str, game: ExtensiveFormGame, config: BenchConfig) -> list[Contender]:
    """Our solvers and OpenSpiel's C++ and Python CFR+ on one game, from uniform play."""
    openspiel_game, target = pyspiel.load_game(name), TARGETS[name]
    seconds = config.seconds if name == "leduc_poker" else config.seconds / 6
    racers = []
    for method in config.methods:
        make_solver(method, game).step()  # warm-up: first-call allocations and dispatch
        solver = make_solver(method, game)
        racers.append(Contender(f"ours: {method}", solver.step, solver.reported_nash_conv, target=target,
                                seconds=seconds, evaluate_every=1))

    def average_nash_conv(solver, read_policy):
        return lambda: float(nash_conv(game, sequence_form(game, read_policy(solver.average_policy()))))

    cpp = pyspiel.CFRPlusSolver(openspiel_game)
    racers.append(Contender("OpenSpiel C++ CFR+", cpp.evaluate_and_update_policy,
                            average_nash_conv(cpp, lambda policy: from_cpp_policy(game, policy)),
                            target=target, seconds=seconds, evaluate_every=config.check_every))
    python_seconds = config.python_seconds if name == "leduc_poker" else config.python_seconds / 6
    if python_seconds > 0:
        python = openspiel_cfr.CFRPlusSolver(openspiel_game)
        racers.append(Contender("OpenSpiel Python CFR+", python.evaluate_and_update_policy,
                                average_nash_conv(python, lambda policy: from_tabular_policy(game, policy)),
                                target=target, seconds=python_seconds, evaluate_every=config.check_every))
    return racers


def bench_game(name: str, config: BenchConfig) -> dict:
    """Every solver on one game, in turns; the rows and the verdict."""
    game, target = make_game(name), TARGETS[name]
    racers = contenders(name, game, config)
    while not all(racer.finished for racer in racers):
        for racer in racers:
            racer.advance(config.slice_seconds)
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
    if config.plot is not None:
        plot_nash_conv(config.plot, {label: run.curve for label, run in runs.items()},
                       title=f"{name}: NashConv of the reported iterate", target=target)
    return {"game": name, "target_nash_conv": target, "rows": rows, **verdict}


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


def print_game(report: dict) -> None:
    print(f"\n{report['game']}: from uniform play to NashConv <= {report['target_nash_conv']:g} "
          "(seconds of solving; evaluation off the clock)")
    print(f"{'solver':<28}{'iterate':>9}{'iterations':>12}{'seconds':>10}{'NashConv':>11}{'x C++ CFR+':>12}")
    for row in report["rows"]:
        speedup = row.get("speedup_over_openspiel_cpp")
        print(f"{row['solver']:<28}{row['reported_iterate']:>9}{row['iterations']:>12,}{row['seconds']:>10.3f}"
              f"{row['nash_conv']:>11.2e}{'' if speedup is None else f'{speedup:.2f}x':>12}")
    for row in report["rows"]:
        marks = _curve_marks(row["curve"])
        if marks:
            print(f"  {row['solver']}: " + ", ".join(f"{nash:.1e} at {seconds:.2f} s" for seconds, nash in marks))
    print(f"target: {'met' if report['target_met'] else 'NOT met'} — {report['target']}")


def _curve_marks(curve: list[list[float]]) -> list[tuple[float, float]]:
    """The first time each curve went below 1e-1, 1e-2, ...: NashConv against wall time."""
    marks, threshold = [], 1e-1
    for _, seconds, value in curve:
        while value <= threshold:
            marks.append((seconds, value))
            threshold /= 10
    return marks


def build_parser() -> CommandLineParser:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, BenchConfig)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        config = config_from_args(BenchConfig, parser.parse_args(argv))
    except (ValueError, TypeError) as error:
        fail(parser, error)
    torch.set_num_threads(config.threads)
    games = list(TARGETS) if config.game == "all" else [config.game]
    load = os.getloadavg()[0]
    reports = [bench_game(name, config) for name in games]
    if config.json:
        print(json.dumps({"load_average_at_start": load, "games": reports}))
        return 0
    print(f"{os.cpu_count()} CPU cores, load average {load:.1f} at the start ({config.threads} torch thread); "
          "timings are shared-machine wall clock, compare the ratios")
    for report in reports:
        print_game(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
