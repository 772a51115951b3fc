"""The one training loop: every learner of the library is its algorithm plus this base class.

Sign convention: a learner's ``update`` **maximizes** its objectives (``J.backward()`` then an
:class:`ascentrl.Ascent` step, or a game dynamics); nothing is negated into a loss.

A learner (a subclass of :class:`Learner`) supplies only its algorithm:

- a config dataclass (``config_class``) and the networks and optimizers it builds from it
  (:meth:`Learner.networks`, :meth:`Learner.named_optimizers`);
- :meth:`Learner.collect`: one rollout, counting what it simulated (``env_steps``, ...);
- :meth:`Learner.update`: the step(s) on that rollout, returning metrics (objective, KL, ...); it
  raises :class:`~ascentrl.training.NonFiniteUpdateError` when an objective or gradient is NaN/inf;
- :meth:`Learner.progress_values` / :meth:`Learner.measures`: per-rank sums after an iteration,
  and the measures of progress made from their totals (mean return, NashConv, ...);
- optionally state beyond networks, optimizers and its generator (:meth:`Learner.extra_state`),
  what an update changes besides them (:meth:`Learner.update_state`), learning-rate schedules
  (:meth:`Learner.make_schedulers`) and a greedy evaluation (:meth:`Learner.evaluate`).

This class owns, once, everything around it. One iteration of :meth:`Learner.train`:

1. **collect** a rollout; the envs are reseeded from :meth:`Learner.rollout_seed`, a function of
   ``(seed, rank, iteration)``, so no env generator state needs saving;
2. **update**, guarded: the learning state (networks, optimizers, :meth:`update_state`) is copied
   first and put back whole if the update raises ``NonFiniteUpdateError`` — also after a multi-step
   update (epochs x minibatches) that failed half way — then training stops
   (``on_nonfinite="stop"``, naming the iteration and the last good checkpoint) or the update is
   skipped (``"skip"``); learning-rate schedulers step;
3. **count**: counters, the learner's progress values and stop requests are summed over all
   data-parallel ranks in one all-reduce (plain values in a single process), so every rank records
   the same numbers and takes the same decisions;
4. **log**: a :class:`~ascentrl.training.Record` of counters, measures and the update's metrics goes
   to the history and to ``on_update``;
5. **check stop**: a target rule met ends training successfully; then a periodic checkpoint; then a
   stop request (``should_stop``, e.g. a signal) checkpoints and returns, resumable;
6. until the budget is spent. Training ends with a greedy evaluation when the call asked for one.

Checkpoints (:meth:`Learner.save`) hold the config, :meth:`Learner.state_dict` (networks, optimizers,
the learner's ``torch.Generator``, extra state), the counters, the ``train`` call in progress
(:class:`~ascentrl.training.TrainingRun`: budget, targets, history, schedulers) and python/numpy/torch
global generator states. ``Learner.load(path).resume_training()`` therefore ends with the same
parameters and numbers, bit for bit on CPU, as the run that was never stopped.
"""

from __future__ import annotations

import copy
import math
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LinearLR, LRScheduler

from ascentrl.ascent import Ascent
from ascentrl.distributed import DistributedContext, all_reduce_sum, broadcast_parameters, rank_seed
from ascentrl.interrupts import Interrupted
from ascentrl.resources import check_thread_count
from ascentrl.training.history import History, Record, TrainingRun
from ascentrl.training.learner_state import LearnerState
from ascentrl.training.lr_schedules import INVERSE_TIME_POWERS, InverseTimeLR
from ascentrl.training.nonfinite import NonFiniteUpdateError, stopped_on_non_finite
from ascentrl.training.stopping import Budget, IterationBudget, StopRule
from ascentrl.validation import check_positive_int

__all__ = ["Learner"]

_DEFAULT = object()


def _check_checkpointing(path: str | os.PathLike | None, every: int | None) -> None:
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
        raise ValueError(f"checkpoint_every must be a positive integer or None, got {every!r}")
    if every is not None and path is None:
        raise ValueError("checkpoint_every needs a checkpoint_path to write to")


class Learner(LearnerState, ABC):
    """Base class of every learner: the training loop, checkpoints and resume (module docstring).

    A learner sets ``config_class`` (a dataclass with ``seed``, ``on_nonfinite``, ``torch_threads``
    and, for :meth:`make_ascent`, ``max_grad_norm`` and ``ascent``), ``counter_names`` (what
    :meth:`collect` counts), ``default_budget`` (what an integer budget means), ``metric_names``
    (the keys :meth:`update` returns; nan for each on a skipped update) and, if it can be evaluated,
    ``default_eval_episodes`` (greedy episodes of the final evaluation).
    """

    config_class: ClassVar[type]
    counter_names: ClassVar[tuple[str, ...]]
    default_budget: ClassVar[type[Budget]]
    metric_names: ClassVar[tuple[str, ...]] = ()
    default_eval_episodes: ClassVar[int | None] = None
    evaluation_counter: ClassVar[str] = "env_steps"
    """The counter an evaluation is recorded at in ``history.evaluations``."""
    steps_per_iteration: int | None = None
    """Environment steps of every iteration when that is fixed (fixed-length rollouts), else None."""

    def __init__(self, config: Any, distributed: DistributedContext | None = None) -> None:
        if not isinstance(config, self.config_class):
            raise TypeError(f"config must be a {self.config_class.__name__}, got {type(config).__name__}")
        if distributed is not None and not isinstance(distributed, DistributedContext):
            raise TypeError("distributed must be the DistributedContext returned by "
                            f"ascentrl.distributed.init_distributed(), got {type(distributed).__name__}")
        self.config = config
        self._set_threads()  # before any network is initialized: the result depends on the thread count
        self.distributed = distributed if distributed is not None else DistributedContext()
        """This process's place in a data-parallel job; rank 0 of 1 without torchrun."""
        # Every rank acts with its own noise and envs; rank 0's are the single-process run's.
        self.generator = torch.Generator().manual_seed(self.rank_seed)
        for name in self.counter_names:
            setattr(self, name, 0)
        self.iterations = 0
        self.evaluations = 0
        self.training_run: TrainingRun | None = None
        """The latest ``train`` call (restored by :meth:`load`); ``None`` before any."""
        self.last_checkpoint: tuple[str, int] | None = None
        """``(path, iteration)`` of the latest checkpoint written by :meth:`save`."""
        self._should_stop: Callable[[], bool] | None = None

    def stop_requested(self) -> bool:
        """Whether the running ``train`` call's ``should_stop`` asks to stop; long phases (an
        evaluation) poll it and raise :class:`ascentrl.interrupts.Interrupted`."""
        return self._should_stop is not None and bool(self._should_stop())

    # ------------------------------------------------------------------- what a learner supplies
    @abstractmethod
    def collect(self) -> Any:
        """One rollout of the current policies; advances the counters of ``counter_names``."""

    @abstractmethod
    def update(self, batch: Any) -> dict[str, float]:
        """Ascend the objectives on ``batch``; returns the metrics named by ``metric_names``.

        Raises:
            NonFiniteUpdateError: an objective or gradient is NaN/inf (the loop undoes the update).
        """

    @abstractmethod
    def progress_values(self, batch: Any) -> dict[str, float]:
        """This rank's sums behind the iteration's measures (summed over ranks by the loop)."""

    @abstractmethod
    def measures(self, batch: Any, totals: dict[str, float]) -> dict[str, Any]:
        """The iteration's measures of progress, from the all-rank ``totals`` of :meth:`progress_values`."""

    @abstractmethod
    def networks(self) -> dict[str, nn.Module | None]:
        """The networks by checkpoint key (``None`` for one this config does not build)."""

    @abstractmethod
    def named_optimizers(self) -> dict[str, Optimizer | None]:
        """The optimizers by checkpoint key (``None`` for one this config does not build)."""

    def extra_state(self) -> dict[str, Any]:
        """State beyond networks, optimizers and the generator (e.g. episode statistics)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Put back what :meth:`extra_state` returned (``state`` is the whole checkpoint)."""

    def update_state(self) -> dict[str, Any]:
        """What :meth:`update` changes besides networks and optimizers (e.g. a dynamics' memory)."""
        return {}

    def load_update_state(self, state: dict[str, Any]) -> None:
        """Put back what :meth:`update_state` returned."""

    def prepare_training(self) -> None:
        """Called when a ``train`` call starts (not when one resumes), before its schedulers exist.

        With a decaying ``config.lr_schedule`` every call starts again from the initial rates."""
        if getattr(self.config, "lr_schedule", "constant") in ("linear", *INVERSE_TIME_POWERS):
            for optimizer in self.named_optimizers().values():
                for group in optimizer.param_groups if optimizer is not None else ():
                    group["lr"] = group["initial_lr"] = group.get("initial_lr", group["lr"])

    def make_schedulers(self, run: TrainingRun) -> list[LRScheduler]:
        """The learning-rate schedulers of ``run``, built fresh (the loop loads their saved states).

        ``config.lr_schedule == "linear"``: ``torch.optim.lr_scheduler.LinearLR`` takes every
        optimizer's rate linearly to 0 over the call's planned iterations (an iteration budget, or
        a step budget divided by a fixed ``steps_per_iteration``). ``"inverse"``, ``"inverse_sqrt"``:
        :class:`~ascentrl.training.lr_schedules.InverseTimeLR`, ``lr / (1 + t/τ)`` and ``lr / √(1 + t/τ)``
        after ``t`` iterations of the call, ``τ = config.lr_time_scale``."""
        schedule = getattr(self.config, "lr_schedule", "constant")
        if schedule in INVERSE_TIME_POWERS:
            return [InverseTimeLR(optimizer, self.config.lr_time_scale, INVERSE_TIME_POWERS[schedule])
                    for optimizer in self.named_optimizers().values() if optimizer is not None]
        if schedule != "linear":
            return []
        if isinstance(run.budget, IterationBudget):
            iterations = run.budget.iterations
        elif self.steps_per_iteration is not None and run.budget.counter == "env_steps":
            iterations = max(1, -(-run.budget.amount // self.steps_per_iteration))
        else:
            raise ValueError("lr_schedule linear decays over the call's iterations, which this budget does not "
                             "fix; give an iteration budget or set lr_schedule constant")
        return [LinearLR(optimizer, start_factor=1.0, end_factor=0.0, total_iters=iterations)
                for optimizer in self.named_optimizers().values() if optimizer is not None]

    def evaluate(self, num_episodes: int) -> float:
        """Mean return of ``num_episodes`` greedy episodes (learners that can be evaluated)."""
        raise NotImplementedError(f"{type(self).__name__} has no greedy evaluation")

    def close(self) -> None:
        """Release the envs."""

    def progress_row(self, record: Record) -> dict[str, Any]:
        """``record`` as one flat progress.csv row (override to name nested measures)."""
        return record.row()

    # --------------------------------------------------------------------------- shared helpers
    @property
    def rank_seed(self) -> int:
        """The seed of this rank's envs and noise: ``seed`` itself on rank 0 (and without torchrun)."""
        return rank_seed(self.config.seed, self.distributed.rank)

    def rollout_seed(self) -> int:
        """Seed of the envs' reset before the next rollout, a function of ``(seed, rank, iteration)`` only.

        Reseeding every rollout makes the envs' randomness part of the saved counters, so no
        generator state of any environment has to be captured for an exact resume.
        """
        return int(np.random.SeedSequence([self.rank_seed, self.iterations]).generate_state(1)[0])

    def _set_threads(self) -> None:
        """``torch.set_num_threads(config.torch_threads)`` (process-wide), unless it is None."""
        if getattr(self.config, "torch_threads", None) is not None:
            check_thread_count("torch_threads", self.config.torch_threads)  # torch crashes on absurd counts
            torch.set_num_threads(self.config.torch_threads)

    def counter(self, name: str) -> int:
        """The counter ``name`` (one of ``counter_names``, or ``"iterations"``)."""
        return getattr(self, name)

    def counter_values(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.counter_names}

    def make_ascent(self, parameters: Iterable[torch.Tensor], lr: float) -> Ascent:
        """An :class:`~ascentrl.Ascent` with the config's ``max_grad_norm`` and ``ascent`` options."""
        try:
            return Ascent(parameters, lr=lr, clip_norm=self.config.max_grad_norm, **self.config.ascent)
        except (TypeError, ValueError) as error:
            raise type(error)(f"ascent {self.config.ascent}: {error}") from None

    def broadcast_networks(self) -> None:
        """Make every rank's networks rank 0's (identical already from the same seed; made certain
        for the rare platform where initialization differs)."""
        for module in self.networks().values():
            if module is not None:
                broadcast_parameters(module, self.distributed)

    def replicated_networks(self) -> list[nn.Module]:
        """The networks every data-parallel rank must hold identically."""
        return [module for module in self.networks().values() if module is not None]

    # -------------------------------------------------------------------------------- training
    def train(
        self,
        budget: int | Budget,
        *,
        stop: StopRule | Sequence[StopRule] | None = None,
        eval_episodes: int | None = _DEFAULT,  # type: ignore[assignment]
        on_update: Callable[[Record], None] | None = None,
        checkpoint_path: str | os.PathLike | None = None,
        checkpoint_every: int | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> History:
        """Train until the budget is spent or a target in ``stop`` is met.

        Args:
            budget: a :class:`~ascentrl.training.Budget`, or an integer meaning ``default_budget``
                (environment steps for the Gymnasium learners, iterations for the game learners).
            stop: target rules, e.g. ``ReturnThreshold(475.0)`` or ``NashConvTarget(0.05)``; once
                one is met training ends with ``history.reached_target`` set.
            eval_episodes: greedy episodes of the evaluation that ends training (skipped if the
                last iteration already evaluated); default ``default_eval_episodes``; None: none.
            on_update: called with every iteration's :class:`~ascentrl.training.Record`.
            checkpoint_path: where :meth:`save` writes (atomically) every ``checkpoint_every``
                iterations, when ``should_stop`` asks, and at the end.
            checkpoint_every: iterations between periodic checkpoints; ``None``: only when
                stopping early and at the end.
            should_stop: polled after every iteration; once it returns True, training writes a
                checkpoint and returns with ``history.interrupted`` set, and
                :meth:`resume_training` (after :meth:`load`) continues exactly where it left off.

        ``history.wall_seconds`` runs from this call's start to the end of training (the solving
        evaluation included); it excludes building the learner.

        Raises:
            NonFiniteUpdateError: with ``on_nonfinite="stop"``, an objective or gradient was
                NaN/inf; the message names the iteration and the last checkpoint.
        """
        if not isinstance(budget, Budget):
            budget = self.default_budget(budget)
        targets = [stop] if isinstance(stop, StopRule) else list(stop or ())
        for rule in targets:
            if not isinstance(rule, StopRule) or isinstance(rule, Budget):
                raise TypeError(f"stop takes target rules (ReturnThreshold, NashConvTarget...), got {rule!r}")
        if eval_episodes is _DEFAULT:
            eval_episodes = self.default_eval_episodes
        check_positive_int("eval_episodes", eval_episodes, allow_none=True)
        _check_checkpointing(checkpoint_path, checkpoint_every)
        budget.start(self)
        for rule in targets:
            rule.start(self)
        self.prepare_training()
        self.training_run = TrainingRun(budget, targets, eval_episodes, History(counters=self.counter_values()))
        return self._run_training(on_update, checkpoint_path, checkpoint_every, should_stop)

    def resume_training(
        self,
        *,
        on_update: Callable[[Record], None] | None = None,
        checkpoint_path: str | os.PathLike | None = None,
        checkpoint_every: int | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> History:
        """Continue the :meth:`train` call saved in the checkpoint this learner was loaded from.

        Budget, targets and evaluation are the saved call's; the returned history holds the records
        from the call's start. Arguments as in :meth:`train`.

        Raises:
            ValueError: the learner has no unfinished training run to continue.
        """
        run = self.training_run
        if run is None:
            raise ValueError("resume_training: this learner has no training run to continue "
                             "(load a checkpoint written during train())")
        if run.finished:
            raise ValueError(f"resume_training: the saved run already finished after {self.iterations} "
                             f"iterations; there is nothing to resume")
        _check_checkpointing(checkpoint_path, checkpoint_every)
        run.history.interrupted = False
        return self._run_training(on_update, checkpoint_path, checkpoint_every, should_stop)

    def record_evaluation(self, num_episodes: int) -> float:
        """:meth:`evaluate`, recorded in the running call's history; returns the mean return."""
        value = self.evaluate(num_episodes)
        run, counter = self.training_run, self.counter(self.evaluation_counter)
        run.history.evaluations.append((counter, value))
        run.evaluated_at = counter
        return value

    def _schedulers(self, run: TrainingRun) -> list[LRScheduler]:
        schedulers = self.make_schedulers(run)
        for scheduler, state in zip(schedulers, run.scheduler_states or (), strict=False):
            scheduler.load_state_dict(state)
        return schedulers

    def _guarded_update(self, batch: Any, history: History) -> dict[str, float]:
        """:meth:`update`, undone whole if it finds a NaN/inf; then stop or skip (``on_nonfinite``)."""
        before = self.learning_state()
        try:
            return self.update(batch)
        except NonFiniteUpdateError as error:
            self.restore_learning_state(before)
            error = NonFiniteUpdateError(f"{error}; the update was not applied")
            if self.config.on_nonfinite == "stop":
                raise stopped_on_non_finite(self.iterations, error, self.last_checkpoint) from None
            history.skipped_iterations.append(self.iterations)
            return dict.fromkeys(self.metric_names, math.nan)

    def _run_training(
        self,
        on_update: Callable[[Record], None] | None,
        checkpoint_path: str | os.PathLike | None,
        checkpoint_every: int | None,
        should_stop: Callable[[], bool] | None,
    ) -> History:
        """The loop of :meth:`train`, from wherever ``self.training_run`` stands."""
        self._should_stop = should_stop
        try:
            return self._loop(on_update, checkpoint_path, checkpoint_every, should_stop)
        finally:
            self._should_stop = None

    def _loop(
        self,
        on_update: Callable[[Record], None] | None,
        checkpoint_path: str | os.PathLike | None,
        checkpoint_every: int | None,
        should_stop: Callable[[], bool] | None,
    ) -> History:
        self._set_threads()
        run = self.training_run
        history = run.history
        schedulers = self._schedulers(run)
        start, seconds_before = time.perf_counter(), history.wall_seconds

        def checkpoint(wanted: bool) -> None:
            history.wall_seconds = seconds_before + time.perf_counter() - start
            history.counters = self.counter_values()
            run.scheduler_states = [copy.deepcopy(scheduler.state_dict()) for scheduler in schedulers] or None
            if wanted and checkpoint_path is not None and self.distributed.is_main:
                self.save(checkpoint_path)

        def interrupted() -> History:
            history.interrupted = True
            checkpoint(True)
            return history

        try:
            # A target check (its evaluation) interrupted before the checkpoint: redo it first.
            if run.pending_target_check and any(rule.reached(self, history.records[-1]) for rule in run.targets):
                history.reached_target = True
            run.pending_target_check = False
        except Interrupted:
            return interrupted()
        while not history.reached_target and not run.budget.reached(self):
            before = self.counter_values()
            batch = self.collect()
            self.iterations += 1
            metrics = self._guarded_update(batch, history)
            for scheduler in schedulers:
                scheduler.step()
            totals = all_reduce_sum({
                **{name: getattr(self, name) - before[name] for name in self.counter_names},
                **self.progress_values(batch),
                "stop_requests": should_stop is not None and should_stop(),
            }, self.distributed)
            for name in self.counter_names:
                setattr(self, name, before[name] + int(totals[name]))
            record = Record(self.iterations, self.counter_values(), seconds_before + time.perf_counter() - start,
                            self.measures(batch, totals), metrics)
            history.records.append(record)
            if on_update is not None:
                on_update(record)
            run.pending_target_check = True
            try:
                if any(rule.reached(self, record) for rule in run.targets):
                    history.reached_target = True
                    break
            except Interrupted:
                return interrupted()
            run.pending_target_check = False
            checkpoint(checkpoint_every is not None and self.iterations % checkpoint_every == 0)
            if totals["stop_requests"] and not run.budget.reached(self):
                return interrupted()
        run.pending_target_check = False
        if run.eval_episodes is not None and run.evaluated_at != self.counter(self.evaluation_counter):
            try:
                self.record_evaluation(run.eval_episodes)
            except Interrupted:
                return interrupted()
        if history.evaluations:
            history.eval_mean_return = history.evaluations[-1][1]
        run.finished = True
        checkpoint(True)
        return history
