"""Mutation-test the core math: plant small bugs and check that the tests catch them.

Runs mutmut (one worker) on each target module against that module's own tests, in
.mutation/<target>/, and prints a table per target: mutants, killed, recorded equivalents
(tests/mutation_equivalents.md), surviving, and the kill rate. Not part of CI: a full run takes
tens of minutes; a re-run only re-tests the mutants of functions that changed.

  python scripts/mutate.py                          # every target
  python scripts/mutate.py --targets simplex payoffs
  python scripts/mutate.py --report                 # the table of the last runs, without running
  python scripts/mutate.py --json

The exit code is 0 if every target kills at least 90% of its killable mutants, 1 if not, 2 on bad
input. See scripts/harness/mutation_targets.py for the targets and their tests.
"""

from __future__ import annotations

import sys

from ascentrl.interrupts import exit_quietly_on_signals

if __name__ == "__main__":
    exit_quietly_on_signals(sys.argv[0])

import argparse
import dataclasses
import json
from dataclasses import dataclass

from harness.mutation import WORK, format_table, recorded_equivalents, result, run, select_targets, stage
from harness.mutation_verification import verify_suspects

from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail

REQUIRED_KILL_RATE = 0.9


@dataclass
class MutateConfig:
    """Which targets, and whether to run them or only report."""

    targets: tuple[str, ...] = ()
    """Target names (default: all), as in scripts/harness/mutation_targets.py; an unknown name is refused
    with the list."""
    report: bool = False
    """Only print the table of the last runs."""
    verify: bool = True
    """After a run, re-run directly the mutants mutmut reports as timeouts or crashes (its runner
    can fail on its own), and count each as the direct run says."""
    json: bool = False
    """Print one JSON object instead of the table."""

    def __post_init__(self) -> None:
        select_targets(self.targets)


def main(argv: list[str] | None = None) -> int:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, MutateConfig)
    arguments = parser.parse_args(argv)
    try:
        config = config_from_args(MutateConfig, arguments)
    except ValueError as error:
        fail(parser, error)
    results, not_run = [], []
    for target in select_targets(config.targets):
        if config.report and not (WORK / target.name / "mutants").is_dir():
            not_run.append(target.name)  # nothing to report: never run here
            continue
        folder = stage(target)
        if not config.report:
            run(target, folder)
            if config.verify:
                verify_suspects(target, folder)
        results.append(result(target, folder, recorded_equivalents()))
    if config.json:
        print(json.dumps({**{row.name: {**dataclasses.asdict(row), "kill_rate": row.kill_rate} for row in results},
                          **{name: None for name in not_run}}))
    else:
        print(format_table(results))
        if not_run:
            print(f"not run yet: {', '.join(not_run)}")
    return 0 if not not_run and all(row.kill_rate >= REQUIRED_KILL_RATE for row in results) else 1


if __name__ == "__main__":
    sys.exit(main())
