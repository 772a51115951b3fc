"""The likelihood-fitting loop of ascentrl.applications.fitting, driven directly with tiny hand-built objectives.

Checked: the settings' validation and their full-batch/mirror rules, ``log_frequencies`` and
``record_fit`` against hand-computed values, and :func:`ascend_likelihood` on objectives whose values
are scripted step by step while their gradient is a known constant or a quadratic's — so every
step's learning rate, the plateau schedule, the convergence band, the "hopeless trailer" rule, the
collapse watch (records, freezing, errors and their messages), the end-of-fit variance check, the
non-finite guard and the minibatch order can each be predicted exactly.

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
from ascentrl.applications.fitting import Collapse, FitTrace, ascend_likelihood, log_frequencies, record_fit

BETA1, BETA2, EPS = 0.9, 0.99, 1e-8  # the NAdam the fit documents (Ascent's default eps)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny tensors: a second thread costs more than it saves."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
