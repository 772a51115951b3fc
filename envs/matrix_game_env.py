"""The repeated matrix game as a PettingZoo ``ParallelEnv``.

Every round each agent picks an action at once, receives its payoff of the joint action from
the :class:`~ascentrl.envs.matrix_games.MatrixGame`, and observes the joint action of the round
before. After ``rounds`` rounds every agent is truncated (the game has no terminal state).
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from ascentrl.envs.matrix_games import MatrixGame


class _SeededOnFirstSample:
    """A space whose ``seed(s)`` records ``s`` and builds the generator only when it is first used.

    Reset seeds every space (PettingZoo's seed test samples actions after ``reset(seed=...)``), but
    a learner that reseeds hundreds of env copies every rollout never samples from the spaces,
    and building a numpy generator costs ~10 µs: four per copy were half of a rollout's time.
    """

    _pending_seed: int | None = None

    def seed(self, seed: int | None = None) -> list[int | None]:
        self._pending_seed, self._np_random = seed, None
        return [seed]

    @property
    def np_random(self) -> np.random.Generator:
        if self._np_random is None:
            super().seed(self._pending_seed)
        return self._np_random


class _Discrete(_SeededOnFirstSample, spaces.Discrete):
    pass


class _MultiDiscrete(_SeededOnFirstSample, spaces.MultiDiscrete):
    pass


class MatrixGameEnv(ParallelEnv):
    """Repeated play of one normal-form game.

    Agents are ``player_0 … player_{n-1}``; agent ``i``'s actions are ``Discrete(A_i)``. Every
    agent observes the previous joint action as a ``MultiDiscrete([A_1 + 1, …, A_n + 1])`` vector
    whose entry ``A_j`` means "no previous action" (the first round). Rewards are the payoffs of
    the joint action, to be maximized.

    Args:
        game: an unbatched :class:`MatrixGame`.
        rounds: number of rounds per episode, after which all agents are truncated.
        render_mode: ``None`` or ``"ansi"`` (``render()`` returns the last round as text).
    """

    metadata = {"name": "matrix_game_v0", "render_modes": ["ansi"], "is_parallelizable": True}

    def __init__(self, game: MatrixGame, rounds: int = 100, render_mode: str | None = None) -> None:
        if not isinstance(game, MatrixGame):
            raise TypeError(f"game must be an ascentrl.envs.MatrixGame, got {type(game).__name__}")
        if game.batch_shape:
            raise ValueError(f"game must be a single game, got a batch of shape {game.batch_shape}")
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise ValueError(f"rounds must be an int >= 1, got {rounds!r}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.game = game
        self.rounds = rounds
        self.render_mode = render_mode
        self.possible_agents = [f"player_{i}" for i in range(game.n_players)]
        self.agents: list[str] = []
        self._payoffs = game.payoffs.numpy()
        self._no_action = np.array(game.num_actions, dtype=np.int64)
        self._last_joint_action = self._no_action.copy()
        self._round = 0
        # One space object per agent, so seeding a space sticks (PettingZoo's API test checks it).
        self._observation_spaces = {
            agent: _MultiDiscrete(self._no_action + 1) for agent in self.possible_agents
        }
        self._action_spaces = {
            agent: _Discrete(actions) for agent, actions in zip(self.possible_agents, game.num_actions)
        }

    def observation_space(self, agent: str) -> spaces.MultiDiscrete:
        return self._observation_spaces[self._check_agent(agent)]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._action_spaces[self._check_agent(agent)]

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            for index, agent in enumerate(self.possible_agents):
                self.action_space(agent).seed(seed + index)
                self.observation_space(agent).seed(seed + index)
        self.agents = list(self.possible_agents)
        self._round = 0
        self._last_joint_action = self._no_action.copy()
        observations = {agent: self._last_joint_action.copy() for agent in self.agents}
        return observations, {agent: {} for agent in self.agents}

    def step(self, actions: dict):
        if not self.agents:
            raise RuntimeError("step() called after the episode ended; call reset() first")
        missing = [agent for agent in self.agents if agent not in actions]
        if missing:
            raise ValueError(f"actions is missing the action of {missing}; every live agent acts each round")
        joint_action = np.empty(len(self.possible_agents), dtype=np.int64)
        for index, agent in enumerate(self.possible_agents):
            action = actions[agent]
            # Discrete.contains takes ints and integer numpy scalars only, so 1.5 or "1" is refused
            # rather than truncated or parsed.
            if not self.action_space(agent).contains(action):
                raise ValueError(f"action of {agent} must be an int in {self.action_space(agent)}, got {action!r}")
            joint_action[index] = int(action)
        payoffs = self._payoffs[(slice(None), *joint_action)]
        self._round += 1
        self._last_joint_action = joint_action
        done = self._round >= self.rounds
        observations = {agent: joint_action.copy() for agent in self.agents}
        rewards = {agent: float(payoffs[i]) for i, agent in enumerate(self.possible_agents)}
        terminations = {agent: False for agent in self.agents}
        truncations = {agent: done for agent in self.agents}
        infos = {agent: {} for agent in self.agents}
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        if self._round == 0:
            return f"{self.game.name}: no round played yet"
        names = [self.game.action_names[i][a] for i, a in enumerate(self._last_joint_action)]
        return f"{self.game.name} round {self._round}/{self.rounds}: {', '.join(names)}"

    def close(self) -> None:
        pass

    def _check_agent(self, agent: str) -> str:
        if agent not in self._action_spaces:
            raise ValueError(f"unknown agent {agent!r}; agents are {self.possible_agents}")
        return agent
