"""Train REINFORCE (ascentrl.agents.Reinforce) until CartPole-v1 is solved.

Solved: the mean return of the last 100 training episodes reaches the target (475 for CartPole-v1),
and then so does the mean return of 100 greedy evaluation episodes. Any Gymnasium env with Discrete
or Box actions works with --env (e.g. Acrobot-v1, Pendulum-v1); envs without a registered reward
threshold train for the whole --total-steps budget.

With --out DIR it writes summary.json, progress.csv, checkpoint.pt, config.json and
learning_curve.png there. wall_seconds counts training and evaluation (from the first rollout to the
end of the solving evaluation, or to the end of training), not Python start-up, imports or building
the envs and networks.

Nothing trained is lost: with --out, OUT/checkpoint.pt is rewritten (atomically) every
--checkpoint-every iterations and at the end. Ctrl-C (SIGINT) or SIGTERM finishes the current update,
writes the checkpoint (to OUT/checkpoint.pt, or without --out to ./ENV-seedSEED-interrupted/),
prints how to resume and exits with 130 (SIGINT) or 143 (SIGTERM). --resume PATH continues that run
with the settings saved in it (only --out, --checkpoint-every, --progress-bar and --tensorboard may
be given again; --out defaults to the checkpoint's folder); for the same seed on CPU it ends with the
same parameters and summary.json numbers (wall time aside) as a run that was never stopped.

Data-parallel: `torchrun --standalone --nproc_per_node N scripts/train_cartpole.py ...` runs N
processes that each collect --num-envs episodes per iteration with their own seeds, average their
gradients (weighted by episodes) and take the same step, so the parameters stay identical. Only
rank 0 shows progress and writes files; summary.json records world_size. --resume is single-process.

Exit code: 0 when solved (or when there is no target), 1 when the budget ran out first, 2 on bad
input, 3 when training stopped on a NaN/inf objective or gradient (--on-nonfinite skip skips those
updates instead), 130/143 when interrupted.
"""

from __future__ import annotations

import argparse
import sys

from torch.distributed.elastic.multiprocessing.errors import record

from ascentrl.agents import ReinforceConfig
from ascentrl.agents.reinforce_run import RunOptions, prepare_run, train
from ascentrl.runs import CommandLineParser, add_config_arguments, config_from_args, fail, given_options


def build_parser() -> CommandLineParser:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser.add_argument_group("run"), RunOptions)
    add_config_arguments(parser.add_argument_group("REINFORCE"), ReinforceConfig)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        options = config_from_args(RunOptions, arguments)
        config = config_from_args(ReinforceConfig, arguments) if options.resume is None else None
        run = prepare_run(options, config, lambda: given_options(build_parser(), (RunOptions, ReinforceConfig), argv))
    except (ValueError, TypeError, OSError) as error:
        fail(parser, error)
    with run.context:
        return train(run, program=parser.prog,
                     resume_command=f"python {sys.argv[0] if argv is None else __file__}")


if __name__ == "__main__":
    # record: under torchrun, a failing rank's traceback goes into torchrun's failure summary.
    sys.exit(record(main)())
