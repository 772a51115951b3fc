"""Escape strategies' contracts the optimizer tests leave open (found by mutation testing): the
perturbation rule's boundaries, its exact jump against the formula recomputed with an independent
generator, and a strategy rebuilt from its state dict continuing exactly."""

from __future__ import annotations

import math

import pytest
import torch

from ascentrl.escape import ESCAPE_STRATEGIES, EscapeStrategy, GradientNoise, PerturbedAscent


def parameters() -> list[torch.Tensor]:
    """Seven float64 zeros in two tensors."""
    return [torch.zeros(3, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64)]


def test_the_threshold_is_inclusive_and_nothing_happens_without_a_norm_or_parameters():
    assert PerturbedAscent(threshold=0.5, interval=1).after_update(parameters(), 0.5, step=0)
    above = PerturbedAscent(threshold=0.5, interval=1)
    assert not above.after_update(parameters(), math.nextafter(0.5, 1.0), step=0)
    assert not above.after_update(parameters(), None, step=0)
    assert not above.after_update([], 0.0, step=0)
    assert above.last_perturbation is None


def test_the_interval_counts_steps_since_the_last_perturbation():
    strategy, tensors = PerturbedAscent(threshold=1.0, interval=3), parameters()
    assert strategy.after_update(tensors, 0.0, step=10)
    assert not strategy.after_update(tensors, 0.0, step=12)
    assert strategy.after_update(tensors, 0.0, step=13)
    assert strategy.last_perturbation == 13


def test_the_jump_is_uniform_in_the_ball_by_the_formula():
    """ξ = r U^(1/d) z/‖z‖ with z ~ N(0, I) drawn tensor by tensor, then U ~ U(0, 1), one generator."""
    strategy, tensors = PerturbedAscent(threshold=1.0, radius=0.3, interval=1, seed=7), parameters()
    assert strategy.after_update(tensors, 0.0, step=0)
    generator = torch.Generator().manual_seed(7)
    normals = [torch.randn(t.shape, generator=generator, dtype=torch.float64) for t in parameters()]
    uniform = float(torch.rand((), generator=generator, dtype=torch.float64))
    norm = math.sqrt(sum(float((normal**2).sum()) for normal in normals))
    length = 0.3 * uniform ** (1 / 7)
    for moved, normal in zip(tensors, normals, strict=True):
        torch.testing.assert_close(moved, normal * (length / norm), rtol=0, atol=1e-15)
    assert math.sqrt(sum(float((moved**2).sum()) for moved in tensors)) == pytest.approx(length, rel=1e-12)


def _act(strategy: EscapeStrategy, tensors: list[torch.Tensor], step: int) -> list[torch.Tensor]:
    if isinstance(strategy, PerturbedAscent):
        strategy.after_update(tensors, 0.0, step)
        return tensors
    return strategy.transform_gradients(tensors, step)


@pytest.mark.parametrize("strategy", [PerturbedAscent(threshold=1.0, radius=0.2, interval=2, seed=3),
                                      GradientNoise(eta=0.3, gamma=0.55, seed=5)], ids=["perturb", "noise"])
def test_a_strategy_rebuilt_from_its_state_dict_continues_exactly(strategy):
    _act(strategy, parameters(), 0)  # the generator has drawn
    state = strategy.state_dict()
    rebuilt = ESCAPE_STRATEGIES[state["name"]](**state["config"])
    rebuilt.load_state_dict(state)
    assert repr(rebuilt) == repr(strategy)
    for step in (1, 5):  # step 1 is inside the perturbation interval: the last perturbation is restored
        for original, copy in zip(_act(strategy, parameters(), step), _act(rebuilt, parameters(), step), strict=True):
            assert torch.equal(original, copy)


def test_the_repr_shows_the_constructor_arguments():
    assert repr(PerturbedAscent()) == "PerturbedAscent(threshold=0.001, radius=0.1, interval=50, seed=0)"
    assert repr(GradientNoise(eta=0.3, seed=2)) == "GradientNoise(eta=0.3, gamma=0.55, seed=2)"


def test_no_jump_over_parameters_without_entries_and_no_jump_from_the_noise():
    assert not PerturbedAscent(threshold=1.0, interval=1).after_update([torch.zeros(0)], 0.0, step=0)
    assert not GradientNoise().after_update(parameters(), 0.0, step=0)  # it acts on gradients only


def test_the_base_strategy_rebuilds_from_its_config():
    strategy = EscapeStrategy(seed=4)
    assert strategy.config() == {"seed": 4} and EscapeStrategy(**strategy.config()).seed == 4


@pytest.mark.parametrize(("build", "error"), [
    (lambda: PerturbedAscent(threshold=0.0), ValueError), (lambda: PerturbedAscent(threshold=-1.0), ValueError),
    (lambda: PerturbedAscent(threshold=math.inf), ValueError), (lambda: PerturbedAscent(threshold="1"), ValueError),
    (lambda: PerturbedAscent(radius=0.0), ValueError), (lambda: PerturbedAscent(radius=-1.0), ValueError),
    (lambda: PerturbedAscent(radius=math.nan), ValueError), (lambda: PerturbedAscent(interval=0), ValueError),
    (lambda: PerturbedAscent(interval=-3), ValueError), (lambda: PerturbedAscent(interval=True), ValueError),
    (lambda: PerturbedAscent(interval=2.0), ValueError), (lambda: GradientNoise(eta=0.0), ValueError),
    (lambda: GradientNoise(eta=-1.0), ValueError), (lambda: GradientNoise(eta=math.inf), ValueError),
    (lambda: GradientNoise(gamma=-1.0), ValueError), (lambda: GradientNoise(gamma=math.inf), ValueError),
    (lambda: GradientNoise(gamma="0.5"), ValueError), (lambda: EscapeStrategy(seed=True), TypeError),
    (lambda: EscapeStrategy(seed="1"), TypeError), (lambda: EscapeStrategy(seed=1.0), TypeError),
])
def test_bad_arguments_are_refused(build, error):
    with pytest.raises(error):
        build()


def test_valid_boundary_arguments_are_accepted():
    PerturbedAscent(threshold=1e-300, radius=1e-300, interval=1)
    GradientNoise(eta=1e-300, gamma=0.0)


def test_documented_defaults():
    noise = GradientNoise()
    assert (noise.eta, noise.gamma, noise.seed) == (0.01, 0.55, 0)
    perturbed = PerturbedAscent()
    assert (perturbed.threshold, perturbed.radius, perturbed.interval, perturbed.seed) == (1e-3, 0.1, 50, 0)
