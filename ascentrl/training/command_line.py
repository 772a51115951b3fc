"""The run layer every training script shares: options, resume, signals, progress, exit codes, outputs.

A training script is ``sys.exit(main(LearnerClass, argv, doc=__doc__, script=__file__))``. Its
command line is built from three dataclasses: the learner's training options (budget and target,
``LearnerClass.training_options_class``), :class:`RunOptions` (where to write, checkpoints, resume,
progress) and the learner's config. Then, in order:

1. **Before any work**: bad input is one line on stderr and exit code 2 — including sizes the
   machine cannot hold (:mod:`ascentrl.resources`: memory estimated from the config, torch threads
   at most the CPUs) and an output folder that cannot be written (probed with a real write) or that
   another run holds (:class:`ascentrl.output_folder.OutputFolder`, locked for the whole run;
   temporary files a killed write left there are removed, and said so); ``--resume`` refuses options
   other than the resumable ones (a resumed run continues with its saved settings); torchrun's
   process group is joined; then the learner is built (seeded) or loaded.
2. **Training** with a tqdm progress bar (rank 0), optional TensorBoard scalars of every progress
   column, a checkpoint every ``--checkpoint-every`` iterations, and SIGINT/SIGTERM turned into a stop
   request (:mod:`ascentrl.interrupts`): the current update — or evaluation, which is abandoned and
   redone on resume — stops, the checkpoint is written (without ``--out``, into
   ``./RUN-interrupted/``), the resume command is printed, and the exit code is 130/143. A second
   signal stops at once, but never in the middle of a checkpoint write: the write finishes first.
3. **Outputs** (rank 0): the learner's closing lines; ``summary.json`` (its fields),
   ``progress.csv`` (one row per iteration, :meth:`Learner.progress_row`), ``config.json``,
   ``checkpoint.pt`` and the learner's plots. Data-parallel replicas are checked identical first.

Exit codes: 0 the target was met (or there was none), 1 the budget ran out first, 2 bad input
(also found after training, by the learner's closing evaluation, e.g. an opponent policy that
plays an illegal move: one line, the checkpoint is kept), 3 training stopped on a NaN/inf, 130/143
interrupted.

What a learner class contributes: ``training_options_class`` (with ``stop_rules(learner)``,
``from_run(run)`` and ``resumable``), ``run_name``, ``progress_postfix(record)``,
``progress_text()``, ``after_training(options)``, ``summary(history, targets, extra)``,
``outcome(history, targets, extra)`` and ``write_plots(folder, history, targets)``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ascentrl.cli import (
    CommandLineParser,
    add_config_arguments,
    check_checkpoint_file,
    check_resume_options,
    config_from_args,
    fail,
    given_options,
)
from ascentrl.distributed import (
    DistributedContext,
    init_distributed,
    require_identical_replicas,
    require_single_process,
)
from ascentrl.files import write_csv, write_json
from ascentrl.interrupts import ForcedStop, StopOnSignals
from ascentrl.output_folder import OutputFolder
from ascentrl.resources import check_memory, check_thread_count
from ascentrl.rng import seed_everything
from ascentrl.training.learner import Learner
from ascentrl.training.nonfinite import NonFiniteUpdateError
from ascentrl.training.stopping import Budget, StopRule
from ascentrl.validation import check_positive_int

__all__ = ["EXIT_NON_FINITE", "PreparedRun", "RunOptions", "build_parser", "main", "prepare_run", "train"]

EXIT_BAD_INPUT = 2
EXIT_NON_FINITE = 3


@dataclass
class RunOptions:
    """Where a run writes, how often it checkpoints, and how it shows progress."""

    out: str | None = None
    """Folder for summary.json, progress.csv, checkpoint.pt, config.json and the plots."""
    checkpoint_every: int = 50
    """Iterations between checkpoints in OUT/checkpoint.pt (also written when stopped and at the end)."""
    resume: str | None = None
    """Continue the run saved in this checkpoint, with its settings."""
    tensorboard: bool = False
    """Also log every progress column for TensorBoard (into OUT/tensorboard; needs the tensorboard package)."""
    progress_bar: bool = True
    """Show a tqdm progress bar."""

    resumable = ("out", "checkpoint_every", "progress_bar", "tensorboard")
    """The options --resume accepts besides the learner's own resumable ones."""

    def __post_init__(self) -> None:
        if self.out == "":
            raise ValueError("--out must name a folder, got ''")
        check_positive_int("--checkpoint-every", self.checkpoint_every)
        if self.tensorboard and self.out is None and self.resume is None:
            raise ValueError("--tensorboard needs --out DIR to write into")
        if self.tensorboard and importlib.util.find_spec("tensorboard") is None:
            raise ValueError("--tensorboard needs the tensorboard package: pip install tensorboard")
        if self.resume is not None:
            check_checkpoint_file("--resume", self.resume)


@dataclass
class PreparedRun:
    """A training run ready to start (or to continue)."""

    learner: Learner
    options: RunOptions
    training: Any
    """The learner's training options (for a resumed run: the saved call's)."""
    budget: Budget
    targets: list[StopRule]
    eval_episodes: int | None
    context: DistributedContext
    folder: OutputFolder | None
    """The locked output folder (rank 0 with ``--out``); released by :meth:`close`."""

    def close(self) -> None:
        """Release the envs and the output folder."""
        self.learner.close()
        if self.folder is not None:
            self.folder.__exit__(None, None, None)


def build_parser(learner_class: type[Learner], doc: str, *, prog: str | None = None,
                 defaults: dict[str, Any] | None = None,
                 extra: Callable[[argparse.ArgumentParser], None] | None = None) -> CommandLineParser:
    """Options of the learner's training options, :class:`RunOptions` and the learner's config.

    ``prog`` names the script in messages; ``defaults`` replace option defaults (a preset);
    ``extra`` adds options of the caller's own.
    """
    parser = CommandLineParser(prog=prog, description=doc.split("\n\n")[0], epilog=doc.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    if extra is not None:
        extra(parser)
    group = parser.add_argument_group("run")
    add_config_arguments(group, learner_class.training_options_class)
    add_config_arguments(group, RunOptions)
    add_config_arguments(parser.add_argument_group(learner_class.__name__), learner_class.config_class)
    if defaults:
        parser.set_defaults(**defaults)
    return parser


def _check_before_work(learner_class: type[Learner], training: Any, config: Any) -> None:
    """Refuse a config this machine cannot run: more torch threads than CPUs, more memory than it has."""
    check_thread_count("--torch-threads", getattr(config, "torch_threads", None))
    check_memory(learner_class.memory_needs(config, getattr(training, "eval_episodes", None)))


def _enter_output_folder(options: RunOptions, context: DistributedContext) -> OutputFolder | None:
    """Probe, lock and tidy ``--out`` (rank 0 only: the other ranks write nothing)."""
    if options.out is None or not context.is_main:
        return None
    folder = OutputFolder(options.out).__enter__()
    for path in folder.removed:
        print(f"removed {path}: a temporary file left by a write that was interrupted", file=sys.stderr)
    return folder


def prepare_run(learner_class: type[Learner], options: RunOptions, training: Any, config: Any,
                given: Callable[[], set[str]]) -> PreparedRun:
    """Join torchrun's process group (if any), check and lock ``--out``, build or load the learner.

    ``config`` is None when ``options.resume`` names a checkpoint (its config is used); ``given``
    returns the options set explicitly on the command line (only asked when resuming).

    Raises:
        ValueError, TypeError, OSError: bad input, named; nothing has trained yet.
    """
    context = init_distributed()
    training_class = learner_class.training_options_class
    if options.resume is not None:
        require_single_process("--resume", context)
        check_resume_options(given(), (*RunOptions.resumable, *training_class.resumable))
        out = options.out if options.out is not None else str(Path(options.resume).resolve().parent)
        options = dataclasses.replace(options, out=out)
    else:
        _check_before_work(learner_class, training, config)
    folder = _enter_output_folder(options, context)
    try:
        if options.resume is not None:
            learner = learner_class.load(options.resume, restore_global_rng=True)
            run = learner.training_run
            if run is None or run.finished:
                learner.close()
                raise ValueError(f"--resume {options.resume}: the run saved there "
                                 f"{'already finished' if run is not None else 'was not training'}; "
                                 f"nothing to resume")
            training = dataclasses.replace(training_class.from_run(run),
                                           **{name: getattr(training, name) for name in training_class.resumable})
            budget, targets, eval_episodes = run.budget, run.targets, run.eval_episodes
        else:
            seed_everything(config.seed)
            learner = learner_class(config, distributed=context)
            try:
                budget, targets, eval_episodes = training.stop_rules(learner)
            except BaseException:
                learner.close()
                raise
    except BaseException:
        if folder is not None:
            folder.__exit__(None, None, None)
        raise
    return PreparedRun(learner, options, training, budget, targets, eval_episodes, context, folder)


def _interrupted_message(signal_name: str, progress: str, checkpoint_path: Path, resume_command: str) -> str:
    return (f"{signal_name}: stopped after {progress}; checkpoint written to {checkpoint_path}\n"
            f"resume with: {resume_command} --resume {checkpoint_path}")


def _write_outputs(run: PreparedRun, history: Any, extra: dict[str, Any]) -> list[str]:
    learner, folder = run.learner, Path(run.options.out)
    write_json(folder / "summary.json", learner.summary(history, run.targets, extra))
    rows = [learner.progress_row(record) for record in history.records]
    write_csv(folder / "progress.csv", list(rows[0]) if rows else [], rows)
    write_json(folder / "config.json", {"config": dataclasses.asdict(learner.config),
                                        "run": {**dataclasses.asdict(run.training), **dataclasses.asdict(run.options)}})
    return ["summary.json", "progress.csv", "checkpoint.pt", "config.json",
            *learner.write_plots(folder, history, run.targets)]


def train(run: PreparedRun, *, program: str, resume_command: str) -> int:
    """Train with a progress bar, checkpoints and signal handling; report and write outputs (rank 0).

    Args:
        program: the name errors are reported under.
        resume_command: how to run the script again, e.g. ``python scripts/train_cartpole.py``;
            printed with ``--resume PATH`` when a signal stops the run.

    Returns:
        The exit code (module docstring).
    """
    learner, options, context = run.learner, run.options, run.context
    checkpoint_path = Path(options.out) / "checkpoint.pt" if options.out is not None else None
    report = context.is_main  # the other ranks of a data-parallel job train silently
    writer = None
    if options.tensorboard and report:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(Path(options.out) / "tensorboard"))

    with StopOnSignals() as stop:
        done, total = run.budget.progress(learner)
        bar = tqdm(total=total, initial=done, unit="it" if run.budget.counter == "iterations" else "step",
                   unit_scale=run.budget.counter != "iterations", desc=learner.run_name, dynamic_ncols=True,
                   disable=not (options.progress_bar and report))

        def on_update(record: Any) -> None:
            bar.update(run.budget.progress(learner)[0] - bar.n)
            bar.set_postfix(learner.progress_postfix(record), refresh=False)
            if writer is not None:
                step = record.counters.get("env_steps", record.iteration)
                for name, value in learner.progress_row(record).items():
                    if isinstance(value, (int, float)) and name not in ("iteration", "wall_seconds"):
                        writer.add_scalar(f"train/{name}", value, step)

        checkpointing = {"on_update": on_update, "checkpoint_path": checkpoint_path,
                         "checkpoint_every": options.checkpoint_every if checkpoint_path is not None else None,
                         "should_stop": lambda: stop.requested}
        try:
            if options.resume is not None:
                history = learner.resume_training(**checkpointing)
            else:
                history = learner.train(run.budget, stop=run.targets, eval_episodes=run.eval_episodes,
                                        **checkpointing)
            if writer is not None and history.evaluations and not history.interrupted:
                writer.add_scalar("eval/mean_return", history.eval_mean_return, history.evaluations[-1][0])
        except NonFiniteUpdateError as error:
            if report:
                print(f"{program}: error: {error}", file=sys.stderr)
            return EXIT_NON_FINITE
        except ForcedStop as forced:
            if report:
                print(_forced_stop_message(program, forced, learner.last_checkpoint, resume_command), file=sys.stderr)
            return forced.exit_code
        finally:
            bar.close()
            if writer is not None:
                writer.close()
        try:
            return _finish(run, history, stop, program=program, resume_command=resume_command)
        except ForcedStop as forced:
            if report:
                print(f"{program}: {forced}; the outputs may be incomplete", file=sys.stderr)
            return forced.exit_code


def _forced_stop_message(program: str, forced: ForcedStop, last_checkpoint: tuple[str, int] | None,
                         resume_command: str) -> str:
    if last_checkpoint is None:
        return f"{program}: {forced}; no checkpoint was written"
    path, iteration = last_checkpoint
    return (f"{program}: {forced}; the last checkpoint is {path} (iteration {iteration}); "
            f"resume with: {resume_command} --resume {path}")


def _finish(run: PreparedRun, history: Any, stop: StopOnSignals, *, program: str, resume_command: str) -> int:
    """After training: an interrupted run's checkpoint and resume command, or the outcome and outputs."""
    learner, options, context = run.learner, run.options, run.context
    report = context.is_main
    if history.interrupted and not report:
        return stop.exit_code
    if history.interrupted:
        checkpoint_path = Path(options.out) / "checkpoint.pt" if options.out is not None else None
        if checkpoint_path is None:
            checkpoint_path = Path(f"{learner.run_name}-interrupted") / "checkpoint.pt"
            learner.save(checkpoint_path)
        print(_interrupted_message(stop.signal_name, learner.progress_text(), checkpoint_path, resume_command),
              flush=True)
        return stop.exit_code

    require_identical_replicas(learner.replicated_networks(), context)
    exit_code = 0 if history.reached_target or not run.targets else 1
    if not report:
        return exit_code
    try:
        extra = learner.after_training(run.training)
    except ValueError as error:  # e.g. an opponent policy of the user's that played an illegal move
        print(f"{program}: error: {str(error).strip().splitlines()[0]}", file=sys.stderr)
        return EXIT_BAD_INPUT
    first, *others = learner.outcome(history, run.targets, extra)
    if history.skipped_iterations:
        first += f"; {len(history.skipped_iterations)} updates skipped for non-finite values"
    print("\n".join([first, *others]))
    if options.out is not None:
        written = _write_outputs(run, history, extra)
        print(f"wrote {options.out}/{', '.join(written)}")
    if stop.requested:
        print(f"{program}: {stop.signal_name} arrived as training ended; the run and its outputs are complete",
              file=sys.stderr)
    return exit_code


def main(learner_class: type[Learner], argv: Sequence[str] | None, *, doc: str, script: str,
         defaults: dict[str, Any] | None = None, extra: Callable[[argparse.ArgumentParser], None] | None = None,
         announce: str | None = None) -> int:
    """Parse ``argv`` (``sys.argv[1:]`` when None), prepare the run, train; returns the exit code.

    ``defaults`` and ``extra`` as in :func:`build_parser`; ``announce`` is printed once the run is
    prepared (e.g. which preset it starts from).
    """
    def make_parser() -> CommandLineParser:
        return build_parser(learner_class, doc, prog=os.path.basename(script), defaults=defaults, extra=extra)

    parser = make_parser()
    arguments = parser.parse_args(argv)
    classes = (learner_class.training_options_class, RunOptions, learner_class.config_class)
    try:
        training = config_from_args(learner_class.training_options_class, arguments)
        options = config_from_args(RunOptions, arguments)
        config = config_from_args(learner_class.config_class, arguments) if options.resume is None else None
        run = prepare_run(learner_class, options, training, config,
                          lambda: given_options(make_parser(), classes, argv))
    except (ValueError, TypeError, OSError) as error:
        fail(parser, error)
    if announce is not None and run.context.is_main:
        print(announce, flush=True)
    with run.context:
        try:
            return train(run, program=parser.prog, resume_command=f"python {sys.argv[0] if argv is None else script}")
        finally:
            run.close()
