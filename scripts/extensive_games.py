"""Solve Kuhn or Leduc poker exactly with an ascent dynamics, magnetic mirror descent, CFR or CFR+.

Both players start from uniform play; every iteration updates both policies over the whole game
tree at once (ascent methods climb each player's own expected payoff; nothing is negated). The
table reports NashConv — what the two players together could gain by deviating, 0 exactly at a Nash
equilibrium — of the last iterate and of the average iterate. The *reported* iterate is the last
one for simultaneous, optimistic, extragradient and mmd, and the average for cfr and cfr_plus
(their last iterate need not converge).

  python scripts/extensive_games.py --game kuhn_poker --method extragradient --target-nash-conv 1e-6
  python scripts/extensive_games.py --game leduc_poker --method cfr_plus --iterations 500 --plot leduc.png
  python scripts/extensive_games.py --game leduc_poker --method extragradient --policy-out policy.json --json
  python scripts/extensive_games.py --game leduc_poker --evaluate-policy policy.json

--target-nash-conv stops as soon as the reported iterate's NashConv is at or below X (checked after
every iteration; --iterations is then the cap). --json prints one object with keys method,
iterations, seconds, last_nash_conv, average_nash_conv; seconds counts solving only, not the
NashConv checks. --policy-out writes the reported iterate as {information_state_string:
[probability of each legal action, in OpenSpiel's action order]}, the format --evaluate-policy
reads (it then only evaluates that policy). --plot draws NashConv against iterations and against
seconds. Exit code 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from harness.extensive_game_runs import plot_nash_conv, run_solver

from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail
from ascentrl.games.extensive import (
    SOLVERS,
    expected_payoffs,
    exploitability,
    load_policy,
    make_game,
    make_solver,
    nash_conv,
    save_policy,
    sequence_form,
)
from ascentrl.games.extensive.mirror import REGULARIZERS

GAMES = ("kuhn_poker", "leduc_poker")
ASCENT_METHODS = ("simultaneous", "optimistic", "extragradient", "mmd")


@dataclass
class ExtensiveGamesConfig:
    """Which game, which solver, when to stop and what to write."""

    game: str = "kuhn_poker"
    """kuhn_poker or leduc_poker (OpenSpiel's rules)."""
    method: str = "extragradient"
    """simultaneous, optimistic, extragradient, mmd, cfr or cfr_plus."""
    iterations: int = 1000
    """Iterations to run (the most to run with --target-nash-conv)."""
    target_nash_conv: float | None = None
    """Stop as soon as the reported iterate's NashConv is at or below this."""
    step_size: float | None = None
    """Step size of an ascent method or mmd, in units of the game's payoff scale (none: the method's default;
    extragradient adapts it from there)."""
    regularizer: str = "euclidean"
    """Geometry of an ascent method or mmd: euclidean (projections) or entropy (softmax steps)."""
    policy_out: str | None = None
    """Write the reported iterate to this JSON policy file."""
    plot: str | None = None
    """Write NashConv against iterations and seconds to this PNG file."""
    evaluate_policy: str | None = None
    """Only evaluate the policy in this JSON file (NashConv, exploitability, expected payoffs)."""
    threads: int = 1
    """torch threads (one is fastest for these small tensors)."""
    json: bool = False
    """Print one JSON object instead of a table."""

    def __post_init__(self) -> None:
        if self.game not in GAMES:
            raise ValueError(f"--game must be one of {', '.join(GAMES)}; got {self.game!r}")
        if self.method not in SOLVERS:
            raise ValueError(f"--method must be one of {', '.join(SOLVERS)}; got {self.method!r}")
        if self.iterations < 1:
            raise ValueError(f"--iterations must be a positive integer, got {self.iterations!r}")
        if self.target_nash_conv is not None and not (math.isfinite(self.target_nash_conv)
                                                      and self.target_nash_conv > 0):
            raise ValueError(f"--target-nash-conv must be a finite number > 0, got {self.target_nash_conv!r}")
        if self.step_size is not None and not (math.isfinite(self.step_size) and self.step_size > 0):
            raise ValueError(f"--step-size must be a finite number > 0, got {self.step_size!r}")
        if self.regularizer not in REGULARIZERS:
            raise ValueError(f"--regularizer must be one of {', '.join(REGULARIZERS)}; got {self.regularizer!r}")
        if self.method not in ASCENT_METHODS and (self.step_size is not None or self.regularizer != "euclidean"):
            raise ValueError(f"--step-size and --regularizer apply to {', '.join(ASCENT_METHODS)}, "
                             f"not to --method {self.method}")
        if self.threads < 1:
            raise ValueError(f"--threads must be a positive integer, got {self.threads!r}")


def build_parser() -> CommandLineParser:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, ExtensiveGamesConfig)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        config = config_from_args(ExtensiveGamesConfig, parser.parse_args(argv))
        game = make_game(config.game)
        policy = None if config.evaluate_policy is None else load_policy(config.evaluate_policy, game)
        for option, path in (("--policy-out", config.policy_out), ("--plot", config.plot)):
            if path is not None and Path(path).is_dir():
                raise ValueError(f"{option} {path} is a folder; give a file name")
    except (ValueError, TypeError) as error:
        fail(parser, error)
    torch.set_num_threads(config.threads)
    if policy is not None:
        return evaluate(game, policy, config)

    options = {}
    if config.method in ASCENT_METHODS:
        options = {"step_size": config.step_size, "regularizer": config.regularizer}
    solver = make_solver(config.method, game, **options)
    run = run_solver(solver, config.method, config.iterations, target_nash_conv=config.target_nash_conv)
    if config.json:
        print(json.dumps(run.summary()))
    else:
        reported = "average" if solver.reports_average else "last"
        print(f"{game.name}: {config.method}, {run.iterations} iterations in {run.seconds:.3f} s of solving"
              f" (the {reported} iterate is reported)")
        print(f"NashConv of the last iterate:    {run.last_nash_conv:.3e}")
        print(f"NashConv of the average iterate: {run.average_nash_conv:.3e}")
        if config.target_nash_conv is not None:
            verdict = "reached" if run.reached_target else "not reached"
            print(f"target NashConv {config.target_nash_conv:g}: {verdict}")
    if config.policy_out is not None:
        save_policy(config.policy_out, game, solver.reported_policy())
    if config.plot is not None:
        plot_nash_conv(config.plot, {config.method: run.curve}, title=f"{game.name}: {config.method}",
                       target=config.target_nash_conv)
    if not config.json:
        for label, path in (("policy", config.policy_out), ("plot", config.plot)):
            if path is not None:
                print(f"{label} written to {path}")
    return 0


def evaluate(game, policy: torch.Tensor, config: ExtensiveGamesConfig) -> int:
    """Print NashConv, exploitability and both players' expected payoffs of a policy file."""
    plan = sequence_form(game, policy)
    result = {"nash_conv": float(nash_conv(game, plan)), "exploitability": float(exploitability(game, plan)),
              "expected_payoffs": expected_payoffs(game, plan).tolist()}
    if config.json:
        print(json.dumps(result))
    else:
        print(f"{game.name}: {config.evaluate_policy}")
        print(f"NashConv {result['nash_conv']:.6e}, exploitability {result['exploitability']:.6e}, "
              f"expected payoffs {result['expected_payoffs'][0]:+.6f} / {result['expected_payoffs'][1]:+.6f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
