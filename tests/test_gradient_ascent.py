"""GradientAscent keeps the seed package's constructor and fixes each of its documented defects."""

from __future__ import annotations

import logging

import pytest
import torch

from ascentrl import Ascent, GradientAscent


def test_seed_readme_example_runs_unchanged():
    """The original README: Linear(1, 1), input 2.0, maximize −MSE to 3.0 for 1000 steps."""
    torch.manual_seed(0)

    class SimpleModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(1, 1)

        def forward(self, x):
            return self.fc(x)

    model = SimpleModel()
    optimizer = GradientAscent(model.parameters(), lr=0.01)
    data = torch.tensor([[2.0]])
    target = torch.tensor([[3.0]])
    for _ in range(1000):
        optimizer.zero_grad()
        output = model(data)
        loss = -torch.nn.functional.mse_loss(output, target)
        loss.backward()
        optimizer.step()
    assert model(data).item() == pytest.approx(3.0, abs=1e-3)


def test_seed_constructor_defaults_and_attributes():
    optimizer = GradientAscent(torch.nn.Linear(2, 2).parameters())
    assert isinstance(optimizer, torch.optim.Optimizer)
    assert (optimizer.lr, optimizer.momentum, optimizer.beta, optimizer.eps) == (0.01, 0.9, 0.999, 1e-8)
    assert optimizer.nesterov is False and optimizer.clip_value is None and optimizer.lr_decay is None
    assert optimizer.warmup_steps == 0 and optimizer.logging_interval == 10 and optimizer.step_count == 0


def test_is_adam_with_betas_momentum_beta():
    """Without warmup/decay/clipping it is exactly Adam(maximize=True, betas=(momentum, beta))."""

    def run(make):
        torch.manual_seed(1)
        x = torch.randn(6, dtype=torch.float64, requires_grad=True)
        optimizer = make([x])
        for _ in range(100):
            optimizer.zero_grad()
            (-(x - 1).pow(2).sum() + torch.sin(x).sum()).backward()
            optimizer.step()
        return x.detach()

    ours = run(lambda p: GradientAscent(p, lr=0.02, momentum=0.8, beta=0.99, logging_interval=None))
    theirs = run(lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), maximize=True))
    assert torch.allclose(ours, theirs, rtol=0, atol=1e-12)


def test_first_step_has_size_lr_not_31_times_lr():
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    optimizer = GradientAscent([x], lr=0.01)
    x.grad = torch.tensor([5.0, -0.2, 1e-3], dtype=torch.float64)
    optimizer.step()
    assert torch.allclose(x.detach().abs(), torch.full((3,), 0.01, dtype=torch.float64), rtol=1e-4)


def test_lr_decay_applies_once_per_step_whatever_the_number_of_tensors():
    params = [torch.zeros(1, requires_grad=True) for _ in range(5)]
    optimizer = GradientAscent(params, lr=0.1, lr_decay=0.5, logging_interval=None)
    used = []
    for _ in range(4):
        for p in params:
            p.grad = torch.ones(1)
        optimizer.step()
        used.append(optimizer.last_stats.lr)
    assert used == pytest.approx([0.1, 0.05, 0.025, 0.0125])
    assert optimizer.lr == 0.1  # the group's lr is left as the user (or a scheduler) set it


def test_warmup_is_linear_then_flat():
    x = torch.zeros(1, requires_grad=True)
    optimizer = GradientAscent([x], lr=0.4, warmup_steps=4, logging_interval=None)
    used = []
    for _ in range(6):
        x.grad = torch.ones(1)
        optimizer.step()
        used.append(optimizer.last_stats.lr)
    assert used == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.4])


def test_clip_value_reaches_the_update():
    """A huge gradient element is clamped before it enters the moments."""
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    clipped = GradientAscent([x], lr=0.01, clip_value=0.5)
    x.grad = torch.tensor([1e6, 0.1], dtype=torch.float64)
    clipped.step()
    y = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    reference = Ascent([y], lr=0.01, adaptive="adam", betas=(0.9, 0.999))
    y.grad = torch.tensor([0.5, 0.1], dtype=torch.float64)
    reference.step()
    assert torch.equal(x, y)
    assert clipped.state[x]["exp_avg_sq"][0].item() == pytest.approx(0.001 * 0.25)


def test_nesterov_is_bounded_unlike_the_seeds_growing_buffer():
    """With a constant gradient the seed's v = 2μv + g grew like 1.8ᵗ; ours stays below 1.5·lr per
    step (Nesterov-Adam's first step is (β₁(1−β₁)/(1−β₁²) + 1)·lr ≈ 1.47·lr, then it tends to lr)."""
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = GradientAscent([x], lr=0.01, nesterov=True, logging_interval=None)
    previous = 0.0
    for _ in range(50):
        x.grad = torch.ones(1, dtype=torch.float64)
        optimizer.step()
        assert 0 < x.item() - previous <= 0.015
        previous = x.item()


def test_logs_every_interval_and_never_prints(caplog, capsys):
    x = torch.zeros(1, requires_grad=True)
    optimizer = GradientAscent([x], logging_interval=3)
    with caplog.at_level(logging.INFO, logger="ascentrl.gradient_ascent"):
        for _ in range(9):
            x.grad = torch.ones(1)
            optimizer.step()
    messages = [r.getMessage() for r in caplog.records if r.name == "ascentrl.gradient_ascent"]
    assert [m.split(":")[0] for m in messages] == ["step 3", "step 6", "step 9"]
    assert "grad_norm=1" in messages[0]
    assert capsys.readouterr().out == ""


def test_exceptions_propagate():
    x = torch.zeros(1, requires_grad=True)
    optimizer = GradientAscent([x])

    def failing_closure():
        raise RuntimeError("objective failed")

    with pytest.raises(RuntimeError, match="objective failed"):
        optimizer.step(failing_closure)


def test_works_with_schedulers_and_state_dicts():
    x = torch.zeros(2, requires_grad=True)
    optimizer = GradientAscent([x], lr=0.1, warmup_steps=2, logging_interval=None)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    used = []
    for _ in range(3):
        x.grad = torch.ones(2)
        optimizer.step()
        scheduler.step()
        used.append(optimizer.last_stats.lr)
    assert used == pytest.approx([0.05, 0.05, 0.025])  # warmup factor × scheduler's lr
    restored = GradientAscent([x], lr=0.1, warmup_steps=2, logging_interval=None)
    restored.load_state_dict(optimizer.state_dict())
    assert restored.step_count == 3 and restored.lr == pytest.approx(0.0125)


@pytest.mark.parametrize(
    "kwargs, name",
    [(dict(lr_decay=0.0), "lr_decay"), (dict(lr_decay=1.5), "lr_decay"), (dict(warmup_steps=-1), "warmup_steps"),
     (dict(logging_interval=0), "logging_interval"), (dict(momentum=1.0), "betas"), (dict(beta=-0.5), "betas"),
     (dict(lr=-1.0), "lr"), (dict(eps=0.0), "eps"), (dict(clip_value=-1.0), "clip_value")],
)
def test_bad_input_names_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        GradientAscent([torch.zeros(1, requires_grad=True)], **kwargs)
