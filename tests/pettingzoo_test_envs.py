"""Tiny PettingZoo envs for the multi-agent tests, registered as ``ascentrl_test/...`` ids.

``ScriptedEnv`` checks its callers as strictly as it can: it raises if an agent that has left (or
never joined) receives an action, or if an agent plays an action its mask forbids, and it keeps
every action dict it received in ``action_log``.
"""

from __future__ import annotations

import numpy as np
import pettingzoo
from gymnasium import spaces
from pettingzoo import ParallelEnv

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
