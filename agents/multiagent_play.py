"""Trained multi-agent policies at play: a move for any PettingZoo loop, mean returns, games against opponents.

:class:`MultiAgentPlay` is a mixin of :class:`~ascentrl.agents.MultiAgentReinforce`:

- :meth:`~MultiAgentPlay.act` takes one agent's observation exactly as PettingZoo gives it (for an
  env with action masks, the dict with ``"observation"`` and ``"action_mask"``) and returns a legal
  action of the env's action space, so a trained agent (``MultiAgentReinforce.load(path)``) drops
  into any PettingZoo loop;
- :meth:`~MultiAgentPlay.evaluate`: every agent's mean return under the trained policies, or under
  uniformly random legal play, over at least 1,000 fresh episodes by default;
- :meth:`~MultiAgentPlay.play_against`: games won, drawn and lost per seat against a fixed
  opponent (:mod:`ascentrl.agents.multiagent_evaluation`).

Nothing here learns or touches the training state: evaluation episodes are reset with seeds drawn
from ``(seed, EVALUATION_SEED_OFFSET, number of earlier evaluation rounds)`` — never a training
seed — and their actions are drawn from a generator seeded the same way, not the learners' own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ascentrl.agents.multiagent_evaluation import SeatRecord, play_against, play_games
from ascentrl.agents.multiagent_policies import AgentPolicies
from ascentrl.training import EVALUATION_SEED_OFFSET
from ascentrl.validation import check_positive_int

__all__ = ["MultiAgentPlay"]


class MultiAgentPlay:
    """Acting and evaluating trained policies (module docstring)."""

    def evaluation_seed(self) -> tuple[int, torch.Generator]:
        """The env seed and action generator of the next evaluation round (module docstring)."""
        entropy = [self.config.seed, EVALUATION_SEED_OFFSET, self.evaluations]
        self.evaluations += 1
        seed = int(np.random.SeedSequence(entropy).generate_state(1)[0])
        return seed, torch.Generator().manual_seed(seed)

    def act(self, agent: str, observation: Any, *, deterministic: bool = True, action_mask: Any = None,
            generator: torch.Generator | None = None) -> int:
        """The action of ``agent`` for its PettingZoo ``observation``, always a legal one.

        Args:
            agent: the agent's name (one of ``possible_agents``).
            observation: as the env gives it; for an env whose observations carry an action mask,
                the dict with ``"observation"`` and ``"action_mask"``.
            deterministic: play the most probable legal action; else sample the policy.
            action_mask: the legal actions (booleans or 0/1) for envs that give them in the info
                dict (``info["action_mask"]``); None allows every action.
            generator: where samples are drawn from (torch's global generator when None).

        Returns:
            An action of the agent's ``Discrete`` action space (its ``start`` included).

        Raises:
            ValueError: unknown agent, or an observation or mask that does not fit its spaces.
        """
        if agent not in self.agents:
            raise ValueError(f"unknown agent {agent!r}; the agents are {list(self.agents)}")
        index = self.agents.index(agent)
        spaces = self.spaces[index]
        if spaces.masked_observation:
            if not isinstance(observation, dict) or set(observation) != {"observation", "action_mask"}:
                raise ValueError(f"{agent}'s observation must be the dict PettingZoo gives, with 'observation' "
                                 f"and 'action_mask', got {type(observation).__name__}")
            observation, action_mask = observation["observation"], observation["action_mask"]
        try:
            encoded = torch.from_numpy(self.envs.encode_observation(index, observation)).unsqueeze(0)
        except (ValueError, TypeError, IndexError) as error:
            raise ValueError(f"{agent}'s observation does not fit {self.envs.envs[0].observation_space(agent)}: "
                             f"{error}") from None
        mask = None
        if action_mask is not None:
            mask = torch.as_tensor(np.asarray(action_mask, dtype=bool))
            if mask.shape != (spaces.num_actions,) or not mask.any():
                raise ValueError(f"{agent}'s action mask must be {spaces.num_actions} booleans with at least one "
                                 f"True, got {np.asarray(action_mask).tolist()}")
            mask = mask.unsqueeze(0)
        with torch.no_grad():
            logits = self.agent_policies.agent_logits(index, encoded)
            chosen = (AgentPolicies.greedy(logits, mask) if deterministic else
                      AgentPolicies.sample_one(logits, mask, generator))
        return int(chosen[0]) + spaces.action_start

    def evaluate(self, *, uniform: bool = False, episodes: int = 1000) -> dict[str, float]:
        """Each agent's mean undiscounted return over fresh episodes, without learning.

        The actions are sampled from the current policies, or, with ``uniform=True``, uniformly
        from the legal actions (the random-policy baseline). The ``num_envs`` env copies play
        rounds until at least ``episodes`` episodes are done (``ceil(episodes / num_envs)``
        rounds); all of them count. The episodes do not count in the training statistics.
        """
        check_positive_int("episodes", episodes)
        totals = []
        for _ in range(math.ceil(episodes / self.envs.num_envs)):
            seed, generator = self.evaluation_seed()
            totals.append(play_games(self, self._all_seats(generator, uniform), seed).episode_returns())
        means = torch.cat(totals, dim=1).mean(dim=1)
        return {agent: float(value) for agent, value in zip(self.agents, means)}

    def _all_seats(self, generator: torch.Generator,
                   uniform: bool) -> Callable[[int, Tensor, Tensor, Tensor | None], Tensor]:
        """Every agent's moves sampled from its policy, or uniformly from its legal actions."""
        def choose(index: int, copies: Tensor, observations: Tensor, masks: Tensor | None) -> Tensor:
            if uniform:
                logits = torch.zeros(len(copies), self.spaces[index].num_actions)
            else:
                logits = self.agent_policies.agent_logits(index, observations)
            return AgentPolicies.sample_one(logits, masks, generator)
        return choose

    def play_against(self, opponent: Any, *, games: int = 1000, deterministic: bool = True) -> dict[str, SeatRecord]:
        """Games won, drawn and lost per seat against a fixed ``opponent``: ``"random"``, another
        (e.g. an earlier) :class:`~ascentrl.agents.MultiAgentReinforce`, or a callable
        ``policy(observation) -> action`` (:func:`ascentrl.agents.multiagent_evaluation.play_against`)."""
        return play_against(self, opponent, games=games, deterministic=deterministic)
