"""A REINFORCE training run from command-line options: build or resume, train, report.

What ``scripts/train_cartpole.py`` does around :meth:`Reinforce.train`, kept here so the script
stays an entry point: the run options (:class:`RunOptions`), resuming a checkpoint with the settings
saved in it, a tqdm progress bar and optional TensorBoard scalars, SIGINT/SIGTERM handling
(finish the update, checkpoint, print how to resume), the data-parallel rules (only rank 0 shows
progress and writes; replicas are checked identical at the end), and the output files:
``summary.json``, ``progress.csv``, ``checkpoint.pt``, ``config.json``, ``learning_curve.png``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ascentrl.agents.reinforce import Reinforce, ReinforceConfig, TrainHistory, UpdateRecord
from ascentrl.distributed import (
    DistributedContext,
    init_distributed,
    require_identical_replicas,
    require_single_process,
)
from ascentrl.interrupts import StopOnSignals
from ascentrl.runs import (
    NonFiniteUpdateError,
    check_checkpoint_file,
    check_resume_options,
    create_output_folder,
    interrupted_message,
    seed_everything,
    write_csv,
    write_json,
    write_line_plot,
)

__all__ = ["EXIT_NON_FINITE", "RESUMABLE_OPTIONS", "PreparedRun", "RunOptions", "prepare_run", "train"]

EXIT_NON_FINITE = 3
RESUMABLE_OPTIONS = ("out", "checkpoint_every", "progress_bar", "tensorboard")
"""The options --resume accepts; everything else comes from the checkpoint."""


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
    checkpoint_every: int = 50
    """Iterations between checkpoints in OUT/checkpoint.pt (also written when stopped and at the end)."""
    resume: str | None = None
    """Continue the run saved in this checkpoint, with its settings."""
    tensorboard: bool = False
    """Also log scalars for TensorBoard (into OUT/tensorboard; needs the tensorboard package)."""
    progress_bar: bool = True
    """Show a tqdm progress bar with steps, episodes and mean return."""

    def __post_init__(self) -> None:
        for name in ("total_steps", "eval_episodes", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if self.target_return is not None and not math.isfinite(self.target_return):
            raise ValueError(f"--target-return must be a finite number, got {self.target_return!r}")
        if self.tensorboard and self.out is None and self.resume is None:
            raise ValueError("--tensorboard needs --out DIR to write into")
        if self.tensorboard and importlib.util.find_spec("tensorboard") is None:
            raise ValueError("--tensorboard needs the tensorboard package: pip install tensorboard")
        if self.resume is not None:
            check_checkpoint_file("--resume", self.resume)


@dataclass
class PreparedRun:
    """A training run ready to start (or to continue): the agent and what to do with it."""

    agent: Reinforce
    options: RunOptions
    target: float | None
    """The return that counts as solved, or None to train the whole budget."""
    context: DistributedContext


def prepare_run(options: RunOptions, config: ReinforceConfig | None, given: Callable[[], set[str]]) -> PreparedRun:
    """Join torchrun's process group (if any), build or load the agent, create ``--out``.

    ``config`` is None when ``options.resume`` names a checkpoint (its config is used). ``given``
    returns the option names set explicitly on the command line (only asked when
    resuming, where other options are refused).

    Raises:
        ValueError, TypeError, OSError: bad input, named; nothing has trained yet.
    """
    context = init_distributed()
    if options.resume is not None:
        require_single_process("--resume", context)
        agent, options = _resume(options, given())
        target = options.target_return
    else:
        seed_everything(config.seed)
        agent = Reinforce(config, distributed=context)
        target = options.target_return if options.target_return is not None else agent.spaces.reward_threshold
    if options.out is not None and context.is_main:
        create_output_folder(options.out)
    return PreparedRun(agent, options, target, context)


def _resume(options: RunOptions, given: set[str]) -> tuple[Reinforce, RunOptions]:
    """Load the run to continue; the options it runs with are the saved ones plus RESUMABLE_OPTIONS."""
    check_resume_options(given, RESUMABLE_OPTIONS)
    agent = Reinforce.load(options.resume, restore_global_rng=True)
    run = agent.training_run
    if run is None or run.finished:
        agent.env.close()
        raise ValueError(f"--resume {options.resume}: the run saved there "
                         f"{'already finished' if run is not None else 'was not training'}; nothing to resume")
    out = options.out if options.out is not None else str(Path(options.resume).resolve().parent)
    saved = dataclasses.replace(options, total_steps=run.stop_at, target_return=run.target_return,
                                eval_episodes=run.eval_episodes, out=out)
    return agent, saved


def _write_outputs(folder: Path, agent: Reinforce, options: RunOptions, target: float | None,
                  history: TrainHistory) -> None:
    write_json(folder / "summary.json", {
        "seed": agent.config.seed,
        "world_size": agent.distributed.world_size,
        "solved": history.solved,
        "env_steps": history.env_steps,
        "episodes": history.episodes,
        "wall_seconds": history.wall_seconds,
        "eval_mean_return": history.eval_mean_return,
        "env": agent.config.env,
        "target_return": target,
        "skipped_updates": len(history.skipped_iterations),
    })
    write_csv(folder / "progress.csv", [field.name for field in dataclasses.fields(UpdateRecord)],
              (dataclasses.asdict(record) for record in history.records))
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


def train(run: PreparedRun, *, program: str, resume_command: str) -> int:
    """Train with a progress bar, checkpoints and signal handling; write the outputs (rank 0).

    Args:
        program: the name errors are reported under.
        resume_command: how to run the script again, e.g. ``python scripts/train_cartpole.py``;
            printed with ``--resume PATH`` when a signal stops the run.

    Returns:
        The exit code: 0 solved (or no target), 1 budget spent, 3 stopped on a NaN/inf,
        130/143 interrupted.
    """
    agent, options, target, context = run.agent, run.options, run.target, run.context
    config = agent.config
    checkpoint_path = Path(options.out) / "checkpoint.pt" if options.out is not None else None
    report = context.is_main  # the other ranks of a data-parallel job train silently

    writer = None
    if options.tensorboard and report:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(Path(options.out) / "tensorboard"))

    with StopOnSignals() as stop:
        bar = tqdm(total=options.total_steps, initial=min(agent.env_steps, options.total_steps), unit="step",
                   unit_scale=True, disable=not (options.progress_bar and report), desc=config.env, dynamic_ncols=True)

        def on_update(record: UpdateRecord) -> None:
            bar.update(min(record.env_steps, options.total_steps) - bar.n)
            bar.set_postfix(episodes=record.episodes, mean_return=f"{record.mean_return:.1f}", refresh=False)
            if writer is not None:
                writer.add_scalar("train/mean_return", record.mean_return, record.env_steps)
                writer.add_scalar("train/policy_objective", record.objective, record.env_steps)
                writer.add_scalar("train/episodes", record.episodes, record.env_steps)

        checkpointing = {"on_update": on_update, "checkpoint_path": checkpoint_path,
                         "checkpoint_every": options.checkpoint_every if checkpoint_path is not None else None,
                         "should_stop": lambda: stop.requested}
        try:
            if options.resume is not None:
                history = agent.resume_training(**checkpointing)
            else:
                history = agent.train(options.total_steps, target_return=target,
                                      eval_episodes=options.eval_episodes, **checkpointing)
            if writer is not None and not history.interrupted:
                writer.add_scalar("eval/mean_return", history.eval_mean_return, history.env_steps)
        except NonFiniteUpdateError as error:
            if report:
                print(f"{program}: error: {error}", file=sys.stderr)
            return EXIT_NON_FINITE
        finally:
            bar.close()
            if writer is not None:
                writer.close()
    if history.interrupted and not report:
        return stop.exit_code
    if history.interrupted:
        if checkpoint_path is None:
            checkpoint_path = Path(f"{config.env}-seed{config.seed}-interrupted") / "checkpoint.pt"
            agent.save(checkpoint_path)
        print(interrupted_message(stop.signal_name, f"iteration {agent.iterations} ({agent.env_steps} steps)",
                                  checkpoint_path, resume_command), flush=True)
        return stop.exit_code

    require_identical_replicas([agent.policy] + ([agent.value] if agent.value is not None else []), context)
    if not report:
        return 0 if history.solved or target is None else 1
    verdict = "solved" if history.solved else ("not solved" if target is not None else "done")
    skipped = (f"; {len(history.skipped_iterations)} updates skipped for non-finite values"
               if history.skipped_iterations else "")
    processes = f" on {context.world_size} processes" if context.world_size > 1 else ""
    print(f"{config.env} seed {config.seed}{processes}: {verdict} after {history.env_steps} steps, "
          f"{history.episodes} episodes, {history.wall_seconds:.2f} s; "
          f"greedy evaluation mean return {history.eval_mean_return:.1f}"
          + (f" (target {target:g})" if target is not None else "") + skipped)
    if options.out is not None:
        _write_outputs(Path(options.out), agent, options, target, history)
        print(f"wrote {options.out}/summary.json, progress.csv, checkpoint.pt, config.json, learning_curve.png")
    return 0 if history.solved or target is None else 1
