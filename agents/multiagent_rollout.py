"""Rollouts of several agents in ``N`` PettingZoo env copies: one episode per copy, as tensors.

The rollout resets every copy of a :class:`ascentrl.envs.ParallelEnvBatch` and steps them until
every copy's episode is over (or a step limit cuts it, which counts as a truncation). Each copy
therefore holds exactly one episode, starting at step 0, so no autoreset step ever needs masking.
At every step the learner's ``act`` picks one action per agent and copy, and only the agents that
are live in a copy receive theirs: an agent that has left is masked out (``valid`` False) from
then on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ascentrl.agents.episodes import EpisodeTensors
from ascentrl.envs.pettingzoo_envs import AgentTensors, ParallelEnvBatch

__all__ = ["MultiAgentBatch", "collect_episodes"]


@dataclass(kw_only=True)
class MultiAgentBatch(EpisodeTensors):
    """One episode in each of ``N`` env copies, ``T`` steps long (the longest episode).

    Actions, rewards and flags are ``[n_agents, T, N]``; agent ``i`` is ``agents[i]`` and ``valid``
    marks where it was live and acted. Entries where ``valid`` is False hold zeros (observations,
    actions, rewards) or True (masks), so they are harmless in any formula.
    """

    agents: tuple[str, ...]
    observations: list[Tensor]
    """Per agent, float ``[T, N, observation_size_i]``: what agent i saw before acting at step t."""
    action_masks: list[Tensor] | None
    """Per agent, bool ``[T, N, num_actions_i]`` (True = legal); None when the env has no masks."""

    @property
    def agent_steps(self) -> int:
        """Actions taken in the rollout, summed over agents and copies."""
        return int(self.valid.sum())

    @property
    def env_steps(self) -> int:
        """Env steps of the rollout, summed over copies: one per step in which any agent acted."""
        return int(self.valid.any(dim=0).sum())

    def episode_returns(self) -> Tensor:
        """Undiscounted return of every agent in every episode, ``[n_agents, N]``."""
        return (self.rewards * self.valid).sum(dim=1)


def collect_episodes(
    envs: ParallelEnvBatch,
    act: Callable[[AgentTensors], Tensor],
    max_steps: int,
    *,
    seed: int | None = None,
) -> MultiAgentBatch:
    """Run one episode in every copy of ``envs``, with ``act`` choosing the actions.

    Args:
        envs: the env copies; they are reset here (copy ``k`` with ``seed + k`` if ``seed`` is given).
        act: maps the agents' current view (:class:`AgentTensors`) to actions, int64
            ``[n_agents, N]``; entries of agents that are not live are ignored.
        max_steps: steps after which the episodes still running are cut (a truncation).
        seed: reset seed, or None to continue the copies' own generators.
    """
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
    current = envs.reset(seed=seed)
    observations: list[list[Tensor]] = [[] for _ in envs.possible_agents]
    step_masks: list[list[Tensor] | None] = []
    actions, rewards, terminated, truncated, valid = [], [], [], [], []
    for _ in range(max_steps):
        if envs.all_done:
            break
        chosen = act(current).to(torch.int64)
        valid.append(current.live)
        actions.append(chosen * current.live)
        step_masks.append(current.action_masks)
        for index, observation in enumerate(current.observations):
            observations[index].append(observation)
        current = envs.step(chosen)
        rewards.append(current.rewards)
        terminated.append(current.terminated)
        truncated.append(current.truncated)
    if not valid:
        raise RuntimeError("the env ended every episode at reset: no agent was live to act")
    # Agents still live when the step limit hits are cut off there.
    truncated[-1] = truncated[-1] | current.live
    return MultiAgentBatch(
        agents=envs.possible_agents,
        observations=[torch.stack(agent_observations) for agent_observations in observations],
        action_masks=_stack_masks(step_masks, envs),
        actions=torch.stack(actions, dim=1),
        rewards=torch.stack(rewards, dim=1),
        terminated=torch.stack(terminated, dim=1),
        truncated=torch.stack(truncated, dim=1),
        valid=torch.stack(valid, dim=1),
    )


def _stack_masks(step_masks: list[list[Tensor] | None], envs: ParallelEnvBatch) -> list[Tensor] | None:
    """Per agent ``[T, N, num_actions_i]``; steps where no agent had a mask allow every action."""
    if all(masks is None for masks in step_masks):
        return None
    allow_all = [torch.ones(envs.num_envs, spaces.num_actions, dtype=torch.bool) for spaces in envs.spaces]
    return [
        torch.stack([allow_all[index] if masks is None else masks[index] for masks in step_masks])
        for index in range(envs.num_agents)
    ]
