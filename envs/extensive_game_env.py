"""Kuhn poker, Leduc poker or any :class:`~ascentrl.games.extensive.ExtensiveFormGame` as a PettingZoo ``AECEnv``.

One episode is one deal. The environment replays the game's rules: chance events (the cards) are
drawn from the environment's generator, seeded by ``reset(seed=...)``, and the agents
``player_0`` and ``player_1`` act in the game's own order (not strictly alternating: in Leduc
poker player 0 may act twice in a row across the two betting rounds).

* **Observation** of an agent: ``{"observation": one-hot of its information set, "action_mask":
  legal actions}``. The one-hot runs over the information sets of both players in the game's
  table order (``game.information_states``), so the observation *is* the information state and
  a policy learned from observations maps one-to-one onto a policy table for exact NashConv
  (:meth:`ExtensiveGameEnv.observation_of`). An agent that is not to act observes zeros and an
  all-zero mask.
* **Actions**: ``Discrete(num_distinct_actions)`` with the game's action ids (OpenSpiel's);
  an illegal action raises ``ValueError`` naming the legal ones.
* **Rewards** come at the end of the deal: player 0's payoff and its negation.
* ``infos[agent]["information_state"]`` holds the acting agent's OpenSpiel information-state string
  (``""`` for the other agent).

The environment never learns anything; learners live in ``ascentrl.agents``.
"""

from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import AECEnv

from ascentrl.games.extensive import CHANCE, TERMINAL, ExtensiveFormGame, make_game

AGENTS = ("player_0", "player_1")


class ExtensiveGameEnv(AECEnv):
    """A two-player zero-sum extensive-form game, one deal per episode.

    Args:
        game: an :class:`ExtensiveFormGame`, or the name of a built-in one (``"kuhn_poker"``,
            ``"leduc_poker"``).
        render_mode: ``None`` or ``"ansi"`` (``render()`` returns the deal and the actions so far).
    """

    metadata = {"name": "extensive_game_v0", "render_modes": ["ansi"], "is_parallelizable": False}

    def __init__(self, game: ExtensiveFormGame | str, render_mode: str | None = None) -> None:
        super().__init__()
        self.game = make_game(game) if isinstance(game, str) else game
        if not isinstance(self.game, ExtensiveFormGame):
            raise TypeError(f"game must be an ExtensiveFormGame or a game name, got {type(game).__name__}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.metadata = {**self.metadata, "name": f"{self.game.name}_v0"}
        self.render_mode = render_mode
        self.rules = self.game.rules
        self.possible_agents = list(AGENTS)
        size = self.game.num_infosets
        self._observation_spaces = {agent: spaces.Dict({
            "observation": spaces.Box(0.0, 1.0, (size,), dtype=np.float32),
            "action_mask": spaces.Box(0, 1, (self.game.num_distinct_actions,), dtype=np.int8),
        }) for agent in AGENTS}
        self._action_spaces = {agent: spaces.Discrete(self.game.num_distinct_actions) for agent in AGENTS}
        self._legal = self.game.legal_actions_mask.numpy().astype(np.int8)
        self._generator, _ = seeding.np_random(None)
        self._state = self.rules.initial_state()
        self._history: list[str] = []

    def observation_space(self, agent: str) -> spaces.Space:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._action_spaces[agent]

    def observation_of(self, infoset: int) -> np.ndarray:
        """The ``"observation"`` an agent receives at information set ``infoset`` (a table row index)."""
        observation = np.zeros(self.game.num_infosets, dtype=np.float32)
        observation[infoset] = 1.0
        return observation

    def information_set(self, agent: str) -> int | None:
        """The table index of ``agent``'s information set, or ``None`` when it is not to act."""
        player = AGENTS.index(agent)
        if self.agents == [] or self.rules.current_player(self._state) != player:
            return None
        return self.game.infoset_index[self.rules.information_state(self._state, player)]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        if seed is not None:
            self._generator, _ = seeding.np_random(seed)
            # Only the action spaces: seeding a Dict observation space builds a generator per
            # subspace, which made resets three times slower for learners that reset thousands of
            # copies, and nothing samples observations.
            for index, agent in enumerate(AGENTS):
                self._action_spaces[agent].seed(seed + index)
        self.agents = list(AGENTS)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self._state, self._history = self.rules.initial_state(), []
        self._advance_chance()
        self._update_infos()
        self.agent_selection = AGENTS[self.rules.current_player(self._state)]

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        infoset = self.information_set(agent)
        if infoset is None:
            return {"observation": np.zeros(self.game.num_infosets, dtype=np.float32),
                    "action_mask": np.zeros(self.game.num_distinct_actions, dtype=np.int8)}
        return {"observation": self.observation_of(infoset), "action_mask": self._legal[infoset].copy()}

    def step(self, action: int | None) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        legal = list(self.rules.legal_actions(self._state))
        if action not in legal:
            raise ValueError(f"{agent} played {action!r} at {self.infos[agent]['information_state']!r}; "
                             f"the legal actions are {legal} ({', '.join(self.game.action_names[a] for a in legal)})")
        self._cumulative_rewards[agent] = 0.0
        self._history.append(f"{agent}: {self.game.action_names[action]}")
        self._state = self.rules.next_state(self._state, int(action))
        self._advance_chance()
        self._clear_rewards()
        player = self.rules.current_player(self._state)
        if player == TERMINAL:
            payoff = float(self.rules.payoff(self._state))
            self.rewards = {"player_0": payoff, "player_1": -payoff}
            self.terminations = dict.fromkeys(self.agents, True)
            self._accumulate_rewards()
        else:
            self.agent_selection = AGENTS[player]
        self._update_infos()

    def render(self) -> str | None:
        if self.render_mode is None:
            return None
        return "; ".join(self._history) if self._history else "(no deal yet)"

    def close(self) -> None:
        pass

    def _advance_chance(self) -> None:
        """Draw chance outcomes from the environment's generator until a player acts or the game ends."""
        while self.rules.current_player(self._state) == CHANCE:
            outcomes = self.rules.chance_outcomes(self._state)
            cumulative = _cumulative_distribution(tuple(probability for _, probability in outcomes))
            pick = bisect_right(cumulative, self._generator.random())
            self._history.append(f"chance: {outcomes[pick][0]}")
            self._state = self.rules.next_state(self._state, outcomes[pick][0])

    def _update_infos(self) -> None:
        player = self.rules.current_player(self._state)
        self.infos = {agent: {"information_state": self.rules.information_state(self._state, index)
                              if index == player else ""} for index, agent in enumerate(AGENTS)
                      if agent in self.agents}


@lru_cache(maxsize=4096)
def _cumulative_distribution(probabilities: tuple[float, ...]) -> list[float]:
    """The normalized cumulative distribution ``numpy.random.Generator.choice(n, p=p)`` draws from.

    ``choice`` with ``p`` takes one ``random()`` and returns the first index whose cumulative
    probability exceeds it; bisecting this list with the same ``random()`` picks the same outcome
    from the same stream (so deals are unchanged) at a tenth of the cost: ``choice`` validates
    ``p`` on every call, and a deal's chance nodes repeat the same few distributions.
    """
    weights = np.array(probabilities)
    cumulative = (weights / weights.sum()).cumsum()
    return (cumulative / cumulative[-1]).tolist()
