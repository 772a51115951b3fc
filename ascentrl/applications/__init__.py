"""Maximum-likelihood models fitted by gradient ascent: Gaussian mixtures and hidden Markov models.

Each fit **maximizes** the exact log-likelihood with :class:`ascentrl.Ascent`; nothing is negated.
Pure torch: no scikit-learn, hmmlearn or scipy here (they serve only as test oracles and
benchmark peers).
"""

from ascentrl.applications.fitting import AscentSettings, Collapse, FitTrace
from ascentrl.applications.gaussian import COVARIANCE_TYPES, CovarianceCollapseError
from ascentrl.applications.hmm import CategoricalHMM, GaussianHMM
from ascentrl.applications.mixtures import GaussianMixture, mixture_log_likelihood

__all__ = [
    "COVARIANCE_TYPES",
    "AscentSettings",
    "CategoricalHMM",
    "Collapse",
    "CovarianceCollapseError",
    "FitTrace",
    "GaussianHMM",
    "GaussianMixture",
    "mixture_log_likelihood",
]
