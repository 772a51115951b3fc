"""The training loop every learner shares, its stop rules and what it records.

- :class:`Learner`: the base class; a learner supplies its algorithm (collect, update, state) and
  inherits ``train``/``resume_training``, checkpoints, non-finite handling and data-parallel counting.
- Stop rules: :class:`StepBudget`, :class:`IterationBudget`, :class:`ReturnThreshold`,
  :class:`NashConvTarget`.
- :class:`Record`, :class:`History`, :class:`TrainingRun`: what a call measured, and the call.
- :class:`NonFiniteUpdateError`, :func:`non_finite_report`: NaN/inf found before a step.
- :class:`InverseTimeLR`: the ``inverse`` and ``inverse_sqrt`` learning-rate schedules.
"""

from ascentrl.training.history import History, Record, TrainingRun
from ascentrl.training.learner import Learner
from ascentrl.training.lr_schedules import InverseTimeLR
from ascentrl.training.nonfinite import NonFiniteUpdateError, non_finite_report
from ascentrl.training.stopping import (
    EVALUATION_SEED_OFFSET,
    RETURN_WINDOW,
    Budget,
    IterationBudget,
    NashConvTarget,
    ReturnThreshold,
    StepBudget,
    StopRule,
)

__all__ = [
    "EVALUATION_SEED_OFFSET",
    "RETURN_WINDOW",
    "Budget",
    "History",
    "InverseTimeLR",
    "IterationBudget",
    "Learner",
    "NashConvTarget",
    "NonFiniteUpdateError",
    "Record",
    "ReturnThreshold",
    "StepBudget",
    "StopRule",
    "TrainingRun",
    "non_finite_report",
]
