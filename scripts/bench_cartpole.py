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
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import torch

from ascentrl.envs import evaluate_policy, make_vector_env
from ascentrl.runs import CommandLineParser, fail, seed_everything

TARGET = 475.0
WINDOW = 100
EVAL_EPISODES = 100
EVALUATION_SEED_OFFSET = 1_000_003  # the seeds Reinforce.evaluate uses, so both see the same envs


@dataclass
class RunResult:
    seed: int
    solved: bool
    wall_seconds: float
    env_steps: int


def load_train_cartpole():
    path = Path(__file__).resolve().parent / "train_cartpole.py"
    spec = importlib.util.spec_from_file_location("train_cartpole", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def run_reinforce(train_cartpole, seed: int, extra: list[str] | None = None) -> RunResult:
    with tempfile.TemporaryDirectory() as folder:
        train_cartpole.main(["--seed", str(seed), "--out", folder, "--no-progress-bar", *(extra or [])])
        summary = json.loads((Path(folder) / "summary.json").read_text())
    return RunResult(seed, summary["solved"], summary["wall_seconds"], summary["env_steps"])


def run_reinforce_torchrun(seed: int, nproc: int, num_envs: int) -> RunResult:
    """``torchrun --standalone --nproc_per_node NPROC train_cartpole.py`` with NUM_ENVS envs per rank."""
    script = Path(__file__).resolve().parent / "train_cartpole.py"
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
                   str(script), "--seed", str(seed), "--num-envs", str(num_envs), "--out", folder,
                   "--no-progress-bar"]
        finished = subprocess.run(command, env=environment, capture_output=True, text=True)
        summary_path = Path(folder) / "summary.json"
        if not summary_path.is_file():
            raise RuntimeError(f"torchrun failed (exit {finished.returncode}):\n{finished.stdout}{finished.stderr}")
        summary = json.loads(summary_path.read_text())
    return RunResult(seed, summary["solved"], summary["wall_seconds"], summary["env_steps"])


def scaling(arguments: argparse.Namespace, train_cartpole) -> int:
    """Same seeds, same episodes per update: 1 process x 64 envs against NPROC processes x 64/NPROC."""
    total_envs = 64
    per_rank = total_envs // arguments.nproc
    seeds = range(arguments.first_seed, arguments.first_seed + arguments.seeds)
    single, parallel = [], []
    for seed in seeds:
        single.append(run_reinforce(train_cartpole, seed, ["--num-envs", str(total_envs)]))
        parallel.append(run_reinforce_torchrun(seed, arguments.nproc, per_rank))
        print(f"seed {seed}: 1 process {single[-1].wall_seconds:.2f} s, {arguments.nproc} processes "
              f"{parallel[-1].wall_seconds:.2f} s", flush=True)
    rows = [describe(f"1 process x {total_envs} envs", single),
            describe(f"{arguments.nproc} processes x {per_rank} envs (torchrun)", parallel)]
    for row in rows:
        row["env_steps_per_second"] = statistics.median(
            result["env_steps"] / result["wall_seconds"] for result in row["per_seed"])
    if arguments.json:
        print(json.dumps({"rows": rows}, indent=2))
        return 0
    print(f"\nCartPole-v1, REINFORCE defaults, seeds {seeds.start}..{seeds.stop - 1}, "
          f"{total_envs} episodes per update in both; {os.cpu_count()} CPUs")
    print(f"{'configuration':<40}{'solved':>8}{'median s':>10}{'median steps':>14}{'steps/s':>12}")
    for row in rows:
        print(f"{row['method']:<40}{row['solved']:>5}/{row['runs']:<2}{row['median_wall_seconds']:>10.2f}"
              f"{row['median_env_steps']:>14,.0f}{row['env_steps_per_second']:>12,.0f}")
    speedup = rows[0]["median_wall_seconds"] / rows[1]["median_wall_seconds"]
    print(f"speed-up in median wall time to solve: {speedup:.2f}x")
    return 0


def run_sb3_ppo(seed: int, budget: int, threads: int) -> RunResult:
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    def linear(initial: float):
        return lambda progress_remaining: progress_remaining * initial

    class SolveCriterion(BaseCallback):
        """Stops PPO once the last 100 training episodes and then 100 greedy episodes reach 475."""

        def __init__(self) -> None:
            super().__init__()
            self.returns: deque[float] = deque(maxlen=WINDOW)
            self.evaluation_env, _ = make_vector_env("CartPole-v1", EVAL_EPISODES, record_statistics=False)
            self.evaluations = 0
            self.solved = False
            self.start = self.end = 0.0

        def _on_training_start(self) -> None:
            self.start = time.perf_counter()

        def _on_step(self) -> bool:
            finished = [info["episode"]["r"] for info in self.locals["infos"] if "episode" in info]
            if not finished:
                return True
            self.returns.extend(finished)
            if len(self.returns) < WINDOW or sum(self.returns) / WINDOW < TARGET:
                return True
            evaluation_seed = seed + EVALUATION_SEED_OFFSET + self.evaluations * EVAL_EPISODES
            self.evaluations += 1
            returns = evaluate_policy(self.evaluation_env,
                                      lambda observation: self.model.predict(observation, deterministic=True)[0],
                                      500, seed=evaluation_seed)
            self.solved = returns.mean() >= TARGET
            return not self.solved

        def _on_training_end(self) -> None:
            self.end = time.perf_counter()

    torch.set_num_threads(threads)
    seed_everything(seed)
    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                ent_coef=0.0, learning_rate=linear(1e-3), clip_range=linear(0.2), seed=seed,
                device="cpu", verbose=0)
    criterion = SolveCriterion()
    model.learn(total_timesteps=budget, callback=criterion)
    env.close()
    criterion.evaluation_env.close()
    return RunResult(seed, bool(criterion.solved), criterion.end - criterion.start, int(model.num_timesteps))


def describe(name: str, results: list[RunResult]) -> dict:
    walls = [result.wall_seconds for result in results]
    steps = [result.env_steps for result in results]
    return {
        "method": name,
        "solved": sum(result.solved for result in results),
        "runs": len(results),
        "median_wall_seconds": statistics.median(walls),
        "max_wall_seconds": max(walls),
        "median_env_steps": statistics.median(steps),
        "max_env_steps": max(steps),
        "per_seed": [vars(result) for result in results],
    }


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
    if arguments.nproc < 1 or 64 % arguments.nproc:
        fail(parser, ValueError(f"--nproc must be a divisor of 64 (1, 2, 4, ...), got {arguments.nproc}"))
    for name in ("seeds", "sb3_steps", "sb3_threads"):
        if getattr(arguments, name) < 1:
            fail(parser, ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(arguments, name)}"))
    if arguments.first_seed < 0:
        fail(parser, ValueError(f"--first-seed must be non-negative, got {arguments.first_seed}"))
    train_cartpole = load_train_cartpole()
    if arguments.nproc > 1:
        return scaling(arguments, train_cartpole)
    if importlib.util.find_spec("stable_baselines3") is None:
        fail(parser, ValueError("stable-baselines3 is not installed: pip install -e '.[bench]'"))

    reinforce_results, ppo_results = [], []
    for seed in range(arguments.first_seed, arguments.first_seed + arguments.seeds):
        reinforce_results.append(run_reinforce(train_cartpole, seed))
        ppo_results.append(run_sb3_ppo(seed, arguments.sb3_steps, arguments.sb3_threads))
        ppo = ppo_results[-1]
        print(f"SB3 PPO seed {seed}: {'solved' if ppo.solved else 'not solved'} after {ppo.env_steps} steps, "
              f"{ppo.wall_seconds:.2f} s", flush=True)

    rows = [describe("ascentrl REINFORCE (train_cartpole.py defaults)", reinforce_results),
            describe("SB3 PPO (RL-Zoo CartPole-v1)", ppo_results)]
    ratio = rows[1]["median_wall_seconds"] / rows[0]["median_wall_seconds"]
    if arguments.json:
        print(json.dumps({"target_return": TARGET, "rows": rows, "median_wall_ratio_ppo_over_reinforce": ratio},
                         indent=2))
        return 0
    print()
    print(f"CartPole-v1, seeds {arguments.first_seed}..{arguments.first_seed + arguments.seeds - 1}; solved = "
          f"mean of last {WINDOW} training episodes >= {TARGET:g}, then {EVAL_EPISODES} greedy episodes >= {TARGET:g}")
    print("wall seconds: start of training to end of the solving evaluation (model construction excluded)")
    print(f"{'method':<50}{'solved':>8}{'median s':>10}{'max s':>8}{'median steps':>14}{'max steps':>11}")
    for row in rows:
        print(f"{row['method']:<50}{row['solved']:>5}/{row['runs']:<2}{row['median_wall_seconds']:>10.2f}"
              f"{row['max_wall_seconds']:>8.2f}{row['median_env_steps']:>14,.0f}{row['max_env_steps']:>11,}")
    print(f"speed-up (PPO median wall / REINFORCE median wall): {ratio:.1f}x"
          + ("" if math.isfinite(ratio) else " (undefined)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
