"""PettingZoo environments whose agents act simultaneously, checked and read out as tensors.

Two layers, each usable alone (envs are built by id in :mod:`ascentrl.envs.pettingzoo_registry`;
spaces are described and observations encoded by :mod:`ascentrl.envs.pettingzoo_spaces`):

- :class:`PettingZooAdapter` is itself a ``ParallelEnv`` (it passes PettingZoo's
  ``parallel_api_test``) that checks every call: only live agents may receive actions, actions
  must lie in the agent's space and be allowed by its action mask, and any exception the env
  raises is re-raised as :class:`EnvStepError` naming the agent(s), the episode and the step.
  It also checks the spaces once, up front (:func:`describe_agent_spaces`). An AEC env whose
  agents all act once per cycle is converted with PettingZoo's ``aec_to_parallel``; a turn-based
  one is refused (:class:`~ascentrl.envs.turn_based.TurnBasedEnvBatch` plays those).
- :class:`ParallelEnvBatch` runs ``N`` adapted copies side by side and returns per-agent
  tensors: observations encoded as float vectors, rewards, terminations, truncations, which
  agents are live, and action masks. An agent that leaves (terminated, truncated, or simply
  removed from ``env.agents``) is masked from then on and never receives an action; a copy
  whose agents have all left is not stepped again until the next reset (no autoreset).

Supported spaces: ``Discrete`` actions (different sizes per agent are fine); observations as
:mod:`ascentrl.envs.pettingzoo_spaces` lists them. Anything else is rejected with a message naming
the agent and the space.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.conversions import aec_to_parallel, aec_to_parallel_wrapper
from torch import Tensor

from ascentrl.envs.pettingzoo_registry import is_turn_based, make_parallel_env, make_pettingzoo_env
from ascentrl.envs.pettingzoo_spaces import (
    MASK_KEY,
    SUPPORTED_ACTION_SPACES,
    SUPPORTED_OBSERVATION_SPACES,
    AgentSpaces,
    Encoding,
    agent_encoders,
    describe_agent_spaces,
)

__all__ = [
    "SUPPORTED_ACTION_SPACES",
    "SUPPORTED_OBSERVATION_SPACES",
    "AgentSpaces",
    "AgentTensors",
    "EnvStepError",
    "ParallelEnvBatch",
    "PettingZooAdapter",
    "describe_agent_spaces",
    "make_parallel_env",
    "make_pettingzoo_env",
]


class EnvStepError(RuntimeError):
    """The environment raised while being reset or stepped; the message says who, when and why."""


class PettingZooAdapter(ParallelEnv):
    """A ``ParallelEnv`` (or an AEC env, converted) whose every reset and step is checked.

    The dict API is PettingZoo's, unchanged, so the adapter passes ``parallel_api_test``. On top:

    - ``step`` refuses actions for agents that are not live (they left, or never joined), missing
      actions of live agents, actions outside an agent's space and actions its mask forbids;
    - an exception raised by the env becomes an :class:`EnvStepError` whose message gives the
      adapter's ``label``, the episode (counting resets from 1), the step within the episode and
      the agent being stepped (for an AEC env, the one whose turn it was; otherwise every agent
      acting, with its action);
    - ``spaces`` describes the agents' spaces (checked when the adapter is built).

    Args:
        env: a PettingZoo ``ParallelEnv`` or ``AECEnv``.
        label: a name for messages, e.g. ``"env 3"`` for the fourth copy of a batch.
        encoding: how Box observations are encoded (:data:`ascentrl.envs.pettingzoo_spaces.ENCODINGS`).
    """

    def __init__(self, env: ParallelEnv | AECEnv, *, label: str = "env", encoding: Encoding = "auto") -> None:
        if isinstance(env, AECEnv):
            if is_turn_based(env):
                raise ValueError(
                    f"{type(env).__name__} is a turn-based AEC env (agents do not all act once per cycle); a "
                    f"ParallelEnv needs agents that act simultaneously (TurnBasedEnvBatch plays it)")
            env = aec_to_parallel(env)
        if not isinstance(env, ParallelEnv):
            raise TypeError(f"env must be a PettingZoo ParallelEnv or AECEnv, got {type(env).__name__}")
        self.env = env
        self.label = label
        self.possible_agents = list(env.possible_agents)
        self.metadata = env.metadata
        self.render_mode = getattr(env, "render_mode", None)
        self.spaces = describe_agent_spaces(env, encoding)
        self.agent_index = {agent: index for index, agent in enumerate(self.possible_agents)}
        self._masked_agents = {described.agent for described in self.spaces if described.masked_observation}
        self.episode = 0
        self.step_in_episode = 0
        self._action_masks: dict[str, np.ndarray] = {}

    @property
    def agents(self) -> list[str]:
        return self.env.agents

    @property
    def unwrapped(self) -> ParallelEnv | AECEnv:
        return self.env.unwrapped

    def observation_space(self, agent: str) -> spaces.Space:
        return self.env.observation_space(agent)

    def action_space(self, agent: str) -> spaces.Space:
        return self.env.action_space(agent)

    def state(self) -> np.ndarray:
        return self.env.state()

    def render(self) -> Any:
        return self.env.render()

    def close(self) -> None:
        self.env.close()

    def action_mask(self, agent: str) -> np.ndarray | None:
        """The boolean mask of the agent's legal actions at this step, or None if it has none."""
        return self._action_masks.get(agent)

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        self.episode += 1
        self.step_in_episode = 0
        try:
            observations, infos = self.env.reset(seed=seed, options=options)
        except Exception as error:  # any env failure gets a location, then propagates
            raise EnvStepError(
                f"{self.label}: resetting for episode {self.episode} raised {type(error).__name__}: {error}"
            ) from error
        self._record_masks(observations, infos)
        return observations, infos

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        live = set(self.env.agents)
        for agent, action in actions.items():
            if agent not in live:
                raise ValueError(
                    f"{self.label}: agent {agent!r} is not live in episode {self.episode} at step "
                    f"{self.step_in_episode + 1} (it left or never joined); live agents: {sorted(live)}"
                )
            if not self.action_space(agent).contains(np.int64(action)):
                raise ValueError(f"{self.label}: action of {agent!r} must be in {self.action_space(agent)}, "
                                 f"got {action!r}")
            mask = self._action_masks.get(agent)
            if mask is not None and not mask[int(action) - self.spaces[self.agent_index[agent]].action_start]:
                raise ValueError(
                    f"{self.label}: action {action!r} of {agent!r} is masked out at step "
                    f"{self.step_in_episode + 1}; legal actions: {np.flatnonzero(mask).tolist()}"
                )
        missing = live - set(actions)
        if missing:
            raise ValueError(f"{self.label}: actions is missing live agents {sorted(missing)}")
        return self.step_unchecked(actions)

    def step_unchecked(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """``step`` for callers that already give exactly the live agents legal actions."""
        self.step_in_episode += 1
        try:
            result = self.env.step(actions)
        except Exception as error:  # any env failure gets a location, then propagates
            raise EnvStepError(
                f"{self.label}: episode {self.episode}, step {self.step_in_episode}: stepping "
                f"{self._stepping(actions)} raised {type(error).__name__}: {error}"
            ) from error
        self._record_masks(result[0], result[4])
        return result

    def _stepping(self, actions: Mapping[str, Any]) -> str:
        """Who was being stepped: the agent whose turn it was in an AEC env, else all actors."""
        if isinstance(self.env, aec_to_parallel_wrapper):
            agent = self.env.aec_env.agent_selection
            return f"agent {agent!r} (action {actions.get(agent)!r})"
        listed = ", ".join(f"{agent!r} (action {action!r})" for agent, action in actions.items())
        return f"agents {listed}"

    def _record_masks(self, observations: Mapping[str, Any], infos: Mapping[str, Any]) -> None:
        """Masks from the observation dicts of agents whose space has one, else from the infos."""
        self._action_masks = {}
        for agent, info in infos.items():
            # Infos are plain dicts in practice; an empty one (the common case) is skipped at once.
            if info and isinstance(info, Mapping) and MASK_KEY in info:
                self._action_masks[agent] = np.asarray(info[MASK_KEY], dtype=bool)
        for agent in self._masked_agents.intersection(observations):
            self._action_masks[agent] = np.asarray(observations[agent][MASK_KEY], dtype=bool)


@dataclass
class AgentTensors:
    """Every agent's view of ``N`` env copies after a reset or a step.

    Agent ``i`` is ``possible_agents[i]``; ``[n_agents, N]`` tensors hold one entry per agent and
    copy. Entries of agents that are not live are zeros (observations) or True (masks).
    """

    observations: list[Tensor]
    """Per agent, float32 ``[N, observation_size_i]``: what the agent sees before acting."""
    action_masks: list[Tensor] | None
    """Per agent, bool ``[N, num_actions_i]`` (True = legal); None when no agent's observation space
    carries a mask and no info dict of this step held one."""
    live: Tensor
    """bool ``[n_agents, N]``: the agent is in ``env.agents`` and must act at the next step."""
    rewards: Tensor
    """float32 ``[n_agents, N]``: reward of this step (0 after a reset and for agents that did not act)."""
    terminated: Tensor
    """bool ``[n_agents, N]``: the agent acted in this step and its episode terminated."""
    truncated: Tensor
    """bool ``[n_agents, N]``: the agent acted and was truncated, or left ``env.agents`` without a flag."""


class ParallelEnvBatch:
    """``N`` copies of a PettingZoo env stepped side by side, read out as per-agent tensors.

    Every copy runs one episode per :meth:`reset`; a copy whose agents have all left is not
    stepped again (its agents are simply not live), so a rollout that starts at a reset and runs
    until :attr:`all_done` holds exactly one episode per copy.

    Args:
        env_fn: builds one env (``ParallelEnv`` or ``AECEnv``); called ``num_envs`` times.
        num_envs: number of copies ``N``.
        encoding: how Box observations are encoded (:data:`ascentrl.envs.pettingzoo_spaces.ENCODINGS`).
    """

    def __init__(self, env_fn: Callable[[], ParallelEnv | AECEnv], num_envs: int, *,
                 encoding: Encoding = "auto") -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        self.envs = [PettingZooAdapter(env_fn(), label=f"env {index}", encoding=encoding)
                     for index in range(num_envs)]
        first = self.envs[0]
        self.possible_agents: tuple[str, ...] = tuple(first.possible_agents)
        self.spaces: tuple[AgentSpaces, ...] = first.spaces
        for copy in self.envs[1:]:
            if copy.spaces != self.spaces:
                raise ValueError("env_fn must build copies with the same agents and spaces")
        self._encoders = agent_encoders(first, self.spaces, encoding)
        self._observations: list[dict[str, Any]] = [{} for _ in self.envs]
        self._live = np.zeros((len(self.possible_agents), num_envs), bool)

    @property
    def num_envs(self) -> int:
        return len(self.envs)

    @property
    def num_agents(self) -> int:
        return len(self.possible_agents)

    @property
    def all_done(self) -> bool:
        """No copy has a live agent left."""
        return not self._live.any()

    def encode_observation(self, index: int, observation: Any) -> np.ndarray:
        """Agent ``index``'s observation (the ``"observation"`` entry of a masked dict) as the
        float32 vector the learners read."""
        out = np.zeros(self.spaces[index].observation_size, np.float32)
        self._encoders[index](observation, out)
        return out

    def observation(self, copy: int, agent: str) -> Any:
        """``agent``'s observation in copy ``copy`` exactly as PettingZoo gave it, for policies
        that read it themselves."""
        return self._observations[copy][agent]

    def action_mask(self, copy: int, agent: str) -> np.ndarray | None:
        """``agent``'s legal actions in copy ``copy`` (booleans), or None if it has no mask."""
        return self.envs[copy].action_mask(agent)

    def where(self, copy: int) -> str:
        """``"env 3: episode 2, step 5"`` (the step about to be played): for messages."""
        env = self.envs[copy]
        return f"{env.label}: episode {env.episode}, step {env.step_in_episode + 1}"

    def reset(self, seed: int | None = None) -> AgentTensors:
        """Start a new episode in every copy; copy ``k`` is reset with ``seed + k`` (if given)."""
        for index, env in enumerate(self.envs):
            observations, infos = env.reset(seed=None if seed is None else seed + index)
            self._observations[index] = observations
            self._check_agents(env, observations)
        return self._read_out(np.zeros(self._live.shape, np.float32), np.zeros(self._live.shape, bool),
                              np.zeros(self._live.shape, bool))

    def step(self, actions: Tensor | np.ndarray) -> AgentTensors:
        """Step every copy that has live agents; ``actions[i, n]`` (in ``0 .. num_actions_i - 1``)
        is used only where agent ``i`` is live in copy ``n``."""
        actions = np.asarray(actions)
        if actions.shape != self._live.shape:
            raise ValueError(f"actions must have shape (n_agents, num_envs) = {self._live.shape}, got {actions.shape}")
        rewards = np.zeros(self._live.shape, np.float32)
        terminated = np.zeros(self._live.shape, bool)
        truncated = np.zeros(self._live.shape, bool)
        for index, env in enumerate(self.envs):
            acting = np.flatnonzero(self._live[:, index])
            if acting.size == 0:
                continue
            names = [self.possible_agents[i] for i in acting]
            action_dict = {name: int(actions[i, index]) + self.spaces[i].action_start
                           for i, name in zip(acting, names)}
            observations, step_rewards, terminations, truncations, _ = env.step_unchecked(action_dict)
            self._observations[index] = observations
            now_live = set(env.agents)
            for i, name in zip(acting, names):
                try:
                    rewards[i, index] = step_rewards[name]
                    terminated[i, index] = terminations[name]
                    truncated[i, index] = truncations[name]
                except KeyError as error:
                    raise EnvStepError(
                        f"{env.label}: episode {env.episode}, step {env.step_in_episode}: agent "
                        f"{name!r} acted but the env returned no {error} for it"
                    ) from None
                # An agent that vanished from env.agents without a flag was cut off: a truncation.
                truncated[i, index] |= name not in now_live and not terminated[i, index]
            self._check_agents(env, observations)
        return self._read_out(rewards, terminated, truncated)

    def _check_agents(self, env: PettingZooAdapter, observations: Mapping[str, Any]) -> None:
        for name in env.agents:
            if name not in env.agent_index:
                raise EnvStepError(f"{env.label}: episode {env.episode}, step {env.step_in_episode}: "
                                   f"agent {name!r} is not one of possible_agents {list(self.possible_agents)}")
            if name not in observations:
                raise EnvStepError(f"{env.label}: episode {env.episode}, step {env.step_in_episode}: "
                                   f"live agent {name!r} got no observation")

    def _read_out(self, rewards: np.ndarray, terminated: np.ndarray, truncated: np.ndarray) -> AgentTensors:
        self._live[:] = False
        observations = [np.zeros((self.num_envs, s.observation_size), np.float32) for s in self.spaces]
        masks = None
        if any(described.masked_observation for described in self.spaces):
            masks = [np.ones((self.num_envs, s.num_actions), bool) for s in self.spaces]
        for index, env in enumerate(self.envs):
            for name in env.agents:
                i = env.agent_index[name]
                # Agents flagged done but still listed by the env have left all the same.
                if terminated[i, index] or truncated[i, index]:
                    continue
                self._live[i, index] = True
                observation = self._observations[index][name]
                if self.spaces[i].masked_observation:
                    observation = observation["observation"]
                try:
                    self._encoders[i](observation, observations[i][index])
                except (ValueError, TypeError, IndexError) as error:
                    raise EnvStepError(
                        f"{env.label}: episode {env.episode}, step {env.step_in_episode}: observation "
                        f"of agent {name!r} does not fit {env.observation_space(name)}: {error}"
                    ) from None
                mask = env.action_mask(name)
                if mask is not None:
                    if masks is None:
                        masks = [np.ones((self.num_envs, s.num_actions), bool) for s in self.spaces]
                    if mask.shape != (self.spaces[i].num_actions,) or not mask.any():
                        raise EnvStepError(
                            f"{env.label}: episode {env.episode}, step {env.step_in_episode}: action "
                            f"mask of agent {name!r} must be {self.spaces[i].num_actions} booleans "
                            f"with at least one True, got {mask.tolist()}"
                        )
                    masks[i][index] = mask
        return AgentTensors(
            observations=[torch.from_numpy(array) for array in observations],
            action_masks=None if masks is None else [torch.from_numpy(array) for array in masks],
            live=torch.from_numpy(self._live.copy()),
            rewards=torch.from_numpy(rewards),
            terminated=torch.from_numpy(terminated),
            truncated=torch.from_numpy(truncated),
        )

    def close(self) -> None:
        for env in self.envs:
            env.close()
