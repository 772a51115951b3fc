"""What every batch of sampled episodes holds: actions, rewards and the flags the return math needs.

The learners' batches (:class:`~ascentrl.agents.reinforce.EpisodeBatch` for one agent,
:class:`~ascentrl.agents.multiagent_rollout.MultiAgentBatch` for several) extend
:class:`EpisodeTensors` with their observations. Time runs along the second-to-last dimension and
episodes (env copies) along the last, so :mod:`ascentrl.returns` applies to ``rewards``,
``terminated``, ``truncated`` and ``valid`` as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

__all__ = ["EpisodeTensors"]


@dataclass(kw_only=True)
class EpisodeTensors:
    """Actions, rewards and flags of ``N`` episodes over ``T`` steps, ``[..., T, N]``."""

    actions: Tensor
    """The actions taken: int64 indices for discrete actions, float vectors (one more dimension) for boxes."""
    rewards: Tensor
    """float: the reward of step t."""
    terminated: Tensor
    """bool: the episode terminated at step t (its return stops there)."""
    truncated: Tensor
    """bool: the episode was cut off at step t (time limit, removal, rollout limit)."""
    valid: Tensor
    """bool: step t belongs to the episode sampled in that column and was acted in."""

    @property
    def num_episodes(self) -> int:
        return self.rewards.shape[-1]
