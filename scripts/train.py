"""Train any single-agent learner of ascentrl on any Gymnasium environment: REINFORCE, A2C or PPO.

  python scripts/train.py --algo ppo --env LunarLander-v3 --out runs/lunar
  python scripts/train.py --algo ppo --env HalfCheetah-v5 --seed 3 --out runs/cheetah   # extra: mujoco
  python scripts/train.py --algo a2c --env CartPole-v1 --lr 0.001 --num-envs 16
  python scripts/train.py --algo ppo --env Pendulum-v1 --preset none                   # plain defaults
  python scripts/train.py --resume runs/lunar/checkpoint.pt                            # continue
  python scripts/train.py --algo ppo --help                                            # PPO's options

--algo picks the learner and --env its task. When ascentrl.agents.PRESETS holds tuned settings for
the pair (CartPole-v1, Acrobot-v1, LunarLander-v3, Pendulum-v1, HalfCheetah-v5, Hopper-v5,
Walker2d-v5), training starts from them and says so; every option given on the command line
overrides the preset, --preset ENV takes another env's preset, --preset none the plain defaults.
Box2D and MuJoCo envs need the extras: pip install 'ascentrl[box2d]' or 'ascentrl[mujoco]'.

Solved means: the mean return of the last 100 training episodes reaches the target (--target-return,
or the env's registered threshold), and then so does the mean of --eval-episodes greedy episodes.
With --out DIR it writes summary.json (solved, env_steps, episodes, wall_seconds,
eval_mean_return, ...), progress.csv (every metric of every update), checkpoint.pt, config.json
and learning_curve.png. scripts/evaluate.py replays a saved agent.

Nothing trained is lost: checkpoints are atomic and checksummed, Ctrl-C or SIGTERM stops after the
current update (or abandons the evaluation under way), writes the checkpoint and prints the resume
command; a resumed run ends exactly like one that never stopped. Exit code: 0 solved (or no
target), 1 budget spent, 2 bad input, 3 stopped on a NaN/inf, 130/143 interrupted.
"""

from __future__ import annotations

import sys

from ascentrl.interrupts import exit_quietly_on_signals

if __name__ == "__main__":  # before the slow imports below: Ctrl-C there is one line, not a traceback
    exit_quietly_on_signals(sys.argv[0])

from ascentrl.agents import ALGORITHMS, preset_for
from ascentrl.training.algorithms_command import main_with_algorithms


def main(argv: list[str] | None = None) -> int:
    return main_with_algorithms(ALGORITHMS, preset_for, argv, doc=__doc__, script=__file__)


if __name__ == "__main__":
    sys.exit(main())
