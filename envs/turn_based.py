"""Turn-based PettingZoo games (AEC envs) played in ``N`` copies at once, read out as tensors.

In PettingZoo's AEC API one agent acts at a time: ``env.agent_selection`` names it, ``env.last()``
gives its observation, the reward it accumulated *since it last acted* (the rewards that arrived
while the others moved), and whether its game is over; an agent whose game is over is stepped
once more with ``None`` (the "dead step") before it leaves ``env.agents``. Tic-tac-toe, connect
four and the poker games work this way, with legal actions in an ``"action_mask"``.

:class:`TurnBasedEnvBatch` resets ``N`` copies and, after every reset and every step, advances each
copy to its next decision: it reads ``last()`` of the selected agent, records its reward, and
either stops there (a live agent, whose turn it now is) or takes its dead step and reads the next
one, until a live agent is to act or the copy's game is over. What it returns, :class:`Turns`,
says for every copy which agent acts next (``acting``, -1 once the game is over), that agent's
encoded observation and action mask, and for every agent the rewards it received in the step and
whether its game ended there. :meth:`TurnBasedEnvBatch.step` takes one action per copy, for the
agent whose turn it is. Each copy plays one game per reset (no autoreset).

So every reward reaches the agent it was meant for, when PettingZoo delivers it: a reward earned
while the others move arrives with the agent's next ``last()``, and the final rewards of a game
arrive with every agent's dead step. (Rewards are read through ``last()`` only, so they follow
PettingZoo's semantics exactly, including for games where one agent moves several times in a row.)

Speed. PettingZoo wraps its classic games in three checking wrappers (``OrderEnforcingWrapper``,
``AssertOutOfBoundsWrapper``, ``TerminateIllegalWrapper``) that cost two thirds of a tic-tac-toe
step. The batch makes the same checks itself — it resets before stepping, steps only the selected
agent, with an action inside its space and allowed by its mask, and ``None`` for dead steps — so it
steps the env beneath those three wrappers (any other wrapper is kept). An illegal action raises a
``ValueError`` naming the copy, the game, the move and the agent, before the env sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from pettingzoo import AECEnv
from pettingzoo.utils.wrappers import AssertOutOfBoundsWrapper, OrderEnforcingWrapper, TerminateIllegalWrapper
from torch import Tensor

from ascentrl.envs.pettingzoo_envs import EnvStepError
from ascentrl.envs.pettingzoo_registry import is_turn_based
from ascentrl.envs.pettingzoo_spaces import AgentSpaces, Encoding, action_mask_of, agent_encoders, describe_agent_spaces

__all__ = ["Turns", "TurnBasedEnvBatch"]

_CHECKING_WRAPPERS = (OrderEnforcingWrapper, AssertOutOfBoundsWrapper, TerminateIllegalWrapper)


def _beneath_checking_wrappers(env: AECEnv) -> AECEnv:
    """``env`` without PettingZoo's checking wrappers on the outside (module docstring)."""
    while type(env) in _CHECKING_WRAPPERS:
        env = env.env
    return env


@dataclass
class Turns:
    """Every copy's next decision after a reset or a step, and what the agents received in it.

    Agent ``i`` is ``possible_agents[i]``. Entries of copies where agent ``i`` is not to act are
    zeros (observations) or True (masks).
    """

    acting: Tensor
    """int64 ``[N]``: the agent whose turn it is in each copy; -1 once the copy's game is over."""
    observations: list[Tensor]
    """Per agent, float32 ``[N, observation_size_i]``: what the acting agent sees."""
    action_masks: list[Tensor] | None
    """Per agent, bool ``[N, num_actions_i]`` (True = legal); None when the env gives no masks."""
    rewards: Tensor
    """float32 ``[n_agents, N]``: rewards each agent received (through ``last()``) in this step."""
    terminated: Tensor
    """bool ``[n_agents, N]``: the agent's game terminated, read in this step."""
    truncated: Tensor
    """bool ``[n_agents, N]``: the agent was truncated, or left ``env.agents`` without a flag, in this step."""

    @property
    def over(self) -> bool:
        """Every copy's game is over."""
        return bool((self.acting < 0).all())


class TurnBasedEnvBatch:
    """``N`` copies of a turn-based PettingZoo game, each advanced to its next decision (module docstring).

    Args:
        env_fn: builds one turn-based ``AECEnv``; called ``num_envs`` times.
        num_envs: number of copies ``N``.
        encoding: how Box observations are encoded (:data:`ascentrl.envs.pettingzoo_spaces.ENCODINGS`).

    Raises:
        ValueError: an env that is not a turn-based AEC env, spaces that cannot be encoded, or
            copies whose agents or spaces differ.
    """

    def __init__(self, env_fn: Callable[[], AECEnv], num_envs: int, *, encoding: Encoding = "auto") -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        self.envs: list[AECEnv] = []
        try:
            for _ in range(num_envs):
                env = env_fn()
                if not is_turn_based(env):
                    env.close()
                    raise ValueError(f"TurnBasedEnvBatch plays turn-based AEC envs, got {type(env).__name__}; "
                                     f"ParallelEnvBatch plays envs whose agents act simultaneously")
                self.envs.append(env)
            first = self.envs[0]
            self.possible_agents: tuple[str, ...] = tuple(first.possible_agents)
            self.spaces: tuple[AgentSpaces, ...] = describe_agent_spaces(first, encoding)
            for env in self.envs[1:]:
                if (tuple(env.possible_agents) != self.possible_agents
                        or describe_agent_spaces(env, encoding) != self.spaces):
                    raise ValueError("env_fn must build copies with the same agents and spaces")
            self._encoders = agent_encoders(first, self.spaces, encoding)
        except BaseException:
            self.close()
            raise
        self._games = [_beneath_checking_wrappers(env) for env in self.envs]
        self.agent_index = {agent: index for index, agent in enumerate(self.possible_agents)}
        self._has_masks = any(described.masked_observation for described in self.spaces)
        self._acting = np.full(num_envs, -1, np.int64)
        self._raw_observations: list[Any] = [None] * num_envs
        self._masks: list[np.ndarray | None] = [None] * num_envs
        self.episodes = [0] * num_envs
        """Games started in each copy (resets)."""
        self.moves = [0] * num_envs
        """Actions taken in each copy's current game (dead steps aside)."""

    @property
    def num_envs(self) -> int:
        return len(self.envs)

    @property
    def num_agents(self) -> int:
        return len(self.possible_agents)

    @property
    def acting(self) -> np.ndarray:
        """int64 ``[N]``: whose turn it is in each copy (-1: game over)."""
        return self._acting.copy()

    def encode_observation(self, index: int, observation: Any) -> np.ndarray:
        """Agent ``index``'s observation (the ``"observation"`` entry of a masked dict) as the
        float32 vector the learners read."""
        out = np.zeros(self.spaces[index].observation_size, np.float32)
        self._encoders[index](observation, out)
        return out

    def observation(self, copy: int, agent: str) -> Any:
        """The observation of ``agent``, whose turn it is in copy ``copy``, exactly as PettingZoo
        gives it (e.g. a dict with ``"observation"`` and ``"action_mask"``), for policies that read
        it themselves."""
        self._check_acting(copy, agent)
        return self._raw_observations[copy]

    def action_mask(self, copy: int, agent: str) -> np.ndarray | None:
        """The legal actions (booleans) of ``agent``, whose turn it is in copy ``copy``, or None if
        it has no mask."""
        self._check_acting(copy, agent)
        return self._masks[copy]

    def _check_acting(self, copy: int, agent: str) -> None:
        index = int(self._acting[copy])
        if index < 0 or self.possible_agents[index] != agent:
            raise ValueError(f"env {copy}: it is not {agent!r}'s turn "
                             f"({'the game is over' if index < 0 else repr(self.possible_agents[index]) + ' moves'})")

    def where(self, copy: int) -> str:
        """``"env 3: game 2, move 5"``: for messages."""
        return f"env {copy}: game {self.episodes[copy]}, move {self.moves[copy] + 1}"

    def reset(self, seed: int | None = None) -> Turns:
        """Start a new game in every copy (copy ``k`` with ``seed + k`` if a seed is given)."""
        readout = _Readout(self)
        for copy, game in enumerate(self._games):
            self.episodes[copy] += 1
            self.moves[copy] = 0
            try:
                game.reset(seed=None if seed is None else seed + copy)
            except Exception as error:  # any env failure gets a location, then propagates
                raise EnvStepError(f"env {copy}: resetting for game {self.episodes[copy]} raised "
                                   f"{type(error).__name__}: {error}") from error
            self._advance(copy, readout, set())
        return readout.turns()

    def step(self, actions: Tensor | np.ndarray) -> Turns:
        """Play ``actions[n]`` (in ``0 .. num_actions - 1`` of the acting agent) in every copy whose
        game is not over, then advance every copy to its next decision.

        Raises:
            ValueError: an action outside the acting agent's space or forbidden by its mask.
        """
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape (num_envs,) = ({self.num_envs},), got {actions.shape}")
        readout = _Readout(self)
        for copy, game in enumerate(self._games):
            index = int(self._acting[copy])
            if index < 0:
                continue
            action = int(actions[copy])
            self._check_action(copy, index, action)
            present = set(game.agents)
            try:
                game.step(action + self.spaces[index].action_start)
            except Exception as error:  # any env failure gets a location, then propagates
                raise EnvStepError(f"{self.where(copy)}: stepping agent {self.possible_agents[index]!r} "
                                   f"(action {action}) raised {type(error).__name__}: {error}") from error
            self.moves[copy] += 1
            self._advance(copy, readout, present)
        return readout.turns()

    def _check_action(self, copy: int, index: int, action: int) -> None:
        agent, spaces = self.possible_agents[index], self.spaces[index]
        mask = self._masks[copy]
        if not 0 <= action < spaces.num_actions or (mask is not None and not mask[action]):
            legal = np.flatnonzero(mask).tolist() if mask is not None else f"0 .. {spaces.num_actions - 1}"
            raise ValueError(f"{self.where(copy)}: action {action} of {agent!r} is illegal; legal actions: {legal}")

    def _advance(self, copy: int, readout: _Readout, present: set[str]) -> None:
        """Read ``last()`` of each selected agent: record its reward; take dead steps; stop at the
        next live agent (whose turn it is) or at the end of the game."""
        game = self._games[copy]
        self._acting[copy] = -1
        self._raw_observations[copy] = self._masks[copy] = None
        flagged: set[str] = set()
        try:
            while game.agents:
                agent = game.agent_selection
                index = self.agent_index.get(agent)
                if index is None:
                    raise EnvStepError(f"{self.where(copy)}: agent {agent!r} is not one of possible_agents "
                                       f"{list(self.possible_agents)}")
                _, reward, terminated, truncated, info = game.last(observe=False)
                readout.rewards[index, copy] += reward
                if terminated or truncated:
                    readout.terminated[index, copy] |= bool(terminated)
                    readout.truncated[index, copy] |= bool(truncated and not terminated)
                    flagged.add(agent)
                    game.step(None)
                    continue
                self._read_decision(copy, index, game.observe(agent), info, readout)
                return
        except EnvStepError:
            raise
        except Exception as error:  # any env failure gets a location, then propagates
            raise EnvStepError(f"{self.where(copy)}: advancing to the next decision raised "
                               f"{type(error).__name__}: {error}") from error
        finally:
            # Agents that left without a dead step were cut off: a truncation.
            for agent in present - set(game.agents) - flagged:
                readout.truncated[self.agent_index[agent], copy] = True

    def _read_decision(self, copy: int, index: int, observation: Any, info: Any, readout: _Readout) -> None:
        spaces = self.spaces[index]
        self._acting[copy] = index
        self._raw_observations[copy] = observation
        encoded = observation["observation"] if spaces.masked_observation else observation
        try:
            self._encoders[index](encoded, readout.observations[index][copy])
        except (ValueError, TypeError, IndexError) as error:
            raise EnvStepError(f"{self.where(copy)}: observation of agent {spaces.agent!r} does not fit "
                               f"{self.envs[copy].observation_space(spaces.agent)}: {error}") from None
        mask = action_mask_of(observation, info, spaces.masked_observation)
        if mask is not None:
            if mask.shape != (spaces.num_actions,) or not mask.any():
                raise EnvStepError(f"{self.where(copy)}: action mask of agent {spaces.agent!r} must be "
                                   f"{spaces.num_actions} booleans with at least one True, got {mask.tolist()}")
            self._masks[copy] = mask
            readout.mask(index)[copy] = mask

    def close(self) -> None:
        for env in self.envs:
            env.close()


class _Readout:
    """The arrays one reset or step fills in, turned into :class:`Turns` at the end."""

    def __init__(self, batch: TurnBasedEnvBatch) -> None:
        shape = (batch.num_agents, batch.num_envs)
        self.batch = batch
        self.observations = [np.zeros((batch.num_envs, s.observation_size), np.float32) for s in batch.spaces]
        self.masks: list[np.ndarray] | None = None
        if batch._has_masks:
            self.masks = [np.ones((batch.num_envs, s.num_actions), bool) for s in batch.spaces]
        self.rewards = np.zeros(shape, np.float32)
        self.terminated = np.zeros(shape, bool)
        self.truncated = np.zeros(shape, bool)

    def mask(self, index: int) -> np.ndarray:
        if self.masks is None:  # an info-dict mask turned up in an env whose spaces carry none
            self.masks = [np.ones((self.batch.num_envs, s.num_actions), bool) for s in self.batch.spaces]
        return self.masks[index]

    def turns(self) -> Turns:
        return Turns(
            acting=torch.from_numpy(self.batch.acting),
            observations=[torch.from_numpy(array) for array in self.observations],
            action_masks=None if self.masks is None else [torch.from_numpy(array) for array in self.masks],
            rewards=torch.from_numpy(self.rewards),
            terminated=torch.from_numpy(self.terminated),
            truncated=torch.from_numpy(self.truncated),
        )
