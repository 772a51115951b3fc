"""What multi-agent learners measure after every iteration, and what ``scripts/train_multiagent.py``
reports: its training options, the progress.csv columns, summary.json, the plots and closing lines.

:class:`MultiAgentReporting` is a mixin of :class:`~ascentrl.agents.MultiAgentReinforce`: the
training loop (:class:`ascentrl.training.Learner`) calls :meth:`~MultiAgentReporting.progress_values`
and :meth:`~MultiAgentReporting.measures`, the run layer (:mod:`ascentrl.training.command_line`) the
rest, and does everything else itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from ascentrl.agents.extensive_play import learned_nash_conv
from ascentrl.agents.multiagent_evaluation import Opponent, PolicyOpponent, SeatRecord, opponent_from_spec
from ascentrl.agents.multiagent_rollout import MultiAgentBatch
from ascentrl.plots import write_line_plot
from ascentrl.training import Budget, History, IterationBudget, NashConvTarget, Record, StopRule, TrainingRun
from ascentrl.validation import check_number, check_positive_int

__all__ = ["MultiAgentReporting", "MultiAgentTrainingOptions"]


@dataclass
class MultiAgentTrainingOptions:
    """How long to train, when the learners count as done, and what to compare them with."""

    iterations: int = 300
    """Updates (each one rollout of num_envs episodes); fewer if the NashConv target is reached."""
    target_nash_conv: float | None = None
    """Matrix games only: stop once the learned strategies' NashConv is at most this."""
    compare_random: bool = False
    """After training, report each agent's mean return under the trained policies and under uniformly random play."""
    eval_games: int = 1000
    """Games per seat (episodes for --compare-random) of the evaluations after training; 0: none."""
    eval_opponent: str | None = None
    """Also play --eval-games games per seat against this opponent: a checkpoint file or a policy MODULE:NAME."""

    resumable: ClassVar[tuple[str, ...]] = ("compare_random", "eval_games", "eval_opponent")
    """Options of this class that --resume accepts (the others come from the checkpoint)."""

    def __post_init__(self) -> None:
        check_positive_int("--iterations", self.iterations)
        if self.target_nash_conv is not None:
            check_number("--target-nash-conv", self.target_nash_conv, 0.0)
        if isinstance(self.eval_games, bool) or not isinstance(self.eval_games, int) or self.eval_games < 0:
            raise ValueError(f"--eval-games must be a non-negative integer, got {self.eval_games!r}")
        if self.eval_opponent is not None and self.eval_games == 0:
            raise ValueError("--eval-opponent needs --eval-games of at least 1")

    def stop_rules(self, learners: Any) -> tuple[Budget, list[StopRule], None]:
        """The iteration budget and the NashConv target, if any (no final evaluation); the opponent
        of ``eval_opponent`` is checked here, before any training."""
        if self.target_nash_conv is not None and learners.game is None and learners.extensive_game is None:
            raise ValueError(f"--target-nash-conv needs a matrix game or an extensive/ game; "
                             f"{learners.config.env} is neither")
        if self.eval_opponent is not None:
            _close(opponent_from_spec(self.eval_opponent, learners))
        targets = [] if self.target_nash_conv is None else [NashConvTarget(self.target_nash_conv)]
        return IterationBudget(self.iterations), targets, None

    @classmethod
    def from_run(cls, run: TrainingRun) -> MultiAgentTrainingOptions:
        """The options a saved run was started with (``compare_random`` is given again on resume)."""
        target = next((rule.target for rule in run.targets if isinstance(rule, NashConvTarget)), None)
        return cls(iterations=run.budget.iterations, target_nash_conv=target)


class MultiAgentReporting:
    """The measuring and script-facing side of the multi-agent learners (module docstring)."""

    training_options_class: ClassVar[type] = MultiAgentTrainingOptions

    def progress_values(self, batch: MultiAgentBatch) -> dict[str, float]:
        """Every agent's return sum over the batch (and, for a data-parallel matrix game whose
        policies read observations, the sums behind :meth:`strategies`), to sum over ranks.

        ``return_sum i`` is ``n * mean_i`` with agent i's float32 batch mean: exact in float64, so a
        single process records that mean bit for bit.
        """
        means = batch.episode_returns().mean(dim=1)
        values = {f"return_sum {index}": float(mean) * batch.num_episodes for index, mean in enumerate(means)}
        if self.game is not None and not self.memoryless and self.distributed.world_size > 1:
            for index, (sums, weight) in enumerate(self.agent_policies.strategy_sums(batch)):
                values.update({f"strategy {index} {action}": float(p) for action, p in enumerate(sums)})
                values[f"strategy weight {index}"] = weight
        return values

    def measures(self, batch: MultiAgentBatch, totals: dict[str, float]) -> dict[str, Any]:
        """``mean_returns`` of every agent over the iteration's episodes; for a matrix game also the
        learned ``strategies`` after the update and their ``nash_conv``; for an extensive-form game
        the exact ``nash_conv`` of the learned policy table (nan and None otherwise)."""
        strategies = None
        if self.game is not None:
            if self.memoryless or self.distributed.world_size == 1:
                strategies = self.strategies(batch)  # memoryless: identical on every rank already
            else:
                strategies = [torch.tensor([totals[f"strategy {index} {action}"]
                                            for action in range(spaces.num_actions)], dtype=torch.float64)
                              / max(totals[f"strategy weight {index}"], 1.0)
                              for index, spaces in enumerate(self.spaces)]
        return {
            "mean_returns": {agent: totals[f"return_sum {index}"] / totals["episodes"]
                             for index, agent in enumerate(self.agents)},
            "nash_conv": (float(self.game.nash_conv(strategies)) if strategies is not None else
                          learned_nash_conv(self) if self.extensive_game is not None else math.nan),
            "strategies": None if strategies is None else {
                agent: strategy.tolist() for agent, strategy in zip(self.agents, strategies)},
        }

    @property
    def measures_nash_conv(self) -> bool:
        """Whether the records hold a NashConv: matrix games and extensive-form games."""
        return self.game is not None or self.extensive_game is not None

    @property
    def run_name(self) -> str:
        """Names the run in messages and the folder of an interrupted run without --out."""
        return f"{self.config.env.replace('/', '_')}-{self.config.method}-seed{self.config.seed}"

    def _action_names(self) -> list[list[str]] | None:
        return [list(names) for names in self.game.action_names] if self.game is not None else None

    def progress_row(self, record: Record) -> dict[str, Any]:
        """Counters, each agent's mean return, and for a matrix game NashConv and every strategy."""
        row = {"iteration": record.iteration, **record.counters, "wall_seconds": record.wall_seconds}
        row.update({f"return_{agent}": value for agent, value in record.mean_returns.items()})
        if not math.isnan(record.nash_conv):
            row["nash_conv"] = record.nash_conv
        if record.strategies is not None:
            for names, (agent, strategy) in zip(self._action_names(), record.strategies.items()):
                row.update({f"p_{agent}_{name}": probability for name, probability in zip(names, strategy)})
        row.update(record.metrics)
        return row

    def progress_postfix(self, record: Record) -> dict[str, Any]:
        if not math.isnan(record.nash_conv):
            return {"nash_conv": f"{record.nash_conv:.4f}"}
        return {agent: f"{value:.2f}" for agent, value in record.mean_returns.items()}

    def progress_text(self) -> str:
        return f"iteration {self.iterations}"

    def after_training(self, options: MultiAgentTrainingOptions) -> dict[str, Any]:
        """The evaluations after training (``eval_games`` each; none when it is 0):

        - ``compare_random``: mean returns under the trained policies and under random play;
        - ``vs_random`` (turn-based envs, or with ``compare_random``; at least two agents): games
          won, drawn and lost per seat by the greedy policies against uniformly random play;
        - ``vs_opponent`` (with ``eval_opponent``): the same against that opponent.

        Raises:
            ValueError: the opponent played an illegal action (the message names it, the agent and the move).
        """
        extra: dict[str, Any] = {}
        if options.eval_games == 0:
            return extra
        if options.compare_random:
            extra["trained"] = self.evaluate(episodes=options.eval_games)
            extra["random"] = self.evaluate(uniform=True, episodes=options.eval_games)
            extra["compared_episodes"] = math.ceil(options.eval_games / self.envs.num_envs) * self.envs.num_envs
        if len(self.agents) > 1 and (self.turn_based or options.compare_random):
            extra["vs_random"] = self.play_against("random", games=options.eval_games)
        if options.eval_opponent is not None:
            opponent = opponent_from_spec(options.eval_opponent, self)
            try:
                extra["vs_opponent"] = self.play_against(opponent, games=options.eval_games)
            finally:
                _close(opponent)
            extra["opponent"] = options.eval_opponent
        return extra

    def summary(self, history: History, targets: list[StopRule], extra: dict[str, Any]) -> dict[str, Any]:
        """summary.json: outcome, counters, final strategies (``wall_seconds`` is not reproducible)."""
        target = next((rule.target for rule in targets if isinstance(rule, NashConvTarget)), None)
        last = history.records[-1]
        return {
            "seed": self.config.seed,
            "world_size": self.distributed.world_size,
            "env": self.config.env,
            "method": self.config.method,
            "iterations": self.iterations,
            "env_steps": history.env_steps,
            "agent_steps": history.agent_steps,
            "episodes": history.episodes,
            "wall_seconds": history.wall_seconds,
            "mean_returns": last.mean_returns,
            "nash_conv": history.final("nash_conv") if self.measures_nash_conv else None,
            "strategies": last.strategies,
            "target_nash_conv": target,
            "reached_target": history.reached_target if target is not None else None,
            "skipped_updates": len(history.skipped_iterations),
            "trained_mean_returns": extra.get("trained"),
            "random_mean_returns": extra.get("random"),
            "compared_episodes": extra.get("compared_episodes"),
            "vs_random": _seat_records(extra.get("vs_random")),
            "opponent": extra.get("opponent"),
            "vs_opponent": _seat_records(extra.get("vs_opponent")),
        }

    def outcome(self, history: History, targets: list[StopRule], extra: dict[str, Any]) -> list[str]:
        """The lines a script prints at the end."""
        config, last = self.config, history.records[-1]
        result = (f"NashConv {history.final('nash_conv'):.4f}" if self.measures_nash_conv else
                  "mean returns " + ", ".join(f"{agent} {value:.3f}" for agent, value in last.mean_returns.items()))
        processes = f" on {self.distributed.world_size} processes" if self.distributed.world_size > 1 else ""
        lines = [f"{config.method} on {config.env}, seed {config.seed}{processes}: {self.iterations} iterations, "
                 f"{history.agent_steps} agent steps, {history.wall_seconds:.2f} s; {result}"]
        if "trained" in extra:
            lines += [f"  {agent}: mean return {extra['trained'][agent]:.3f} trained, "
                      f"{extra['random'][agent]:.3f} random ({extra['compared_episodes']} episodes each)"
                      for agent in self.agents]
        for key, against in (("vs_random", "uniformly random play"), ("vs_opponent", extra.get("opponent"))):
            if key in extra:
                lines.append(f"  greedy play against {against}:")
                lines += [f"    {record.line()}" for record in extra[key].values()]
        return lines

    def write_plots(self, folder: Path, history: History, targets: list[StopRule]) -> list[str]:
        """returns.png; nash_conv.png for a matrix or extensive-form game; strategies.png for a matrix game."""
        config, records = self.config, history.records
        iterations = [record.iteration for record in records]
        title = f"{config.method} on {config.env}, seed {config.seed}"
        write_line_plot(folder / "returns.png",
                        {agent: (iterations, [r.mean_returns[agent] for r in records]) for agent in self.agents},
                        xlabel="iteration", ylabel="mean return per episode", title=title)
        target = next((rule.target for rule in targets if isinstance(rule, NashConvTarget)), None)
        if self.measures_nash_conv:
            write_line_plot(folder / "nash_conv.png", {"NashConv": (iterations, [r.nash_conv for r in records])},
                            xlabel="iteration", ylabel="NashConv", title=title,
                            reference=("target", target) if target is not None else None)
        if self.game is None:
            return ["returns.png", "nash_conv.png"] if self.measures_nash_conv else ["returns.png"]
        strategy_series = {
            f"{agent}: {name}": (iterations, [r.strategies[agent][action] for r in records])
            for agent, names in zip(self.agents, self._action_names()) for action, name in enumerate(names)
        }
        write_line_plot(folder / "strategies.png", strategy_series, xlabel="iteration",
                        ylabel="probability", title=f"learned mixed strategies: {title}")
        return ["returns.png", "strategies.png", "nash_conv.png"]


def _seat_records(records: dict[str, SeatRecord] | None) -> dict[str, dict[str, Any]] | None:
    """Per agent, ``{"win", "draw", "loss"}`` rates with their intervals, games and mean return."""
    return None if records is None else {agent: record.as_dict() for agent, record in records.items()}


def _close(opponent: Opponent) -> None:
    """Release the envs of an opponent loaded from a checkpoint."""
    if isinstance(opponent, PolicyOpponent):
        opponent.learners.close()
