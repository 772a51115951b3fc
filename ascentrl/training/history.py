"""What a training call measured, and the call itself, as checkpointable state.

- :class:`Record`: one iteration — the counters after it, the wall time, the learner's measures of
  progress (e.g. the mean return of recent episodes, NashConv) and the metrics its ``update``
  returned (objective, KL, clip fraction...). ``record.env_steps``, ``record.mean_return`` and
  ``record.objective`` read any of them by name.
- :class:`History`: a whole ``train`` call — every record, every evaluation, whether a target was
  reached, the final counters and wall time.
- :class:`TrainingRun`: the call in progress — its budget, its target rules, the number of final
  evaluation episodes, the history so far and the learning-rate schedulers' states — saved in every
  checkpoint so that ``resume_training`` continues the same call.

All three turn into plain containers of python numbers and back (``to_state`` / ``from_state``), so
a checkpoint read with ``torch.load(weights_only=True)`` can carry them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from ascentrl.training.stopping import Budget, StopRule, stop_rule_from_state

__all__ = ["History", "Record", "TrainingRun"]


@dataclass
class Record:
    """What one iteration did. Any counter, measure or metric reads as an attribute."""

    iteration: int
    counters: dict[str, int]
    """The learner's counters after this iteration (``env_steps``, ``episodes``, ...), over all ranks."""
    wall_seconds: float
    """Seconds of training in this ``train`` call so far, summed over resumed sessions."""
    measures: dict[str, Any]
    """The learner's measures of progress after this iteration (``mean_return``, ``nash_conv``, ...)."""
    metrics: dict[str, float]
    """What the update returned (``objective``, ...); nan for each when the update was skipped."""

    def __getattr__(self, name: str) -> Any:
        for part in ("counters", "measures", "metrics"):
            values = self.__dict__.get(part)
            if values is not None and name in values:
                return values[name]
        raise AttributeError(f"this record has no counter, measure or metric named {name!r}")

    def row(self) -> dict[str, Any]:
        """One flat row (iteration, counters, wall time, measures, metrics), e.g. for progress.csv."""
        return {"iteration": self.iteration, **self.counters, "wall_seconds": self.wall_seconds,
                **self.measures, **self.metrics}


@dataclass
class History:
    """Everything a ``train`` call measured. Counters read as attributes (``history.env_steps``)."""

    records: list[Record] = field(default_factory=list)
    evaluations: list[tuple[int, float]] = field(default_factory=list)
    """``(counter, mean greedy return)`` of every evaluation made, the counter being the budget's."""
    reached_target: bool = False
    """A target rule was met (the return threshold and its evaluation, a NashConv target...)."""
    counters: dict[str, int] = field(default_factory=dict)
    """The learner's counters when the call ended (or at the latest checkpoint)."""
    wall_seconds: float = 0.0
    """From the start of ``train`` to the target (or the end of training); a resumed run adds the
    seconds of each session (start-up and the pause in between excluded)."""
    eval_mean_return: float = math.nan
    """Mean return of the last evaluation (nan without one)."""
    skipped_iterations: list[int] = field(default_factory=list)
    """Iterations whose update was skipped for a non-finite value (``on_nonfinite="skip"``)."""
    interrupted: bool = False
    """Training stopped early because ``should_stop`` asked; the run can be resumed."""

    @property
    def solved(self) -> bool:
        """The name RL users know for :attr:`reached_target`."""
        return self.reached_target

    def __getattr__(self, name: str) -> Any:
        counters = self.__dict__.get("counters")
        if counters is not None and name in counters:
            return counters[name]
        raise AttributeError(f"this history has no counter named {name!r}")

    def final(self, name: str) -> Any:
        """The counter, measure or metric ``name`` of the last record (nan before any record)."""
        return getattr(self.records[-1], name) if self.records else math.nan

    def to_state(self) -> dict[str, Any]:
        """Plain containers of python numbers, for a checkpoint."""
        return dataclasses.asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> History:
        values = dict(state)
        values["records"] = [Record(**record) for record in state["records"]]
        values["evaluations"] = [(int(counter), float(value)) for counter, value in state["evaluations"]]
        values["skipped_iterations"] = [int(iteration) for iteration in state["skipped_iterations"]]
        return cls(**values)


@dataclass
class TrainingRun:
    """A ``train`` call: what it was asked to do and what it has measured so far."""

    budget: Budget
    targets: list[StopRule]
    """Rules that end training successfully once met (``history.reached_target``)."""
    eval_episodes: int | None
    """Greedy episodes of the evaluation that ends training (None: no final evaluation)."""
    history: History
    evaluated_at: int = -1
    """The budget's counter at the latest evaluation (so the final one is not repeated)."""
    scheduler_states: list[dict[str, Any]] | None = None
    """``state_dict()`` of every learning-rate scheduler of the call (None without schedules)."""
    pending_target_check: bool = False
    """The target check of the last record was interrupted (by a stop during its evaluation) and
    is redone when the call resumes."""
    finished: bool = False

    def to_state(self) -> dict[str, Any]:
        return {"budget": self.budget.to_state(), "targets": [rule.to_state() for rule in self.targets],
                "eval_episodes": self.eval_episodes, "history": self.history.to_state(),
                "evaluated_at": self.evaluated_at, "scheduler_states": self.scheduler_states,
                "pending_target_check": self.pending_target_check, "finished": self.finished}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TrainingRun:
        budget = stop_rule_from_state(state["budget"])
        if not isinstance(budget, Budget):
            raise ValueError(f"the saved budget {state['budget']!r} is not a budget")
        eval_episodes = state["eval_episodes"]
        return cls(budget, [stop_rule_from_state(rule) for rule in state["targets"]],
                   None if eval_episodes is None else int(eval_episodes), History.from_state(state["history"]),
                   int(state["evaluated_at"]), state["scheduler_states"], bool(state["pending_target_check"]),
                   bool(state["finished"]))
