"""Train multi-agent REINFORCE (ascentrl.agents.MultiAgentReinforce): every agent ascends its own return.

--env takes a matrix game name (matching_pennies, rock_paper_scissors, prisoners_dilemma, ...,
played repeatedly through MatrixGameEnv) or a PettingZoo id such as classic/rps-v2. --method picks
independent or parameter-shared REINFORCE learners, or a game dynamics that steps all agents at
once on their sampled returns: simultaneous, alternating, optimistic, extragradient, sga, consensus
or lola (two agents). For a matrix game the learned mixed strategies and their exploitability
(NashConv) are tracked after every iteration, and --target-nash-conv can stop training early.

From sampled returns, optimistic and extragradient converge in the last iterate only with two step
sizes: a constant look-ahead step (--dynamics-options '{"extrapolation_lr": G}') and a decaying
update rate (--lr-schedule inverse --lr-time-scale TAU, rate lr/(1+t/TAU)). Settings that reach
NashConv <= 0.05 on matching pennies and rock-paper-scissors are ascentrl.agents.LAST_ITERATE_PRESETS,
e.g. --method extragradient --lr 1 --lr-schedule inverse --lr-time-scale 6
--dynamics-options '{"extrapolation_lr": 2.0}' on matching_pennies.

--compare-random ends with each agent's mean return under the trained policies and under uniformly
random play, e.g. for the parameter-shared agents on mpe2/simple_spread-v3 (extra ascentrl[mpe]).

With --out DIR it writes summary.json (final NashConv under "nash_conv", null for other envs),
progress.csv, checkpoint.pt, config.json and returns.png, plus strategies.png and nash_conv.png for
matrix games. wall_seconds counts training only, not start-up or building the envs.

Nothing trained is lost: with --out, OUT/checkpoint.pt is rewritten (atomically) every
--checkpoint-every iterations and at the end. Ctrl-C (SIGINT) or SIGTERM finishes the current update,
writes the checkpoint (to OUT/checkpoint.pt, or without --out to ./ENV-METHOD-seedSEED-interrupted/),
prints how to resume and exits with 130 (SIGINT) or 143 (SIGTERM). --resume PATH continues that run
with the settings saved in it (only --out, --checkpoint-every, --progress-bar and --compare-random
may be given again; --out defaults to the checkpoint's folder); for the same seed on CPU it ends with
the same parameters and summary.json numbers (wall time aside) as a run that was never stopped.

Data-parallel: `torchrun --standalone --nproc_per_node N scripts/train_multiagent.py --method
independent ...` (or shared) runs N processes that each play --num-envs episodes per iteration with
their own seeds, average their gradients (weighted by episodes) and take the same step, so the
parameters stay identical. The game dynamics (lola, sga, optimistic, ...) are refused there: their
second-order directions are not averages of per-rank directions. Only rank 0 shows progress and
writes files; summary.json records world_size. --resume is single-process.

Exit code: 0 when done (or the target was reached), 1 when a --target-nash-conv was not reached, 2 on
bad input, 3 when training stopped on a NaN/inf objective or step direction (--on-nonfinite skip skips
those updates instead), 130/143 when interrupted.
"""

from __future__ import annotations

import sys

from ascentrl.interrupts import exit_quietly_on_signals

if __name__ == "__main__":  # before the slow imports below: Ctrl-C there is one line, not a traceback
    exit_quietly_on_signals(sys.argv[0])

from torch.distributed.elastic.multiprocessing.errors import record

from ascentrl.agents import MultiAgentReinforce
from ascentrl.cli import CommandLineParser
from ascentrl.training import command_line


def build_parser() -> CommandLineParser:
    return command_line.build_parser(MultiAgentReinforce, __doc__, prog="train_multiagent.py")


def main(argv: list[str] | None = None) -> int:
    return command_line.main(MultiAgentReinforce, argv, doc=__doc__, script=__file__)


if __name__ == "__main__":
    # record: under torchrun, a failing rank's traceback goes into torchrun's failure summary.
    sys.exit(record(main)())
