"""The shared training loop (ascentrl.training.Learner), tested once on a toy learner.

The toy learner ascends ``J(w) = -(w . x - 3)^2`` with several Ascent steps per update (like PPO's
epochs x minibatches), counts 10 environment steps and one episode per iteration, and can be told to
produce a NaN gradient at a given inner step of a given iteration. Its truth is known exactly: how
many iterations a budget buys, what the parameters are after a skipped update (those before it), and
what an uninterrupted run ends with.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pytest
import torch
from torch import nn
from torch.optim.lr_scheduler import LinearLR

from ascentrl.training import (
    History,
    IterationBudget,
    Learner,
    NashConvTarget,
    NonFiniteUpdateError,
    Record,
    ReturnThreshold,
    StepBudget,
    TrainingRun,
    non_finite_report,
)
from ascentrl.training.stopping import stop_rule_from_state

STEPS_PER_ITERATION = 10
INPUT = torch.tensor([[1.0, 2.0]])


@dataclass
class ToyConfig:
    seed: int = 0
    inner_steps: int = 3
    lr: float = 0.05
    linear_schedule: bool = False
    max_grad_norm: float | None = None
    ascent: dict[str, Any] = None
    on_nonfinite: Literal["stop", "skip"] = "stop"
    torch_threads: int | None = None
    poison: tuple[int, int] | None = None
    """(iteration, inner step) at which the gradient becomes NaN."""

    def __post_init__(self) -> None:
        self.ascent = self.ascent if self.ascent is not None else {"adaptive": "adam"}


class ToyLearner(Learner):
    config_class: ClassVar[type] = ToyConfig
    counter_names: ClassVar[tuple[str, ...]] = ("env_steps", "episodes")
    default_budget = StepBudget
    metric_names: ClassVar[tuple[str, ...]] = ("objective", "inner_steps")

    def __init__(self, config: ToyConfig | None = None, distributed=None) -> None:
        super().__init__(config or ToyConfig(), distributed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            self.model = nn.Linear(2, 1)
        self.optimizer = self.make_ascent(self.model.parameters(), self.config.lr)
        self.evaluated_with: list[int] = []

    def networks(self) -> dict[str, nn.Module | None]:
        return {"model": self.model}

    def named_optimizers(self) -> dict[str, torch.optim.Optimizer | None]:
        return {"optimizer": self.optimizer}

    def make_schedulers(self, run: TrainingRun) -> list:
        if not self.config.linear_schedule:
            return []
        return [LinearLR(self.optimizer, 1.0, 0.0, total_iters=run.budget.iterations)]

    def collect(self) -> float:
        self.env_steps += STEPS_PER_ITERATION
        self.episodes += 1
        # A sample that depends on the learner's generator, so resume must restore it.
        return float(torch.rand((), generator=self.generator))

    def objective(self) -> torch.Tensor:
        return -(self.model(INPUT) - 3.0).square().sum()

    def update(self, batch: float) -> dict[str, float]:
        first = None
        for step in range(self.config.inner_steps):
            objective = self.objective() * (1.0 + 0.1 * batch)
            self.optimizer.zero_grad()
            objective.backward()
            if self.config.poison == (self.iterations, step):
                self.model.weight.grad[0, 0] = math.nan
            problem = non_finite_report({"objective": objective}, {"model": self.model.parameters()})
            if problem is not None:
                raise NonFiniteUpdateError(problem)
            self.optimizer.step()
            first = float(objective.detach()) if first is None else first
        return {"objective": first, "inner_steps": float(self.config.inner_steps)}

    def progress_values(self, batch: float) -> dict[str, float]:
        with torch.no_grad():
            return {"objective_sum": float(self.objective())}

    def measures(self, batch: float, totals: dict[str, float]) -> dict[str, Any]:
        return {"mean_return": totals["objective_sum"]}

    def evaluate(self, num_episodes: int) -> float:
        self.evaluated_with.append(num_episodes)
        with torch.no_grad():
            return float(self.objective())


def parameters(learner: ToyLearner) -> list[torch.Tensor]:
    return [tensor.detach().clone() for tensor in learner.model.parameters()]


def optimizer_tensors(learner: ToyLearner) -> list[torch.Tensor]:
    return [tensor.clone() for state in learner.optimizer.state.values() for tensor in state.values()
            if isinstance(tensor, torch.Tensor)]


# ------------------------------------------------------------------------------------ budgets
def test_a_step_budget_buys_whole_iterations_until_it_is_spent():
    learner = ToyLearner()
    history = learner.train(25, eval_episodes=None)
    # 10 steps per iteration: 10, 20 are below 25, 30 is not: three iterations, overshooting by 5.
    assert [record.env_steps for record in history.records] == [10, 20, 30]
    assert (history.env_steps, history.episodes, learner.iterations) == (30, 3, 3)
    assert not history.reached_target and history.evaluations == []


def test_an_iteration_budget_counts_from_the_call_start():
    learner = ToyLearner()
    learner.train(IterationBudget(2), eval_episodes=None)
    history = learner.train(IterationBudget(3), eval_episodes=None)
    assert [record.iteration for record in history.records] == [3, 4, 5]


def test_records_read_counters_measures_and_metrics_by_name():
    learner = ToyLearner()
    record = learner.train(10, eval_episodes=None).records[0]
    assert record.env_steps == 10 and record.episodes == 1
    assert record.inner_steps == 3.0 and record.mean_return == record.measures["mean_return"]
    assert list(record.row()) == ["iteration", "env_steps", "episodes", "wall_seconds", "mean_return",
                                  "objective", "inner_steps"]
    with pytest.raises(AttributeError, match="no counter, measure or metric named 'nope'"):
        _ = record.nope


def test_the_final_evaluation_runs_once_and_sets_the_mean_return():
    learner = ToyLearner()
    history = learner.train(20, eval_episodes=7)
    assert learner.evaluated_with == [7]
    assert history.evaluations == [(20, history.eval_mean_return)]


# ------------------------------------------------------------------------------------ targets
def test_a_return_threshold_evaluates_only_with_a_full_window_and_needs_the_evaluation_too():
    rule = ReturnThreshold(10.0, eval_episodes=5, window=3)
    calls = []

    def evaluate(episodes: int, result: float = 0.0) -> float:
        calls.append(episodes)
        return result

    recent: deque[float] = deque(maxlen=3)
    recent.extend([50.0, 50.0])
    assert not rule.reached_by(recent, evaluate) and calls == []  # window not full
    recent.append(-71.0)  # full, mean 9.67 < 10
    assert not rule.reached_by(recent, evaluate) and calls == []
    recent.extend([10.0, 10.0, 10.0])  # mean exactly 10: qualifies, the evaluation decides
    assert not rule.reached_by(recent, evaluate) and calls == [5]
    assert rule.reached_by(recent, lambda episodes: 10.0)


def test_a_return_threshold_needs_a_learner_that_tracks_returns():
    with pytest.raises(ValueError, match="tracks episode returns"):
        ToyLearner().train(10, stop=ReturnThreshold(1.0))


def test_a_nash_conv_target_needs_a_game():
    learner = ToyLearner()
    learner.config.env = "toy"
    with pytest.raises(ValueError, match="needs a matrix game or an extensive-form game; toy is neither"):
        learner.train(10, stop=NashConvTarget(0.1))


def test_bad_training_arguments_are_named():
    learner = ToyLearner()
    with pytest.raises(ValueError, match="total_steps must be a positive integer"):
        learner.train(0)
    with pytest.raises(ValueError, match="eval_episodes must be a positive integer"):
        learner.train(10, eval_episodes=0)
    with pytest.raises(TypeError, match="stop takes target rules"):
        learner.train(10, stop=StepBudget(5))
    with pytest.raises(ValueError, match="target_nash_conv must be a finite number >= 0"):
        NashConvTarget(-1.0)
    with pytest.raises(ValueError, match="target_return must be a finite number"):
        ReturnThreshold(math.inf)


def test_stop_rules_round_trip_through_their_state():
    budget = StepBudget(100)
    budget.start(ToyLearner())
    for rule in (budget, IterationBudget(4), ReturnThreshold(5.0, eval_episodes=3), NashConvTarget(0.01)):
        assert stop_rule_from_state(rule.to_state()) == rule
    with pytest.raises(ValueError, match="unknown stop rule 'Nope'"):
        stop_rule_from_state({"rule": "Nope"})


# --------------------------------------------------------------------------------- non-finite
def test_a_multi_step_update_that_fails_half_way_is_undone_whole_and_skipped():
    reference = ToyLearner(ToyConfig(on_nonfinite="skip"))
    reference.train(IterationBudget(1), eval_episodes=None)
    before = parameters(reference), optimizer_tensors(reference)

    learner = ToyLearner(ToyConfig(on_nonfinite="skip", poison=(2, 2)))  # iteration 2, third inner step
    history = learner.train(IterationBudget(2), eval_episodes=None)
    assert history.skipped_iterations == [2]
    assert all(math.isnan(value) for value in history.records[1].metrics.values())
    # Two inner steps of iteration 2 had already moved the parameters and Adam's moments: all undone.
    for mine, theirs in zip(parameters(learner), before[0]):
        assert torch.equal(mine, theirs)
    for mine, theirs in zip(optimizer_tensors(learner), before[1]):
        assert torch.equal(mine, theirs)
    assert learner.optimizer.steps == reference.optimizer.steps
    assert all(parameter.grad is None for parameter in learner.model.parameters())


def test_a_failed_update_stops_training_naming_the_iteration_with_the_state_before_it(tmp_path):
    learner = ToyLearner(ToyConfig(poison=(3, 1)))
    before = {}
    with pytest.raises(NonFiniteUpdateError) as caught:
        learner.train(IterationBudget(5), eval_episodes=None, checkpoint_path=tmp_path / "toy.pt",
                      checkpoint_every=2,
                      on_update=lambda record: before.update(parameters=parameters(learner)))
    message = str(caught.value)
    assert message.startswith("iteration 3: the model's gradient holds 1 non-finite entries; "
                              "the update was not applied")
    assert f"{tmp_path / 'toy.pt'} (iteration 2)" in message
    for mine, theirs in zip(parameters(learner), before["parameters"]):
        assert torch.equal(mine, theirs)


# ------------------------------------------------------------------------------------- resume
def test_a_stopped_and_resumed_run_with_a_schedule_ends_like_the_uninterrupted_one(tmp_path):
    config = ToyConfig(linear_schedule=True, seed=4)
    truth = ToyLearner(config)
    expected = truth.train(IterationBudget(6), eval_episodes=3)

    stopped = ToyLearner(ToyConfig(linear_schedule=True, seed=4))
    stopped.train(IterationBudget(6), eval_episodes=3, checkpoint_path=tmp_path / "toy.pt",
                  should_stop=lambda: stopped.iterations == 2)
    assert stopped.training_run.history.interrupted
    resumed = ToyLearner.load(tmp_path / "toy.pt")
    history = resumed.resume_training()
    assert not history.interrupted and resumed.iterations == 6
    for mine, theirs in zip(parameters(resumed), parameters(truth)):
        assert torch.equal(mine, theirs)
    assert resumed.optimizer.param_groups[0]["lr"] == truth.optimizer.param_groups[0]["lr"] == 0.0
    assert [record.row() | {"wall_seconds": 0} for record in history.records] == [
        record.row() | {"wall_seconds": 0} for record in expected.records]
    assert history.evaluations == expected.evaluations
    with pytest.raises(ValueError, match="already finished"):
        resumed.resume_training()


def test_history_and_run_state_round_trip():
    learner = ToyLearner()
    learner.train(IterationBudget(2), eval_episodes=2)
    state = learner.training_run.to_state()
    again = TrainingRun.from_state(state)
    assert again.to_state() == state
    assert isinstance(again.history, History) and isinstance(again.history.records[0], Record)
    assert again.history.final("env_steps") == 20 and History().final("env_steps") != History().final("env_steps")
