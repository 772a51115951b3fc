"""A multi-agent training run from command-line options: build or resume, train, report.

What ``scripts/train_multiagent.py`` does around :meth:`MultiAgentReinforce.train`, kept here so the
script stays an entry point: the run options (:class:`RunOptions`), resuming a checkpoint with the
settings saved in it, a tqdm progress bar, SIGINT/SIGTERM handling (finish the update, checkpoint,
print how to resume), the data-parallel rules (only rank 0 shows progress and writes; replicas are
checked identical at the end), the optional comparison with random play, and the output files:
``summary.json``, ``progress.csv``, ``checkpoint.pt``, ``config.json`` and the plots.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ascentrl.agents.multiagent import MultiAgentConfig, MultiAgentReinforce
from ascentrl.agents.multiagent_history import MultiAgentHistory, MultiAgentRecord
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
RESUMABLE_OPTIONS = ("out", "checkpoint_every", "progress_bar", "compare_random")
"""The options --resume accepts; everything else comes from the checkpoint."""


@dataclass
class RunOptions:
    """How long to train, when to stop, and where to write."""

    iterations: int = 300
    """Updates (each one rollout of num_envs episodes); fewer if the NashConv target is reached."""
    target_nash_conv: float | None = None
    """Matrix games only: stop once the learned strategies' NashConv is at most this."""
    out: str | None = None
    """Folder for summary.json, progress.csv, checkpoint.pt, config.json and the plots."""
    checkpoint_every: int = 50
    """Iterations between checkpoints in OUT/checkpoint.pt (also written when stopped and at the end)."""
    resume: str | None = None
    """Continue the run saved in this checkpoint, with its settings."""
    progress_bar: bool = True
    """Show a tqdm progress bar with iterations, NashConv or mean returns."""
    compare_random: bool = False
    """After training, report each agent's mean return under the trained policies and under uniformly random play."""

    def __post_init__(self) -> None:
        for name in ("iterations", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if self.target_nash_conv is not None and not (
            math.isfinite(self.target_nash_conv) and self.target_nash_conv >= 0
        ):
            raise ValueError(f"--target-nash-conv must be a finite number >= 0, got {self.target_nash_conv!r}")
        if self.resume is not None:
            check_checkpoint_file("--resume", self.resume)


@dataclass
class PreparedRun:
    """A training run ready to start (or to continue): the learners and what to do with them."""

    learners: MultiAgentReinforce
    options: RunOptions
    context: DistributedContext


def prepare_run(options: RunOptions, config: MultiAgentConfig | None, given: Callable[[], set[str]]) -> PreparedRun:
    """Join torchrun's process group (if any), build or load the learners, create ``--out``.

    ``config`` is None when ``options.resume`` names a checkpoint (its config is used). ``given``
    returns the option names set explicitly on the command line (only asked when resuming).

    Raises:
        ValueError, TypeError, OSError: bad input, named; nothing has trained yet.
    """
    context = init_distributed()
    if options.resume is not None:
        require_single_process("--resume", context)
        learners, options = _resume(options, given())
    else:
        seed_everything(config.seed)
        learners = MultiAgentReinforce(config, distributed=context)
        if options.target_nash_conv is not None and learners.game is None:
            learners.close()
            raise ValueError(f"--target-nash-conv needs a matrix game; {config.env} is not one")
    if options.out is not None and context.is_main:
        try:
            create_output_folder(options.out)
        except ValueError:
            learners.close()
            raise
    return PreparedRun(learners, options, context)


def _resume(options: RunOptions, given: set[str]) -> tuple[MultiAgentReinforce, RunOptions]:
    """Load the run to continue; the options it runs with are the saved ones plus RESUMABLE_OPTIONS."""
    check_resume_options(given, RESUMABLE_OPTIONS)
    learners = MultiAgentReinforce.load(options.resume, restore_global_rng=True)
    run = learners.training_run
    if run is None or run.finished:
        learners.close()
        raise ValueError(f"--resume {options.resume}: the run saved there "
                         f"{'already finished' if run is not None else 'was not training'}; nothing to resume")
    out = options.out if options.out is not None else str(Path(options.resume).resolve().parent)
    saved = dataclasses.replace(options, iterations=run.iterations, target_nash_conv=run.target_nash_conv, out=out)
    return learners, saved


def _progress_row(record: MultiAgentRecord, action_names: list[list[str]] | None) -> dict[str, float]:
    """One progress.csv row: counters, each agent's mean return, NashConv and strategies."""
    row = {field: getattr(record, field)
           for field in ("iteration", "env_steps", "agent_steps", "episodes", "wall_seconds")}
    row.update({f"return_{agent}": value for agent, value in record.mean_returns.items()})
    if record.strategies is not None:
        row["nash_conv"] = record.nash_conv
        for names, (agent, strategy) in zip(action_names, record.strategies.items()):
            row.update({f"p_{agent}_{name}": probability for name, probability in zip(names, strategy)})
    return row


def _write_outputs(folder: Path, learners: MultiAgentReinforce, options: RunOptions, history: MultiAgentHistory,
                  comparison: dict[str, dict[str, float]] | None) -> None:
    config, records = learners.config, history.records
    is_game = learners.game is not None
    last = records[-1]
    write_json(folder / "summary.json", {
        "seed": config.seed,
        "world_size": learners.distributed.world_size,
        "env": config.env,
        "method": config.method,
        "iterations": learners.iterations,
        "env_steps": history.env_steps,
        "agent_steps": history.agent_steps,
        "episodes": history.episodes,
        "wall_seconds": history.wall_seconds,
        "mean_returns": last.mean_returns,
        "nash_conv": history.nash_conv if is_game else None,
        "strategies": last.strategies,
        "target_nash_conv": options.target_nash_conv,
        "reached_target": history.reached_target if options.target_nash_conv is not None else None,
        "skipped_updates": len(history.skipped_iterations),
        "trained_mean_returns": comparison["trained"] if comparison else None,
        "random_mean_returns": comparison["random"] if comparison else None,
    })
    action_names = [list(names) for names in learners.game.action_names] if is_game else None
    rows = [_progress_row(record, action_names) for record in records]
    write_csv(folder / "progress.csv", list(rows[0]), rows)
    write_json(folder / "config.json", {"learners": dataclasses.asdict(config), "run": dataclasses.asdict(options)})
    iterations = [record.iteration for record in records]
    title = f"{config.method} on {config.env}, seed {config.seed}"
    write_line_plot(folder / "returns.png",
                    {agent: (iterations, [r.mean_returns[agent] for r in records]) for agent in learners.agents},
                    xlabel="iteration", ylabel="mean return per episode", title=title)
    if is_game:
        strategy_series = {
            f"{agent}: {name}": (iterations, [r.strategies[agent][action] for r in records])
            for agent, names in zip(learners.agents, action_names) for action, name in enumerate(names)
        }
        write_line_plot(folder / "strategies.png", strategy_series, xlabel="iteration",
                        ylabel="probability", title=f"learned mixed strategies: {title}")
        target = options.target_nash_conv
        write_line_plot(folder / "nash_conv.png", {"NashConv": (iterations, [r.nash_conv for r in records])},
                        xlabel="iteration", ylabel="NashConv", title=title,
                        reference=("target", target) if target is not None else None)


def train(run: PreparedRun, *, program: str, resume_command: str) -> int:
    """Train with a progress bar, checkpoints and signal handling; report and write the outputs (rank 0).

    Args:
        program: the name errors are reported under.
        resume_command: how to run the script again; printed with ``--resume PATH`` when a signal
            stops the run.

    Returns:
        The exit code: 0 done (or target reached), 1 target not reached, 3 stopped on a NaN/inf,
        130/143 interrupted.
    """
    learners, options, context = run.learners, run.options, run.context
    config = learners.config
    checkpoint_path = Path(options.out) / "checkpoint.pt" if options.out is not None else None
    report = context.is_main  # the other ranks of a data-parallel job train silently
    with StopOnSignals() as stop:
        done = len(learners.training_run.history.records) if options.resume is not None else 0
        bar = tqdm(total=options.iterations, initial=done, unit="it", disable=not (options.progress_bar and report),
                   desc=f"{config.method} {config.env}", dynamic_ncols=True)

        def on_update(record: MultiAgentRecord) -> None:
            bar.update(1)
            if record.strategies is not None:
                bar.set_postfix(nash_conv=f"{record.nash_conv:.4f}", refresh=False)
            else:
                bar.set_postfix({agent: f"{value:.2f}" for agent, value in record.mean_returns.items()},
                                refresh=False)

        checkpointing = {"on_update": on_update, "checkpoint_path": checkpoint_path,
                         "checkpoint_every": options.checkpoint_every if checkpoint_path is not None else None,
                         "should_stop": lambda: stop.requested}
        try:
            if options.resume is not None:
                history = learners.resume_training(**checkpointing)
            else:
                history = learners.train(options.iterations, target_nash_conv=options.target_nash_conv,
                                         **checkpointing)
        except NonFiniteUpdateError as error:
            if report:
                print(f"{program}: error: {error}", file=sys.stderr)
            return EXIT_NON_FINITE
        finally:
            bar.close()
    if history.interrupted and not report:
        return stop.exit_code
    if history.interrupted:
        if checkpoint_path is None:
            folder = f"{config.env.replace('/', '_')}-{config.method}-seed{config.seed}-interrupted"
            checkpoint_path = Path(folder) / "checkpoint.pt"
            learners.save(checkpoint_path)
        print(interrupted_message(stop.signal_name, f"iteration {learners.iterations}", checkpoint_path,
                                  resume_command), flush=True)
        return stop.exit_code

    require_identical_replicas(learners.policies, context)
    reached = options.target_nash_conv is None or history.reached_target
    if not report:
        return 0 if reached else 1
    comparison = None
    if options.compare_random:
        comparison = {"trained": learners.evaluate(), "random": learners.evaluate(uniform=True)}
    last = history.records[-1]
    outcome = (f"NashConv {history.nash_conv:.4f}" if learners.game is not None else
               "mean returns " + ", ".join(f"{agent} {value:.3f}" for agent, value in last.mean_returns.items()))
    skipped = (f"; {len(history.skipped_iterations)} updates skipped for non-finite values"
               if history.skipped_iterations else "")
    processes = f" on {context.world_size} processes" if context.world_size > 1 else ""
    print(f"{config.method} on {config.env}, seed {config.seed}{processes}: {learners.iterations} iterations, "
          f"{history.agent_steps} agent steps, {history.wall_seconds:.2f} s; {outcome}{skipped}")
    if comparison is not None:
        for agent in learners.agents:
            print(f"  {agent}: mean return {comparison['trained'][agent]:.3f} trained, "
                  f"{comparison['random'][agent]:.3f} random ({config.num_envs} episodes each)")
    if options.out is not None:
        _write_outputs(Path(options.out), learners, options, history, comparison)
        print(f"wrote {options.out}/summary.json, progress.csv, checkpoint.pt, config.json and plots")
    return 0 if reached else 1
