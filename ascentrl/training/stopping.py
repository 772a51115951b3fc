"""When training stops: budgets that end it, targets that end it successfully.

Every rule is a small object the training loop asks after each iteration (``rule.reached(learner,
record)``); the benchmark harnesses ask the same objects about their peers (e.g.
:meth:`ReturnThreshold.reached_by` inside a Stable-Baselines3 callback), so ours and theirs stop by
one definition.

- Budgets (:class:`StepBudget`, :class:`IterationBudget`): training ends, not necessarily solved,
  once a counter has grown by the budget since the call started. The budget is checked between
  iterations, so the last iteration may overshoot a step budget by up to one rollout.
- Targets (:class:`ReturnThreshold`, :class:`NashConvTarget`): training ends and
  ``history.reached_target`` is set.

:data:`EVALUATION_SEED_OFFSET` is defined here once: evaluation episodes are seeded from
``seed + EVALUATION_SEED_OFFSET`` on, so they never replay a training episode, for our learners and
for the peers measured against them alike.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ascentrl.validation import check_number, check_positive_int

if TYPE_CHECKING:
    from ascentrl.training.history import Record
    from ascentrl.training.learner import Learner

__all__ = ["EVALUATION_SEED_OFFSET", "RETURN_WINDOW", "Budget", "IterationBudget", "NashConvTarget",
           "ReturnThreshold", "StepBudget", "StopRule", "stop_rule_from_state"]

EVALUATION_SEED_OFFSET = 1_000_003
"""Evaluation envs are seeded from ``seed + EVALUATION_SEED_OFFSET`` on: never a training seed."""
RETURN_WINDOW = 100
""""Mean return" = the mean over the last 100 finished training episodes (Gymnasium's convention)."""

_RULES: dict[str, type[StopRule]] = {}


class StopRule(ABC):
    """A condition the training loop checks after every iteration."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _RULES[cls.__name__] = cls

    def start(self, learner: Learner) -> None:
        """Called when a ``train`` call begins: check the rule applies to ``learner``; bind values."""

    @abstractmethod
    def reached(self, learner: Learner, record: Record) -> bool:
        """Whether training stops after the iteration that produced ``record``."""

    def to_state(self) -> dict[str, Any]:
        """Plain python values, for a checkpoint; :func:`stop_rule_from_state` rebuilds the rule."""
        return {"rule": type(self).__name__, **dataclasses.asdict(self)}


def stop_rule_from_state(state: dict[str, Any]) -> StopRule:
    """The rule :meth:`StopRule.to_state` described."""
    values = dict(state)
    name = values.pop("rule", None)
    if name not in _RULES:
        raise ValueError(f"unknown stop rule {name!r}; known: {sorted(_RULES)}")
    return _RULES[name](**values)


class Budget(StopRule):
    """A stop rule that ends training unsolved once ``counter`` has grown by ``amount``."""

    counter: str
    amount: int
    stop_at: int | None

    def start(self, learner: Learner) -> None:
        if self.counter not in ("iterations", *learner.counter_names):
            raise ValueError(f"{type(self).__name__}: {type(learner).__name__} counts "
                             f"{', '.join(learner.counter_names)} and iterations, not {self.counter}")
        self.stop_at = learner.counter(self.counter) + self.amount

    def reached(self, learner: Learner, record: Record | None = None) -> bool:
        if self.stop_at is None:
            raise RuntimeError(f"{type(self).__name__}.start() was not called")
        return learner.counter(self.counter) >= self.stop_at

    def progress(self, learner: Learner) -> tuple[int, int]:
        """``(done, amount)``: how much of the budget this call has used, e.g. for a progress bar."""
        started = (self.stop_at if self.stop_at is not None else self.amount) - self.amount
        return min(max(learner.counter(self.counter) - started, 0), self.amount), self.amount


@dataclass
class StepBudget(Budget):
    """Train until ``counter`` (environment steps by default) has grown by ``steps``."""

    steps: int
    counter: str = "env_steps"
    stop_at: int | None = None

    def __post_init__(self) -> None:
        check_positive_int("total_steps", self.steps)

    @property
    def amount(self) -> int:
        return self.steps


@dataclass
class IterationBudget(Budget):
    """Train for ``iterations`` more iterations (one rollout and one update each)."""

    iterations: int
    stop_at: int | None = None
    counter: ClassVar[str] = "iterations"

    def __post_init__(self) -> None:
        check_positive_int("iterations", self.iterations)

    @property
    def amount(self) -> int:
        return self.iterations


@dataclass
class ReturnThreshold(StopRule):
    """Solved: the mean return of the last ``window`` training episodes reaches ``target`` (with the
    window full), and then so does the mean return of ``eval_episodes`` greedy evaluation episodes.

    The evaluation runs each time the training window qualifies, so a lucky window does not end
    training unless the greedy policy also scores.
    """

    target: float
    eval_episodes: int = 100
    window: int = RETURN_WINDOW

    def __post_init__(self) -> None:
        check_number("target_return", self.target)
        check_positive_int("eval_episodes", self.eval_episodes)
        check_positive_int("window", self.window)

    def start(self, learner: Learner) -> None:
        learner_window = getattr(learner, "return_window", None)
        if learner_window is None:
            raise ValueError(f"a return threshold needs a learner that tracks episode returns; "
                             f"{type(learner).__name__} does not")
        if learner_window != self.window:
            raise ValueError(f"window {self.window}: {type(learner).__name__} averages the last "
                             f"{learner_window} episodes")

    def reached(self, learner: Learner, record: Record) -> bool:
        return self._decide(learner.return_window_full, record.mean_return, learner.record_evaluation)

    def reached_by(self, recent_returns: Sequence[float], evaluate: Callable[[int], float]) -> bool:
        """The same rule for any learner: ``recent_returns`` are its latest training-episode returns
        (oldest first), ``evaluate(n)`` runs ``n`` greedy episodes and returns their mean return."""
        recent = list(recent_returns)[-self.window:]
        mean = math.fsum(recent) / len(recent) if recent else math.nan
        return self._decide(len(recent) == self.window, mean, evaluate)

    def _decide(self, window_full: bool, mean_return: float, evaluate: Callable[[int], float]) -> bool:
        if window_full and mean_return >= self.target:
            return evaluate(self.eval_episodes) >= self.target
        return False


@dataclass
class NashConvTarget(StopRule):
    """Solved: the NashConv of the learned strategies is at most ``target`` (for learners whose
    records hold a NashConv: ``learner.measures_nash_conv``, e.g. on matrix and extensive-form games)."""

    target: float

    def __post_init__(self) -> None:
        if isinstance(self.target, bool) or not isinstance(self.target, (int, float)) or not (
                math.isfinite(self.target) and self.target >= 0):
            raise ValueError(f"target_nash_conv must be a finite number >= 0, got {self.target!r}")

    def start(self, learner: Learner) -> None:
        if not getattr(learner, "measures_nash_conv", False):
            raise ValueError(f"target_nash_conv needs a matrix game or an extensive-form game; "
                             f"{learner.config.env} is neither")

    def reached(self, learner: Learner, record: Record) -> bool:
        return record.nash_conv <= self.target
