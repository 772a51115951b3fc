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
from dataclasses import dataclass

import torch
from harness.extensive_game_benchmark import TARGETS, bench_game, format_game

from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail
from ascentrl.games.extensive import SOLVERS


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
    reports = [bench_game(name, methods=config.methods, seconds=config.seconds, python_seconds=config.python_seconds,
                          check_every=config.check_every, slice_seconds=config.slice_seconds, plot=config.plot)
               for name in games]
    if config.json:
        print(json.dumps({"load_average_at_start": load, "games": reports}))
        return 0
    print(f"{os.cpu_count()} CPU cores, load average {load:.1f} at the start ({config.threads} torch thread); "
          "timings are shared-machine wall clock, compare the ratios")
    for report in reports:
        print(format_game(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
