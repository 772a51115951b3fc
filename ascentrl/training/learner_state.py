"""A learner's state: what a checkpoint holds, and what is undone when an update fails.

:class:`LearnerState` is a mixin of :class:`ascentrl.training.Learner`: built on the learner's
:meth:`~ascentrl.training.Learner.networks`, :meth:`~ascentrl.training.Learner.named_optimizers`,
its ``torch.Generator`` and its extra and update state, it gives

- :meth:`LearnerState.state_dict` / :meth:`LearnerState.load_state_dict`;
- :meth:`LearnerState.learning_state` / :meth:`LearnerState.restore_learning_state`: a copy of
  everything an update changes, put back whole when the update finds a NaN/inf;
- :meth:`LearnerState.save` / :meth:`LearnerState.load`: a checkpoint holds the config, the state,
  the counters, the ``train`` call in progress and python/numpy/torch global generator states,
  written atomically and read safely (:mod:`ascentrl.checkpoints`).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import warnings
from typing import Any

from ascentrl.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from ascentrl.interrupts import ForcedStop
from ascentrl.resources import available_cpus
from ascentrl.rng import capture_rng_states, restore_rng_states
from ascentrl.training.history import TrainingRun

__all__ = ["LearnerState"]


class LearnerState:
    """State, snapshots and checkpoints of a learner (module docstring)."""

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimizers, the generator and :meth:`extra_state`, by checkpoint key."""
        state: dict[str, Any] = {name: None if part is None else part.state_dict()
                                 for name, part in (*self.networks().items(), *self.named_optimizers().items())}
        state["generator"] = self.generator.get_state()
        state.update(self.extra_state())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, part in (*self.networks().items(), *self.named_optimizers().items()):
            if part is not None:
                part.load_state_dict(state[name])
        self.generator.set_state(state["generator"])
        self.load_extra_state(state)

    def learning_state(self) -> dict[str, Any]:
        """A copy of everything an update changes: networks, optimizers, :meth:`update_state`."""
        return copy.deepcopy({
            "modules": {name: module.state_dict() for name, module in self.networks().items() if module is not None},
            "optimizers": {name: optimizer.state_dict() for name, optimizer in self.named_optimizers().items()
                           if optimizer is not None},
            "update_state": self.update_state(),
        })

    def restore_learning_state(self, state: dict[str, Any]) -> None:
        """Put back a :meth:`learning_state` copy; gradients are cleared."""
        for name, module in self.networks().items():
            if module is not None:
                module.load_state_dict(state["modules"][name])
                for parameter in module.parameters():
                    parameter.grad = None
        for name, optimizer in self.named_optimizers().items():
            if optimizer is not None:
                optimizer.load_state_dict(state["optimizers"][name])
        self.load_update_state(state["update_state"])

    def save(self, path: str | os.PathLike) -> None:
        """Write a checkpoint with everything needed to continue, atomically (module docstring)."""
        state = {
            "config": dataclasses.asdict(self.config),
            **self.state_dict(),
            **self.counter_values(),
            "iterations": self.iterations,
            "evaluations": self.evaluations,
            "training_run": self.training_run.to_state() if self.training_run is not None else None,
            "global_rng": capture_rng_states(),
        }
        try:
            save_checkpoint(path, type(self).__name__, state)
        except ForcedStop:
            # Raised only once the file is completely written (ascentrl.interrupts.signals_held).
            self.last_checkpoint = (str(path), self.iterations)
            raise
        self.last_checkpoint = (str(path), self.iterations)

    @classmethod
    def load(cls, path: str | os.PathLike, *, restore_global_rng: bool = False) -> Any:
        """Rebuild a learner from :meth:`save`'s checkpoint (safe ``weights_only`` loading).

        ``restore_global_rng=True`` also puts python's, numpy's and torch's global generators back
        as they were at saving time, for a process that resumes the run (learners themselves draw
        only from their own generator and the reseeded envs).

        Raises:
            ascentrl.checkpoints.CheckpointError: missing, corrupted, foreign or mismatched file.
        """
        payload = load_checkpoint(path, cls.__name__)
        try:
            config = dict(payload["config"])
            threads = config.get("torch_threads")
            if isinstance(threads, int) and threads > available_cpus():
                warnings.warn(f"checkpoint {path}: written with torch_threads={threads}; this machine offers "
                              f"{available_cpus()} CPUs, so the run continues with that many", stacklevel=2)
                config["torch_threads"] = available_cpus()
            learner = cls(cls.config_class(**config))
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"checkpoint {path}: its config cannot build an agent here: {error}") from None
        try:
            learner.load_state_dict(payload)
            for name in (*cls.counter_names, "iterations", "evaluations"):
                setattr(learner, name, int(payload[name]))
            if payload["training_run"] is not None:
                learner.training_run = TrainingRun.from_state(payload["training_run"])
            if restore_global_rng:
                restore_rng_states(payload["global_rng"])
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as error:
            learner.close()
            raise CheckpointError(f"checkpoint {path}: does not hold a usable {cls.__name__} agent: "
                                  f"{type(error).__name__}: {error}") from None
        learner.last_checkpoint = (str(path), learner.iterations)
        return learner
