"""The peer of ``scripts/bench_turn_based.py``: sb3-contrib's ``MaskablePPO`` trained as in
PettingZoo's own SB3 tutorial ("SB3: Action Masked PPO for Connect Four") — one model plays every
seat (self-play) through a Gymnasium view of the AEC env, wrapped in ``ActionMasker``, every
hyperparameter at sb3-contrib's default — until a wall budget is spent. The view is written here
for Gymnasium 1.x (the tutorial's wrapper requires Gymnasium 0.29). sb3-contrib is imported only
here (the ``bench`` extra).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import gymnasium
import numpy as np
import pettingzoo

from ascentrl.rng import seed_everything

if TYPE_CHECKING:
    from harness.turn_based_games import TrainedPlayer

__all__ = ["train_maskable_ppo"]


class _SelfPlayView(gymnasium.Env):
    """A turn-based AEC env seen as one Gymnasium env by a single self-playing model, as PettingZoo's
    SB3 tutorial does it: every seat's move is an env step; the observation returned is the next
    mover's (without its mask, which :meth:`action_mask` gives), the reward, termination and
    truncation are those of the agent that just moved (its cumulative reward since it last moved)."""

    def __init__(self, env_id: str) -> None:
        self.env = pettingzoo.make("aec", env_id)
        first = self.env.possible_agents[0]
        self.observation_space = self.env.observation_space(first)["observation"]
        self.action_space = self.env.action_space(first)
        self.games = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.env.reset(seed=seed, options=options)
        return self.env.observe(self.env.agent_selection)["observation"], {}

    def step(self, action: int) -> tuple[Any, float, bool, bool, dict]:
        mover = self.env.agent_selection
        self.env.step(int(action))
        terminated, truncated = self.env.terminations[mover], self.env.truncations[mover]
        self.games += bool(terminated or truncated)
        return (self.env.observe(self.env.agent_selection)["observation"],
                float(self.env._cumulative_rewards[mover]), terminated, truncated, self.env.infos[mover])

    def action_mask(self) -> np.ndarray:
        return np.asarray(self.env.observe(self.env.agent_selection)["action_mask"], dtype=bool)


def train_maskable_ppo(env_id: str, seconds: float, seed: int) -> TrainedPlayer:
    """sb3-contrib's ``MaskablePPO`` trained as in PettingZoo's tutorial, for ``seconds`` of wall time."""
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
    from sb3_contrib.common.wrappers import ActionMasker
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.logger import Logger

    class WallClock(BaseCallback):
        def _on_step(self) -> bool:
            return time.perf_counter() - start < seconds

    seed_everything(seed)
    view = _SelfPlayView(env_id)
    view.reset(seed=seed)
    model = MaskablePPO(MaskableActorCriticPolicy, ActionMasker(view, lambda env: env.action_mask()), verbose=0,
                        seed=seed, device="cpu")
    start = time.perf_counter()
    model.set_logger(Logger(folder=None, output_formats=[]))  # SB3's default makes a /tmp directory per run
    model.learn(total_timesteps=10**12, callback=WallClock())
    elapsed = time.perf_counter() - start

    def policy(agent: str, observation: Any) -> int:
        action, _ = model.predict(observation["observation"], action_masks=np.asarray(observation["action_mask"],
                                                                                        dtype=bool),
                                  deterministic=True)
        return int(action)

    from harness.turn_based_games import TrainedPlayer

    return TrainedPlayer("MaskablePPO", policy, elapsed, int(model.num_timesteps), view.games)
