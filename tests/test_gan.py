"""GANs on 2-D mixtures: targets, the PacGAN/VEEGAN metrics, the objectives, a short training run.

Truths used: the published target geometry (ring of radius 2, grid {−4,…,4}²); hand-built sample
sets whose covered modes and high-quality share are counted by hand; the chi distribution with two
degrees of freedom (a Gaussian sample lies within 3σ of its mean with probability 1 − e^{−4.5});
objectives of linear players written out with numpy's log-sigmoid; ``gradcheck`` in float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from ascentrl import Ascent
from ascentrl.applications import (
    GANSettings,
    build_discriminator,
    build_generator,
    gan_objectives,
    generate,
    make_target,
    mode_coverage,
    train_gan,
)
from ascentrl.applications.gan_plot import write_sample_plot
from ascentrl.games import make_dynamics

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SMALL = GANSettings(steps=600, lr=2e-3, hidden_units=64, hidden_layers=2, latent_dim=4, batch_size=128)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_targets_have_the_published_geometry():
    ring, grid = make_target("ring8"), make_target("grid25")
    assert ring.std == 0.02 and grid.std == 0.05
    assert torch.allclose(ring.means.norm(dim=1), torch.full((8,), 2.0))
    angles = torch.atan2(ring.means[:, 1], ring.means[:, 0]) % (2 * math.pi)
    assert torch.allclose(angles.sort().values, torch.arange(8) * math.pi / 4, atol=1e-6)
    expected = {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    assert {tuple(int(v) for v in mean) for mean in grid.means.round().tolist()} == expected
    assert torch.equal(grid.means, grid.means.round())
    with pytest.raises(ValueError, match="target must be one of ring8, grid25"):
        make_target("ring16")


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_samples_of_the_target_score_as_the_chi_distribution_predicts(name):
    target = make_target(name)
    samples = target.sample(20_000, torch.Generator().manual_seed(0))
    coverage = mode_coverage(samples, target)
    expected = 1 - math.exp(-4.5)  # P(‖z‖ < 3) for a standard 2-D Gaussian
    assert coverage.modes_covered == target.n_modes
    assert abs(coverage.high_quality_fraction - expected) < 4 * math.sqrt(expected * (1 - expected) / 20_000)
    assert coverage.mode_kl < 0.01  # equal weights


def test_mode_coverage_counts_a_hand_built_sample_set():
    target = make_target("grid25")
    sigma = target.std
    samples = torch.tensor([
        [0.0, 0.0],                   # on mode (0, 0)
        [2.0 + 2.9 * sigma, 2.0],     # 2.9σ from (2, 2): high quality
        [2.0, 2.0 - 2.9 * sigma],     # same mode again
        [-4.0 - 3.1 * sigma, 4.0],    # 3.1σ from (−4, 4): not high quality, the mode stays uncovered
        [1.0, 1.0],                   # halfway between modes
        [4.0, -4.0 + 2.0 * sigma],    # 2σ from (4, −4)
        [10.0, 10.0],                 # far outside
        [-2.0, 0.0],                  # on mode (−2, 0)
    ])
    coverage = mode_coverage(samples, target)
    assert coverage.modes_covered == 4
    assert coverage.high_quality_fraction == pytest.approx(5 / 8)
    per_mode = dict(zip(map(tuple, target.means.tolist()), coverage.samples_per_mode.tolist()))
    assert per_mode[(0.0, 0.0)] == 1 and per_mode[(2.0, 2.0)] == 2 and per_mode[(-4.0, 4.0)] == 0
    assert per_mode[(4.0, -4.0)] == 1 and per_mode[(-2.0, 0.0)] == 1 and sum(per_mode.values()) == 5
    shares = np.array([1, 2, 1, 1]) / 5
    assert coverage.mode_kl == pytest.approx(float((shares * np.log(shares * 25)).sum()))


def test_all_samples_on_one_mode_cover_one_mode_with_maximal_kl():
    target = make_target("ring8")
    coverage = mode_coverage(target.means[3].repeat(100, 1), target)
    assert coverage.modes_covered == 1 and coverage.high_quality_fraction == 1.0
    assert coverage.mode_kl == pytest.approx(math.log(8))
    empty = mode_coverage(torch.zeros(10, 2), target)  # the centre of the ring is 100σ from every mode
    assert empty.modes_covered == 0 and empty.high_quality_fraction == 0.0 and math.isnan(empty.mode_kl)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        mode_coverage(torch.zeros(10, 3), target)


def _linear_players(dtype=torch.float64):
    discriminator = nn.Linear(2, 1).to(dtype)
    generator = nn.Linear(3, 2).to(dtype)
    with torch.no_grad():
        discriminator.weight.copy_(torch.tensor([[0.7, -1.3]], dtype=dtype))
        discriminator.bias.fill_(0.2)
        generator.weight.copy_(torch.tensor([[0.5, -0.1, 0.3], [0.2, 0.9, -0.4]], dtype=dtype))
        generator.bias.copy_(torch.tensor([0.1, -0.2], dtype=dtype))
    return discriminator, generator


def _log_sigmoid(values: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -values)


def test_objectives_of_linear_players_match_the_formulas():
    discriminator, generator = _linear_players()
    generator_rng = torch.Generator().manual_seed(0)
    real = torch.randn(64, 2, generator=generator_rng, dtype=torch.float64)
    noise = torch.randn(64, 3, generator=generator_rng, dtype=torch.float64)
    w, b = np.array([0.7, -1.3]), 0.2
    fake = noise.numpy() @ np.array([[0.5, -0.1, 0.3], [0.2, 0.9, -0.4]]).T + np.array([0.1, -0.2])
    real_logits, fake_logits = real.numpy() @ w + b, fake @ w + b
    expected_discriminator = _log_sigmoid(real_logits).mean() + _log_sigmoid(-fake_logits).mean()

    u_d, u_g = (value.detach() for value in gan_objectives(discriminator, generator, real, noise))
    assert float(u_d) == pytest.approx(expected_discriminator, rel=1e-12)
    assert float(u_g) == pytest.approx(_log_sigmoid(fake_logits).mean(), rel=1e-12)
    _, u_g_minimax = gan_objectives(discriminator, generator, real, noise, "minimax")
    assert float(u_g_minimax.detach()) == pytest.approx(-expected_discriminator, rel=1e-12)
    # R1: a linear discriminator has slope w everywhere, so the penalty is γ/2 ‖w‖².
    u_d_penalized, _ = gan_objectives(discriminator, generator, real, noise, gradient_penalty=0.4)
    assert float(u_d_penalized.detach()) == pytest.approx(expected_discriminator - 0.2 * float(w @ w), rel=1e-12)


def test_objectives_pass_gradcheck_with_the_gradient_penalty():
    torch.manual_seed(0)
    discriminator = nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 1)).double()
    generator = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    real = torch.randn(6, 2, dtype=torch.float64, requires_grad=True)
    noise = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, z: torch.stack(gan_objectives(discriminator, generator, x, z, gradient_penalty=0.5)),
        (real, noise),
    )


def test_each_player_ascends_its_own_objective():
    """Alternating dynamics on a fixed minibatch: the discriminator's step raises u_D against the old
    generator, then the generator's step raises u_G against the new discriminator (a sign error in an
    objective or a direction would lower one of them)."""
    target = make_target("ring8")
    settings = GANSettings(hidden_units=16, hidden_layers=1, latent_dim=2)
    real = target.sample(256, torch.Generator().manual_seed(0))
    noise = torch.randn(256, 2, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    discriminator, generator = build_discriminator(settings), build_generator(settings)
    seen = []

    def objectives():
        values = gan_objectives(discriminator, generator, real, noise)
        seen.append([float(value.detach()) for value in values])
        return values

    players = [list(discriminator.parameters()), list(generator.parameters())]
    optimizers = [Ascent(player, lr=1e-3) for player in players]
    make_dynamics("alternating", players, objectives, optimizers).step()
    objectives()
    (d_start, _), (d_moved, g_before), (_, g_moved) = seen
    assert d_moved > d_start and g_moved > g_before


def test_short_training_run_moves_samples_onto_the_modes():
    target = make_target("ring8")
    run = train_gan(target, SMALL, seed=0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        untrained = build_generator(SMALL)
    start = generate(untrained, 2500, SMALL.latent_dim, seed=2)
    before, after = mode_coverage(start, target), run.coverage
    distance = lambda points: float(torch.cdist(points, target.means).min(dim=1).values.median())  # noqa: E731
    assert before.modes_covered == 0 and before.high_quality_fraction == 0.0
    assert after.modes_covered >= 4 and after.high_quality_fraction > 0.0
    assert distance(run.samples) < distance(start) / 2.5
    assert run.objectives.shape == (SMALL.steps, 2) and bool(torch.isfinite(run.objectives).all())


def test_same_seed_same_run_and_global_generator_untouched():
    settings = GANSettings(steps=15, hidden_units=16, hidden_layers=1, latent_dim=2, batch_size=32)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = train_gan(make_target("grid25"), settings, seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    second = train_gan(make_target("grid25"), settings, seed=7)
    third = train_gan(make_target("grid25"), settings, seed=8)
    assert torch.equal(first.samples, second.samples) and torch.equal(first.objectives, second.objectives)
    assert not torch.equal(first.samples, third.samples)


@pytest.mark.parametrize("dynamics", ["simultaneous", "alternating", "optimistic", "extragradient", "consensus", "sga"])
def test_every_dynamics_trains_with_finite_objectives(dynamics):
    settings = GANSettings(dynamics=dynamics, steps=5, hidden_units=8, hidden_layers=1, latent_dim=2, batch_size=16,
                           gradient_penalty=0.1)
    run = train_gan(make_target("ring8"), settings, seed=0)
    assert bool(torch.isfinite(run.objectives).all()) and bool(torch.isfinite(run.samples).all())


@pytest.mark.parametrize(
    ("options", "message"),
    [({"dynamics": "lola"}, "dynamics must be one of"), ({"steps": 0}, "steps must be a positive integer"),
     ({"lr": float("nan")}, "lr must be"), ({"gradient_penalty": -1.0}, "gradient_penalty must be"),
     ({"generator_objective": "wasserstein"}, "generator_objective must be")],
)
def test_bad_settings_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        GANSettings(**options)


def test_sample_plot_is_a_png(tmp_path):
    target = make_target("ring8")
    path = write_sample_plot(tmp_path / "plots" / "ring.png", target.sample(300), target, title="ring8")
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert [p.name for p in path.parent.iterdir()] == ["ring.png"]  # no temporary file left behind
