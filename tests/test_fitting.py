"""The likelihood-fitting loop of ascentrl.applications.fitting, driven directly with tiny hand-built objectives.

Checked: the settings' validation and their full-batch/mirror rules, ``log_frequencies`` and
``record_fit`` against hand-computed values, and :func:`ascend_likelihood` on objectives whose values
are scripted step by step while their gradient is a known constant or a quadratic's — so every
step's learning rate, the plateau schedule, the convergence band, the "hopeless trailer" rule, the
collapse watch (records, freezing, errors and their messages), the end-of-fit variance check, the
non-finite guard and the minibatch order can each be predicted exactly. :func:`mirror_ascend_likelihood` is
driven by hand-built unit steps (affine contractions, a halving, a translation that resets) whose iterates
are known in closed form or follow from its documented SQUAREM rule written out in numpy, with objectives
that refuse chosen steps and collapse masks and precision traces raised at chosen unit steps.

Truths used: the documented NAdam rule (Dozat's Nesterov form of Adam) and the documented plateau
rule (ReduceLROnPlateau: halve after ``patience`` steps without a rise of ``tol/window`` in the
window-averaged total) written out in plain Python floats, dyadic values whose spreads and gaps are
exact in binary, and ``torch.randperm`` drawn from a fresh generator with the same seed.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Sequence

import numpy as np
import pytest
import torch
from torch import Tensor

from ascentrl.applications import AscentSettings, CovarianceCollapseError
from ascentrl.applications.fitting import (
    STEP_GROWTH,
    Collapse,
    FitTrace,
    ascend_likelihood,
    log_frequencies,
    mirror_ascend_likelihood,
    record_fit,
)

BETA1, BETA2, EPS = 0.9, 0.99, 1e-8  # the NAdam the fit documents (Ascent's default eps)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


class Scripted:
    """An objective whose value at each call is scripted and whose gradient is 1 in every parameter.

    ``values(call)`` gives the ``(R,)`` values of call ``call`` (0-based; the fit's last call, on all
    the data, is one more). The parameter is ``theta`` ``(R, 1)``; every call records the batch and
    where ``theta`` was.
    """

    def __init__(self, values: Callable[[int], Sequence[float]], n_restarts: int) -> None:
        self.values = values
        self.theta = torch.zeros(n_restarts, 1, dtype=torch.float64, requires_grad=True)
        self.batches: list[Tensor | None] = []
        self.positions: list[list[float]] = []

    def __call__(self, batch: Tensor | None) -> Tensor:
        call = len(self.batches)
        self.batches.append(batch)
        self.positions.append(self.theta.detach()[:, 0].tolist())
        row = torch.tensor(list(self.values(call)), dtype=torch.float64)
        return row + (self.theta - self.theta.detach()).sum(-1)


def fit(scripted: Scripted, settings: AscentSettings, n_items: int = 1, **options) -> FitTrace:
    return ascend_likelihood([scripted.theta], scripted, n_items, settings, torch.Generator().manual_seed(0),
                             **options)


def nadam_positions(gradients: Sequence[float], lrs: Sequence[float], start: float = 0.0) -> list[float]:
    """θ after each step of the documented ascent rule, in plain floats: ĝ = −g;
    m ← β₁m + (1−β₁)ĝ; v ← β₂v + (1−β₂)ĝ²; θ ← θ − η (β₁m/(1−β₁ᵗ⁺¹) + (1−β₁)ĝ/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)."""
    theta, m, v, out = start, 0.0, 0.0, []
    for t, (g, lr) in enumerate(zip(gradients, lrs), start=1):
        g = -g
        m = BETA1 * m + (1 - BETA1) * g
        v = BETA2 * v + (1 - BETA2) * g * g
        direction = BETA1 * m / (1 - BETA1 ** (t + 1)) + (1 - BETA1) * g / (1 - BETA1**t)
        theta -= lr * direction / (math.sqrt(v / (1 - BETA2**t)) + EPS)
        out.append(theta)
    return out


# ----------------------------------------------------------------------------------------------- settings
@pytest.mark.parametrize("name", ["n_restarts", "max_steps", "window", "patience"])
@pytest.mark.parametrize("bad", [0, -3, True, 2.0, "4", None])
def test_counts_must_be_positive_integers(name, bad):
    with pytest.raises(ValueError, match=f"{name} must be a positive integer"):
        AscentSettings(**{name: bad})


@pytest.mark.parametrize("name", ["n_restarts", "max_steps", "window", "patience"])
def test_a_count_of_one_is_accepted(name):
    assert getattr(AscentSettings(**{name: 1}), name) == 1


@pytest.mark.parametrize("bad", [0, -1, True, 3.0, "8"])
def test_batch_size_must_be_none_or_a_positive_integer(bad):
    with pytest.raises(ValueError, match="batch_size must be None"):
        AscentSettings(batch_size=bad)
    assert AscentSettings(batch_size=1).batch_size == 1 and AscentSettings(batch_size=None).batch_size is None


@pytest.mark.parametrize("name", ["lr", "min_variance"])
@pytest.mark.parametrize("bad", [0, 0.0, -0.1, float("inf"), float("nan"), "0.1", None])
def test_rates_must_be_finite_and_positive(name, bad):
    with pytest.raises(ValueError, match=f"{name} must be a finite number > 0"):
        AscentSettings(**{name: bad})


@pytest.mark.parametrize("name", ["lr", "min_variance"])
@pytest.mark.parametrize("good", [1, 1e-300, 1e300])
def test_rates_accept_any_finite_positive_number(name, good):
    assert getattr(AscentSettings(**{name: good}), name) == good


@pytest.mark.parametrize("bad", [-1e-12, float("inf"), float("nan"), "0", None])
def test_tol_must_be_finite_and_not_negative(bad):
    with pytest.raises(ValueError, match="tol must be a finite number >= 0"):
        AscentSettings(tol=bad)


@pytest.mark.parametrize("good", [0, 0.0, 1e-10, 5])
def test_tol_accepts_zero_and_any_finite_positive_number(good):
    assert AscentSettings(tol=good).tol == good


def test_optimizer_and_collapse_policy_must_be_known():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        AscentSettings(optimizer="adam")
    with pytest.raises(ValueError, match="on_collapse must be one of"):
        AscentSettings(on_collapse="ignore")
    assert AscentSettings(optimizer="nadam", on_collapse="raise").on_collapse == "raise"


def test_full_batch_means_no_batch_size_or_one_covering_every_item():
    assert AscentSettings().full_batch(1000)
    assert AscentSettings(batch_size=8).full_batch(8)
    assert AscentSettings(batch_size=8).full_batch(7)
    assert not AscentSettings(batch_size=8).full_batch(9)


def test_mirror_steps_need_the_mirror_optimizer_and_a_full_batch():
    assert AscentSettings(optimizer="mirror").mirror(50)
    assert AscentSettings(optimizer="mirror", batch_size=50).mirror(50)
    assert not AscentSettings(optimizer="mirror", batch_size=49).mirror(50)
    assert not AscentSettings(optimizer="nadam").mirror(50)
    assert not AscentSettings(optimizer="nadam", batch_size=49).mirror(50)


# ------------------------------------------------------------------------------------ small helpers
def test_log_frequencies_floors_counts_and_totals_at_the_smallest_normal_number():
    tiny64 = np.finfo(np.float64).tiny
    counts = torch.tensor([2.0, 0.0, 6.0], dtype=torch.float64)
    expected = np.log(np.array([2.0, tiny64, 6.0]) / 8.0)
    np.testing.assert_allclose(log_frequencies(counts, 8.0).numpy(), expected, rtol=1e-15)
    # tensor totals are floored too: 0/0 is tiny/tiny = 1, a log-frequency of 0
    totals = torch.tensor([4.0, 0.0, 3.0], dtype=torch.float64)
    result = log_frequencies(torch.tensor([1.0, 0.0, 3.0], dtype=torch.float64), totals)
    np.testing.assert_allclose(result.numpy(), [math.log(0.25), 0.0, 0.0], rtol=0, atol=1e-15)
    # the floor is the counts' own dtype's
    tiny32 = float(np.finfo(np.float32).tiny)
    result32 = log_frequencies(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.0]))
    assert result32.dtype == torch.float32
    assert result32[0].item() == pytest.approx(math.log(tiny32), rel=1e-6)
    assert result32[1].item() == pytest.approx(-math.log(tiny32), rel=1e-6)
    assert bool(torch.isfinite(result32).all())


def test_record_fit_adds_the_jacobian_and_reads_the_best_restart_the_trace_names():
    collapse = Collapse(restart=0, component=1, step=7, detail="seen")
    history = torch.tensor([[-3.0, -2.0, -1.5], [-3.0, -1.0, -1.25]], dtype=torch.float64)
    trace = FitTrace(objectives=torch.tensor([-float("inf"), -1.0, -1.25], dtype=torch.float64), best_restart=1,
                     steps=12, converged=True, history=history, collapses=(collapse,))
    model = types.SimpleNamespace()
    record_fit(model, trace, log_jacobian=-0.5)
    assert model.restart_log_likelihoods_.tolist() == [-float("inf"), -1.5, -1.75]
    assert model.log_likelihood_ == -1.5 and isinstance(model.log_likelihood_, float)
    assert model.best_restart_ == 1 and model.n_steps_ == 12 and model.converged_ is True
    assert model.collapses_ == (collapse,)
    assert torch.equal(model.history_, history)  # standardized units: no jacobian
    # the trace's choice is read, not recomputed
    record_fit(model, FitTrace(trace.objectives, 2, 3, False, history, ()), log_jacobian=1.0)
    assert model.log_likelihood_ == -0.25 and model.best_restart_ == 2 and model.n_steps_ == 3
    assert model.converged_ is False and model.collapses_ == ()


# ------------------------------------------------------------------------------------- the NAdam steps
def test_every_step_is_the_documented_nadam_step_with_each_tensors_own_learning_rate():
    # J_r = −(a_r − 1)² − Σ(b_r − c)²: two restarts, two tensors, the second with 4× the learning rate.
    # Fewer steps than the window, so neither the schedule nor the convergence test acts.
    a = torch.tensor([[0.0], [2.5]], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([[0.5, -1.0], [0.0, 3.0]], dtype=torch.float64, requires_grad=True)
    c = torch.tensor([1.5, -0.5], dtype=torch.float64)

    def objective(batch):
        assert batch is None
        return -(a[:, 0] - 1).square() - (b - c).square().sum(-1)

    starts = (a.detach().clone(), b.detach().clone())
    settings = AscentSettings(n_restarts=2, max_steps=6, lr=0.1, tol=0.0)
    trace = ascend_likelihood([a, b], objective, 1, settings, torch.Generator(), lr_scales=[1.0, 4.0])

    def run(start: float, optimum: float, lr: float) -> tuple[list[float], list[float]]:
        """Plain-float positions of one coordinate; its gradient 2(c − θ) depends on θ alone."""
        theta, m, v, values = start, 0.0, 0.0, []
        for t in range(1, 7):
            values.append(-((theta - optimum) ** 2))
            g = -2.0 * (optimum - theta)
            m = BETA1 * m + (1 - BETA1) * g
            v = BETA2 * v + (1 - BETA2) * g * g
            theta -= lr * (BETA1 * m / (1 - BETA1 ** (t + 1)) + (1 - BETA1) * g / (1 - BETA1**t)) / (
                math.sqrt(v / (1 - BETA2**t)) + EPS)
        return values, [theta]

    for restart in range(2):
        value_a, end_a = run(float(starts[0][restart, 0]), 1.0, 0.1)
        runs_b = [run(float(starts[1][restart, j]), float(c[j]), 0.4) for j in range(2)]
        expected_history = [value_a[t] + runs_b[0][0][t] + runs_b[1][0][t] for t in range(6)]
        assert a[restart, 0].item() == pytest.approx(end_a[0], abs=1e-12)
        for j in range(2):
            assert b[restart, j].item() == pytest.approx(runs_b[j][1][0], abs=1e-12)
        # history holds the objective at the point each step started from
        np.testing.assert_allclose(trace.history[:, restart].numpy(), expected_history, rtol=0, atol=1e-12)
    assert trace.history.dtype == torch.float64 and trace.history.shape == (6, 2)
    assert trace.steps == 6 and trace.converged is False and trace.collapses == ()
    final = -(a[:, 0] - 1).square() - (b - c).square().sum(-1)
    torch.testing.assert_close(trace.objectives, final.detach(), rtol=0, atol=1e-15)
    assert trace.best_restart == int(final.argmax())


def test_a_tensor_the_objective_leaves_out_of_a_step_is_not_moved_by_that_step():
    # b enters the objective only at even calls: gradients are cleared to None between steps, so at
    # odd steps b has none and NAdam skips it (its moments neither decay nor move it)
    a = torch.zeros(1, 1, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, 1, dtype=torch.float64, requires_grad=True)
    seen: list[float] = []

    def objective(batch):
        seen.append(float(b.detach()))
        value = a.sum(-1)
        return value + b.sum(-1) if len(seen) % 2 == 1 else value

    ascend_likelihood([a, b], objective, 1, AscentSettings(n_restarts=1, max_steps=6, lr=0.1, tol=0.0),
                      torch.Generator())
    moved = nadam_positions([1.0] * 3, [0.1] * 3)
    assert seen[1:] == [pytest.approx(x, abs=1e-15) for x in (moved[0], moved[0], moved[1], moved[1], moved[2],
                                                                  moved[2])]
    assert float(a.detach()) == pytest.approx(nadam_positions([1.0] * 6, [0.1] * 6)[-1], abs=1e-15)


def plateau_learning_rates(totals: Sequence[float], lr: float, window: int, patience: int, tol: float) -> list[float]:
    """The learning rate of every step under the documented schedule, in plain floats: after step t,
    the mean of the last ``window`` totals (fewer at the start) is compared with the best so far;
    a rise of more than ``tol/window`` is an improvement; after more than ``patience`` steps
    without one the rate is halved and the count restarts."""
    rates, best, bad = [], -math.inf, 0
    for t in range(1, len(totals) + 1):
        rates.append(lr)
        recent = totals[max(t - window, 0):t]
        mean = sum(recent) / len(recent)
        if mean > best + tol / window:
            best, bad = mean, 0
        else:
            bad += 1
        if bad > patience:
            lr, bad = lr / 2, 0
    return rates


def oscillating_rise(call: int) -> float:
    """t/64 ± 1 at step t = call + 1: the mean of two consecutive values rises by 1/64 a step,
    while the values swing by 2, so the convergence band (tol < 2) is never met."""
    t = call + 1
    return t / 64 + (1.0 if t % 2 == 0 else -1.0)


def test_the_learning_rate_halves_after_patience_steps_without_a_rise_of_tol_over_window():
    # window 2, tol 0.1: a rise counts when the 2-step mean gains more than 0.05; it gains 1/64 a
    # step, so 3/64 < 0.05 after three steps (no rise) and 4/64 > 0.05 after four.
    steps = 16
    scripted = Scripted(lambda call: [10.0 + oscillating_rise(call)], 1)
    settings = AscentSettings(n_restarts=1, max_steps=steps, lr=0.1, tol=0.1, window=2, patience=2)
    trace = fit(scripted, settings)
    totals = [10.0 + oscillating_rise(call) for call in range(steps)]
    rates = plateau_learning_rates(totals, 0.1, window=2, patience=2, tol=0.1)
    assert rates[-1] < 0.1 / 4  # the schedule did act, several times
    expected = nadam_positions([1.0] * steps, rates)
    np.testing.assert_allclose([p[0] for p in scripted.positions[1:]], expected, rtol=1e-12, atol=0)
    assert trace.history[:, 0].tolist() == totals and trace.steps == steps and trace.converged is False


def test_a_rise_just_above_tol_over_window_keeps_the_learning_rate():
    # the same swing with a rise of 5/64 a step > 0.05: every step improves, the rate stays 0.1
    scripted = Scripted(lambda call: [5 * (call + 1) / 64 + (1.0 if call % 2 else -1.0)], 1)
    fit(scripted, AscentSettings(n_restarts=1, max_steps=12, lr=0.1, tol=0.1, window=2, patience=1))
    expected = nadam_positions([1.0] * 12, [0.1] * 12)
    np.testing.assert_allclose([p[0] for p in scripted.positions[1:]], expected, rtol=1e-12, atol=0)


def test_the_schedule_watches_only_the_live_restarts():
    # Restart 1 collapses at the first step and its objective then soars; were it counted, the total
    # would always improve. Restart 0 alone plateaus, so the rate halves as for restart 0 alone.
    steps = 16
    scripted = Scripted(lambda call: [oscillating_rise(call), 100.0 * call], 2)
    traces = torch.tensor([[0.0], [2.0]], dtype=torch.float64)  # restart 1 beyond 1/min_variance = 1
    settings = AscentSettings(n_restarts=2, max_steps=steps, lr=0.1, tol=0.1, window=2, patience=2, min_variance=1.0)
    trace = fit(scripted, settings, precision_traces=lambda: traces)
    rates = plateau_learning_rates([oscillating_rise(call) for call in range(steps)], 0.1, 2, 2, 0.1)
    expected = nadam_positions([1.0] * steps, rates)
    np.testing.assert_allclose([p[0] for p in scripted.positions[1:]], expected, rtol=1e-12, atol=0)
    assert [(c.restart, c.component, c.step) for c in trace.collapses] == [(1, 0, 1)]
    caught_at = nadam_positions([1.0], [0.1])[0]  # frozen where it was caught: after its first step
    assert scripted.positions[0][1] == 0.0 and all(p[1] == pytest.approx(caught_at, abs=1e-15)
                                                   for p in scripted.positions[1:])
    assert trace.objectives[1].item() == -math.inf and trace.best_restart == 0


# ----------------------------------------------------------------------------------------- convergence
def test_a_constant_objective_converges_after_window_plus_one_values():
    for window in (1, 3, 10):
        trace = fit(Scripted(lambda call: [-2.0], 1), AscentSettings(n_restarts=1, max_steps=50, tol=0.0,
                                                                     window=window))
        assert trace.converged and trace.steps == window + 1 and trace.history.shape == (window + 1, 1)


def test_the_band_is_closed_at_tol():
    # window 3 (4 values), tol 1/2: the last four values span 2.25, 1.375, then exactly 1/2 at step 6
    values = [0.0, 1.0, 2.0, 2.25, 2.375, 2.5, 2.5, 2.5, 2.5]
    trace = fit(Scripted(lambda call: [values[min(call, 8)]], 1),
                AscentSettings(n_restarts=1, max_steps=9, tol=0.5, window=3))
    assert trace.converged and trace.steps == 6
    assert trace.history[:, 0].tolist() == values[:6]
    trace = fit(Scripted(lambda call: [values[min(call, 8)]], 1),
                AscentSettings(n_restarts=1, max_steps=9, tol=0.4999, window=3))
    assert trace.converged and trace.steps == 7  # [2.25, 2.375, 2.5, 2.5] spans 1/4


def test_without_convergence_the_fit_takes_max_steps_and_ends_on_all_the_data():
    scripted = Scripted(lambda call: [float(call), -float(call)], 2)
    trace = fit(scripted, AscentSettings(n_restarts=2, max_steps=7, tol=0.5, window=2))
    assert trace.converged is False and trace.steps == 7 and len(scripted.batches) == 8
    assert scripted.batches == [None] * 8
    assert trace.history.tolist() == [[float(t), -float(t)] for t in range(7)]
    assert trace.objectives.tolist() == [7.0, -7.0] and trace.best_restart == 0


def trailing(gap: float, rate: float) -> Callable[[int], list[float]]:
    """Restart 0 settled at 0; restart 1 starts ``gap`` below and rises by ``rate`` a step."""
    return lambda call: [0.0, -gap + rate * call]


def test_a_trailer_that_can_catch_up_within_max_steps_is_waited_for():
    # window 2: restart 1 spans 2/64 over 3 values, 1/64 a step. After step s its last value is
    # −gap + (s − 1)/64 and it has 64 − s steps left, so it can close a gap of 63/64 exactly (dyadic:
    # gap and reach are exact): the fit waits to the end
    trace = fit(Scripted(trailing(63 / 64, 1 / 64), 2), AscentSettings(n_restarts=2, max_steps=64, tol=0.0, window=2))
    assert trace.converged is False and trace.steps == 64


def test_a_trailer_that_cannot_catch_up_within_max_steps_is_given_up():
    trace = fit(Scripted(trailing(64 / 64, 1 / 64), 2),
                AscentSettings(n_restarts=2, max_steps=64, tol=0.0, window=2))
    assert trace.converged and trace.steps == 3
    assert trace.best_restart == 0


def test_a_trailer_is_measured_against_the_best_settled_restart():
    # restarts 0 and 1 settled at 0 and −10; restart 2 at −5 rising by 1/64 a step over 64 steps can
    # close 1, not 5: hopeless behind restart 0 (the leader), though already ahead of restart 1
    scripted = Scripted(lambda call: [0.0, -10.0, -5.0 + call / 64], 3)
    trace = fit(scripted, AscentSettings(n_restarts=3, max_steps=64, tol=0.0, window=2))
    assert trace.converged and trace.steps == 3 and trace.best_restart == 0


def test_a_dropped_restart_neither_holds_up_nor_settles_the_fit():
    # restart 1 is dropped at step 1 and its objective keeps climbing: it must not hold up the stop
    traces = torch.tensor([[0.0], [5.0]], dtype=torch.float64)
    settings = AscentSettings(n_restarts=2, max_steps=40, tol=0.0, window=2, min_variance=0.5)
    trace = fit(Scripted(lambda call: [-1.0, float(call)], 2), settings, precision_traces=lambda: traces)
    assert trace.converged and trace.steps == 3 and trace.best_restart == 0
    # nor, settled far above, make a slowly rising live restart look hopeless
    trace = fit(Scripted(lambda call: [-1.0 + call / 64, 100.0], 2), settings, precision_traces=lambda: traces)
    assert trace.converged is False and trace.steps == 40


# --------------------------------------------------------------------------------------------- collapses
def test_a_trace_exactly_at_one_over_min_variance_is_not_a_collapse():
    traces = torch.tensor([[4.0, 1.0], [0.5, 4.0]], dtype=torch.float64)
    settings = AscentSettings(n_restarts=2, max_steps=5, tol=0.0, min_variance=0.25)
    trace = fit(Scripted(lambda call: [0.0, 1.0], 2), settings, precision_traces=lambda: traces)
    assert trace.collapses == () and trace.objectives.tolist() == [0.0, 1.0] and trace.best_restart == 1


def test_a_collapse_records_restart_first_component_step_and_the_trace():
    calls = {"n": 0}

    def traces() -> Tensor:
        calls["n"] += 1
        flagged = torch.zeros(3, 3, dtype=torch.float64)
        if calls["n"] >= 3:  # seen after the third step
            flagged[1, 1:] = torch.tensor([5.0, 7.0])
        return flagged

    scripted = Scripted(lambda call: [0.0, 3.0, 1.0], 3)
    trace = fit(scripted, AscentSettings(n_restarts=3, max_steps=6, tol=0.0, min_variance=0.25),
                precision_traces=traces)
    assert trace.collapses == (Collapse(1, 1, 3, "tr Σ⁻¹ = 5 > 1/min_variance = 4 in standardized units"),)
    assert trace.objectives.tolist() == [0.0, -math.inf, 1.0] and trace.best_restart == 2
    # frozen where it was caught: after three steps, while the others went on
    moved = nadam_positions([1.0] * 6, [0.1] * 6)
    assert [p[1] for p in scripted.positions[3:]] == [pytest.approx(moved[2], abs=1e-15)] * 4
    assert scripted.positions[-1][0] == pytest.approx(moved[5], abs=1e-15)


def test_collapse_errors_name_the_restart_the_unit_and_the_step():
    traces = torch.tensor([[0.0, 0.0], [0.0, 9.0], [9.0, 9.0]], dtype=torch.float64)
    with pytest.raises(CovarianceCollapseError) as caught:
        fit(Scripted(lambda call: [0.0, 0.0, 0.0], 3), AscentSettings(n_restarts=3, max_steps=5, min_variance=0.5,
                                                                      on_collapse="raise"),
            precision_traces=lambda: traces, unit="state")
    error = caught.value
    assert (error.restart, error.component, error.step) == (1, 1, 1)
    assert str(error) == (
        "collapse in restart 1: the covariance of state 1 collapsed at step 1 (tr Σ⁻¹ = 9 > 1/min_variance = 2 in "
        "standardized units); the likelihood is unbounded there. Use fewer states, more data, covariance_type='diag', "
        "or more restarts")


def test_when_every_restart_collapses_the_error_says_so_and_names_the_first():
    calls = {"n": 0}

    def traces() -> Tensor:
        calls["n"] += 1
        flagged = torch.zeros(2, 2, dtype=torch.float64)
        flagged[1, 0] = 9.0  # restart 1 at step 1
        if calls["n"] >= 2:
            flagged[0, 1] = 9.0  # restart 0 at step 2: none left
        return flagged

    with pytest.raises(CovarianceCollapseError) as caught:
        fit(Scripted(lambda call: [0.0, 0.0], 2), AscentSettings(n_restarts=2, max_steps=5, min_variance=0.5),
            precision_traces=traces)
    error = caught.value
    assert (error.restart, error.component, error.step) == (1, 0, 1)
    assert str(error).startswith("every restart collapsed; the first was restart 1: the covariance of component 0 "
                                 "collapsed at step 1 (tr Σ⁻¹ = 9 > 1/min_variance = 2")


def test_the_final_variance_check_drops_restarts_below_min_variance_only():
    variances = torch.tensor([[0.25, 1.0], [3.0, 0.125], [0.5, 0.25]], dtype=torch.float64)
    scripted = Scripted(lambda call: [0.0, 5.0, -1.0], 3)
    trace = fit(scripted, AscentSettings(n_restarts=3, max_steps=4, tol=0.0, min_variance=0.25),
                own_point_variances=lambda: variances)
    assert trace.collapses == (Collapse(1, 1, 4, "the points it explains have variance 0.12 < min_variance = 0.25 "
                                        "along some direction, so shrinking onto them raises the likelihood without "
                                        "bound"),)
    assert trace.objectives.tolist() == [0.0, -math.inf, -1.0] and trace.best_restart == 0
    with pytest.raises(CovarianceCollapseError, match="every restart collapsed; the first was restart 0") as caught:
        fit(Scripted(lambda call: [0.0], 1),
            AscentSettings(n_restarts=1, max_steps=2, tol=0.0, window=5, min_variance=0.01),
            own_point_variances=lambda: torch.tensor([[1.0, 1e-3]], dtype=torch.float64))
    assert (caught.value.component, caught.value.step) == (1, 2)


# -------------------------------------------------------------------------------------- non-finite values
def test_a_non_finite_objective_of_a_live_restart_stops_the_fit_naming_it():
    with pytest.raises(FloatingPointError) as caught:
        fit(Scripted(lambda call: [0.0, math.nan if call == 2 else 1.0], 2), AscentSettings(n_restarts=2))
    assert str(caught.value) == "the log-likelihood of restart 1 became nan at step 2; try a smaller lr"
    with pytest.raises(FloatingPointError, match="restart 0 became -inf at step 0;"):
        fit(Scripted(lambda call: [-math.inf, 1.0], 2), AscentSettings(n_restarts=2))


def test_a_dropped_restarts_non_finite_objective_is_ignored_and_not_blamed():
    traces = torch.tensor([[9.0], [0.0], [0.0]], dtype=torch.float64)  # restart 0 dropped at step 1
    settings = AscentSettings(n_restarts=3, max_steps=6, tol=0.0, min_variance=0.5)
    trace = fit(Scripted(lambda call: [math.nan if call else 0.0, 1.0, 2.0], 3), settings,
                precision_traces=lambda: traces)
    assert trace.steps == 6 and trace.best_restart == 2 and trace.objectives[0].item() == -math.inf
    with pytest.raises(FloatingPointError, match="restart 2 became inf at step 3;"):
        fit(Scripted(lambda call: [math.nan if call else 0.0, 1.0, math.inf if call == 3 else 2.0], 3), settings,
            precision_traces=lambda: traces)


# -------------------------------------------------------------------------------------------- minibatches
def test_minibatches_are_full_slices_of_a_fresh_seeded_permutation_per_epoch():
    # 6 items in batches of 3: two batches an epoch
    scripted = Scripted(lambda call: [float(call % 2)], 1)
    settings = AscentSettings(n_restarts=1, max_steps=7, lr=0.1, tol=0.0, window=1, patience=1, batch_size=3)
    trace = ascend_likelihood([scripted.theta], scripted, 6, settings, torch.Generator().manual_seed(11))
    generator = torch.Generator().manual_seed(11)
    expected = []
    while len(expected) < 7:
        order = torch.randperm(6, generator=generator)
        expected += [order[0:3], order[3:6]]
    assert [batch.tolist() for batch in scripted.batches[:7]] == [batch.tolist() for batch in expected[:7]]
    assert scripted.batches[7] is None  # the final objective is on all the data
    # no schedule and no convergence test: seven steps at the constant rate, though the values repeat
    assert trace.steps == 7 and trace.converged is False
    expected_positions = nadam_positions([1.0] * 7, [0.1] * 7)
    np.testing.assert_allclose([p[0] for p in scripted.positions[1:]], expected_positions, rtol=1e-12, atol=0)


def test_a_last_incomplete_batch_is_left_out():
    # 5 items in batches of 3: one batch an epoch, the other two items wait for the next permutation
    scripted = Scripted(lambda call: [0.0], 1)
    settings = AscentSettings(n_restarts=1, max_steps=3, tol=0.0, batch_size=3)
    ascend_likelihood([scripted.theta], scripted, 5, settings, torch.Generator().manual_seed(4))
    generator = torch.Generator().manual_seed(4)
    expected = [torch.randperm(5, generator=generator)[:3].tolist() for _ in range(3)]
    assert [batch.tolist() for batch in scripted.batches[:3]] == expected


def test_a_batch_as_large_as_the_data_is_full_batch():
    scripted = Scripted(lambda call: [0.0], 1)
    trace = ascend_likelihood([scripted.theta], scripted, 5, AscentSettings(n_restarts=1, tol=0.0, batch_size=5),
                              torch.Generator())
    assert scripted.batches == [None] * (trace.steps + 1) and trace.converged and trace.steps == 11


# ------------------------------------------------------------------------------------------ mirror ascent
class Contraction:
    """A model for :func:`mirror_ascend_likelihood` whose unit step is, for restart ``r``, the affine
    contraction ``θ ↦ c_r + A_r (θ − c_r)`` of its flattened parameters — two tensors, ``(R, 2)`` and
    ``(R, 1, 2)``, so the step lengths are taken over both — and whose objective is ``J(θ) = −‖θ − c_r‖²``
    unless ``objective`` is given (numpy ``(R, 4) -> (R,)``, told the 0-based evaluate call). Records where
    every evaluate and every unit step was; ``collapse(call)`` is the ``(R, K)`` mask of unit step ``call``
    (1-based)."""

    def __init__(self, maps: np.ndarray, centres: np.ndarray, start: np.ndarray,
                 objective: Callable[[np.ndarray, int], np.ndarray] | None = None,
                 collapse: Callable[[int], np.ndarray] | None = None) -> None:
        self.maps, self.centres = np.asarray(maps, dtype=float), np.asarray(centres, dtype=float)
        start = np.asarray(start, dtype=float)
        self.n = len(start)
        self.objective = objective or (lambda theta, call: -np.square(theta - self.centres).sum(1))
        self.collapse = collapse
        self.first = torch.tensor(start[:, :2])
        self.second = torch.tensor(start[:, 2:]).reshape(self.n, 1, 2)
        self.evaluated: list[np.ndarray] = []
        self.stepped_from: list[np.ndarray] = []

    def step(self, theta: np.ndarray) -> np.ndarray:
        return self.centres + np.einsum("rij,rj->ri", self.maps, theta - self.centres)

    def flat(self) -> np.ndarray:
        return np.concatenate([self.first.numpy(), self.second.reshape(self.n, -1).numpy()], 1)

    def evaluate(self) -> tuple[Tensor, Tensor]:
        theta = self.flat()
        self.evaluated.append(theta)
        return torch.from_numpy(self.objective(theta, len(self.evaluated) - 1)), torch.from_numpy(theta.copy())

    def unit_step(self, posteriors: Tensor) -> tuple[list[Tensor], Tensor]:
        theta = posteriors.numpy().copy()
        self.stepped_from.append(theta)
        target = self.step(theta)
        mask = np.zeros((self.n, 1), dtype=bool) if self.collapse is None else self.collapse(len(self.stepped_from))
        return ([torch.from_numpy(target[:, :2].copy()), torch.from_numpy(target[:, 2:].reshape(self.n, 1, 2).copy())],
                torch.as_tensor(mask))

    def fit(self, settings: AscentSettings, **options) -> FitTrace:
        return mirror_ascend_likelihood([self.first, self.second], self.evaluate, self.unit_step, settings, **options)


def scalar_maps(rates: Sequence[float]) -> np.ndarray:
    """``A_r = λ_r I``: every coordinate's error shrinks by ``λ_r`` a unit step."""
    return np.stack([rate * np.eye(4) for rate in rates])


def squarem_reference(model: Contraction, max_steps: int, tol: float) -> dict:
    """The documented iteration in plain numpy, with ``model``'s own map and objective, for restarts that do not
    collapse: ``θ₁ = M(θ₀)``, ``θ₂ = M(θ₁)``, ``r = θ₁ − θ₀``, ``v = θ₂ − θ₁ − r``, ``a = min(max(1, ‖r‖/‖v‖),
    a_max)``, ``θ' = θ₀ + 2ar + a²v``; a restart whose ``J(θ')`` is not finite steps from ``θ₂`` instead, and one
    whose ``J(M(θ'))`` is below ``J(θ₀)`` (or NaN) ends at ``M(θ₂)``, while in that iteration the others take a
    unit step more; ``a_max`` starts at 1 and is ×4 after an accepted, ÷4 (not below 1) after a refused step
    taken at the cap. Stop once every restart rose by at most ``tol`` in an iteration, or trails the best such
    one by more than its last rise times the iterations left; what is left of the budget: plain unit steps.
    Returns the history, the points unit steps were taken from, the final θ, steps, converged and, per iteration,
    (a, a_max, extrapolated point not finite, refused)."""
    def objective(theta: np.ndarray) -> np.ndarray:
        return model.objective(theta, -1)

    theta = model.flat()
    cap = np.ones(model.n)
    here = objective(theta)
    history, inputs, events = [], [], []
    steps, converged = 0, False
    while steps + 3 <= max_steps:
        first = model.step(theta)
        second = model.step(first)
        inputs += [theta, first]
        r, v = first - theta, second - 2 * first + theta
        r_norm, v_norm = np.sqrt(np.square(r).sum(1)), np.sqrt(np.square(v).sum(1))
        ratio = np.array([rn / vn if vn > 0 else (math.inf if rn > 0 else 0.0) for rn, vn in zip(r_norm, v_norm)])
        a = np.minimum(np.maximum(ratio, 1.0), cap)
        extrapolated = theta + 2 * a[:, None] * r + (a * a)[:, None] * v
        not_finite = ~np.isfinite(objective(extrapolated))
        extrapolated[not_finite] = second[not_finite]
        inputs.append(extrapolated)
        arrived = model.step(extrapolated)
        with np.errstate(invalid="ignore"):
            refused = not_finite | ~(objective(arrived) >= here)
        if refused.any():
            back = np.where(refused[:, None], second, arrived)
            inputs.append(back)
            arrived = model.step(back)
        events.append((a, cap, not_finite, refused))
        at_cap = a >= cap
        cap = np.where(at_cap & ~refused, cap * 4, np.where(at_cap & refused, np.maximum(cap / 4, 1.0), cap))
        theta, steps = arrived, steps + 3
        here = objective(theta)
        history.append(here)
        if len(history) > 1:
            rise = np.abs(history[-1] - history[-2])
            settled = rise <= tol
            if settled.any() and (settled | (here[settled].max() - here > rise * ((max_steps - steps) // 3))).all():
                converged = True
                break
    while not converged and steps < max_steps:
        inputs.append(theta)
        theta, steps = model.step(theta), steps + 1
        history.append(objective(theta))
    return {"history": np.array(history), "inputs": inputs, "theta": theta, "steps": steps, "converged": converged,
            "events": events}


def random_contractions(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Symmetric maps with eigenvalues in [0, 0.995) (slow directions make SQUAREM stretch its steps), their
    fixed points, and starts below them in every coordinate."""
    rng = np.random.default_rng(seed)
    maps = []
    for _ in range(n):
        q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
        maps.append(q @ np.diag(rng.uniform(0.0, 0.995, size=4)) @ q.T)
    centres = rng.normal(size=(n, 4))
    return np.stack(maps), centres, centres - np.abs(rng.normal(size=(n, 4))) * 2


def test_mirror_ascent_takes_the_documented_squarem_steps_with_its_fallbacks_and_step_caps():
    # J punishes passing the fixed point in the first coordinate and is −inf half a unit past it in the second,
    # so stretched steps are refused for either reason; 29 unit steps: 9 iterations and 2 plain steps
    maps, centres, start = random_contractions(280, 3)

    def objective(theta: np.ndarray, call: int) -> np.ndarray:
        value = -np.square(theta - centres).sum(1) - 4 * np.maximum(theta[:, 0] - centres[:, 0], 0)
        return np.where(theta[:, 1] < centres[:, 1] + 0.5, value, -np.inf)

    model = Contraction(maps, centres, start, objective)
    expected = squarem_reference(Contraction(maps, centres, start, objective), 29, 0.0)
    events = expected["events"]
    # the scenario exercises every branch of the rule
    assert sum(int(e[2].sum()) for e in events) >= 1 and sum(int((e[3] & ~e[2]).sum()) for e in events) >= 2
    assert any((later[1] < earlier[1]).any() for earlier, later in zip(events, events[1:]))  # a cap shrank
    assert any(((e[0] > 1) & (e[0] < e[1])).any() for e in events)  # a length between 1 and the cap
    assert max(e[1].max() for e in events) >= 64
    trace = model.fit(AscentSettings(n_restarts=3, max_steps=29, tol=0.0))
    assert trace.steps == 29 and trace.converged is False and not expected["converged"]
    assert len(model.stepped_from) == len(expected["inputs"])
    for seen, wanted in zip(model.stepped_from, expected["inputs"]):
        np.testing.assert_allclose(seen, wanted, rtol=1e-12, atol=1e-12)
    assert trace.history.shape == (11, 3) and trace.history.dtype == torch.float64
    np.testing.assert_allclose(trace.history.numpy(), expected["history"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.flat(), expected["theta"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(trace.objectives.numpy(), expected["history"][-1], rtol=1e-12, atol=1e-12)
    assert trace.best_restart == int(np.argmax(expected["history"][-1])) and trace.collapses == ()


def no_refusals(model: Contraction, max_steps: int) -> dict:
    """The reference run of ``model``, checked to refuse no step (so a collapsed restart cannot change what the
    others do) and not to converge."""
    expected = squarem_reference(model, max_steps, 0.0)
    assert not any(e[3].any() for e in expected["events"]) and not expected["converged"]
    return expected


def test_a_restart_whose_unit_step_collapses_is_dropped_and_frozen_where_that_step_began():
    # restart 1's unit step k flags components 1 and 2 (and keeps flagging them); 8 unit steps: two iterations
    # (steps 1-3 and 4-6, the third of each from the extrapolated point) and two plain steps (7, 8)
    maps, centres, start = random_contractions(3, 3)
    expected = no_refusals(Contraction(maps, centres, start), 8)
    describe = ("the points it explains have variance below min_variance = 0.25 along some direction, so shrinking "
                "onto them raises the likelihood without bound")
    for k in (1, 2, 3, 4, 6, 7, 8):
        def collapse(call: int, k: int = k) -> np.ndarray:
            mask = np.zeros((3, 3), dtype=bool)
            mask[1, 1:] = call >= k
            return mask

        model = Contraction(maps, centres, start, collapse=collapse)
        trace = model.fit(AscentSettings(n_restarts=3, max_steps=8, tol=0.0, min_variance=0.25))
        assert trace.collapses == (Collapse(1, 1, k, describe),), k
        caught = model.stepped_from[k - 1][1]  # where restart 1's k-th unit step began
        np.testing.assert_allclose(caught, expected["inputs"][k - 1][1], rtol=1e-12, atol=1e-12)
        for j, seen in enumerate(model.stepped_from):
            np.testing.assert_allclose(seen[[0, 2]], expected["inputs"][j][[0, 2]], rtol=1e-12, atol=1e-12)
            if j >= k - 1:
                assert np.array_equal(seen[1], caught), (k, j)
        assert len(model.stepped_from) == 8
        # every evaluation after the drop, the extrapolated points' too, sees it where it was caught
        # (k evaluations come before the k-th unit step: one at the start and one after each step)
        assert all(np.array_equal(theta[1], caught) for theta in model.evaluated[k:]), k
        np.testing.assert_allclose(model.flat()[[0, 2]], expected["theta"][[0, 2]], rtol=1e-12, atol=1e-12)
        assert np.array_equal(model.flat()[1], caught)
        assert trace.objectives[1].item() == -math.inf and trace.steps == 8 and trace.converged is False
        np.testing.assert_allclose(trace.objectives.numpy()[[0, 2]], expected["history"][-1][[0, 2]], rtol=1e-12)
        assert trace.best_restart == [0, 2][int(np.argmax(expected["history"][-1][[0, 2]]))]


def halving(n_restarts: int, objective: Callable[[np.ndarray, int], np.ndarray] | None = None,
            collapse: Callable[[int], np.ndarray] | None = None) -> Contraction:
    """Every restart's unit step halves the distance to 1 in each of its 4 coordinates, from 0: after ``n`` unit
    steps every coordinate is ``1 − 2⁻ⁿ`` and ``J = −4·4⁻ⁿ``; ``‖r‖/‖v‖ = 2``, so a length of 2 lands on 1."""
    return Contraction(scalar_maps([0.5] * n_restarts), np.ones((n_restarts, 4)), np.zeros((n_restarts, 4)),
                       objective, collapse)


def test_a_refused_step_falls_back_to_the_second_unit_step_and_the_others_take_a_fourth():
    # Restart 0's J is −100 at 1 − 2⁻³, where its first iteration ends (a = 1: θ' = θ₂, M(θ') = θ₃): below J(θ₀),
    # so it is refused and restart 0 takes M(θ₂) = θ₃ (not checked again), while restart 1 takes a fourth unit
    # step. Restart 0's cap stays at 1 (÷4, not below 1), restart 1's grows to 4.
    def objective(theta: np.ndarray, call: int) -> np.ndarray:
        value = -np.square(theta - 1).sum(1)
        value[0] = -100.0 if theta[0, 0] == 1 - 2.0 ** -3 else value[0]
        return value

    model = halving(2, objective)
    trace = model.fit(AscentSettings(n_restarts=2, max_steps=6, tol=0.0))
    points = [1 - 2.0 ** -n for n in range(7)]
    # iteration 1: θ₀, θ₁, θ' = θ₂, then (restart 0 back at θ₂, restart 1 at θ₃); iteration 2 of restart 0 from
    # θ₃ with a = 1 again: θ₃, θ₄, θ' = θ₅; restart 1 from θ₄ with a = 2: θ₄, θ₅, θ' = 1
    assert [s[:, 0].tolist() for s in model.stepped_from] == [
        [points[0]] * 2, [points[1]] * 2, [points[2]] * 2, [points[2], points[3]],
        [points[3], points[4]], [points[4], points[5]], [points[5], 1.0]]
    assert trace.history.tolist() == [[-100.0, -4 * 4.0 ** -4], [-4 * 4.0 ** -6, 0.0]]
    assert trace.steps == 6 and trace.best_restart == 1 and trace.converged is False


def test_a_refusal_at_a_longer_cap_divides_it_by_step_growth():
    # One restart, every coordinate's error shrinking by λ = 63/64 a unit step: ‖r‖/‖v‖ = 1/(1 − λ) = 64 and a
    # stretched step of length a multiplies the error by λ(1 − a/64)² (all dyadic: exact). Caps 1, 4, 16: the
    # third iteration's step (a = 16) is refused by a J of −100 where it arrives, so it ends at M(θ₂) and the
    # fourth iteration's cap is 16/4 = 4.
    assert STEP_GROWTH == 4.0
    rate = 63 / 64
    error = [-1.0]  # error after each iteration
    error.append(rate**3 * error[-1])  # a = 1: θ' = θ₂
    error.append(rate * (1 - 4 / 64) ** 2 * error[-1])
    refused = 1 + rate * (1 - 16 / 64) ** 2 * error[-1]
    error.append(rate**3 * error[-1])  # the fallback
    error.append(rate * (1 - 4 / 64) ** 2 * error[-1])

    def objective(theta: np.ndarray, call: int) -> np.ndarray:
        return np.where(theta[:, 0] == refused, -100.0, -np.square(theta - 1).sum(1))

    model = Contraction(scalar_maps([rate]), np.ones((1, 4)), np.zeros((1, 4)), objective)
    trace = model.fit(AscentSettings(n_restarts=1, max_steps=12, tol=0.0))
    starts = [1 + e for e in error]
    np.testing.assert_allclose([float(s[0, 0]) for s in model.stepped_from], [
        starts[0], 1 + rate * error[0], 1 + rate**2 * error[0],
        starts[1], 1 + rate * error[1], 1 + (1 - 4 / 64) ** 2 * error[1],
        starts[2], 1 + rate * error[2], 1 + (1 - 16 / 64) ** 2 * error[2], 1 + rate**2 * error[2],
        starts[3], 1 + rate * error[3], 1 + (1 - 4 / 64) ** 2 * error[3]], rtol=1e-14, atol=0)
    assert float(model.flat()[0, 0]) == pytest.approx(starts[4], rel=1e-14)
    np.testing.assert_allclose(trace.history[:, 0].numpy(), [-4 * e * e for e in error[1:]], rtol=1e-13, atol=0)


def test_a_collapse_in_the_fallbacks_unit_step_is_dated_to_the_iterations_third_step():
    # as above, restart 0 is refused in the first iteration; restart 1's fourth unit step (the fallback's, from
    # θ₃) flags component 2: it is caught at step 3 and stays at θ₃
    def objective(theta: np.ndarray, call: int) -> np.ndarray:
        value = -np.square(theta - 1).sum(1)
        value[0] = -100.0 if theta[0, 0] == 1 - 2.0 ** -3 else value[0]
        return value

    def collapse(call: int) -> np.ndarray:
        return np.array([[False, False, False], [False, False, call >= 4]])

    model = halving(2, objective, collapse)
    trace = model.fit(AscentSettings(n_restarts=2, max_steps=6, tol=0.0, min_variance=1e-3))
    assert [(c.restart, c.component, c.step) for c in trace.collapses] == [(1, 2, 3)]
    assert [s[1, 0] for s in model.stepped_from[3:]] == [1 - 2.0 ** -3] * 4
    assert trace.objectives.tolist() == [-4 * 4.0 ** -6, -math.inf] and trace.best_restart == 0


def test_an_unchanged_objective_is_not_a_fall():
    # J is flat: the stretched step's J equals J(θ₀), which is accepted, so the cap grows and the second
    # iteration's length 2 lands on the fixed point; no fallback step is taken. Flat means settled: the fit
    # stops after two iterations (the rise test needs two).
    model = halving(1, lambda theta, call: np.zeros(1))
    trace = model.fit(AscentSettings(n_restarts=1, max_steps=30, tol=0.0))
    assert [s[0, 0] for s in model.stepped_from] == [0.0, 0.5, 0.75, 0.875, 0.9375, 1.0]
    assert trace.converged is True and trace.steps == 6 and trace.history.tolist() == [[0.0], [0.0]]
    # at the fixed point r = v = 0: a length of 1 takes it nowhere, and nothing is refused
    model = Contraction(scalar_maps([0.5, 0.25]), np.ones((2, 4)), np.ones((2, 4)))
    trace = model.fit(AscentSettings(n_restarts=2, max_steps=30, tol=0.0))
    assert len(model.stepped_from) == 6 and all(np.array_equal(s, np.ones((2, 4))) for s in model.stepped_from)
    assert trace.converged is True and trace.steps == 6 and trace.objectives.tolist() == [0.0, 0.0]


def test_the_step_cap_grows_by_step_growth_after_every_accepted_step_at_the_cap():
    # From 0 the unit step moves θ by +1 twice (r = 1, v = 0: ‖r‖/‖v‖ is unbounded), and from anywhere else
    # back to 0; J rises with every evaluation. So every iteration starts at 0, its length is its cap,
    # 4^(k−1) in iteration k, and its stretched point is 2·4^(k−1). After 64 iterations the cap is 2^128, beyond
    # float32's range: the cap is kept in the objective's dtype (float64), whatever the posteriors' dtype (here
    # an opaque float32 token).
    theta = torch.zeros(1, 1, dtype=torch.float64)
    seen: list[float] = []
    calls = {"n": 0}

    def evaluate() -> tuple[Tensor, Tensor]:
        calls["n"] += 1
        return torch.tensor([float(calls["n"])], dtype=torch.float64), torch.zeros(1, dtype=torch.float32)

    def unit_step(posteriors: Tensor) -> tuple[list[Tensor], Tensor]:
        seen.append(float(theta))
        return [theta + 1 if float(theta) < 1.5 else torch.zeros_like(theta)], torch.zeros(1, 1, dtype=torch.bool)

    iterations = 66
    trace = mirror_ascend_likelihood([theta], evaluate, unit_step,
                                     AscentSettings(n_restarts=1, max_steps=3 * iterations, tol=0.0))
    expected = [x for k in range(1, iterations + 1) for x in (0.0, 1.0, 2 * 4.0 ** (k - 1))]
    assert 4.0 ** 64 == 2.0**128 > float(torch.finfo(torch.float32).max)
    assert seen == expected and trace.steps == 3 * iterations and float(theta) == 0.0
    assert trace.history[:, 0].tolist() == [float(3 * k + 1) for k in range(1, iterations + 1)]


def test_a_precision_trace_beyond_one_over_min_variance_after_an_iteration_drops_the_restart():
    # after the second iteration (step 6) restart 2's component 0 has tr Σ⁻¹ = 6 > 1/min_variance = 4;
    # restart 0 sits exactly at 4 and restart 1 at min_variance itself: neither collapses
    calls = {"n": 0}

    def traces() -> Tensor:
        calls["n"] += 1
        late = calls["n"] >= 2
        return torch.tensor([[4.0, 1.0], [0.25, 0.25], [6.0 if late else 1.0, 7.0 if late else 1.0]],
                            dtype=torch.float64)

    maps, centres, start = random_contractions(3, 3)
    expected = no_refusals(Contraction(maps, centres, start), 12)
    model = Contraction(maps, centres, start)
    trace = model.fit(AscentSettings(n_restarts=3, max_steps=12, tol=0.0, min_variance=0.25),
                      precision_traces=traces)
    assert trace.collapses == (Collapse(2, 0, 6, "tr Σ⁻¹ = 6 > 1/min_variance = 4 in standardized units"),)
    caught = model.stepped_from[6][2]  # where the third iteration began
    np.testing.assert_allclose(caught, expected["inputs"][6][2], rtol=1e-12, atol=1e-12)
    assert all(np.array_equal(s[2], caught) for s in model.stepped_from[6:]) and len(model.stepped_from) == 12
    assert np.array_equal(model.flat()[2], caught) and trace.objectives[2].item() == -math.inf
    np.testing.assert_allclose(model.flat()[:2], expected["theta"][:2], rtol=1e-12, atol=1e-12)
    assert calls["n"] == 4 and trace.steps == 12


def test_mirror_ascent_collapse_errors_name_the_unit_the_restart_and_the_step():
    def collapse(call: int) -> np.ndarray:
        return np.array([[False, False], [False, call >= 2]])

    with pytest.raises(CovarianceCollapseError) as caught:
        halving(2, collapse=collapse).fit(AscentSettings(n_restarts=2, max_steps=6, min_variance=0.5,
                                                         on_collapse="raise"))
    assert str(caught.value) == (
        "collapse in restart 1: the covariance of component 1 collapsed at step 2 (the points it explains have "
        "variance below min_variance = 0.5 along some direction, so shrinking onto them raises the likelihood "
        "without bound); the likelihood is unbounded there. Use fewer components, more data, "
        "covariance_type='diag', or more restarts")
    with pytest.raises(CovarianceCollapseError, match="every restart collapsed; the first was restart 0: the "
                                                      "covariance of state 1 collapsed at step 3") as caught:
        model = halving(1, collapse=lambda call: np.array([[False, call >= 3]]))
        model.fit(AscentSettings(n_restarts=1, max_steps=6, min_variance=0.5), unit="state")
    assert (caught.value.restart, caught.value.component, caught.value.step) == (0, 1, 3)


def test_a_non_finite_objective_after_an_iteration_names_the_first_live_restart():
    # restart 0 is dropped at step 1 and its J is then NaN; from the second iteration's stretched point on
    # (evaluation 5) restarts 1 and 2 have NaN and −inf: refused, their fallback is no better, so the fit stops
    # after step 6 naming restart 1, never the dropped restart 0
    def objective(theta: np.ndarray, call: int) -> np.ndarray:
        return np.array([math.nan if call >= 2 else 0.0, math.nan if call >= 5 else -1.0,
                         -math.inf if call >= 5 else -1.0])

    def collapse(call: int) -> np.ndarray:
        return np.array([[call >= 1], [False], [False]])

    with pytest.raises(FloatingPointError) as caught:
        halving(3, objective, collapse).fit(AscentSettings(n_restarts=3, max_steps=30, tol=0.0, min_variance=1e-3))
    assert str(caught.value) == "the log-likelihood of restart 1 became nan at step 6"
    with pytest.raises(FloatingPointError, match="^the log-likelihood of restart 2 became -inf at step 6$"):
        halving(3, lambda theta, call: np.array([0.0, 0.0, -math.inf if call >= 5 else 0.0])).fit(
            AscentSettings(n_restarts=3, max_steps=30, tol=0.0))


def rising_trailer(gap: float) -> Callable[[np.ndarray, int], np.ndarray]:
    """Restart 0 settled at 0; restart 1 at ``−gap + i/64`` after iteration ``i`` (three evaluations an
    iteration: θ₁, θ', the arrival), so it never falls and rises by 1/64 an iteration."""
    return lambda theta, call: np.array([0.0, -gap + (call // 3) / 64])


def test_a_trailer_is_given_up_by_iterations_left_in_whole_iterations():
    # max_steps 32: after iteration 2 (step 6) there are 26 steps left, 8 whole iterations (the 2 steps of the
    # ninth are plain unit steps). Restart 1 trails by 8.5/64 and rises 1/64 an iteration: it could close 8/64,
    # not 8.5/64, so it is given up at once.
    trace = halving(2, rising_trailer(10.5 / 64)).fit(AscentSettings(n_restarts=2, max_steps=32, tol=0.0))
    assert trace.converged is True and trace.steps == 6 and trace.best_restart == 0
    assert trace.history.tolist() == [[0.0, -9.5 / 64], [0.0, -8.5 / 64]]


def test_a_trailer_that_can_catch_up_in_the_iterations_left_is_waited_for_whatever_the_window():
    # trailing by 7/64 after iteration 2 with 8 iterations left, then by 6/64 with 7 left, ...: never beyond
    # reach, so the fit runs 10 iterations and ends with 2 plain unit steps (evaluations 31, 32). The window
    # is one iteration whatever the settings say.
    trace = halving(2, rising_trailer(9 / 64)).fit(AscentSettings(n_restarts=2, max_steps=32, tol=0.0, window=5))
    assert trace.converged is False and trace.steps == 32
    assert trace.history[:, 1].tolist() == [(-9 + i) / 64 for i in range(1, 11)] + [1 / 64, 1 / 64]
    assert trace.history[:, 0].tolist() == [0.0] * 12 and trace.objectives.tolist() == [0.0, 1 / 64]
    assert trace.best_restart == 1
