r"""Trained agents against fixed opponents: thousands of games at once, won, drawn or lost per seat.

:func:`play_against` measures how the trained policies fare against an opponent that does not
learn. For every *seat* (agent) ``s`` it plays ``games`` games in which the trained policy plays
seat ``s`` and the opponent plays every other seat, all in the learners' ``N`` env copies at once
(game ``g`` of a round of ``N`` is played for seat ``g mod n_agents``), with fresh env seeds that no
training rollout uses. Opponents (:func:`as_opponent`):

- ``"random"``: a uniformly random legal action;
- another :class:`~ascentrl.agents.MultiAgentReinforce`, e.g. a past checkpoint of the same run
  (``MultiAgentReinforce.load(path)``): its policies, sampled (or greedy);
- any callable ``policy(observation) -> action`` that reads PettingZoo's observation as the env
  gives it (a dict with ``"observation"`` and ``"action_mask"`` where the env provides one) and
  returns an action of the env's action space, e.g. a hand-written minimax player. An illegal
  action raises ``ValueError`` naming the opponent, the agent, the env copy, the game and the move.

The trained seat *wins* a game when its return is larger than every other seat's, *draws* when it
ties the largest, and *loses* otherwise (for two-player zero-sum games: the usual meaning). Each
rate comes with its 95% Wilson score interval (Wilson 1927, "Probable inference, the law of
succession, and statistical inference"): for ``k`` of ``n`` games, ``p = k/n`` and ``z = 1.96``,

.. math::

    \frac{p + \frac{z^2}{2n} \pm z \sqrt{\frac{p(1-p)}{n} + \frac{z^2}{4n^2}}}{1 + \frac{z^2}{n}}

which, unlike ``p +- z sqrt(p(1-p)/n)``, stays inside [0, 1] and is not empty at ``p = 0`` or 1:
0 losses in 1,000 games still leaves a loss rate up to 0.38%.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from ascentrl.agents.multiagent_policies import AgentPolicies
from ascentrl.agents.multiagent_rollout import MultiAgentBatch, collect_episodes
from ascentrl.agents.turn_based_rollout import collect_turns
from ascentrl.envs.pettingzoo_envs import AgentTensors, ParallelEnvBatch
from ascentrl.envs.turn_based import TurnBasedEnvBatch

if TYPE_CHECKING:
    from ascentrl.agents.multiagent import MultiAgentReinforce

__all__ = ["CallableOpponent", "Opponent", "PolicyOpponent", "RandomOpponent", "SeatRecord", "as_opponent",
           "opponent_from_spec", "play_against", "play_games", "wilson_interval"]

WILSON_Z = 1.959963984540054
"""The standard normal quantile of a two-sided 95% interval."""


def wilson_interval(successes: int, trials: int, z: float = WILSON_Z) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (module docstring); (0, 1) for no trials."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1.0 + z * z / trials
    center = (p + z * z / (2 * trials)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return max(0.0, center - half), min(1.0, center + half)


@dataclass(frozen=True)
class SeatRecord:
    """How the trained policy did in one seat: games won, drawn and lost, and its mean return."""

    agent: str
    games: int
    wins: int
    draws: int
    losses: int
    mean_return: float

    def as_dict(self) -> dict[str, Any]:
        """Rates ``win``, ``draw``, ``loss`` with their 95% Wilson intervals, the games and the mean return."""
        values: dict[str, Any] = {"games": self.games}
        for name, count in (("win", self.wins), ("draw", self.draws), ("loss", self.losses)):
            values[name] = count / self.games
            values[f"{name}_interval"] = list(wilson_interval(count, self.games))
        values["mean_return"] = self.mean_return
        return values

    def line(self) -> str:
        """``player_0: win 97.1% [96.0, 97.9], draw ..., over 1000 games``."""
        parts = []
        for name, count in (("win", self.wins), ("draw", self.draws), ("loss", self.losses)):
            low, high = wilson_interval(count, self.games)
            parts.append(f"{name} {100 * count / self.games:.1f}% [{100 * low:.1f}, {100 * high:.1f}]")
        return f"{self.agent}: {', '.join(parts)} over {self.games} games"


class Opponent:
    """Plays the seats the trained policy does not (module docstring)."""

    name = "opponent"

    def act(self, envs: ParallelEnvBatch | TurnBasedEnvBatch, index: int, copies: Tensor, observations: Tensor,
            masks: Tensor | None, generator: torch.Generator) -> Tensor:
        """Actions (``0 .. num_actions - 1``) of agent ``index`` in the env copies ``copies``.

        ``observations`` and ``masks`` are encoded as the learners see them (``envs.observation``
        gives PettingZoo's own); ``generator`` is the evaluation's.
        """
        raise NotImplementedError


class RandomOpponent(Opponent):
    """A uniformly random legal action."""

    name = "random"

    def act(self, envs, index, copies, observations, masks, generator):
        scores = torch.zeros(len(copies), envs.spaces[index].num_actions)
        return AgentPolicies.sample_one(scores, masks, generator)


class PolicyOpponent(Opponent):
    """The policies of other learners (e.g. a past checkpoint), sampled or greedy."""

    def __init__(self, learners: MultiAgentReinforce, *, deterministic: bool = False, name: str = "checkpoint") -> None:
        self.learners, self.deterministic, self.name = learners, deterministic, name

    def act(self, envs, index, copies, observations, masks, generator):
        with torch.no_grad():
            logits = self.learners.agent_policies.agent_logits(index, observations)
        if self.deterministic:
            return AgentPolicies.greedy(logits, masks)
        return AgentPolicies.sample_one(logits, masks, generator)


class CallableOpponent(Opponent):
    """``policy(observation) -> action`` called on PettingZoo's own observation, one game at a time;
    every action is checked against the agent's space and mask."""

    def __init__(self, policy: Callable[[Any], Any], name: str | None = None) -> None:
        if not callable(policy):
            raise TypeError(f"an opponent policy must be callable, got {type(policy).__name__}")
        self.policy = policy
        self.name = name or getattr(policy, "__name__", type(policy).__name__)

    def act(self, envs, index, copies, observations, masks, generator):
        spaces = envs.spaces[index]
        actions = []
        for copy in copies.tolist():
            action = self.policy(envs.observation(copy, spaces.agent))
            mask = envs.action_mask(copy, spaces.agent)
            try:
                chosen = int(action) - spaces.action_start
                legal = (int(action) == action and 0 <= chosen < spaces.num_actions
                         and (mask is None or bool(mask[chosen])))
            except (TypeError, ValueError, OverflowError):
                legal = False
            if not legal:
                allowed = (np.flatnonzero(mask) + spaces.action_start).tolist() if mask is not None else (
                    f"{spaces.action_start} .. {spaces.action_start + spaces.num_actions - 1}")
                raise ValueError(f"opponent {self.name}: illegal action {action!r} for {spaces.agent!r} at "
                                 f"{envs.where(copy)}; legal actions: {allowed}")
            actions.append(chosen)
        return torch.tensor(actions, dtype=torch.int64)


def as_opponent(opponent: Any, learners: MultiAgentReinforce) -> Opponent:
    """``"random"``, learners, a callable or an :class:`Opponent`, as an :class:`Opponent`.

    Raises:
        ValueError: learners trained on other agents or spaces; TypeError: anything else.
    """
    from ascentrl.agents.multiagent import MultiAgentReinforce

    if isinstance(opponent, Opponent):
        return opponent
    if isinstance(opponent, str) and opponent == "random":
        return RandomOpponent()
    if isinstance(opponent, MultiAgentReinforce):
        _check_same_game(opponent, learners)
        return PolicyOpponent(opponent)
    if callable(opponent):
        return CallableOpponent(opponent)
    raise TypeError(f"opponent must be 'random', a MultiAgentReinforce, a callable policy(observation) -> action "
                    f"or an Opponent, got {type(opponent).__name__}")


def play_against(learners: MultiAgentReinforce, opponent: Any, *, games: int = 1000, deterministic: bool = True,
                 ) -> dict[str, SeatRecord]:
    """``games`` games per seat of the trained policies against ``opponent`` (module docstring).

    Args:
        learners: the trained policies; their env copies play the games (and are reset).
        opponent: ``"random"``, another :class:`~ascentrl.agents.MultiAgentReinforce`, a callable
            ``policy(observation) -> action``, or an :class:`Opponent`.
        games: games per seat.
        deterministic: the trained policy plays its most probable legal action (else it samples).

    Returns:
        Per agent (seat), its :class:`SeatRecord`.
    """
    if isinstance(games, bool) or not isinstance(games, int) or games < 1:
        raise ValueError(f"games must be a positive integer, got {games!r}")
    agents, envs = learners.agents, learners.envs
    if len(agents) < 2:
        raise ValueError(f"playing against an opponent needs at least 2 agents; {learners.config.env} has 1")
    opponent = as_opponent(opponent, learners)
    total, size = games * len(agents), envs.num_envs
    returns: list[list[float]] = [[] for _ in agents]
    outcomes = np.zeros((len(agents), 3), np.int64)  # wins, draws, losses
    for first_game in range(0, total, size):
        seed, generator = learners.evaluation_seed()
        seats = torch.arange(first_game, first_game + size) % len(agents)
        choose = _seated(learners, opponent, seats, deterministic, generator)
        batch = play_games(learners, choose, seed)
        totals = batch.episode_returns()
        for copy in range(min(size, total - first_game)):
            seat = int(seats[copy])
            own = float(totals[seat, copy])
            best_other = max(float(totals[other, copy]) for other in range(len(agents)) if other != seat)
            outcomes[seat, 0 if own > best_other else 1 if own == best_other else 2] += 1
            returns[seat].append(own)
    return {agent: SeatRecord(agent, len(returns[index]), *map(int, outcomes[index]),
                              float(np.mean(returns[index])))
            for index, agent in enumerate(agents)}


def opponent_from_spec(spec: str, learners: MultiAgentReinforce) -> Opponent:
    """The opponent a command line names: ``random``, a checkpoint of these learners' kind (a path
    to a file), or a policy ``MODULE:NAME`` / ``path/to/file.py:NAME`` — a callable taking
    PettingZoo's observation, or a class whose instances are (built without arguments).

    Raises:
        ValueError: the spec names nothing usable (said in one line).
    """
    if spec == "random":
        return RandomOpponent()
    if os.path.isfile(spec):
        from ascentrl.checkpoints import CheckpointError

        try:  # a checkpoint of the same learner class (PPO learners play a PPO checkpoint)
            loaded = type(learners).load(spec)
        except CheckpointError as error:
            raise ValueError(str(error)) from None
        try:
            _check_same_game(loaded, learners)
        except ValueError:
            loaded.close()
            raise
        return PolicyOpponent(loaded, name=spec)
    module_name, _, attribute = spec.rpartition(":")
    if not module_name or not attribute:
        raise ValueError(f"opponent {spec!r}: expected random, a checkpoint file, or MODULE:NAME / FILE.py:NAME "
                         f"of a policy(observation) -> action")
    try:
        if module_name.endswith(".py"):
            module_spec = importlib.util.spec_from_file_location(Path(module_name).stem, module_name)
            if module_spec is None or not os.path.isfile(module_name):
                raise ImportError(f"no such file {module_name}")
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
        policy = getattr(module, attribute)
        if isinstance(policy, type):
            policy = policy()
    except Exception as error:  # the user's code: whatever it raises is reported in one line
        raise ValueError(f"opponent {spec!r}: cannot load it: {type(error).__name__}: {error}") from None
    if not callable(policy):
        raise ValueError(f"opponent {spec!r}: {attribute} is a {type(policy).__name__}, not a callable policy")
    return CallableOpponent(policy, name=spec)


def _check_same_game(opponent: MultiAgentReinforce, learners: MultiAgentReinforce) -> None:
    if (opponent.agents, opponent.spaces) != (learners.agents, learners.spaces):
        raise ValueError(f"the opponent's policies were trained on {opponent.config.env} "
                         f"(agents {list(opponent.agents)}), not on this env {learners.config.env}")


def _seated(learners: MultiAgentReinforce, opponent: Opponent, seats: Tensor, deterministic: bool,
            generator: torch.Generator) -> Callable[[int, Tensor, Tensor, Tensor | None], Tensor]:
    """Moves chosen by the trained policy in the copies where ``seats[copy]`` is the mover, else by ``opponent``."""
    def choose(index: int, copies: Tensor, observations: Tensor, masks: Tensor | None) -> Tensor:
        ours = seats[copies] == index
        actions = torch.zeros(len(copies), dtype=torch.int64)
        if ours.any():
            with torch.no_grad():
                logits = learners.agent_policies.agent_logits(index, observations[ours])
            mine = None if masks is None else masks[ours]
            actions[ours] = (AgentPolicies.greedy(logits, mine) if deterministic else
                             AgentPolicies.sample_one(logits, mine, generator))
        theirs = ~ours
        if theirs.any():
            actions[theirs] = opponent.act(learners.envs, index, copies[theirs], observations[theirs],
                                           None if masks is None else masks[theirs], generator)
        return actions

    return choose


def play_games(learners: MultiAgentReinforce, choose: Callable[[int, Tensor, Tensor, Tensor | None], Tensor],
               seed: int) -> MultiAgentBatch:
    """One game in every env copy of ``learners``, reset with ``seed``, every move chosen by
    ``choose(index, copies, observations, masks)`` (as :func:`~ascentrl.agents.turn_based_rollout.collect_turns`
    calls it, for turn-based and simultaneous envs alike); no gradients are recorded."""
    with torch.no_grad():
        return _play(learners, choose, seed)


def _play(learners: MultiAgentReinforce, choose: Callable[[int, Tensor, Tensor, Tensor | None], Tensor],
          seed: int) -> MultiAgentBatch:
    envs, limit = learners.envs, learners.config.max_episode_steps
    if isinstance(envs, TurnBasedEnvBatch):
        return collect_turns(envs, choose, limit, seed=seed)

    def act(current: AgentTensors) -> Tensor:
        actions = torch.zeros(len(current.observations), envs.num_envs, dtype=torch.int64)
        for index, observations in enumerate(current.observations):
            copies = torch.nonzero(current.live[index]).squeeze(1)
            if len(copies):
                masks = None if current.action_masks is None else current.action_masks[index][copies]
                actions[index, copies] = choose(index, copies, observations[copies], masks)
        return actions

    return collect_episodes(envs, act, limit, seed=seed)
