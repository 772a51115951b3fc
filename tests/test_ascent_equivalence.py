"""Ascent against torch.optim's own implementations, and its three code paths against each other.

Independent truth: torch.optim.{SGD, Adam, AdamW, RMSprop, Adagrad} with ``maximize=True``
(float64, 120 steps, max |Δθ| ≤ 1e-10), and for Nesterov-Adam, which torch does not have,
Dozat's formula written out with Python floats.
"""

from __future__ import annotations

import math

import pytest
import torch

from ascentrl import Ascent, GradientNoise, PerturbedAscent

STEPS = 120

# (id, Ascent options, torch.optim factory) — one table, one generic test.
TORCH_EQUIVALENTS = [
    ("sgd", dict(lr=0.05), lambda p: torch.optim.SGD(p, lr=0.05, maximize=True)),
    ("sgd-momentum", dict(lr=0.02, momentum=0.9, dampening=0.1),
     lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9, dampening=0.1, maximize=True)),
    ("sgd-nesterov-wd", dict(lr=0.02, momentum=0.8, nesterov=True, weight_decay=0.05),
     lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.8, nesterov=True, weight_decay=0.05, maximize=True)),
    ("adam", dict(lr=0.01, adaptive="adam", betas=(0.8, 0.99), eps=1e-6),
     lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-6, maximize=True)),
    ("adam-wd", dict(lr=0.01, adaptive="adam", weight_decay=0.1),
     lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1, maximize=True)),
    ("adamw", dict(lr=0.01, adaptive="adam", weight_decay=0.1, decoupled_weight_decay=True),
     lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, maximize=True)),
    ("rmsprop", dict(lr=0.005, adaptive="rmsprop", alpha=0.9, eps=1e-6),
     lambda p: torch.optim.RMSprop(p, lr=0.005, alpha=0.9, eps=1e-6, maximize=True)),
    ("rmsprop-momentum-wd", dict(lr=0.005, adaptive="rmsprop", momentum=0.7, weight_decay=0.05),
     lambda p: torch.optim.RMSprop(p, lr=0.005, momentum=0.7, weight_decay=0.05, maximize=True)),
    ("adagrad", dict(lr=0.1, adaptive="adagrad", eps=1e-10),
     lambda p: torch.optim.Adagrad(p, lr=0.1, eps=1e-10, maximize=True)),
    ("adagrad-wd", dict(lr=0.1, adaptive="adagrad", weight_decay=0.05, eps=1e-10),
     lambda p: torch.optim.Adagrad(p, lr=0.1, weight_decay=0.05, eps=1e-10, maximize=True)),
]

PATHS = [dict(foreach=False), dict(foreach=True), dict(fused=True), dict()]


def objective(params: list[torch.Tensor]) -> torch.Tensor:
    """A smooth non-concave objective with a different gradient scale per tensor."""
    total = torch.zeros((), dtype=params[0].dtype)
    for index, param in enumerate(params):
        if param.numel():
            total = total - (index + 1) * (param - 0.3).pow(2).sum() + torch.sin(param * param.flip(0)).sum()
    return total


def make_params(seed: int = 0, shapes=((3, 4), (5,), (0,), (2, 2))) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=generator, dtype=torch.float64).requires_grad_() for shape in shapes]


def train(make_optimizer, steps: int = STEPS, params=None, frozen_after=None):
    params = make_params() if params is None else params
    optimizer = make_optimizer(params)
    for step in range(steps):
        optimizer.zero_grad()
        objective(params).backward()
        if frozen_after is not None and step >= frozen_after:
            params[1].grad = None  # frozen mid-training: no gradient from here on
        optimizer.step()
    return [p.detach().clone() for p in params], optimizer


def max_difference(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max(((x - y).abs().max().item() if x.numel() else 0.0) for x, y in zip(a, b))


def fused_supported(options: dict) -> bool:
    return options.get("adaptive") != "rmsprop" and not (options.get("adaptive") == "adam" and options.get("nesterov"))


@pytest.mark.parametrize("name, options, reference", TORCH_EQUIVALENTS, ids=[c[0] for c in TORCH_EQUIVALENTS])
@pytest.mark.parametrize("path", PATHS, ids=["forloop", "foreach", "fused", "default"])
def test_matches_torch_optim_with_maximize(name, options, reference, path):
    if path.get("fused") and not fused_supported(options):
        pytest.skip("torch has no fused kernel for this rule")
    expected, _ = train(reference)
    actual, _ = train(lambda p: Ascent(p, **options, **path))
    assert max_difference(actual, expected) <= 1e-10


def test_state_matches_torch_optim_state():
    """Same names and values as torch.optim's state, so state dicts are interchangeable."""
    _, ours = train(lambda p: Ascent(p, lr=0.01, adaptive="adam"), steps=20)
    _, theirs = train(lambda p: torch.optim.Adam(p, lr=0.01, maximize=True), steps=20)
    for mine, reference in zip(ours.state.values(), theirs.state.values()):
        assert set(mine) == set(reference)
        for key in ("exp_avg", "exp_avg_sq"):
            assert torch.allclose(mine[key], reference[key], rtol=0, atol=1e-12)
        assert float(mine["step"]) == float(reference["step"]) == 20


def test_nesterov_adam_matches_dozat_formula():
    """Nesterov-Adam on J(x) = −(x − 2)² + sin(3x), against Python floats."""
    lr, beta1, beta2, eps = 0.05, 0.9, 0.999, 1e-8
    x = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    optimizer = Ascent([x], lr=lr, adaptive="adam", nesterov=True, betas=(beta1, beta2), eps=eps)
    value, m, v = 0.5, 0.0, 0.0
    for t in range(1, 101):
        optimizer.zero_grad()
        (-(x - 2) ** 2 + torch.sin(3 * x)).sum().backward()
        optimizer.step()
        loss_grad = -(-2 * (value - 2) + 3 * math.cos(3 * value))
        m = beta1 * m + (1 - beta1) * loss_grad
        v = beta2 * v + (1 - beta2) * loss_grad**2
        first = beta1 * m / (1 - beta1 ** (t + 1)) + (1 - beta1) * loss_grad / (1 - beta1**t)
        value -= lr * first / (math.sqrt(v / (1 - beta2**t)) + eps)
        assert x.item() == pytest.approx(value, abs=1e-12)


PATH_CASES = [
    ("sgd-nesterov", dict(lr=0.02, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("sgd-decoupled", dict(lr=0.02, momentum=0.9, weight_decay=0.1, decoupled_weight_decay=True)),
    ("adam", dict(lr=0.01, adaptive="adam", weight_decay=0.01)),
    ("adamw-clip-norm", dict(lr=0.01, adaptive="adam", weight_decay=0.1, decoupled_weight_decay=True, clip_norm=0.5)),
    ("nadam", dict(lr=0.01, adaptive="adam", nesterov=True)),
    ("rmsprop-momentum", dict(lr=0.005, adaptive="rmsprop", momentum=0.5, weight_decay=0.01)),
    ("adagrad-decoupled", dict(lr=0.1, adaptive="adagrad", weight_decay=0.1, decoupled_weight_decay=True)),
    ("sgd-clip-both", dict(lr=0.02, momentum=0.5, clip_value=0.4, clip_norm=0.6)),
    ("adam-noise", dict(lr=0.01, adaptive="adam", escape=GradientNoise(eta=0.05, seed=3))),
    ("sgd-perturb", dict(lr=0.02, escape=PerturbedAscent(threshold=5.0, radius=0.05, interval=7, seed=1))),
]


@pytest.mark.parametrize("name, options", PATH_CASES, ids=[c[0] for c in PATH_CASES])
def test_forloop_foreach_and_fused_paths_agree(name, options):
    """Zero-size tensors, a parameter without gradient and one frozen halfway, in float64."""

    def build(path):
        def make(params):
            fresh = dict(options)
            if "escape" in fresh:  # each run needs its own strategy with the same seed
                fresh["escape"] = type(fresh["escape"])(**fresh["escape"].config())
            return Ascent(params, **fresh, **path)

        return make

    def run(path):
        params = make_params(shapes=((3, 4), (5,), (0,), (2, 2), (4,)))
        params[4].requires_grad_(False)  # never receives a gradient
        return train(build(path), params=params, frozen_after=STEPS // 2)[0]

    reference = run(dict(foreach=False))
    assert max_difference(run(dict(foreach=True)), reference) <= 1e-12
    if fused_supported(options):
        assert max_difference(run(dict(fused=True)), reference) <= 1e-12


def test_mixed_dtypes_take_every_path_consistently():
    """float32 and float64 parameters in one optimizer are bucketed and updated alike.

    (No norm clipping here: it couples the buckets, so float32 rounding would leak into the
    float64 parameter.)
    """

    def run(path):
        generator = torch.Generator().manual_seed(5)
        params = [
            torch.randn(6, generator=generator, dtype=torch.float64).requires_grad_(),
            torch.randn(6, generator=generator, dtype=torch.float32).requires_grad_(),
        ]
        optimizer = Ascent(params, lr=0.01, adaptive="adam", weight_decay=0.01, **path)
        for _ in range(50):
            optimizer.zero_grad()
            (-(params[0] - 1).pow(2).sum() - (params[1] + 1).pow(2).sum()).backward()
            optimizer.step()
        return [p.detach().double() for p in params]

    reference = run(dict(foreach=False))
    for path in (dict(foreach=True), dict(fused=True)):
        result = run(path)
        assert (result[0] - reference[0]).abs().max() <= 1e-12
        assert (result[1] - reference[1]).abs().max() <= 1e-5
