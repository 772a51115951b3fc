"""Fixed-length rollouts for actor-critic learners: episodes that run on across rollouts, every one
seeded, a checkpoint that resumes them exactly, and GAE on the batch.

**Continuing episodes** (:class:`ContinuingEnvs`). A rollout is ``T`` steps of ``N`` sub-envs of a
Gymnasium ``SyncVectorEnv``; an episode unfinished at the end of a rollout continues in the next.
When a sub-env's episode ends (terminated or truncated) at step ``t``, the observation the step
returned is the episode's *final* observation — kept, to bootstrap a truncation from — and the
sub-env is reset at once (``reset_mask``) so step ``t + 1`` is already the next episode's first real
step: no NEXT_STEP autoreset step, with its ignored action and zero reward, ever enters a batch.
Episode ``k`` of sub-env ``i`` is reset with the seed ``SeedSequence([rank seed, i, k])``.

**Exact resume by replay.** A checkpoint holds, for every sub-env, its episode number and the
actions taken since that episode began. Loading resets each sub-env with that episode's seed and
replays the actions, which rebuilds the environment's state exactly for any env whose randomness
comes from its own seeded generator (Gymnasium's do); the observation reached is compared with the
saved one, and a mismatch is reported. So no simulator state has to be serialized.

**The batch** (:class:`RolloutBatch`). With ``next_observations[t]`` the observation step ``t``
returned (final where the episode ended) and ``V`` the critic,

.. math::

    \\delta_t = r_t + \\gamma\\,(1 - \\text{terminated}_t)\\,V(s'_t) - V(s_t), \\qquad
    A_t = \\delta_t + \\gamma\\lambda\\,(1 - \\text{done}_t)\\,A_{t+1}, \\quad A_T = 0,

(:func:`ascentrl.returns.gae_advantages`): a time-limit truncation bootstraps from the final
observation's value, a termination does not, and the last step of the rollout bootstraps from the
observation it reached. The value target is ``R_t = A_t + V(s_t)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium.vector import VectorEnv
from torch import Tensor

from ascentrl.agents.episodes import EpisodeTensors

__all__ = ["ContinuingEnvs", "RolloutBatch"]


@dataclass(kw_only=True)
class RolloutBatch(EpisodeTensors):
    """``T`` steps of ``N`` sub-envs, ``[T, N]`` unless said; every step is a real transition."""

    observations: Tensor
    """``s_t`` as the policy saw it (normalized), float ``[T, N, observation_size]``."""
    next_observations: Tensor
    """``s'_t``: what step t returned (final observation where the episode ended), normalized."""
    log_probs: Tensor
    """``log pi_old(a_t|s_t)`` under the policy that acted."""
    values: Tensor
    """``V_old(s_t)``."""
    advantages: Tensor
    """GAE(gamma, lambda) advantages ``A_t`` (module docstring)."""
    returns: Tensor
    """Value targets ``R_t = A_t + V_old(s_t)``."""

    def flat(self) -> dict[str, Tensor]:
        """The per-step tensors with time and env dimensions merged into one, for minibatches."""
        names = ("observations", "actions", "log_probs", "values", "advantages", "returns")
        return {name: getattr(self, name).flatten(0, 1) for name in names}


_RUNNING_STATISTICS = ("episode_returns", "episode_lengths", "episode_start_times")
"""What the vector ``RecordEpisodeStatistics`` accumulates for every sub-env's episode in progress."""


def episode_seed(rank_seed: int, env_index: int, episode: int) -> int:
    """The reset seed of episode ``episode`` of sub-env ``env_index``."""
    return int(np.random.SeedSequence([rank_seed, env_index, episode]).generate_state(1)[0])


class ContinuingEnvs:
    """A ``SyncVectorEnv`` (inside ``RecordEpisodeStatistics``) whose episodes continue across
    rollouts, with seeded resets and resume by replay (module docstring)."""

    def __init__(self, env: VectorEnv, rank_seed: int) -> None:
        self.env = env
        self.rank_seed = rank_seed
        self.sub_envs = env.unwrapped.envs  # a SyncVectorEnv's single envs
        self.num_envs = env.num_envs
        self.episode_numbers = np.zeros(self.num_envs, np.int64)
        self.observation: np.ndarray | None = None
        """The observation every sub-env is at now (None before the first reset)."""
        # The env actions of every step since the oldest episode in progress began (what a resume
        # replays), one array per step; step s is _actions[s - _first_step].
        self._actions: list[np.ndarray] = []
        self._first_step = 0
        self._step = 0
        self._episode_starts = np.zeros(self.num_envs, np.int64)

    def _seeds(self, indices: np.ndarray) -> list[int | None]:
        seeds: list[int | None] = [None] * self.num_envs
        for index in indices:
            seeds[index] = episode_seed(self.rank_seed, int(index), int(self.episode_numbers[index]))
        return seeds

    def start(self) -> np.ndarray:
        """Reset every sub-env to its current episode's start (once, before the first rollout)."""
        self.observation, _ = self.env.reset(seed=self._seeds(np.arange(self.num_envs)))
        return self.observation

    def step(self, env_actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One step of every sub-env; those whose episode ended are reset to the next episode.

        Returns:
            ``(observation, reward, terminated, truncated, returned)``: the observation to act on
            next (the new episode's first where one ended), and what the step returned (the final
            observation where an episode ended).
        """
        returned, reward, terminated, truncated, _ = self.env.step(env_actions)
        self._actions.append(np.array(env_actions))
        self._step += 1
        done = terminated | truncated
        observation = returned
        if done.any():
            ended = np.flatnonzero(done)
            self.episode_numbers[ended] += 1
            self._episode_starts[ended] = self._step
            oldest = int(self._episode_starts.min())
            if oldest - self._first_step > 1024:  # forget the actions no episode in progress needs
                del self._actions[: oldest - self._first_step]
                self._first_step = oldest
            restarted = self._reset(ended, done)
            observation = np.where(done.reshape(-1, *[1] * (returned.ndim - 1)), restarted, returned)
        self.observation = observation
        return observation, reward, terminated, truncated, returned

    def _reset(self, ended: np.ndarray, done: np.ndarray) -> np.ndarray:
        """Reset the sub-envs ``ended`` (``done`` as a mask) to their next episodes; their first observations.

        The episode statistics of the sub-envs still running are kept by hand: in Gymnasium up to
        1.4 the ``SyncVectorEnv`` pops ``reset_mask`` from the options the vector
        ``RecordEpisodeStatistics`` forwards, so the wrapper no longer sees the mask and clears the
        running return and length of *every* sub-env (Farama-Foundation/Gymnasium PR 1696, open).
        """
        running = ~done
        kept = {name: np.array(getattr(self.env, name)) for name in _RUNNING_STATISTICS}
        restarted, _ = self.env.reset(seed=self._seeds(ended), options={"reset_mask": done.copy()})
        for name, values in kept.items():
            getattr(self.env, name)[running] = values[running]
        return restarted

    def episode_actions(self, index: int) -> np.ndarray:
        """The env actions sub-env ``index`` took since its episode in progress began."""
        steps = self._actions[self._episode_starts[index] - self._first_step:]
        return np.array([actions[index] for actions in steps])

    def state_dict(self) -> dict[str, Any]:
        return {
            "episode_numbers": torch.from_numpy(self.episode_numbers.copy()),
            "actions": [torch.from_numpy(self.episode_actions(index)) for index in range(self.num_envs)],
            "observation": None if self.observation is None else torch.from_numpy(np.array(self.observation)),
            "statistics": (torch.from_numpy(np.array(self.env.episode_returns, np.float64)),
                           torch.from_numpy(np.array(self.env.episode_lengths, np.int64))),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Rebuild every episode in progress by a seeded reset and a replay of its actions."""
        self.episode_numbers = state["episode_numbers"].numpy().astype(np.int64)
        if state["observation"] is None:
            return
        self.start()
        replayed = [actions.numpy() for actions in state["actions"]]
        for index, (sub_env, actions) in enumerate(zip(self.sub_envs, replayed, strict=True)):
            for action in actions:
                self.observation[index], *_ = sub_env.step(action)
        # The action history again: the longest episode in progress decides how far back it reaches.
        longest = max(len(actions) for actions in replayed)
        filler = np.zeros_like(next(actions[0] for actions in replayed if len(actions))) if longest else None
        self._actions = [np.stack([actions[len(actions) - longest + step] if len(actions) - longest + step >= 0
                                   else filler for actions in replayed]) for step in range(longest)]
        self._first_step, self._step = 0, longest
        self._episode_starts = np.array([longest - len(actions) for actions in replayed], np.int64)
        returns, lengths = state["statistics"]
        self.env.episode_returns = returns.numpy().astype(np.float64)
        self.env.episode_lengths = lengths.numpy().astype(np.int64)
        if not np.array_equal(self.observation, state["observation"].numpy()):
            warnings.warn("the environment did not replay to the saved observations (its randomness is not all "
                          "in its seeded generator); the run continues, but not bit-identical to an "
                          "uninterrupted one", stacklevel=2)
