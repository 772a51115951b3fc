"""Benchmark: our PPO against Stable-Baselines3's PPO with the RL-Zoo hyperparameters, same run.

  python scripts/bench_pg.py                                   # LunarLander-v3 (5 seeds), MuJoCo (3 seeds)
  python scripts/bench_pg.py --envs LunarLander-v3 --seeds 2
  python scripts/bench_pg.py --envs HalfCheetah-v5 --sb3-mujoco-steps 1000000   # SB3's full budget too

LunarLander-v3: both train until solved — the mean of the last 100 training episodes and then of 100
greedy episodes reach 200 — or until --lunar-budget; the table gives how many seeds solved, the
median wall time to solve, steps per second and their ratios. MuJoCo (HalfCheetah-v5, Hopper-v5):
ours trains --mujoco-budget steps and its final policy plays 100 greedy episodes; SB3 PPO-zoo takes
about 55 minutes per million steps here, so by default it trains --sb3-mujoco-steps steps to measure
its throughput (its return at that point is reported, and the published 1M-step figures are quoted
beside ours). The env-alone floor (random actions) is measured in the same run. Ours runs from its
preset (ascentrl.agents.PRESETS); both use one torch thread. Needs the bench, box2d and mujoco extras.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import asdict, dataclass, field

from harness.policy_gradient import RunResult, env_floor, run_ours, run_sb3

from ascentrl.cli import CommandLineParser, add_config_arguments, config_from_args, fail
from ascentrl.validation import check_positive_int

TARGETS = {"LunarLander-v3": 200.0, "HalfCheetah-v5": None, "Hopper-v5": None}
PUBLISHED = {"HalfCheetah-v5": "SB3-zoo 5819 (v3, 1 seed), CleanRL 1443 (v4, 3 seeds)",
             "Hopper-v5": "SB3-zoo 2410 (v3, 1 seed), CleanRL 2383 (v4, 3 seeds)"}
VECTOR_ENVS = {"LunarLander-v3": 16, "HalfCheetah-v5": 1, "Hopper-v5": 1}


@dataclass
class BenchOptions:
    """What to run."""

    envs: tuple[str, ...] = ("LunarLander-v3", "HalfCheetah-v5", "Hopper-v5")
    """Tasks: LunarLander-v3, HalfCheetah-v5, Hopper-v5."""
    seeds: int = 0
    """Seeds per task; 0: 5 for LunarLander, 3 for MuJoCo."""
    first_seed: int = 0
    """The first seed."""
    lunar_budget: int = 2_000_000
    """Environment steps after which a LunarLander run stops unsolved."""
    mujoco_budget: int = 1_000_000
    """Environment steps of our MuJoCo runs."""
    sb3_mujoco_steps: int = 100_000
    """Environment steps of SB3's MuJoCo runs (its throughput; 1000000 for its full budget)."""
    sb3: bool = True
    """Run Stable-Baselines3 (--no-sb3: ours alone)."""
    json: bool = False
    """Print one JSON object instead of the table."""

    def __post_init__(self) -> None:
        for env in self.envs:
            if env not in TARGETS:
                raise ValueError(f"--envs {env}: choose from {', '.join(TARGETS)}")
        for name in ("lunar_budget", "mujoco_budget", "sb3_mujoco_steps"):
            check_positive_int("--" + name.replace("_", "-"), getattr(self, name))
        if self.seeds < 0:
            raise ValueError(f"--seeds must be >= 0, got {self.seeds}")


@dataclass
class EnvReport:
    env: str
    floor_steps_per_second: float
    runs: list[RunResult] = field(default_factory=list)

    def summary(self, method: str) -> dict:
        runs = [run for run in self.runs if run.method == method]
        if not runs:
            return {}
        solved = [run for run in runs if run.solved]
        return {"runs": len(runs), "solved": len(solved),
                "median_wall_seconds": statistics.median(run.wall_seconds for run in runs),
                "median_solve_seconds": statistics.median(run.wall_seconds for run in solved) if solved else None,
                "steps_per_second": statistics.median(run.steps_per_second for run in runs),
                "mean_return": statistics.fmean(run.eval_mean_return for run in runs),
                "std_return": statistics.pstdev(run.eval_mean_return for run in runs),
                "median_env_steps": statistics.median(run.env_steps for run in runs)}


def run(options: BenchOptions, log) -> list[EnvReport]:
    reports = []
    for env in options.envs:
        target = TARGETS[env]
        seeds = options.seeds or (5 if target is not None else 3)
        report = EnvReport(env, env_floor(env, VECTOR_ENVS[env]))
        for seed in range(options.first_seed, options.first_seed + seeds):
            budget = options.lunar_budget if target is not None else options.mujoco_budget
            ours = run_ours(env, seed, budget, target)
            report.runs.append(ours)
            log(f"{env} seed {seed} ours: {ours}")
            if options.sb3:
                sb3_budget = options.lunar_budget if target is not None else options.sb3_mujoco_steps
                theirs = run_sb3(env, seed, sb3_budget, target)
                report.runs.append(theirs)
                log(f"{env} seed {seed} SB3: {theirs}")
        reports.append(report)
    return reports


def format_table(reports: list[EnvReport]) -> str:
    lines = [f"{'env':<16}{'method':<20}{'solved':>8}{'wall s':>10}{'steps/s':>10}{'return':>16}{'steps':>11}"]
    for report in reports:
        ours, theirs = report.summary("ascentrl PPO"), report.summary("SB3 PPO (RL-Zoo)")
        for name, row in (("ascentrl PPO", ours), ("SB3 PPO (RL-Zoo)", theirs)):
            if row:
                solved = f"{row['solved']}/{row['runs']}" if TARGETS[report.env] is not None else "-"
                lines.append(f"{report.env:<16}{name:<20}{solved:>8}{row['median_wall_seconds']:>10.1f}"
                             f"{row['steps_per_second']:>10,.0f}{row['mean_return']:>9.1f} ±{row['std_return']:<5.0f}"
                             f"{row['median_env_steps']:>11,.0f}")
        floor = report.floor_steps_per_second
        lines.append(f"{'':<16}env alone (floor): {floor:,.0f} steps/s; ours at {ours['steps_per_second'] / floor:.2f}"
                     f" of the floor")
        if theirs:
            speed = ours["steps_per_second"] / theirs["steps_per_second"]
            solving = ""
            if TARGETS[report.env] is not None:
                if ours["median_solve_seconds"] is not None and theirs["median_solve_seconds"] is not None:
                    faster = theirs["median_solve_seconds"] / ours["median_solve_seconds"]
                    solving = f", median time to solve (solved runs) {faster:.1f}x lower"
                else:  # a time to solve needs solved runs on both sides
                    solving = (f"; no time-to-solve ratio: ours solved {ours['solved']}/{ours['runs']}, "
                               f"SB3 {theirs['solved']}/{theirs['runs']}")
            lines.append(f"{'':<16}ours / SB3: throughput {speed:.1f}x{solving}")
        if report.env in PUBLISHED:
            lines.append(f"{'':<16}published at 1M steps: {PUBLISHED[report.env]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, BenchOptions)
    try:
        options = config_from_args(BenchOptions, parser.parse_args(argv))
    except ValueError as error:
        fail(parser, error)
    reports = run(options, log=lambda line: print(line, file=sys.stderr, flush=True))
    if options.json:
        print(json.dumps([{"env": r.env, "floor_steps_per_second": r.floor_steps_per_second,
                           "runs": [asdict(run) for run in r.runs]} for r in reports]))
    else:
        print(format_table(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
