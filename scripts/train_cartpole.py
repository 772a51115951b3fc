"""Train REINFORCE (ascentrl.agents.Reinforce) until CartPole-v1 is solved.

Solved: the mean return of the last 100 training episodes reaches the target (475 for CartPole-v1),
and then so does the mean return of 100 greedy evaluation episodes. Any Gymnasium env with Discrete
or Box actions works with --env (e.g. Acrobot-v1, Pendulum-v1); envs without a registered reward
threshold train for the whole --total-steps budget.

With --out DIR it writes summary.json, progress.csv, checkpoint.pt, config.json and
learning_curve.png there. wall_seconds counts training and evaluation (from the first rollout to the
end of the solving evaluation, or to the end of training), not Python start-up, imports or building
the envs and networks. Exit code: 0 when solved (or when there is no target), 1 when the budget ran
out first, 2 on bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ascentrl.agents import Reinforce, ReinforceConfig, TrainHistory, UpdateRecord
from ascentrl.runs import (
    CommandLineParser,
    add_config_arguments,
    config_from_args,
    fail,
    seed_everything,
    write_csv,
    write_json,
    write_line_plot,
)


@dataclass
class RunOptions:
    """How long to train, when to stop, and where to write."""

    total_steps: int = 5_000_000
    """Budget of environment steps; training stops earlier once solved."""
    target_return: float | None = None
    """Mean return that counts as solved; none takes the env's registered reward threshold."""
    eval_episodes: int = 100
    """Greedy evaluation episodes that must also reach the target."""
    out: str | None = None
    """Folder for summary.json, progress.csv, checkpoint.pt, config.json, learning_curve.png."""
    tensorboard: bool = False
    """Also log scalars for TensorBoard (into OUT/tensorboard; needs the tensorboard package)."""
    progress_bar: bool = True
    """Show a tqdm progress bar with steps, episodes and mean return."""

    def __post_init__(self) -> None:
        for name in ("total_steps", "eval_episodes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if self.target_return is not None and not math.isfinite(self.target_return):
            raise ValueError(f"--target-return must be a finite number, got {self.target_return!r}")
        if self.tensorboard and self.out is None:
            raise ValueError("--tensorboard needs --out DIR to write into")
        if self.tensorboard and importlib.util.find_spec("tensorboard") is None:
            raise ValueError("--tensorboard needs the tensorboard package: pip install tensorboard")


def build_parser() -> CommandLineParser:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser.add_argument_group("run"), RunOptions)
    add_config_arguments(parser.add_argument_group("REINFORCE"), ReinforceConfig)
    return parser


def write_outputs(folder: Path, agent: Reinforce, options: RunOptions, target: float | None,
                  history: TrainHistory) -> None:
    write_json(folder / "summary.json", {
        "seed": agent.config.seed,
        "solved": history.solved,
        "env_steps": history.env_steps,
        "episodes": history.episodes,
        "wall_seconds": history.wall_seconds,
        "eval_mean_return": history.eval_mean_return,
        "env": agent.config.env,
        "target_return": target,
    })
    write_csv(folder / "progress.csv", [field.name for field in dataclasses.fields(UpdateRecord)],
              (dataclasses.asdict(record) for record in history.records))
    agent.save(folder / "checkpoint.pt")
    write_json(folder / "config.json", {"reinforce": dataclasses.asdict(agent.config),
                                        "run": dataclasses.asdict(options)})
    steps = [record.env_steps for record in history.records]
    returns = [record.mean_return for record in history.records]
    write_line_plot(
        folder / "learning_curve.png",
        {"mean return, last 100 training episodes": (steps, returns)},
        xlabel="environment steps",
        ylabel="return",
        title=f"REINFORCE on {agent.config.env}, seed {agent.config.seed}",
        reference=("target", target) if target is not None else None,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        options = config_from_args(RunOptions, arguments)
        config = config_from_args(ReinforceConfig, arguments)
        if options.out is not None:
            Path(options.out).mkdir(parents=True, exist_ok=True)
        seed_everything(config.seed)
        agent = Reinforce(config)
    except (ValueError, TypeError, OSError) as error:
        fail(parser, error)
    target = options.target_return if options.target_return is not None else agent.spaces.reward_threshold

    writer = None
    if options.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(Path(options.out) / "tensorboard"))
    bar = tqdm(total=options.total_steps, unit="step", unit_scale=True, disable=not options.progress_bar,
               desc=config.env, dynamic_ncols=True)

    def on_update(record: UpdateRecord) -> None:
        bar.update(min(record.env_steps, options.total_steps) - bar.n)
        bar.set_postfix(episodes=record.episodes, mean_return=f"{record.mean_return:.1f}", refresh=False)
        if writer is not None:
            writer.add_scalar("train/mean_return", record.mean_return, record.env_steps)
            writer.add_scalar("train/policy_objective", record.objective, record.env_steps)
            writer.add_scalar("train/episodes", record.episodes, record.env_steps)

    history = agent.train(options.total_steps, target_return=target, eval_episodes=options.eval_episodes,
                          on_update=on_update)
    bar.close()
    if writer is not None:
        writer.add_scalar("eval/mean_return", history.eval_mean_return, history.env_steps)
        writer.close()

    verdict = "solved" if history.solved else ("not solved" if target is not None else "done")
    print(f"{config.env} seed {config.seed}: {verdict} after {history.env_steps} steps, "
          f"{history.episodes} episodes, {history.wall_seconds:.2f} s; "
          f"greedy evaluation mean return {history.eval_mean_return:.1f}"
          + (f" (target {target:g})" if target is not None else ""))
    if options.out is not None:
        write_outputs(Path(options.out), agent, options, target, history)
        print(f"wrote {options.out}/summary.json, progress.csv, checkpoint.pt, config.json, learning_curve.png")
    return 0 if history.solved or target is None else 1


if __name__ == "__main__":
    sys.exit(main())
