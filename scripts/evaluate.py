"""Evaluate a saved agent: greedy episodes of any checkpoint of scripts/train.py or train_cartpole.py.

  python scripts/evaluate.py runs/lunar/checkpoint.pt                      # the run's final evaluation
  python scripts/evaluate.py runs/lunar/checkpoint.pt --episodes 1000 --json
  python scripts/evaluate.py runs/lunar/checkpoint.pt --video lander.gif   # one episode as a GIF

By default it repeats the run's final evaluation exactly: the same number of episodes on the same
seeds, with the agent's saved observation normalization, so mean_return equals summary.json's
eval_mean_return. --episodes N evaluates N episodes on those seeds onwards; --evaluation K takes the
seeds of the agent's K-th evaluation (0 is the first). It prints mean_return and std_return (--json:
one object with mean_return, std_return, episodes and returns). --video writes one greedy episode
as an animated GIF, for envs that render rgb_array frames (classic control and Box2D; MuJoCo where
an offscreen OpenGL is available, e.g. MUJOCO_GL=egl). Exit code 2 on bad input.
"""

from __future__ import annotations

import sys

from ascentrl.interrupts import exit_quietly_on_signals

if __name__ == "__main__":  # before the slow imports below: Ctrl-C there is one line, not a traceback
    exit_quietly_on_signals(sys.argv[0])

import argparse
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ascentrl.agents import ALGORITHMS
from ascentrl.checkpoints import CheckpointError, load_checkpoint
from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail
from ascentrl.envs import make_env
from ascentrl.files import write_atomically
from ascentrl.output_folder import check_writable_folder
from ascentrl.validation import check_positive_int


@dataclass
class EvaluationOptions:
    """What to evaluate and how to report it."""

    episodes: int | None = None
    """Greedy episodes; none: as many as the run's final evaluation."""
    evaluation: int | None = None
    """Use the seeds of the agent's K-th evaluation (0 is the first); none: its last one."""
    json: bool = False
    """Print one JSON object instead of a line."""
    video: str | None = None
    """Also write one greedy episode as an animated GIF to this file."""

    def __post_init__(self) -> None:
        check_positive_int("--episodes", self.episodes, allow_none=True)
        if self.evaluation is not None and (isinstance(self.evaluation, bool) or self.evaluation < 0):
            raise ValueError(f"--evaluation must be a non-negative integer, got {self.evaluation}")
        if self.video is not None:
            if not self.video.lower().endswith(".gif"):
                raise ValueError(f"--video {self.video}: writes a GIF; give a file name ending in .gif")
            check_writable_folder("--video", Path(self.video).parent)


def build_parser() -> CommandLineParser:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="A checkpoint.pt written by scripts/train.py or train_cartpole.py.")
    add_config_arguments(parser, EvaluationOptions)
    return parser


def load_agent(path: str):
    """The agent a checkpoint holds, whichever single-agent learner wrote it."""
    kind = load_checkpoint(path, None)["kind"]
    for learner_class in ALGORITHMS.values():
        if learner_class.__name__ == kind:
            return learner_class.load(path)
    raise CheckpointError(f"checkpoint {path}: holds a {kind!r} agent; this script evaluates "
                          f"{', '.join(learner.__name__ for learner in ALGORITHMS.values())}")


def write_gif(agent, path: str) -> int:
    """One greedy episode rendered to an animated GIF (written atomically); returns its frames."""
    from PIL import Image  # matplotlib's own dependency

    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame-rendered envs draw off screen
    env, _ = make_env(agent.config.env, render_mode="rgb_array", **agent._env_kwargs)
    try:
        observation, _ = env.reset(seed=agent.config.seed)
        frames = [env.render()]
        for _ in range(agent.episode_step_limit):
            observation, _, terminated, truncated, _ = env.step(agent.act(observation, deterministic=True))
            frames.append(env.render())
            if terminated or truncated:
                break
    finally:
        env.close()
    images = [Image.fromarray(np.asarray(frame)) for frame in frames if frame is not None]
    if not images:
        raise ValueError(f"--video: {agent.config.env} rendered no frames")
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=33, loop=0)
    write_atomically(path, buffer.getvalue())
    return len(images)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        options = config_from_args(EvaluationOptions, arguments)
        agent = load_agent(arguments.checkpoint)
    except (ValueError, TypeError, OSError) as error:
        fail(parser, error)
    try:
        run = agent.training_run
        episodes = options.episodes or (run.eval_episodes if run is not None and run.eval_episodes else 100)
        if options.evaluation is not None:
            agent.evaluations = options.evaluation
        elif agent.evaluations > 0:
            agent.evaluations -= 1  # the last evaluation the agent made: its seeds
        torch.set_num_threads(1)
        returns = agent.evaluation_returns(episodes, episodes_per_call=episodes)
        result = {"mean_return": float(returns.mean()), "std_return": float(returns.std()),
                  "episodes": episodes, "returns": returns.tolist()}
        frames = write_gif(agent, options.video) if options.video is not None else None
    except (ValueError, OSError) as error:
        fail(parser, error)
    finally:
        agent.close()
    if options.json:
        print(json.dumps(result))
    else:
        print(f"{agent.config.env}: mean_return {result['mean_return']:.2f} std_return {result['std_return']:.2f} "
              f"over {episodes} greedy episodes")
    if frames is not None:
        print(f"wrote {options.video} ({frames} frames)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
