"""The action distributions of the policy-gradient agents (ascentrl.agents.distributions) against
independent references: the Gumbel-max sampler's frequencies against softmax, batch shapes of any
rank, noise drawn only from the agent's own generator, and the tanh squash against
``low + (high - low) sigmoid(2u)``, on asymmetric bounds (symmetric ones hide a wrong centre)."""

from __future__ import annotations

import math

import torch

from ascentrl.agents.distributions import (
    categorical_mode,
    categorical_noise,
    categorical_sample,
    gaussian_noise,
    squash,
    squash_log_det,
)

Z_TOLERANCE = 5.0  # standard errors allowed between a sampled frequency and its probability


def test_gumbel_max_samples_follow_softmax_with_any_batch_shape():
    logits = torch.tensor([0.0, 1.0, 2.5])
    steps, num_envs = 20_000, 3
    noise = categorical_noise(steps, num_envs, 3, torch.Generator().manual_seed(0))
    actions = categorical_sample(logits.expand(steps, num_envs, 3), noise)
    assert actions.shape == (steps, num_envs) and actions.dtype == torch.int64
    draws = steps * num_envs
    frequencies = torch.bincount(actions.flatten(), minlength=3).double() / draws
    probabilities = torch.softmax(logits.double(), 0)
    standard_errors = (probabilities * (1 - probabilities) / draws).sqrt()
    assert bool(((frequencies - probabilities).abs() < Z_TOLERANCE * standard_errors).all()), frequencies


def test_the_mode_is_the_most_probable_action_with_any_batch_shape():
    logits = torch.tensor([[[0.0, 2.0, 1.0], [3.0, -1.0, 0.0]], [[0.5, 0.0, 0.7], [0.0, 0.0, 1.0]]])
    assert torch.equal(categorical_mode(logits), torch.tensor([[1, 0], [2, 2]]))


def test_noise_comes_from_the_given_generator_alone():
    """Same seed, same noise; the global generator is neither used nor advanced."""
    for draw in (lambda g: gaussian_noise(4, 2, 3, g), lambda g: categorical_noise(4, 2, 3, g)):
        global_state = torch.get_rng_state()
        first, again = draw(torch.Generator().manual_seed(5)), draw(torch.Generator().manual_seed(5))
        assert torch.equal(torch.get_rng_state(), global_state)
        assert first.shape == (4, 2, 3) and torch.equal(first, again)
        assert not torch.equal(first, draw(torch.Generator().manual_seed(6)))
        torch.manual_seed(123)  # a global seed must not change what the generator gives
        assert torch.equal(draw(torch.Generator().manual_seed(5)), first)


def test_squash_maps_onto_asymmetric_bounds():
    low = torch.tensor([-3.0, 0.5, 10.0], dtype=torch.float64)
    high = torch.tensor([1.0, 2.0, 11.0], dtype=torch.float64)
    pre_squash = torch.linspace(-4.0, 4.0, 17, dtype=torch.float64).unsqueeze(-1).expand(17, 3)
    reference = low + (high - low) * torch.sigmoid(2 * pre_squash)  # c + h tanh(u) = low + (high - low) sigmoid(2u)
    torch.testing.assert_close(squash(pre_squash, low, high), reference, rtol=0, atol=1e-12)
    torch.testing.assert_close(squash(torch.zeros(3, dtype=torch.float64), low, high), (low + high) / 2)


def test_squash_log_det_sums_over_the_action_dimension_of_any_batch_shape():
    low, high = torch.tensor([-3.0, 0.5]), torch.tensor([1.0, 2.0])
    pre_squash = torch.randn(4, 3, 2, generator=torch.Generator().manual_seed(0)) * 2
    log_det = squash_log_det(pre_squash, low, high)
    assert log_det.shape == (4, 3)
    # log |d/du (c + h tanh u)| = log h + log(1 - tanh^2 u), per dimension, written directly.
    reference = (torch.log((high - low) / 2) + torch.log1p(-torch.tanh(pre_squash.double()) ** 2)).sum(-1)
    torch.testing.assert_close(log_det.double(), reference, rtol=1e-5, atol=1e-5)
    assert math.isfinite(float(squash_log_det(torch.tensor([40.0, -40.0]), low, high)))  # far in the tails
