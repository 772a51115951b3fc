"""Train multi-agent learners: every agent ascends its own return.

--algo reinforce (the default; ascentrl.agents.MultiAgentReinforce) or ppo (MultiAgentPPO: clipped
surrogate, learned values, several passes over each batch; the one to use on turn-based games).
--env takes a matrix game name (matching_pennies, rock_paper_scissors, prisoners_dilemma, ...,
played repeatedly through MatrixGameEnv), a PettingZoo id such as classic/rps-v2, or a turn-based
game such as classic/tictactoe-v3, classic/connect_four-v3 or classic/leduc_holdem-v4 (needs the
package rlcard, in the dev and bench extras). --method picks independent or parameter-shared
learners (self-play in a turn-based game: shared is one policy that knows its seat), or, for
reinforce, a game dynamics that steps all agents at once on their sampled returns: simultaneous,
alternating, optimistic, extragradient, sga, consensus or lola (two agents, simultaneous moves only).
For a matrix game the learned mixed strategies and their exploitability (NashConv) are tracked
after every iteration, and --target-nash-conv can stop training early; so is, exactly, the
NashConv of the policy learned from sampled deals of extensive/kuhn_poker or extensive/leduc_poker
(ascentrl.envs.ExtensiveGameEnv).

Presets: an env with a tuned preset for the --algo (ascentrl.agents.MULTIAGENT_PRESETS: tic-tac-toe,
connect four, Leduc hold'em, the classic, mpe2 and extensive families) starts from it, and says
so; any option given overrides it, and --preset none starts from the plain defaults (reinforce's are tuned
for matrix games, which have no preset). Board observations such as connect four's (6, 7, 2) are
read by a small convolutional network; --observation-encoding flatten flattens them instead.

After training (--eval-games games per seat, 1000 by default; 0 skips it): for a turn-based game,
the greedy policies play uniformly random legal moves in every seat and the games won, drawn and
lost are reported with 95% confidence intervals (summary.json "vs_random"); --eval-opponent plays
another opponent the same way: a checkpoint of an earlier run, or MODULE:NAME / FILE.py:NAME of a
policy(observation) -> action that reads PettingZoo's observation (an illegal move from it is one
line and exit code 2). --compare-random adds each agent's mean return under the trained policies
and under uniformly random play (e.g. for the parameter-shared agents on mpe2/simple_spread-v3,
extra ascentrl[mpe]), and vs_random for simultaneous envs too.

From sampled returns, optimistic and extragradient converge in the last iterate only with two step
sizes: a constant look-ahead step (--dynamics-options '{"extrapolation_lr": G}') and a decaying
update rate (--lr-schedule inverse --lr-time-scale TAU, rate lr/(1+t/TAU)). Settings that reach
NashConv <= 0.05 on matching pennies and rock-paper-scissors are ascentrl.agents.LAST_ITERATE_PRESETS,
e.g. --method extragradient --lr 1 --lr-schedule inverse --lr-time-scale 6
--dynamics-options '{"extrapolation_lr": 2.0}' on matching_pennies.

With --out DIR it writes summary.json (final NashConv under "nash_conv", null for other envs),
progress.csv, checkpoint.pt, config.json and returns.png, plus strategies.png and nash_conv.png for
matrix games. wall_seconds counts training only, not start-up or building the envs. A trained
agent plays in any PettingZoo loop: MultiAgentReinforce.load("OUT/checkpoint.pt").act(agent,
observation).

Nothing trained is lost: with --out, OUT/checkpoint.pt is rewritten (atomically) every
--checkpoint-every iterations and at the end. Ctrl-C (SIGINT) or SIGTERM finishes the current update,
writes the checkpoint (to OUT/checkpoint.pt, or without --out to ./ENV-METHOD-seedSEED-interrupted/),
prints how to resume and exits with 130 (SIGINT) or 143 (SIGTERM). --resume PATH continues that run
with the settings saved in it (only --out, --checkpoint-every, --progress-bar, --tensorboard,
--compare-random, --eval-games and --eval-opponent may be given again; --out defaults to the
checkpoint's folder); for the same seed on CPU it ends with the same parameters and summary.json
numbers (wall time aside) as a run that was never stopped.

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
from functools import partial

from ascentrl.interrupts import exit_quietly_on_signals

if __name__ == "__main__":  # before the slow imports below: Ctrl-C there is one line, not a traceback
    exit_quietly_on_signals(sys.argv[0])

from torch.distributed.elastic.multiprocessing.errors import record

from ascentrl.agents import MULTIAGENT_ALGORITHMS, multiagent_preset_for
from ascentrl.training.algorithms_command import main_with_algorithms


def main(argv: list[str] | None = None) -> int:
    return main_with_algorithms(MULTIAGENT_ALGORITHMS, partial(multiagent_preset_for, with_budget=True), argv,
                                doc=__doc__, script=__file__, default="reinforce")


if __name__ == "__main__":
    # record: under torchrun, a failing rank's traceback goes into torchrun's failure summary.
    sys.exit(record(main)())
