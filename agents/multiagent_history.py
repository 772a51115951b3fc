"""What a multi-agent training run measured, and the ``train`` call in progress, as checkpointable state.

:class:`MultiAgentRecord` is one iteration, :class:`MultiAgentHistory` a whole ``train`` call, and
:class:`MultiAgentTrainingRun` the call itself (its budget, target, learning-rate schedules and the
history so far). All three turn into plain containers of python numbers and back, so a checkpoint
read with ``torch.load(weights_only=True)`` can carry them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MultiAgentHistory", "MultiAgentRecord", "MultiAgentTrainingRun"]


@dataclass
class MultiAgentRecord:
    """What one iteration did."""

    iteration: int
    env_steps: int
    """Joint env steps so far, summed over copies."""
    agent_steps: int
    """Actions taken so far, summed over agents and copies."""
    episodes: int
    wall_seconds: float
    """Seconds of training in this ``train`` call so far, summed over resumed sessions."""
    mean_returns: dict[str, float]
    """Each agent's mean undiscounted return over this iteration's episodes."""
    nash_conv: float
    """Matrix games: NashConv of the learned mixed strategies after the update; nan otherwise."""
    strategies: dict[str, list[float]] | None
    """Matrix games: each agent's learned mixed strategy after the update; None otherwise."""


@dataclass
class MultiAgentHistory:
    """Everything :meth:`MultiAgentReinforce.train` measured."""

    records: list[MultiAgentRecord] = field(default_factory=list)
    reached_target: bool = False
    """NashConv reached ``target_nash_conv`` (always False without a target)."""
    env_steps: int = 0
    agent_steps: int = 0
    episodes: int = 0
    wall_seconds: float = 0.0
    """From the start of ``train`` to the target (or the end of training); a resumed run adds the
    seconds of each session (start-up and the pause in between excluded)."""
    skipped_iterations: list[int] = field(default_factory=list)
    """Iterations whose update was skipped for a non-finite value (``on_nonfinite="skip"``)."""
    interrupted: bool = False
    """Training stopped early because ``should_stop`` asked; the run can be resumed."""

    @property
    def nash_conv(self) -> float:
        """NashConv after the last iteration (nan for non-matrix games or before training)."""
        return self.records[-1].nash_conv if self.records else math.nan

    def to_state(self) -> dict[str, Any]:
        """Plain containers of python numbers, for a checkpoint."""
        return dataclasses.asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> MultiAgentHistory:
        values = dict(state)
        values["records"] = [MultiAgentRecord(**record) for record in state["records"]]
        values["skipped_iterations"] = [int(iteration) for iteration in state["skipped_iterations"]]
        return cls(**values)


@dataclass
class MultiAgentTrainingRun:
    """A :meth:`MultiAgentReinforce.train` call: what it was asked to do and what it measured so far.

    Saved in every checkpoint, so that :meth:`MultiAgentReinforce.resume_training` continues the
    same call.
    """

    iterations: int
    """The call's budget of updates (also the length of the linear learning-rate decay)."""
    stop_at: int
    """The call ends once the learners' iteration counter reaches this (its start plus ``iterations``)."""
    target_nash_conv: float | None
    history: MultiAgentHistory
    scheduler_states: list[dict[str, Any]] | None = None
    """``state_dict()`` of every agent's learning-rate scheduler (None for a constant rate)."""
    finished: bool = False

    def to_state(self) -> dict[str, Any]:
        return {"iterations": self.iterations, "stop_at": self.stop_at, "target_nash_conv": self.target_nash_conv,
                "history": self.history.to_state(), "scheduler_states": self.scheduler_states,
                "finished": self.finished}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> MultiAgentTrainingRun:
        return cls(int(state["iterations"]), int(state["stop_at"]), state["target_nash_conv"],
                   MultiAgentHistory.from_state(state["history"]), state["scheduler_states"],
                   bool(state["finished"]))
