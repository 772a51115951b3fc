"""Rollouts of turn-based games: every agent's own decisions, one game per env copy, as tensors.

In a turn-based game the agents do not share time steps, so each agent's trajectory is indexed by
its *decision number*: ``d = 0, 1, ...`` counts the moves agent ``i`` made in that game. The batch
therefore has the layout of :class:`~ascentrl.agents.multiagent_rollout.MultiAgentBatch`,
``[n_agents, T, N]`` with ``T`` the most decisions any agent made in any game and ``valid``
marking real decisions, and the REINFORCE objectives of
:mod:`ascentrl.agents.multiagent_objectives` apply to it unchanged: the reward-to-go of decision
``d`` runs along the agent's own later decisions, and the leave-one-out baseline of decision ``d``
is the mean over the other games of the returns from their ``d``-th decision on.

Credit (PettingZoo's ``last()`` semantics, read by :class:`~ascentrl.envs.TurnBasedEnvBatch`): the
reward of decision ``d`` is everything the agent received from the moment it made decision ``d``
until it made decision ``d + 1``, i.e. the rewards that arrived while the others moved; the
rewards that end the game reach every agent with its dead step and are credited to its last
decision, which is flagged terminated there (or truncated). Rewards that reach an agent before it
ever moved (a poker player whose opponent folded at once) cannot be credited to any decision: they
are kept in ``rewards_before_first_decision`` and count in the episode returns only.

A game still running after ``max_steps`` moves is cut: every agent's last decision in it is
flagged truncated (its return stops at the cut).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ascentrl.agents.multiagent_rollout import MultiAgentBatch
from ascentrl.envs.turn_based import TurnBasedEnvBatch, Turns

__all__ = ["TurnAct", "TurnBasedBatch", "collect_turns"]

TurnAct = Callable[[int, Tensor, Tensor, Tensor | None], Tensor]
"""``act(agent_index, copies, observations, masks) -> actions``: the moves of agent ``agent_index``
in the env copies ``copies`` (int64 ``[B]``), from its observations ``[B, size]`` and action masks
``[B, num_actions]`` (or None); int64 ``[B]``."""


@dataclass(kw_only=True)
class TurnBasedBatch(MultiAgentBatch):
    """One game in each of ``N`` env copies, indexed by each agent's decision number (module docstring).

    ``observations``, ``action_masks``, ``actions``, ``rewards``, flags and ``valid`` are those of
    :class:`MultiAgentBatch`, with ``T`` counting decisions instead of env steps.
    """

    rewards_before_first_decision: Tensor
    """float32 ``[n_agents, N]``: rewards an agent received before its first decision of the game."""

    @property
    def env_steps(self) -> int:
        """Moves of the rollout, summed over copies: every decision is one env step."""
        return int(self.valid.sum())

    def episode_returns(self) -> Tensor:
        """Undiscounted return of every agent in every game, ``[n_agents, N]``."""
        return (self.rewards * self.valid).sum(dim=1) + self.rewards_before_first_decision


class _Decisions:
    """What a rollout records, turned into a :class:`TurnBasedBatch` once the games are over."""

    def __init__(self, envs: TurnBasedEnvBatch) -> None:
        self.envs = envs
        shape = (envs.num_agents, envs.num_envs)
        self.count = np.zeros(shape, np.int64)
        """Decisions made so far by each agent in each copy."""
        self.latest = np.full(shape, -1, np.int64)
        """Each agent's latest decision in each copy (-1: none yet), where its rewards are credited."""
        self.moves: list[list[tuple[Tensor, Tensor, Tensor, Tensor, Tensor]]] = [[] for _ in range(shape[0])]
        self.credits: list[tuple[np.ndarray, ...]] = []
        self.ends: list[tuple[np.ndarray, ...]] = []
        self.before_first = np.zeros(shape, np.float32)
        self.masked = False
        """Some move had an action mask."""

    def record(self, index: int, copies: Tensor, observations: Tensor, masks: Tensor | None,
               actions: Tensor) -> None:
        numbers = self.count[index, copies.numpy()]
        if masks is None:
            masks = torch.ones(len(copies), self.envs.spaces[index].num_actions, dtype=torch.bool)
        else:
            self.masked = True
        self.moves[index].append((copies, torch.from_numpy(numbers), observations, masks, actions))
        self.latest[index, copies.numpy()] = numbers
        self.count[index, copies.numpy()] += 1

    def credit(self, turns: Turns) -> None:
        """Rewards go to each agent's latest decision; game ends flag it."""
        rewards = turns.rewards.numpy()
        agents, copies = np.nonzero(rewards)
        decisions = self.latest[agents, copies]
        values = rewards[agents, copies]
        early = decisions < 0
        np.add.at(self.before_first, (agents[early], copies[early]), values[early])
        self.credits.append((agents[~early], decisions[~early], copies[~early], values[~early]))
        for flags, kind in ((turns.terminated.numpy(), 0), (turns.truncated.numpy(), 1)):
            agents, copies = np.nonzero(flags & (self.latest >= 0))
            self.ends.append((np.full(len(agents), kind), agents, self.latest[agents, copies], copies))

    def cut(self, running: np.ndarray) -> None:
        """Games still running at the step limit: every agent's last decision is truncated."""
        agents, copies = np.nonzero((self.latest >= 0) & running[None, :])
        self.ends.append((np.ones(len(agents), np.int64), agents, self.latest[agents, copies], copies))

    def batch(self) -> TurnBasedBatch:
        envs = self.envs
        steps = int(self.count.max())
        if steps == 0:
            raise RuntimeError("the env ended every game at reset: no agent made a decision")
        shape = (envs.num_agents, steps, envs.num_envs)
        actions = torch.zeros(shape, dtype=torch.int64)
        rewards = np.zeros(shape, np.float32)
        flags = np.zeros((2, *shape), bool)
        for agents, decisions, copies, values in self.credits:
            np.add.at(rewards, (agents, decisions, copies), values)
        for kinds, agents, decisions, copies in self.ends:
            flags[kinds, agents, decisions, copies] = True
        observations, masks = [], []
        for index, spaces in enumerate(envs.spaces):
            agent_observations = torch.zeros(steps, envs.num_envs, spaces.observation_size)
            agent_masks = torch.ones(steps, envs.num_envs, spaces.num_actions, dtype=torch.bool)
            if self.moves[index]:
                copies, numbers, seen, allowed, chosen = (list(part) for part in zip(*self.moves[index]))
                where = (torch.cat(numbers), torch.cat(copies))
                agent_observations[where] = torch.cat(seen)
                actions[index][where] = torch.cat(chosen)
                agent_masks[where] = torch.cat(allowed)
            observations.append(agent_observations)
            masks.append(agent_masks)
        valid = torch.arange(steps).view(1, steps, 1) < torch.from_numpy(self.count).unsqueeze(1)
        terminated = torch.from_numpy(flags[0])
        return TurnBasedBatch(
            agents=envs.possible_agents,
            observations=observations,
            action_masks=masks if self.masked else None,
            actions=actions,
            rewards=torch.from_numpy(rewards),
            terminated=terminated,
            truncated=torch.from_numpy(flags[1]) & ~terminated,
            valid=valid,
            rewards_before_first_decision=torch.from_numpy(self.before_first),
        )


def collect_turns(envs: TurnBasedEnvBatch, act: TurnAct, max_steps: int, *, seed: int | None = None) -> TurnBasedBatch:
    """Play one game in every copy of ``envs``, with ``act`` choosing every move (module docstring).

    Args:
        envs: the env copies; they are reset here (copy ``k`` with ``seed + k`` if ``seed`` is given).
        act: chooses the moves of one agent in the copies where it is to move (:data:`TurnAct`);
            called once per agent with a move to make, at every step.
        max_steps: moves after which the games still running are cut (a truncation).
        seed: reset seed, or None to continue the copies' own generators.
    """
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
    turns = envs.reset(seed=seed)
    decisions = _Decisions(envs)
    decisions.credit(turns)
    for _ in range(max_steps):
        if turns.over:
            break
        actions = torch.zeros(envs.num_envs, dtype=torch.int64)
        for index in range(envs.num_agents):
            copies = torch.nonzero(turns.acting == index).squeeze(1)
            if len(copies) == 0:
                continue
            observations = turns.observations[index][copies]
            masks = None if turns.action_masks is None else turns.action_masks[index][copies]
            chosen = act(index, copies, observations, masks).to(torch.int64)
            actions[copies] = chosen
            decisions.record(index, copies, observations, masks, chosen)
        turns = envs.step(actions)
        decisions.credit(turns)
    decisions.cut(turns.acting.numpy() >= 0)
    return decisions.batch()
