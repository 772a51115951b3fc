"""Ascent's options that torch.optim lacks, against a few lines of plain Python float arithmetic.

torch.optim has no decoupled weight decay for SGD, Adagrad or RMSprop, no clipping inside the
optimizer and no escape strategies, so ``test_ascent_equivalence`` can only check these options
path against path. Here each option has its own reference: the update rule from the docstring
written out element by element on Python floats, stepped alongside Ascent on every path (for-loop,
multi-tensor, fused where torch has a kernel) for several steps in float64 and compared to 1e-12.

The objective J(θ) = Σ_k Σ_i −a_k (θ_ki − b_ki)² / 2 + c_k θ_ki has the gradient
∇J_ki = −a_k (θ_ki − b_ki) + c_k, which the reference evaluates on floats too. Random draws of the
escape strategies come from a ``torch.Generator`` seeded like the strategy's and read in the
documented order (one normal tensor per parameter, then for a perturbation one uniform number); all
arithmetic on them is the reference's own.
"""

from __future__ import annotations

import math

import pytest
import torch

from ascentrl import Ascent, GradientNoise, PerturbedAscent

STEPS = 6
TOLERANCE = 1e-12
SHAPES = ((3,), (2, 2))
CURVATURE = (1.5, 0.7)
"""a_k of each parameter tensor."""
SLOPE = (0.4, -2.5)
"""c_k of each parameter tensor."""
PATHS = {"forloop": dict(foreach=False), "foreach": dict(foreach=True), "fused": dict(fused=True)}


def _initial(shapes=SHAPES) -> list[list[float]]:
    generator = torch.Generator().manual_seed(3)
    return [torch.randn(shape, generator=generator, dtype=torch.float64).flatten().tolist() for shape in shapes]


def _centres(shapes=SHAPES) -> list[list[float]]:
    generator = torch.Generator().manual_seed(4)
    return [torch.randn(shape, generator=generator, dtype=torch.float64).flatten().tolist() for shape in shapes]


def _gradient(theta: list[list[float]], shapes=SHAPES) -> list[list[float]]:
    """∇J on floats."""
    centres = _centres(shapes)
    return [[-CURVATURE[k % 2] * (x - b) + SLOPE[k % 2] for x, b in zip(values, centres[k])]
            for k, values in enumerate(theta)]


def _run_ascent(options: dict, steps: int = STEPS, shapes=SHAPES, escape=None) -> list[list[list[float]]]:
    """θ after each step of Ascent on J, as nested float lists."""
    params = [torch.tensor(values, dtype=torch.float64).reshape(shape).requires_grad_()
              for values, shape in zip(_initial(shapes), shapes)]
    centres = [torch.tensor(values, dtype=torch.float64).reshape(shape)
               for values, shape in zip(_centres(shapes), shapes)]
    optimizer = Ascent(params, escape=escape, **options)
    history = []
    for _ in range(steps):
        optimizer.zero_grad()
        objective = sum((-CURVATURE[k % 2] * (p - b).pow(2) / 2 + SLOPE[k % 2] * p).sum()
                        for k, (p, b) in enumerate(zip(params, centres)))
        objective.backward()
        optimizer.step()
        history.append([p.detach().flatten().tolist() for p in params])
    return history


def _assert_close(ours: list[list[list[float]]], reference: list[list[list[float]]]) -> None:
    for step, (theta, expected) in enumerate(zip(ours, reference, strict=True)):
        for got, want in zip(theta, expected, strict=True):
            for x, y in zip(got, want, strict=True):
                assert abs(x - y) <= TOLERANCE, f"step {step + 1}: {x!r} != reference {y!r}"


def _reference(update, steps: int = STEPS, shapes=SHAPES) -> list[list[list[float]]]:
    """Step ``update(theta, grad, t)`` (which returns the new θ) on floats."""
    theta = _initial(shapes)
    history = []
    for t in range(steps):
        theta = update(theta, _gradient(theta, shapes), t)
        history.append(theta)
    return history


# ------------------------------------------------------------------------ decoupled weight decay
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("momentum", [0.0, 0.6])
def test_decoupled_sgd_weight_decay_shrinks_by_one_minus_lr_times_decay(path, momentum):
    lr, decay, dampening = 0.1, 0.5, 0.2
    buffers: list[list[float]] = []

    def update(theta, grad, t):
        # θ ← (1 − ηλ)θ, then SGD on ĝ = −∇J (evaluated before the decay).
        new = []
        for k, (values, g) in enumerate(zip(theta, grad)):
            direction = [-gi for gi in g]
            if momentum:
                if t == 0:
                    buffers.append(direction)
                else:
                    buffers[k] = [momentum * b + (1 - dampening) * d for b, d in zip(buffers[k], direction)]
                direction = buffers[k]
            new.append([(1 - lr * decay) * x - lr * d for x, d in zip(values, direction)])
        return new

    options = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=decay, decoupled_weight_decay=True)
    _assert_close(_run_ascent({**options, **PATHS[path]}), _reference(update))


@pytest.mark.parametrize("path", PATHS)
def test_decoupled_adagrad_weight_decay(path):
    lr, decay, eps = 0.3, 0.4, 1e-10
    sums = [[0.0] * len(values) for values in _initial()]

    def update(theta, grad, t):
        new = []
        for k, (values, g) in enumerate(zip(theta, grad)):
            sums[k] = [s + gi * gi for s, gi in zip(sums[k], g)]
            new.append([(1 - lr * decay) * x + lr * gi / (math.sqrt(s) + eps)
                        for x, gi, s in zip(values, g, sums[k])])
        return new

    options = dict(lr=lr, adaptive="adagrad", eps=eps, weight_decay=decay, decoupled_weight_decay=True)
    _assert_close(_run_ascent({**options, **PATHS[path]}), _reference(update))


@pytest.mark.parametrize("path", ["forloop", "foreach"])
def test_decoupled_rmsprop_weight_decay(path):
    lr, decay, alpha, eps = 0.05, 0.3, 0.9, 1e-8
    averages = [[0.0] * len(values) for values in _initial()]

    def update(theta, grad, t):
        new = []
        for k, (values, g) in enumerate(zip(theta, grad)):
            averages[k] = [alpha * v + (1 - alpha) * gi * gi for v, gi in zip(averages[k], g)]
            new.append([(1 - lr * decay) * x + lr * gi / (math.sqrt(v) + eps)
                        for x, gi, v in zip(values, g, averages[k])])
        return new

    options = dict(lr=lr, adaptive="rmsprop", alpha=alpha, eps=eps, weight_decay=decay, decoupled_weight_decay=True)
    _assert_close(_run_ascent({**options, **PATHS[path]}), _reference(update))


# ------------------------------------------------------------------------------------- clipping
def _clip_norm_coefficient(grad: list[list[float]], limit: float) -> float:
    norm = math.sqrt(sum(gi * gi for g in grad for gi in g))
    return min(1.0, limit / (norm + 1e-6))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("tensors", [2, 6], ids=["few-tensors", "many-tensors"])
@pytest.mark.parametrize("clip", ["value", "norm", "both"])
def test_clipping_then_sgd(path, tensors, clip):
    """clip_value clamps each element; clip_norm scales the group's gradients to norm ≤ c
    (coefficient c / (‖g‖ + 1e-6), as torch.nn.utils.clip_grad_norm_); with both, the norm is the
    value-clipped gradients'. Two and six tensors take the per-parameter-buffer and multi-tensor copies."""
    shapes = (SHAPES * 3)[:tensors]
    lr, value_limit, norm_limit = 0.2, 0.9, 1.3
    use_value, use_norm = clip in ("value", "both"), clip in ("norm", "both")

    def update(theta, grad, t):
        if use_value:
            grad = [[max(-value_limit, min(value_limit, gi)) for gi in g] for g in grad]
        if use_norm:
            coefficient = _clip_norm_coefficient(grad, norm_limit)
            grad = [[coefficient * gi for gi in g] for g in grad]
        return [[x + lr * gi for x, gi in zip(values, g)] for values, g in zip(theta, grad)]

    options = dict(lr=lr, clip_value=value_limit if use_value else None, clip_norm=norm_limit if use_norm else None)
    reference = _reference(update, shapes=shapes)
    if use_norm:  # the clipping must be active for the check to mean anything
        assert _clip_norm_coefficient(_gradient(_initial(shapes), shapes), norm_limit) < 0.5
    _assert_close(_run_ascent({**options, **PATHS[path]}, shapes=shapes), reference)


@pytest.mark.parametrize("path", PATHS)
def test_clip_norm_then_adam(path):
    lr, limit, beta1, beta2, eps = 0.05, 0.5, 0.8, 0.95, 1e-8
    first = [[0.0] * len(values) for values in _initial()]
    second = [[0.0] * len(values) for values in _initial()]

    def update(theta, grad, t):
        coefficient = _clip_norm_coefficient(grad, limit)
        new = []
        for k, (values, g) in enumerate(zip(theta, grad)):
            loss_grad = [-coefficient * gi for gi in g]
            first[k] = [beta1 * m + (1 - beta1) * gi for m, gi in zip(first[k], loss_grad)]
            second[k] = [beta2 * v + (1 - beta2) * gi * gi for v, gi in zip(second[k], loss_grad)]
            new.append([x - lr * (m / (1 - beta1 ** (t + 1))) / (math.sqrt(v / (1 - beta2 ** (t + 1))) + eps)
                        for x, m, v in zip(values, first[k], second[k])])
        return new

    options = dict(lr=lr, adaptive="adam", betas=(beta1, beta2), eps=eps, clip_norm=limit)
    _assert_close(_run_ascent({**options, **PATHS[path]}), _reference(update))


# ------------------------------------------------------------------------------------- escapes
def _normals(generator: torch.Generator, shapes=SHAPES) -> list[list[float]]:
    return [torch.randn(shape, generator=generator, dtype=torch.float64).flatten().tolist() for shape in shapes]


@pytest.mark.parametrize("path", PATHS)
def test_gradient_noise_adds_annealed_gaussian_noise(path):
    """g ← g + σ_t z, σ_t = √(η / (1 + t)^γ), z drawn per tensor from the strategy's generator."""
    lr, eta, gamma, seed = 0.1, 0.3, 0.55, 11
    generator = torch.Generator().manual_seed(seed)

    def update(theta, grad, t):
        sigma = math.sqrt(eta / (1.0 + t) ** gamma)
        noise = _normals(generator)
        return [[x + lr * (gi + sigma * zi) for x, gi, zi in zip(values, g, z)]
                for values, g, z in zip(theta, grad, noise)]

    ours = _run_ascent(dict(lr=lr, **PATHS[path]), escape=GradientNoise(eta=eta, gamma=gamma, seed=seed))
    _assert_close(ours, _reference(update))


@pytest.mark.parametrize("path", PATHS)
def test_perturbed_ascent_jumps_uniformly_in_the_ball_when_the_gradient_is_small(path):
    """After the update, if ‖∇J‖ ≤ threshold and at least ``interval`` steps passed since the last
    jump: θ ← θ + r·u^(1/d)·z/‖z‖ with z normal per tensor and u uniform, both from the generator."""
    lr, threshold, radius, interval, seed = 0.3, 4.0, 0.7, 2, 5
    generator = torch.Generator().manual_seed(seed)
    dimension = sum(math.prod(shape) for shape in SHAPES)
    last = [None]
    jumps, waited = [], []

    def update(theta, grad, t):
        theta = [[x + lr * gi for x, gi in zip(values, g)] for values, g in zip(theta, grad)]
        norm = math.sqrt(sum(gi * gi for g in grad for gi in g))
        if norm <= threshold and (last[0] is None or t - last[0] >= interval):
            z = _normals(generator)
            z_norm = math.sqrt(sum(zi * zi for values in z for zi in values))
            u = float(torch.rand((), generator=generator, dtype=torch.float64))
            length = radius * u ** (1.0 / dimension)
            theta = [[x + length * zi / z_norm for x, zi in zip(values, zs)] for values, zs in zip(theta, z)]
            last[0] = t
            jumps.append(t)
        elif norm <= threshold:
            waited.append(t)
        return theta

    strategy = PerturbedAscent(threshold=threshold, radius=radius, interval=interval, seed=seed)
    reference = _reference(update)
    # The schedule must exercise both branches: a jump, a step skipped by the interval, and one
    # skipped because the gradient is too large.
    assert jumps and waited
    assert any(math.sqrt(sum(gi * gi for g in _gradient(theta) for gi in g)) > threshold
               for theta in [_initial(), *reference[:-1]])
    _assert_close(_run_ascent(dict(lr=lr, **PATHS[path]), escape=strategy), reference)
