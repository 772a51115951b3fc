"""Train multi-agent REINFORCE (ascentrl.agents.MultiAgentReinforce): every agent ascends its own return.

--env takes a matrix game name (matching_pennies, rock_paper_scissors, prisoners_dilemma, ...,
played repeatedly through MatrixGameEnv) or a PettingZoo id such as classic/rps-v2. --method picks
independent or parameter-shared REINFORCE learners, or a game dynamics that steps all agents at
once on their sampled returns: simultaneous, alternating, optimistic, extragradient, sga, consensus
or lola (two agents). For a matrix game the learned mixed strategies and their exploitability
(NashConv) are tracked after every iteration, and --target-nash-conv can stop training early.

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

import argparse
import dataclasses
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from torch.distributed.elastic.multiprocessing.errors import record
from tqdm import tqdm

from ascentrl.agents import MultiAgentConfig, MultiAgentHistory, MultiAgentRecord, MultiAgentReinforce
from ascentrl.distributed import DistributedContext, init_distributed, replicas_identical
from ascentrl.interrupts import StopOnSignals
from ascentrl.runs import (
    CommandLineParser,
    NonFiniteUpdateError,
    add_config_arguments,
    check_checkpoint_file,
    check_resume_options,
    config_from_args,
    fail,
    given_options,
    seed_everything,
    write_csv,
    write_json,
    write_line_plot,
)

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


def build_parser() -> CommandLineParser:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser.add_argument_group("run"), RunOptions)
    add_config_arguments(parser.add_argument_group("learners"), MultiAgentConfig)
    return parser


def resume_learners(argv: list[str] | None, options: RunOptions) -> tuple[MultiAgentReinforce, RunOptions]:
    """Load the run to continue; the options it runs with are the saved ones plus RESUMABLE_OPTIONS."""
    check_resume_options(given_options(build_parser(), (RunOptions, MultiAgentConfig), argv), RESUMABLE_OPTIONS)
    learners = MultiAgentReinforce.load(options.resume, restore_global_rng=True)
    run = learners.training_run
    if run is None or run.finished:
        learners.close()
        raise ValueError(f"--resume {options.resume}: the run saved there "
                         f"{'already finished' if run is not None else 'was not training'}; nothing to resume")
    out = options.out if options.out is not None else str(Path(options.resume).resolve().parent)
    saved = dataclasses.replace(options, iterations=run.iterations, target_nash_conv=run.target_nash_conv, out=out)
    return learners, saved


def progress_row(record: MultiAgentRecord, action_names: list[list[str]] | None) -> dict[str, float]:
    """One progress.csv row: counters, each agent's mean return, NashConv and strategies."""
    row = {field: getattr(record, field)
           for field in ("iteration", "env_steps", "agent_steps", "episodes", "wall_seconds")}
    row.update({f"return_{agent}": value for agent, value in record.mean_returns.items()})
    if record.strategies is not None:
        row["nash_conv"] = record.nash_conv
        for names, (agent, strategy) in zip(action_names, record.strategies.items()):
            row.update({f"p_{agent}_{name}": probability for name, probability in zip(names, strategy)})
    return row


def write_outputs(folder: Path, learners: MultiAgentReinforce, options: RunOptions, history: MultiAgentHistory,
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
    rows = [progress_row(record, action_names) for record in records]
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        options = config_from_args(RunOptions, arguments)
        context = init_distributed()
        if options.resume is not None:
            if context.world_size > 1:
                raise ValueError(f"--resume: a run is resumed in a single process, not under torchrun "
                                 f"(world size {context.world_size})")
            learners, options = resume_learners(argv, options)
        else:
            config = config_from_args(MultiAgentConfig, arguments)
            seed_everything(config.seed)
            learners = MultiAgentReinforce(config, distributed=context)
            if options.target_nash_conv is not None and learners.game is None:
                learners.close()
                raise ValueError(f"--target-nash-conv needs a matrix game; {config.env} is not one")
        if options.out is not None and context.is_main:
            try:
                Path(options.out).mkdir(parents=True, exist_ok=True)
            except OSError as error:
                learners.close()
                raise ValueError(f"--out {options.out}: cannot create the folder ({error.strerror or error})") from None
    except (ValueError, TypeError, OSError) as error:
        fail(parser, error)
    with context:
        try:
            return train(parser, learners, options, context, argv)
        finally:
            learners.close()


def train(parser: CommandLineParser, learners: MultiAgentReinforce, options: RunOptions,
          context: DistributedContext, argv: list[str] | None) -> int:
    """Train with a progress bar, checkpoints and signal handling; report and write the outputs (rank 0)."""
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
                print(f"{parser.prog}: error: {error}", file=sys.stderr)
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
        print(f"{stop.signal_name}: stopped after iteration {learners.iterations}; checkpoint written to "
              f"{checkpoint_path}\nresume with: python {sys.argv[0] if argv is None else __file__} "
              f"--resume {checkpoint_path}", flush=True)
        return stop.exit_code

    if not all(replicas_identical(policy, context) for policy in learners.policies):
        raise RuntimeError("data-parallel ranks ended with different parameters; please report this bug")
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
        write_outputs(Path(options.out), learners, options, history, comparison)
        print(f"wrote {options.out}/summary.json, progress.csv, checkpoint.pt, config.json and plots")
    return 0 if reached else 1


if __name__ == "__main__":
    # record: under torchrun, a failing rank's traceback goes into torchrun's failure summary.
    sys.exit(record(main)())
