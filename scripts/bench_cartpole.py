"""Benchmark: wall time to solve CartPole-v1, REINFORCE (train_cartpole.py defaults) vs SB3 PPO.

Both methods use the same solve criterion: the mean return of the last 100 training episodes
reaches 475, and then so does the mean return of 100 greedy (deterministic) evaluation episodes,
run by the same function (ascentrl.envs.evaluate_policy) on the same seeded evaluation envs.
Both clocks run from the start of training to the end of the solving evaluation; building the
model (envs, networks, optimizers) and Python imports are excluded for both, evaluations included.

REINFORCE runs exactly as `python scripts/train_cartpole.py --seed S` does (its main() is called).
Stable-Baselines3 PPO uses the RL-Zoo hyperparameters for CartPole-v1: 8 envs, n_steps 32,
batch 256, gae_lambda 0.8, gamma 0.98, 20 epochs, ent_coef 0, learning rate linear from 1e-3 and
clip range linear from 0.2 (both decaying to 0 over --sb3-steps, the zoo's 1e5 by default). The
seeds are interleaved (REINFORCE seed s, then PPO seed s) so background load hits both alike.
Needs the `bench` extra (stable-baselines3).

With --nproc N it measures data-parallel scaling instead: the same seeds trained by one process
with the default 64 envs and by N torchrun processes with 64/N envs each (the same episodes per
update), printing solved count, median wall seconds, env steps and env steps per second for both.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
from pathlib import Path

from harness.cartpole import (
    SOLVED,
    describe,
    format_comparison,
    format_scaling,
    run_reinforce,
    run_reinforce_torchrun,
    run_sb3_ppo,
)

from ascentrl.cli import CommandLineParser, fail

TOTAL_ENVS = 64  # the default num_envs: episodes per update, split across ranks in --nproc mode


def scaling(arguments: argparse.Namespace) -> int:
    """Same seeds, same episodes per update: 1 process x 64 envs against NPROC processes x 64/NPROC."""
    script = Path(__file__).resolve().parent / "train_cartpole.py"
    per_rank = TOTAL_ENVS // arguments.nproc
    seeds = range(arguments.first_seed, arguments.first_seed + arguments.seeds)
    single, parallel = [], []
    for seed in seeds:
        single.append(run_reinforce(seed, TOTAL_ENVS))
        parallel.append(run_reinforce_torchrun(script, seed, arguments.nproc, per_rank))
        print(f"seed {seed}: 1 process {single[-1].wall_seconds:.2f} s, {arguments.nproc} processes "
              f"{parallel[-1].wall_seconds:.2f} s", flush=True)
    rows = [describe(f"1 process x {TOTAL_ENVS} envs", single),
            describe(f"{arguments.nproc} processes x {per_rank} envs (torchrun)", parallel)]
    for row in rows:
        row["env_steps_per_second"] = statistics.median(
            result["env_steps"] / result["wall_seconds"] for result in row["per_seed"])
    print(json.dumps({"rows": rows}, indent=2) if arguments.json else "\n" + format_scaling(rows, seeds, TOTAL_ENVS))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = CommandLineParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10, help="number of seeds per method (default: 10)")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds are FIRST..FIRST+SEEDS-1 (default: 0)")
    parser.add_argument("--sb3-steps", type=int, default=100_000,
                        help="PPO step budget, over which its lr and clip range decay to 0 (default: 100000, RL-Zoo)")
    parser.add_argument("--sb3-threads", type=int, default=1,
                        help="torch threads for PPO (default: 1, its fastest here; REINFORCE uses its config's)")
    parser.add_argument("--nproc", type=int, default=1,
                        help="measure data-parallel scaling over this many torchrun processes instead of "
                             "comparing with PPO (a divisor of 64; default: 1, the PPO comparison)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    arguments = parser.parse_args(argv)
    if arguments.nproc < 1 or TOTAL_ENVS % arguments.nproc:
        fail(parser, ValueError(f"--nproc must be a divisor of 64 (1, 2, 4, ...), got {arguments.nproc}"))
    for name in ("seeds", "sb3_steps", "sb3_threads"):
        if getattr(arguments, name) < 1:
            flag = "--" + name.replace("_", "-")
            fail(parser, ValueError(f"{flag} must be a positive integer, got {getattr(arguments, name)}"))
    if arguments.first_seed < 0:
        fail(parser, ValueError(f"--first-seed must be non-negative, got {arguments.first_seed}"))
    if arguments.nproc > 1:
        return scaling(arguments)
    if importlib.util.find_spec("stable_baselines3") is None:
        fail(parser, ValueError("stable-baselines3 is not installed: pip install -e '.[bench]'"))

    seeds = range(arguments.first_seed, arguments.first_seed + arguments.seeds)
    reinforce_results, ppo_results = [], []
    for seed in seeds:
        reinforce_results.append(run_reinforce(seed))
        ppo_results.append(run_sb3_ppo(seed, arguments.sb3_steps, arguments.sb3_threads))
        ppo = ppo_results[-1]
        print(f"SB3 PPO seed {seed}: {'solved' if ppo.solved else 'not solved'} after {ppo.env_steps} steps, "
              f"{ppo.wall_seconds:.2f} s", flush=True)
    rows = [describe("ascentrl REINFORCE (train_cartpole.py defaults)", reinforce_results),
            describe("SB3 PPO (RL-Zoo CartPole-v1)", ppo_results)]
    if arguments.json:
        ratio = rows[1]["median_wall_seconds"] / rows[0]["median_wall_seconds"]
        print(json.dumps({"target_return": SOLVED.target, "rows": rows, "median_wall_ratio_ppo_over_reinforce": ratio},
                         indent=2))
    else:
        print("\n" + format_comparison(rows, seeds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
