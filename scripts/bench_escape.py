"""Do escape strategies take gradient ascent to the global maximum more often?

For each multimodal problem of :mod:`ascentrl.benchmarks.escape_experiment` (sinc, a 1-D
function with many local maxima, and negated 2-D Rastrigin), run plain ``Ascent`` from the same
random starts without escape and with each escape strategy (same lr and steps), and print the
fraction of starts whose final iterate, and whose best iterate, reached the global maximizer.

    python scripts/bench_escape.py                # 100 starts, seed 0
    python scripts/bench_escape.py --starts 300 --seed 3
    python scripts/bench_escape.py --json
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import torch

from ascentrl import Ascent
from ascentrl.benchmarks import MULTIMODAL_PROBLEMS, EscapeOutcome, run_escape_experiment
from ascentrl.cli import CommandLineParser, fail
from ascentrl.resources import MemoryNeed, check_memory
from ascentrl.validation import check_positive_int, check_seed


def parse_arguments() -> argparse.Namespace:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=100, help="number of random start points per problem")
    parser.add_argument("--seed", type=int, default=0, help="seed of the start points and the strategies")
    parser.add_argument("--json", action="store_true", help="print one JSON record per arm instead of the table")
    arguments = parser.parse_args()
    try:
        check_positive_int("--starts", arguments.starts)
        check_seed("--seed", arguments.seed)
        # Every arm keeps its iterate, best iterate, gradient and optimizer state per start and dimension.
        dimensions = max(problem.dimension for problem in MULTIMODAL_PROBLEMS)
        need = MemoryNeed("start points", arguments.starts * dimensions * 8 * 16, (f"--starts {arguments.starts}",))
        check_memory([need])
    except ValueError as error:
        fail(parser, error)
    return arguments


def format_table(outcomes: list[EscapeOutcome], seed: int) -> str:
    header = f"{'problem':<11}{'escape':<9}{'final':>7}{'best':>7}{'mean J':>10}{'seconds':>9}  settings"
    lines = [f"Fraction of {outcomes[0].starts} random starts (seed {seed}) that reach the global maximum "
             "(final iterate / best iterate)", header, "-" * len(header)]
    for outcome in outcomes:
        lines.append(f"{outcome.problem:<11}{outcome.strategy:<9}{outcome.final_fraction:>7.2f}"
                     f"{outcome.best_fraction:>7.2f}{outcome.mean_final_objective:>10.4g}"
                     f"{outcome.wall_time:>9.2f}  {outcome.settings}")
    lines.append("")
    for problem in MULTIMODAL_PROBLEMS:
        lines.append(f"{problem.name}: {problem.summary}; plain Ascent lr {problem.lr:g}, {problem.steps} steps, "
                     f"reached = within {problem.tolerance:g} of the maximizer")
    return "\n".join(lines)


def main() -> None:
    arguments = parse_arguments()
    torch.set_num_threads(1)  # one tiny tensor per start: threads only add overhead
    Ascent([torch.zeros(1, requires_grad=True)])  # the first optimizer built imports torch._dynamo (~1 s): not timed
    outcomes = [outcome for problem in MULTIMODAL_PROBLEMS
                for outcome in run_escape_experiment(problem, starts=arguments.starts, seed=arguments.seed)]
    if arguments.json:
        print(json.dumps([dataclasses.asdict(outcome) for outcome in outcomes], indent=1))
    else:
        print(format_table(outcomes, arguments.seed))


if __name__ == "__main__":
    main()
