"""Tiny PettingZoo envs for the multi-agent tests, registered as ``ascentrl_test/...`` ids.

``ScriptedEnv`` checks its callers as strictly as it can: it raises if an agent that has left (or
never joined) receives an action, or if an agent plays an action its mask forbids, and it keeps
every action dict it received in ``action_log``. ``TakeTurnsEnv`` and ``TwoMovesEnv`` are
turn-based (AEC) games whose every reward is known: a scripted one for checking reward credit by
hand, and a two-move game solved by backward induction.
"""

from __future__ import annotations

import numpy as np
import pettingzoo
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv

from ascentrl.envs import MatrixGame, MatrixGameEnv

SCRIPTED_ENV_ID = "ascentrl_test/scripted-v0"
ROLES_ENV_ID = "ascentrl_test/roles-v0"

ROLES_PAYOFFS = np.array([
    [[1.0, 1.0], [0.0, 0.0]],  # player_0 is paid for action 0, whatever player_1 does
    [[0.0, 1.0], [0.0, 1.0]],  # player_1 is paid for action 1, whatever player_0 does
])


class ScriptedEnv(ParallelEnv):
    """Three agents with different spaces and lifetimes.

    - ``runner``: ``Box`` observation (the step count and a constant), ``Discrete(3)`` actions,
      reward 1 for action 2, truncated after ``runner_steps`` steps;
    - ``quitter``: ``Dict`` observation with an ``action_mask`` that allows only action
      ``step % 2``; ``Discrete(2, start=1)`` actions; terminates after ``quitter_steps`` steps;
    - ``latecomer``: ``Discrete(5)`` observation; joins at step 1 and leaves with the runner.

    ``raise_at = (episode, step)`` makes that step raise ``RuntimeError("scripted failure")``.
    """

    metadata = {"name": "scripted_v0", "is_parallelizable": True}

    def __init__(self, runner_steps: int = 5, quitter_steps: int = 2, raise_at: tuple[int, int] | None = None,
                 max_cycles: int | None = None) -> None:
        self.possible_agents = ["runner", "quitter", "latecomer"]
        self.runner_steps, self.quitter_steps, self.raise_at = runner_steps, quitter_steps, raise_at
        self._observation_spaces = {
            "runner": spaces.Box(-10.0, 10.0, (2,), np.float32),
            "quitter": spaces.Dict({"observation": spaces.Discrete(3),
                                    "action_mask": spaces.Box(0, 1, (2,), np.int8)}),
            "latecomer": spaces.Discrete(5),
        }
        self._action_spaces = {"runner": spaces.Discrete(3), "quitter": spaces.Discrete(2, start=1),
                               "latecomer": spaces.Discrete(2)}
        self.agents: list[str] = []
        self.action_log: list[dict] = []
        self.episode = 0
        self.step_count = 0

    def observation_space(self, agent):
        return self._observation_spaces[agent]

    def action_space(self, agent):
        return self._action_spaces[agent]

    def _observe(self, agent):
        if agent == "runner":
            return np.array([self.step_count, 1.0], np.float32)
        if agent == "quitter":
            mask = np.zeros(2, np.int8)
            mask[self.step_count % 2] = 1
            return {"observation": self.step_count % 3, "action_mask": mask}
        return self.step_count % 5

    def reset(self, seed=None, options=None):
        for index, agent in enumerate(self.possible_agents):
            if seed is not None:
                self._action_spaces[agent].seed(seed + index)
        self.episode += 1
        self.step_count = 0
        self.agents = ["runner", "quitter"]
        return {agent: self._observe(agent) for agent in self.agents}, {agent: {} for agent in self.agents}

    def step(self, actions):
        self.action_log.append(dict(actions))
        for agent, action in actions.items():
            if agent not in self.agents:
                raise AssertionError(f"{agent} received an action but is not live")
            if agent == "quitter" and int(action) - 1 != self.step_count % 2:
                raise AssertionError(f"quitter played masked action {action} at step {self.step_count}")
        self.step_count += 1
        if self.raise_at == (self.episode, self.step_count):
            raise RuntimeError("scripted failure")
        acting = list(self.agents)
        rewards = {agent: 0.0 for agent in acting}
        rewards["runner"] = float(actions["runner"] == 2)
        terminations = {agent: False for agent in acting}
        truncations = {agent: False for agent in acting}
        if "quitter" in acting and self.step_count >= self.quitter_steps:
            terminations["quitter"] = True
        if self.step_count >= self.runner_steps:
            truncations["runner"] = True
            if "latecomer" in acting:
                truncations["latecomer"] = True
        self.agents = [a for a in acting if not (terminations[a] or truncations[a])]
        if self.step_count == 1 and "runner" in self.agents:
            self.agents.append("latecomer")
        for joined in (agent for agent in self.agents if agent not in acting):
            rewards[joined], terminations[joined], truncations[joined] = 0.0, False, False
        observations = {agent: self._observe(agent) for agent in rewards}
        infos = {agent: {} for agent in rewards}
        return observations, rewards, terminations, truncations, infos


def roles_env(max_cycles: int | None = None) -> MatrixGameEnv:
    """A one-round matrix game in which the two players have different dominant actions."""
    return MatrixGameEnv(MatrixGame(ROLES_PAYOFFS, name="roles"), rounds=1)


if SCRIPTED_ENV_ID not in pettingzoo.parallel_registry:
    pettingzoo.register("parallel", SCRIPTED_ENV_ID, entry_point=ScriptedEnv)
    pettingzoo.register("parallel", ROLES_ENV_ID, entry_point=roles_env)


# --------------------------------------------------------------------------- turn-based (AEC) envs
TAKE_TURNS_ENV_ID = "ascentrl_test/take_turns-v0"
TWO_MOVES_ENV_ID = "ascentrl_test/two_moves-v0"

TAKE_TURNS_ORDER = ("a", "b", "b", "a", "c")
"""Who moves at each move of :class:`TakeTurnsEnv` (b moves twice in a row, c only at the end)."""
TAKE_TURNS_REWARDS = ({"a": 1.0, "c": 2.0}, {"a": 10.0}, {"b": 100.0}, {"c": 1000.0}, {"a": -1.0, "b": -2.0, "c": -3.0})
"""The rewards each move hands out; the last move ends the game for everyone."""


class TakeTurnsEnv(AECEnv):
    """Three agents that take turns in a scripted order, with scripted rewards, for checking credit by hand.

    Moves: :data:`TAKE_TURNS_ORDER`; after move ``k`` the rewards :data:`TAKE_TURNS_REWARDS` ``[k]``
    are paid (whatever the actions), and the fifth move terminates every agent. With
    ``truncate_after`` the game is cut after that many moves instead (every agent truncated, no
    final rewards).

    - ``a`` and ``b`` observe ``Box([move number, 1])``; ``b``'s legal actions come in its info dict
      (``"action_mask"``): both at its first move, only action 1 at its second.
    - ``c`` observes ``{"observation": Discrete(6) move number, "action_mask"}``, which allows only
      action 0.

    A masked action raises ``AssertionError``; every action is logged in ``action_log``.
    """

    metadata = {"name": "take_turns_v0", "is_parallelizable": False, "render_modes": []}

    def __init__(self, truncate_after: int | None = None) -> None:
        super().__init__()
        self.possible_agents = ["a", "b", "c"]
        self.truncate_after = truncate_after
        box = spaces.Box(0.0, 5.0, (2,), np.float32)
        self._observation_spaces = {"a": box, "b": box, "c": spaces.Dict({
            "observation": spaces.Discrete(6), "action_mask": spaces.Box(0, 1, (2,), np.int8)})}
        self._action_spaces = {agent: spaces.Discrete(2) for agent in self.possible_agents}
        self.action_log: list[tuple[str, int]] = []
        self.move = 0

    def observation_space(self, agent):
        return self._observation_spaces[agent]

    def action_space(self, agent):
        return self._action_spaces[agent]

    def _mask(self, agent):
        if agent == "c":
            return np.array([1, 0], np.int8)
        if agent == "b" and self.move == 2:
            return np.array([0, 1], np.int8)
        return np.array([1, 1], np.int8)

    def observe(self, agent):
        if agent == "c":
            return {"observation": np.int64(self.move), "action_mask": self._mask("c")}
        return np.array([self.move, 1.0], np.float32)

    def _infos(self):
        return {agent: ({"action_mask": self._mask("b")} if agent == "b" else {}) for agent in self.agents}

    def reset(self, seed=None, options=None):
        self.agents = list(self.possible_agents)
        self.move = 0
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = self._infos()
        self.agent_selection = TAKE_TURNS_ORDER[0]

    def step(self, action):
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        if not self._mask(agent)[action]:
            raise AssertionError(f"{agent} played masked action {action} at move {self.move + 1}")
        self.action_log.append((agent, int(action)))
        self._cumulative_rewards[agent] = 0.0
        self._clear_rewards()
        for paid, reward in TAKE_TURNS_REWARDS[self.move].items():
            self.rewards[paid] += reward
        self.move += 1
        if self.move == len(TAKE_TURNS_ORDER):
            self.terminations = dict.fromkeys(self.agents, True)
        elif self.move == self.truncate_after:
            for paid in self.rewards:
                self.rewards[paid] = 0.0
            self.truncations = dict.fromkeys(self.agents, True)
        self._accumulate_rewards()
        self.infos = self._infos()
        if self.move < len(TAKE_TURNS_ORDER):
            self.agent_selection = TAKE_TURNS_ORDER[self.move]
        self._deads_step_first()


TWO_MOVES_PAYOFFS = np.array([[[3.0, 1.0], [0.0, 2.0]],   # player_0 left, then player_1 left / right
                              [[1.0, 3.0], [2.0, 0.0]]])  # player_0 right, then player_1 left / right
"""``TWO_MOVES_PAYOFFS[first, second] = (player_0's payoff, player_1's payoff)``."""
TWO_MOVES_EQUILIBRIUM = {"root": 1, "after left": 1, "after right": 0}
"""The subgame-perfect equilibrium, by backward induction: after left player_1 takes right (2 > 1),
after right it takes left (3 > 0); so player_0, who gets 0 after left and 1 after right, takes right
even though left holds its best payoff (3)."""


class TwoMovesEnv(AECEnv):
    """player_0 moves (left 0 / right 1), then player_1, who saw it, moves (left / right); paid by
    :data:`TWO_MOVES_PAYOFFS`. A third action ("pass", 2) is never legal.

    Observations: ``{"observation": Discrete(3)`` node (0 root, 1 after left, 2 after right),
    ``"action_mask"}``.
    """

    metadata = {"name": "two_moves_v0", "is_parallelizable": False, "render_modes": []}

    def __init__(self) -> None:
        super().__init__()
        self.possible_agents = ["player_0", "player_1"]
        self._observation_space = spaces.Dict({"observation": spaces.Discrete(3),
                                               "action_mask": spaces.Box(0, 1, (3,), np.int8)})
        self._action_space = spaces.Discrete(3)
        self.node = 0

    def observation_space(self, agent):
        return self._observation_space

    def action_space(self, agent):
        return self._action_space

    def observe(self, agent):
        mask = np.array([1, 1, 0] if agent == self.agent_selection else [0, 0, 0], np.int8)
        return {"observation": np.int64(self.node), "action_mask": mask}

    def reset(self, seed=None, options=None):
        self.agents = list(self.possible_agents)
        self.node = 0
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {agent: {} for agent in self.agents}
        self.agent_selection = "player_0"

    def step(self, action):
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        if action not in (0, 1):
            raise AssertionError(f"{agent} played the illegal action {action}")
        self._cumulative_rewards[agent] = 0.0
        self._clear_rewards()
        if agent == "player_0":
            self.node = 1 + int(action)
            self.agent_selection = "player_1"
        else:
            payoffs = TWO_MOVES_PAYOFFS[self.node - 1, int(action)]
            self.rewards = {"player_0": float(payoffs[0]), "player_1": float(payoffs[1])}
            self.terminations = dict.fromkeys(self.agents, True)
            self.agent_selection = "player_0"
        self._accumulate_rewards()


if TAKE_TURNS_ENV_ID not in pettingzoo.aec_registry:
    pettingzoo.register("aec", TAKE_TURNS_ENV_ID, entry_point=TakeTurnsEnv)
    pettingzoo.register("aec", TWO_MOVES_ENV_ID, entry_point=TwoMovesEnv)
