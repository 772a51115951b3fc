"""Applications of ascent beyond reinforcement learning: maximum likelihood (Gaussian mixtures, hidden
Markov models), GANs as games, PCA as a game, sparse coding.

Torch only. Every objective here is **maximized** (a log-likelihood, a pair of GAN payoffs, an
EigenGame utility, a penalized log-likelihood) with :class:`ascentrl.Ascent`, or for the mixture
and HMM likelihoods by mirror ascent, whose unit step is EM's; nothing is negated into a loss.
scikit-learn, hmmlearn and scipy serve only as test oracles and benchmark peers.
"""

from ascentrl.applications.eigengame import (
    EigenGame,
    PCAFit,
    StreamingPCA,
    eigengame_utilities,
    fit_streaming,
    largest_eigenvalue,
    longest_streak,
    subspace_distance,
    unit_rows,
)
from ascentrl.applications.fitting import AscentSettings, Collapse, FitTrace
from ascentrl.applications.gan import (
    GANRun,
    GANSettings,
    build_discriminator,
    build_generator,
    gan_objectives,
    generate,
    train_gan,
)
from ascentrl.applications.gan_targets import GAN_TARGETS, MixtureTarget, ModeCoverage, make_target, mode_coverage
from ascentrl.applications.gaussian import COVARIANCE_TYPES, CovarianceCollapseError
from ascentrl.applications.hmm import CategoricalHMM, GaussianHMM
from ascentrl.applications.mixtures import GaussianMixture, mixture_log_likelihood, mixture_unit_step
from ascentrl.applications.pca_baselines import GeneralizedHebbian, OjaSubspace
from ascentrl.applications.sparse_coding import SparseCoding, atom_recovery, soft_threshold

__all__ = [
    "COVARIANCE_TYPES",
    "GAN_TARGETS",
    "AscentSettings",
    "CategoricalHMM",
    "Collapse",
    "CovarianceCollapseError",
    "EigenGame",
    "FitTrace",
    "GANRun",
    "GANSettings",
    "GaussianHMM",
    "GaussianMixture",
    "GeneralizedHebbian",
    "MixtureTarget",
    "ModeCoverage",
    "OjaSubspace",
    "PCAFit",
    "SparseCoding",
    "StreamingPCA",
    "atom_recovery",
    "build_discriminator",
    "build_generator",
    "eigengame_utilities",
    "fit_streaming",
    "gan_objectives",
    "generate",
    "largest_eigenvalue",
    "longest_streak",
    "make_target",
    "mixture_log_likelihood",
    "mixture_unit_step",
    "mode_coverage",
    "soft_threshold",
    "subspace_distance",
    "train_gan",
    "unit_rows",
]
