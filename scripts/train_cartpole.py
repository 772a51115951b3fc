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

import sys

from ascentrl.interrupts import exit_quietly_on_signals

if __name__ == "__main__":  # before the slow imports below: Ctrl-C there is one line, not a traceback
    exit_quietly_on_signals(sys.argv[0])

from torch.distributed.elastic.multiprocessing.errors import record

from ascentrl.agents import Reinforce
from ascentrl.cli import CommandLineParser
from ascentrl.training import command_line


def build_parser() -> CommandLineParser:
    return command_line.build_parser(Reinforce, __doc__, prog="train_cartpole.py")


def main(argv: list[str] | None = None) -> int:
    return command_line.main(Reinforce, argv, doc=__doc__, script=__file__)


if __name__ == "__main__":
    # record: under torchrun, a failing rank's traceback goes into torchrun's failure summary.
    sys.exit(record(main)())
