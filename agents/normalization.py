r"""Running observation normalization and return-based reward scaling, as part of an agent's state.

Both are *statistics of the data the agent has seen*, so they belong to the agent: they are saved
in every checkpoint, restored by ``load``, and applied by ``act()`` and by evaluation exactly as in
training (a reloaded agent that forgot them would act on differently scaled inputs).

- :class:`RunningMoments`: mean and variance of a stream of vectors, merged batch by batch with
  Chan et al.'s parallel formula: for counts ``n_a, n_b``, means ``m_a, m_b`` and sums of squared
  deviations ``M_a, M_b``: ``n = n_a + n_b``, ``m = m_a + (m_b - m_a) n_b / n``,
  ``M = M_a + M_b + (m_b - m_a)^2 n_a n_b / n``. float64 throughout.
- :class:`ObservationNormalizer`: ``clip((o - mean) / sqrt(var + eps), -c, c)``.
- :class:`RewardScaler`: rewards divided by the standard deviation of the discounted return
  ``R_t = gamma R_{t-1} + r_t`` (reset at each episode's end), clipped to ``[-c, c]`` — the scaling
  of Engstrom et al. 2020 ("Implementation matters in deep policy gradients") that
  Stable-Baselines3's VecNormalize applies. Returns, not rewards, set the scale, so the value
  targets have a stable magnitude whatever the discount.

The statistics are updated once per rollout (after collecting it), so they are constant within a
rollout: the observations a policy acted on are the ones its log-probabilities are computed for.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["ObservationNormalizer", "RewardScaler", "RunningMoments"]

EPSILON = 1e-8


class RunningMoments:
    """Running mean and variance of vectors of ``shape`` (module docstring)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.mean = np.zeros(shape, np.float64)
        self.var = np.ones(shape, np.float64)
        self.count = 0

    def update(self, batch: np.ndarray) -> None:
        """Merge a batch ``[B, *shape]`` into the statistics."""
        batch = np.asarray(batch, np.float64).reshape(-1, *self.mean.shape)
        if len(batch) == 0:
            return
        batch_mean, batch_var, batch_count = batch.mean(axis=0), batch.var(axis=0), len(batch)
        total = self.count + batch_count
        delta = batch_mean - self.mean
        squares = self.var * self.count + batch_var * batch_count + delta**2 * self.count * batch_count / total
        self.mean = np.asarray(self.mean + delta * batch_count / total)
        self.var = np.asarray(squares / total)
        self.count = total

    def state_dict(self) -> dict[str, Any]:
        return {"mean": torch.from_numpy(np.array(self.mean, np.float64)),
                "var": torch.from_numpy(np.array(self.var, np.float64)), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean = state["mean"].numpy().astype(np.float64)
        self.var = state["var"].numpy().astype(np.float64)
        self.count = int(state["count"])


class ObservationNormalizer:
    """``clip((o - mean) / sqrt(var + eps), -clip, clip)`` with running statistics; or the identity."""

    def __init__(self, shape: tuple[int, ...], *, enabled: bool, clip: float = 10.0) -> None:
        self.enabled = enabled
        self.clip = clip
        self.moments = RunningMoments(shape)

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        observations = np.asarray(observations, np.float32)
        if not self.enabled:
            return observations
        scaled = (observations - self.moments.mean) / np.sqrt(self.moments.var + EPSILON)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    def update(self, observations: np.ndarray) -> None:
        if self.enabled:
            self.moments.update(observations)

    def state_dict(self) -> dict[str, Any]:
        return self.moments.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.moments.load_state_dict(state)


class RewardScaler:
    """Rewards over the running standard deviation of the discounted return (module docstring)."""

    def __init__(self, num_envs: int, gamma: float, *, enabled: bool, clip: float = 10.0) -> None:
        self.enabled = enabled
        self.gamma = gamma
        self.clip = clip
        self.moments = RunningMoments(())
        self.returns = np.zeros(num_envs, np.float64)
        """The discounted return of every env's episode in progress."""

    def scale(self, rewards: np.ndarray, done: np.ndarray) -> np.ndarray:
        """Scale a rollout's rewards ``[T, N]`` (``done[t]``: the episode ended at step t), updating
        the running returns and then the statistics with them; float32 ``[T, N]``."""
        rewards = np.asarray(rewards, np.float64)
        if not self.enabled:
            return rewards.astype(np.float32)
        returns = np.empty_like(rewards)
        for t in range(len(rewards)):
            self.returns = self.returns * self.gamma + rewards[t]
            returns[t] = self.returns
            self.returns[done[t]] = 0.0
        self.moments.update(returns.reshape(-1))
        scaled = rewards / np.sqrt(self.moments.var + EPSILON)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        return {**self.moments.state_dict(), "returns": torch.from_numpy(self.returns.copy())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.moments.load_state_dict(state)
        self.returns = state["returns"].numpy().astype(np.float64)
