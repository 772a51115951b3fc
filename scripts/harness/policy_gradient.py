"""Runners of ``scripts/bench_pg.py``: our PPO and Stable-Baselines3's PPO with the RL-Zoo
hyperparameters on the same task, the same stop rule and the same evaluation, plus the raw env floor.

- Solving tasks (LunarLander-v3): both stop by :class:`ascentrl.training.ReturnThreshold` — the mean
  return of the last 100 training episodes reaches the target, then so does the mean of 100 greedy
  episodes on the evaluation seeds ``Reinforce``/``PPO`` use — checked by our loop for ours and by a
  callback for SB3. Wall time runs from the start of training to the end of the solving evaluation;
  building the model is excluded for both.
- Fixed-budget tasks (MuJoCo): both train for the budget; the final policy plays 100 greedy
  episodes, scored by :func:`ascentrl.envs.evaluate_policy` on the same seeds.
- Throughput is environment steps per second of training, updates included.
- The floor is the env alone: random actions through the same kind of vector env, nothing else.

Stable-Baselines3 is imported only here (the ``bench`` extra).
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ascentrl.agents import PPO, PPOConfig, preset_for
from ascentrl.envs import evaluate_policy, make_vector_env
from ascentrl.rng import seed_everything
from ascentrl.training import EVALUATION_SEED_OFFSET, ReturnThreshold, StepBudget

__all__ = ["RunResult", "env_floor", "run_ours", "run_sb3", "sb3_zoo_hyperparameters"]

EVAL_EPISODES = 100


@dataclass
class RunResult:
    method: str
    env: str
    seed: int
    solved: bool | None
    """Reached the target (tasks with one), else None."""
    env_steps: int
    wall_seconds: float
    eval_mean_return: float

    @property
    def steps_per_second(self) -> float:
        return self.env_steps / self.wall_seconds


def run_ours(env: str, seed: int, budget: int, target: float | None, overrides: dict[str, Any] | None = None,
             ) -> RunResult:
    """Our PPO from its preset for ``env`` (as ``scripts/train.py --algo ppo --env ENV`` starts)."""
    options = {**preset_for("ppo", env), **(overrides or {})}
    options.pop("total_steps", None)
    seed_everything(seed)
    agent = PPO(PPOConfig(env=env, seed=seed, **options))
    try:
        stop = ReturnThreshold(target, eval_episodes=EVAL_EPISODES) if target is not None else None
        history = agent.train(StepBudget(budget), stop=stop, eval_episodes=EVAL_EPISODES)
    finally:
        agent.close()
    return RunResult("ascentrl PPO", env, seed, history.reached_target if target is not None else None,
                     history.env_steps, history.wall_seconds, history.eval_mean_return)


def sb3_zoo_hyperparameters(env: str) -> dict[str, Any]:
    """RL-Baselines3-Zoo's PPO settings (hyperparams/ppo.yml; the v2/v3 entries for v3/v5 envs)."""
    from torch import nn

    mujoco = {"log_std_init": -2, "ortho_init": False, "activation_fn": nn.ReLU,
              "net_arch": {"pi": [256, 256], "vf": [256, 256]}}
    table = {
        "LunarLander-v3": dict(n_envs=16, n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999, n_epochs=4,
                               ent_coef=0.01),
        "HalfCheetah-v5": dict(normalize=True, n_envs=1, batch_size=64, n_steps=512, gamma=0.98,
                               learning_rate=2.0633e-05, ent_coef=0.000401762, clip_range=0.1, n_epochs=20,
                               gae_lambda=0.92, max_grad_norm=0.8, vf_coef=0.58096, policy_kwargs=mujoco),
        "Hopper-v5": dict(normalize=True, n_envs=1, batch_size=32, n_steps=512, gamma=0.999,
                          learning_rate=9.80828e-05, ent_coef=0.00229519, clip_range=0.2, n_epochs=5,
                          gae_lambda=0.99, max_grad_norm=0.7, vf_coef=0.835671, policy_kwargs=mujoco),
    }
    return dict(table[env])


def run_sb3(env: str, seed: int, budget: int, target: float | None, threads: int = 1) -> RunResult:
    """SB3 PPO with the zoo's settings, stopped and evaluated like ours (module docstring)."""
    from stable_baselines3 import PPO as StableBaselinesPPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.logger import Logger
    from stable_baselines3.common.vec_env import VecNormalize

    settings = sb3_zoo_hyperparameters(env)
    n_envs, normalize = settings.pop("n_envs"), settings.pop("normalize", False)
    torch.set_num_threads(threads)
    seed_everything(seed)
    vec_env = make_vec_env(env, n_envs=n_envs, seed=seed)
    if normalize:
        vec_env = VecNormalize(vec_env, gamma=settings.get("gamma", 0.99))
    model = StableBaselinesPPO("MlpPolicy", vec_env, seed=seed, device="cpu", verbose=0, **settings)
    evaluation_env, _ = make_vector_env(env, EVAL_EPISODES, record_statistics=False)

    def greedy(observation: np.ndarray) -> np.ndarray:
        if normalize:
            observation = vec_env.normalize_obs(observation)
        return model.predict(observation, deterministic=True)[0]

    class Clock(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.rule = ReturnThreshold(target, eval_episodes=EVAL_EPISODES) if target is not None else None
            self.returns: deque[float] = deque(maxlen=100)
            self.evaluations, self.solved, self.evaluated = 0, False, math.nan
            self.start = self.end = 0.0

        def evaluate(self, episodes: int) -> float:
            episode_seed = seed + EVALUATION_SEED_OFFSET + self.evaluations * episodes
            self.evaluations += 1
            self.evaluated = float(evaluate_policy(evaluation_env, greedy, 1000, seed=episode_seed).mean())
            return self.evaluated

        def _on_training_start(self) -> None:
            self.start = time.perf_counter()

        def _on_step(self) -> bool:
            if self.rule is None:
                return True
            finished = [info["episode"]["r"] for info in self.locals["infos"] if "episode" in info]
            if finished:
                self.returns.extend(finished)
                self.solved = self.rule.reached_by(self.returns, self.evaluate)
            return not self.solved

        def _on_training_end(self) -> None:
            if not self.solved:  # the final evaluation, as ours ends with
                self.evaluate(EVAL_EPISODES)
            self.end = time.perf_counter()

    model.set_logger(Logger(folder=None, output_formats=[]))  # SB3's default makes a /tmp directory per run
    clock = Clock()
    model.learn(total_timesteps=budget, callback=clock)
    vec_env.close()
    evaluation_env.close()
    return RunResult("SB3 PPO (RL-Zoo)", env, seed, clock.solved if target is not None else None,
                     int(model.num_timesteps), clock.end - clock.start, clock.evaluated)


def env_floor(env: str, num_envs: int, steps: int = 20_000) -> float:
    """Environment steps per second of the env alone (random actions, a sync vector env)."""
    vector_env, _ = make_vector_env(env, num_envs, record_statistics=False, vectorization_mode="sync")
    vector_env.reset(seed=0)
    vector_env.action_space.seed(0)
    actions = [vector_env.action_space.sample() for _ in range(64)]
    start = time.perf_counter()
    for step in range(steps // num_envs):
        vector_env.step(actions[step % 64])
    elapsed = time.perf_counter() - start
    vector_env.close()
    return (steps // num_envs) * num_envs / elapsed
