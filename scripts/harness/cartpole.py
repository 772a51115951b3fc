"""Time to solve CartPole-v1: REINFORCE (the train_cartpole.py defaults) against SB3 PPO, and its
data-parallel scaling. The runners and the tables of ``scripts/bench_cartpole.py``.

Both methods use the same solve criterion: the mean return of the last 100 training episodes
reaches 475, and then so does the mean return of 100 greedy (deterministic) evaluation episodes,
run by the same function (ascentrl.envs.evaluate_policy) on the same seeded evaluation envs.
Both clocks run from the start of training to the end of the solving evaluation; building the
model (envs, networks, optimizers) and Python imports are excluded for both, evaluations included.
Stable-Baselines3 is imported only by :func:`run_sb3_ppo` (the ``bench`` extra).
"""

from __future__ import annotations

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

from ascentrl.agents import GymTrainingOptions, Reinforce, ReinforceConfig
from ascentrl.envs import evaluate_policy, make_vector_env
from ascentrl.rng import seed_everything
from ascentrl.training import EVALUATION_SEED_OFFSET, ReturnThreshold
from ascentrl.training.command_line import RunOptions, prepare_run, train

__all__ = ["RunResult", "describe", "format_comparison", "format_scaling", "run_reinforce",
           "run_reinforce_torchrun", "run_sb3_ppo"]

SOLVED = ReturnThreshold(475.0, eval_episodes=100)
"""The solve criterion of both methods: the stop rule train_cartpole.py uses."""


@dataclass
class RunResult:
    seed: int
    solved: bool
    wall_seconds: float
    env_steps: int


def run_reinforce(seed: int, num_envs: int | None = None) -> RunResult:
    """One run exactly as ``python scripts/train_cartpole.py --seed SEED [--num-envs N]`` does."""
    config = ReinforceConfig(seed=seed) if num_envs is None else ReinforceConfig(seed=seed, num_envs=num_envs)
    with tempfile.TemporaryDirectory() as folder:
        run = prepare_run(Reinforce, RunOptions(out=folder, progress_bar=False), GymTrainingOptions(), config,
                          given=lambda: set())
        with run.context:
            try:
                train(run, program="bench_cartpole", resume_command="python scripts/train_cartpole.py")
            finally:
                run.close()
        summary = json.loads((Path(folder) / "summary.json").read_text())
    return RunResult(seed, summary["solved"], summary["wall_seconds"], summary["env_steps"])


def run_reinforce_torchrun(script: Path, seed: int, nproc: int, num_envs: int) -> RunResult:
    """``torchrun --standalone --nproc_per_node NPROC SCRIPT`` (``train_cartpole.py``) with NUM_ENVS envs per rank."""
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


def run_sb3_ppo(seed: int, budget: int, threads: int) -> RunResult:
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.logger import Logger

    def linear(initial: float):
        return lambda progress_remaining: progress_remaining * initial

    class SolveCriterion(BaseCallback):
        """Stops PPO once the last 100 training episodes and then 100 greedy episodes reach 475."""

        def __init__(self) -> None:
            super().__init__()
            self.returns: deque[float] = deque(maxlen=SOLVED.window)
            self.evaluation_env, _ = make_vector_env("CartPole-v1", SOLVED.eval_episodes, record_statistics=False)
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
            self.solved = SOLVED.reached_by(self.returns, self.evaluate)
            return not self.solved

        def evaluate(self, episodes: int) -> float:
            """Greedy episodes on the evaluation seeds Reinforce.evaluate uses, so both see the same envs."""
            evaluation_seed = seed + EVALUATION_SEED_OFFSET + self.evaluations * episodes
            self.evaluations += 1
            returns = evaluate_policy(self.evaluation_env,
                                      lambda observation: self.model.predict(observation, deterministic=True)[0],
                                      500, seed=evaluation_seed)
            return float(returns.mean())

        def _on_training_end(self) -> None:
            self.end = time.perf_counter()

    torch.set_num_threads(threads)
    seed_everything(seed)
    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                ent_coef=0.0, learning_rate=linear(1e-3), clip_range=linear(0.2), seed=seed,
                device="cpu", verbose=0)
    model.set_logger(Logger(folder=None, output_formats=[]))  # SB3's default makes a /tmp directory per run
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


def format_comparison(rows: list[dict], seeds: range) -> str:
    """The table of REINFORCE against PPO (rows of :func:`describe`, REINFORCE first)."""
    ratio = rows[1]["median_wall_seconds"] / rows[0]["median_wall_seconds"]
    lines = [
        f"CartPole-v1, seeds {seeds.start}..{seeds.stop - 1}; solved = mean of last {SOLVED.window} training "
        f"episodes >= {SOLVED.target:g}, then {SOLVED.eval_episodes} greedy episodes >= {SOLVED.target:g}",
        "wall seconds: start of training to end of the solving evaluation (model construction excluded)",
        f"{'method':<50}{'solved':>8}{'median s':>10}{'max s':>8}{'median steps':>14}{'max steps':>11}",
    ]
    for row in rows:
        lines.append(f"{row['method']:<50}{row['solved']:>5}/{row['runs']:<2}{row['median_wall_seconds']:>10.2f}"
                     f"{row['max_wall_seconds']:>8.2f}{row['median_env_steps']:>14,.0f}{row['max_env_steps']:>11,}")
    lines.append(f"speed-up (PPO median wall / REINFORCE median wall): {ratio:.1f}x"
                 + ("" if math.isfinite(ratio) else " (undefined)"))
    return "\n".join(lines)


def format_scaling(rows: list[dict], seeds: range, total_envs: int) -> str:
    """The table of 1 process against N torchrun processes (rows of :func:`describe`, 1 first)."""
    lines = [
        f"CartPole-v1, REINFORCE defaults, seeds {seeds.start}..{seeds.stop - 1}, "
        f"{total_envs} episodes per update in both; {os.cpu_count()} CPUs",
        f"{'configuration':<40}{'solved':>8}{'median s':>10}{'median steps':>14}{'steps/s':>12}",
    ]
    for row in rows:
        lines.append(f"{row['method']:<40}{row['solved']:>5}/{row['runs']:<2}{row['median_wall_seconds']:>10.2f}"
                     f"{row['median_env_steps']:>14,.0f}{row['env_steps_per_second']:>12,.0f}")
    speedup = rows[0]["median_wall_seconds"] / rows[1]["median_wall_seconds"]
    lines.append(f"speed-up in median wall time to solve: {speedup:.2f}x")
    return "\n".join(lines)
