"""Runners of ``scripts/bench_turn_based.py``: ours and sb3-contrib's ``MaskablePPO`` on a turn-based
PettingZoo game for the same wall time, then both judged by the same games.

- **Ours**: a multi-agent learner of :data:`ascentrl.agents.MULTIAGENT_ALGORITHMS` (PPO by
  default) from its preset, trained until the wall budget is spent (the training loop's
  ``should_stop``; a stop lands between iterations).
- **MaskablePPO as in PettingZoo's own tutorial** ("SB3: Action Masked PPO for Connect Four"): one
  model plays every seat (self-play) through a Gymnasium view of the AEC env — ``step`` plays the
  acting agent's move and returns the *next* agent's observation with the acting agent's
  cumulative reward, termination and truncation — wrapped in sb3-contrib's ``ActionMasker``;
  ``MaskableActorCriticPolicy`` with every hyperparameter at its default, as the tutorial does. It
  trains until the same wall budget is spent (a callback that stops ``learn``). The view is written
  here for Gymnasium 1.x (the tutorial's wrapper requires Gymnasium 0.29).
- **Judging** (:func:`play_games`): each trained player is a callable on PettingZoo's observation
  and plays ``games`` games per seat against an opponent callable, greedily, in a plain PettingZoo
  loop with the same env seeds for both; win, draw and loss counts with 95% Wilson intervals.

sb3-contrib is imported only here (the ``bench`` extra).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pettingzoo

from ascentrl.agents import MULTIAGENT_ALGORITHMS, multiagent_preset_for
from ascentrl.agents.multiagent_evaluation import wilson_interval
from ascentrl.rng import seed_everything
from ascentrl.training import EVALUATION_SEED_OFFSET
from harness.maskable_ppo_peer import train_maskable_ppo
from harness.tictactoe_minimax import PerfectTicTacToe

__all__ = ["GAMES", "Outcome", "TrainedPlayer", "UniformRandom", "compare", "evaluation_seed", "judge", "play_games",
           "train_maskable_ppo", "train_ours"]

Policy = Callable[[str, Any], int]
"""``policy(agent, observation) -> action``: a trained player told which seat it plays."""


@dataclass
class TrainedPlayer:
    """A trained player: its policy on PettingZoo observations, and what its training did."""

    name: str
    policy: Policy
    seconds: float
    """Wall time of training (building excluded)."""
    moves: int
    """Moves (env steps) it trained on."""
    games: int
    """Games it trained on (played to the end)."""


@dataclass
class Outcome:
    """Games of one player in one seat against one opponent."""

    games: int
    wins: int
    draws: int
    losses: int

    def rate(self, kind: str) -> float:
        return getattr(self, {"win": "wins", "draw": "draws", "loss": "losses"}[kind]) / self.games

    def interval(self, kind: str) -> tuple[float, float]:
        return wilson_interval(getattr(self, {"win": "wins", "draw": "draws", "loss": "losses"}[kind]), self.games)


class UniformRandom:
    """A uniformly random legal move, from a seeded generator."""

    __name__ = "random"

    def __init__(self, seed: int) -> None:
        self.generator = np.random.default_rng(seed)

    def __call__(self, observation: Any) -> int:
        return int(self.generator.choice(np.flatnonzero(observation["action_mask"])))


def play_games(env_id: str, player: Policy, opponent: Callable[[Any], int], games: int,
               seed: int) -> dict[str, Outcome]:
    """``games`` games per seat of ``player(agent, observation)`` against ``opponent(observation)``
    on PettingZoo's own AEC env, in a plain ``agent_iter`` loop.

    Game ``g`` of each seat is reset with ``seed + g``; a seat's outcome compares its return with
    the other's. Returns the outcome per seat (agent name).
    """
    env = pettingzoo.make("aec", env_id)
    outcomes = {}
    for seat in env.possible_agents:
        counts = [0, 0, 0]
        for game in range(games):
            env.reset(seed=seed + game)
            returns = dict.fromkeys(env.possible_agents, 0.0)
            for agent in env.agent_iter():
                observation, reward, terminated, truncated, _ = env.last()
                returns[agent] += reward
                if terminated or truncated:
                    action = None
                elif agent == seat:
                    action = player(agent, observation)
                else:
                    action = opponent(observation)
                env.step(action)
            best_other = max(value for agent, value in returns.items() if agent != seat)
            counts[0 if returns[seat] > best_other else 1 if returns[seat] == best_other else 2] += 1
        outcomes[seat] = Outcome(games, *counts)
    env.close()
    return outcomes


def train_ours(env_id: str, seconds: float, seed: int, algo: str = "ppo",
               overrides: dict[str, Any] | None = None) -> TrainedPlayer:
    """Our ``algo`` learners from the env's preset (and ``overrides``), trained for ``seconds`` of wall time."""
    learner_class = MULTIAGENT_ALGORITHMS[algo]
    config = learner_class.config_class(**{**multiagent_preset_for(algo, env_id), "env": env_id, "seed": seed,
                                           **(overrides or {})})
    import_torch_dynamo()
    seed_everything(seed)
    learners = learner_class(config)
    start = time.perf_counter()
    learners.train(10**9, should_stop=lambda: time.perf_counter() - start > seconds)
    elapsed = time.perf_counter() - start
    return TrainedPlayer(f"ascentrl {algo}", lambda agent, observation: learners.act(agent, observation), elapsed,
                         learners.env_steps, learners.episodes)


def import_torch_dynamo() -> None:
    """Import once, off the clock, what torch's ``Optimizer.state_dict`` imports on first use
    (``torch._dynamo``: several seconds on a busy machine, a cost of the process, not of training)."""
    import torch._dynamo  # noqa: F401


def evaluation_seed(seed: int) -> int:
    """The first env seed of the judging games: never a training seed of ours."""
    return seed + EVALUATION_SEED_OFFSET


@dataclass(frozen=True)
class GameSpec:
    """What a game's benchmark trains for and how the issue judges it."""

    seconds: float
    """Default wall budget of each learner's training."""
    targets: tuple[tuple[str, str, str, float], ...]
    """``(opponent, outcome, "<=" or ">=", rate)``: every seat's rate of that outcome must meet it."""


GAMES: dict[str, GameSpec] = {
    "classic/tictactoe-v3": GameSpec(180.0, (("random", "loss", "<=", 0.01), ("perfect_play", "draw", ">=", 0.90))),
    "classic/connect_four-v3": GameSpec(600.0, (("random", "win", ">=", 0.95),)),
}
"""The games of issue 15's benchmark, with its targets."""


def _opponents(env_id: str, seed: int) -> dict[str, Callable[[Any], int]]:
    opponents: dict[str, Callable[[Any], int]] = {"random": UniformRandom(seed)}
    if env_id == "classic/tictactoe-v3":
        opponents["perfect_play"] = PerfectTicTacToe(seed)
    return opponents


def judge(env_id: str, player: TrainedPlayer, games: int, seed: int) -> dict[str, Any]:
    """``player``'s outcomes per opponent and seat, and whether each of the game's targets is met."""
    results: dict[str, Any] = {"name": player.name, "seconds": player.seconds, "moves": player.moves,
                               "games_trained": player.games, "outcomes": {}, "targets": []}
    for name, opponent in _opponents(env_id, seed).items():
        outcomes = play_games(env_id, player.policy, opponent, games, evaluation_seed(seed))
        results["outcomes"][name] = {
            seat: {kind: {"rate": outcome.rate(kind), "interval": outcome.interval(kind)}
                   for kind in ("win", "draw", "loss")} for seat, outcome in outcomes.items()}
    for opponent, kind, relation, bound in GAMES[env_id].targets:
        rates = [seat[kind]["rate"] for seat in results["outcomes"][opponent].values()]
        worst = max(rates) if relation == "<=" else min(rates)
        met = worst <= bound if relation == "<=" else worst >= bound
        results["targets"].append({"opponent": opponent, "outcome": kind, "relation": relation, "bound": bound,
                                   "worst_seat": worst, "met": met})
    return results


def compare(env_id: str, seconds: float, games: int, seed: int, algo: str = "ppo", peer: bool = True,
            overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Ours (the preset with ``overrides``) and (``peer``) MaskablePPO, each trained ``seconds``,
    judged by the same games."""
    results = {"env": env_id, "seconds": seconds, "games_per_seat": games, "seed": seed, "overrides": overrides,
               "players": [judge(env_id, train_ours(env_id, seconds, seed, algo, overrides), games, seed)]}
    if peer:
        results["players"].append(judge(env_id, train_maskable_ppo(env_id, seconds, seed), games, seed))
    return results


def format_report(results: dict[str, Any]) -> str:
    """The comparison as text: per player and opponent each seat's rates, then targets and ratios."""
    lines = [f"{results['env']}: {results['seconds']:.0f} s of training each, {results['games_per_seat']} games "
             f"per seat and opponent (95% Wilson intervals)"]
    for player in results["players"]:
        lines.append(f"  {player['name']}: trained {player['seconds']:.0f} s, {player['moves']:,} moves, "
                     f"{player['games_trained']:,} games")
        for opponent, seats in player["outcomes"].items():
            for seat, rates in seats.items():
                cells = ", ".join(f"{kind} {value['rate']:.1%} [{value['interval'][0]:.1%}, {value['interval'][1]:.1%}]"
                                  for kind, value in rates.items())
                lines.append(f"    vs {opponent:12s} as {seat}: {cells}")
        for target in player["targets"]:
            lines.append(f"    target {target['outcome']} vs {target['opponent']} {target['relation']} "
                         f"{target['bound']:.0%} in each seat: {'met' if target['met'] else 'NOT met'} "
                         f"(worst seat {target['worst_seat']:.1%})")
    if len(results["players"]) == 2:
        ours, peer = results["players"]
        for ours_target, peer_target in zip(ours["targets"], peer["targets"]):
            lines.append(f"  worst-seat {ours_target['outcome']} rate vs {ours_target['opponent']}: ours "
                         f"{ours_target['worst_seat']:.1%}, {peer['name']} {peer_target['worst_seat']:.1%}")
        ours_rate, peer_rate = ours["moves"] / ours["seconds"], peer["moves"] / peer["seconds"]
        lines.append(f"  moves trained per second: ours {ours_rate:,.0f}, {peer['name']} {peer_rate:,.0f} "
                     f"(ratio {ours_rate / peer_rate:.2f})")
    return "\n".join(lines)
