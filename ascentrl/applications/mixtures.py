r"""Gaussian mixtures fitted by gradient ascent on their exact log-likelihood.

The model: ``K`` components with weights ``π``, means ``μ_k`` and covariances ``Σ_k`` (full or
diagonal). The objective, maximized, is the mean log-likelihood per point

.. math::
    J(θ) = \frac1N \sum_{n=1}^N \log \sum_{k=1}^K π_k\, \mathcal N(x_n; μ_k, Σ_k),

in the parameterization of :mod:`ascentrl.applications.gaussian` (precision Cholesky factors with
a positive diagonal ``P_ii = e^{s_i}``) and ``π = softmax(a)``: every ``θ = (a, μ, s, o)`` is a
valid mixture, so no step needs a projection or a check.

Fitting (:meth:`GaussianMixture.fit`):

1. Standardize the data (per-feature mean 0, variance 1; :class:`~ascentrl.applications.gaussian.Standardizer`).
2. For each of ``R`` restarts, seed ``K`` centres by k-means++ and run Lloyd's iterations; start
   each component at its cluster's weight, mean and shrunk covariance
   (:mod:`ascentrl.applications.initialization`).
3. Ascend ``J`` for all restarts at once (:mod:`ascentrl.applications.fitting`). The gradient is
   exact: ``∂J/∂η_k = (1/N) Σ_n r_{nk} T(x_n)`` with the responsibilities ``r_{nk}`` — EM's
   E-step — and ``η_k`` the component's natural coefficients (``log π_k`` in the constant),
   computed by one matrix product (:func:`mixture_log_likelihood`). Full batch, the default
   ``optimizer="mirror"`` maps that gradient back by moment matching,
   ``π_k = n_k/N``, ``μ_k = Σ_n r_{nk} x_n / n_k``, ``Σ_k = Σ_n r_{nk}(x_n − μ_k)(x_n − μ_k)ᵀ / n_k``
   with ``n_k = Σ_n r_{nk}`` — the mirror-ascent step of size 1, which is EM's update — and
   extrapolates along it while the objective keeps rising
   (:func:`~ascentrl.applications.fitting.mirror_ascend_likelihood`). ``optimizer="nadam"`` (and
   every minibatch fit) takes :class:`ascentrl.Ascent` steps (NAdam) on ``J`` instead.
4. Keep the restart with the highest ``J`` on all the data and map it back to data units.

A collapsing covariance (a component shrinking onto a point or a subspace, where the likelihood is
unbounded) is caught and reported with the restart, component and step; see
:mod:`ascentrl.applications.fitting`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ascentrl.applications.data import as_observations, check_count, copied_tensor
from ascentrl.applications.fitting import (
    AscentSettings,
    ascend_likelihood,
    log_frequencies,
    mirror_ascend_likelihood,
    record_fit,
)
from ascentrl.applications.gaussian import (
    COVARIANCE_TYPES,
    GaussianParameters,
    Standardizer,
    covariances,
    gaussian_log_density,
    gaussian_unit_step,
    natural_coefficients,
    parameters_from_covariances,
    precision_cholesky,
    precision_trace,
    sample_gaussians,
    smallest_variances,
    sufficient_statistics,
)
from ascentrl.applications.initialization import gaussians_from_clusters, kmeans, kmeans_plus_plus

__all__ = ["GaussianMixture", "mixture_log_likelihood", "mixture_unit_step"]

KMEANS_ITERATIONS = 50


class _MixtureLogLikelihood(torch.autograd.Function):
    """``J_r = mean_n logsumexp_k ⟨η_{rk}, T_n⟩`` with the responsibilities kept for the backward pass.

    Autograd through ``torch.logsumexp`` over a small component dimension costs ~4x this on CPU
    (it re-exponentiates in the backward pass and reduces over a short inner dimension); here the
    log-densities are laid out ``(K, R, N)`` so the reduction runs over contiguous slabs, and the
    backward pass is one matrix product of the responsibilities with the statistics.
    """

    @staticmethod
    def forward(ctx: Any, statistics: Tensor, coefficients: Tensor) -> Tensor:
        n_restarts, n_components, n_statistics = coefficients.shape
        log_joint = (coefficients.transpose(0, 1).reshape(-1, n_statistics) @ statistics.T)
        log_joint = log_joint.view(n_components, n_restarts, -1)  # log π_k N(x_n; k), (K, R, N)
        peak = log_joint.amax(0)
        joint = log_joint.sub_(peak).exp_()
        total = joint.sum(0)
        log_likelihood = peak + torch.log(total)
        responsibilities = joint.div_(total)
        ctx.save_for_backward(statistics, responsibilities)
        return log_likelihood.mean(-1)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[None, Tensor]:
        statistics, responsibilities = ctx.saved_tensors
        n_components, n_restarts, n_points = responsibilities.shape
        expected = responsibilities.reshape(n_components * n_restarts, n_points) @ statistics
        expected = expected.view(n_components, n_restarts, -1).transpose(0, 1)  # Σ_n r_nk T_n, (R, K, F)
        return None, expected * (grad_output / n_points).view(-1, 1, 1)


def mixture_log_likelihood(statistics: Tensor, coefficients: Tensor) -> Tensor:
    r"""Mean log-likelihood per point of ``R`` mixtures: ``(1/N) Σ_n log Σ_k exp⟨η_{rk}, T(x_n)⟩``.

    Args:
        statistics: ``T(x_n)`` from :func:`~ascentrl.applications.gaussian.sufficient_statistics`, ``(N, F)``.
        coefficients: ``η_{rk}`` with ``log π_{rk}`` added to the constant term, ``(R, K, F)``.

    Returns:
        Shape ``(R,)``, differentiable in ``coefficients`` (exactly; checked by ``gradcheck``).
    """
    return _MixtureLogLikelihood.apply(statistics, coefficients)


def mixture_unit_step(statistics: Tensor, responsibilities: Tensor, dimension: int, covariance_type: str,
                      min_variance: float) -> tuple[Tensor, GaussianParameters, Tensor]:
    r"""The mirror-ascent step of size 1 — EM's update — from the responsibilities ``r_{nk}``.

    ``N ∂J/∂η_k = Σ_n r_{nk} T(x_n)`` (the gradient in the natural coefficients) holds ``n_k``,
    ``Σ_n r_{nk} x_n`` and ``Σ_n r_{nk} x_n x_nᵀ``; moment matching gives ``π_k = n_k / N``,
    ``μ_k = Σ_n r_{nk} x_n / n_k`` and ``Σ_k = Σ_n r_{nk} (x_n − μ_k)(x_n − μ_k)ᵀ / n_k``.

    Args:
        statistics: ``T(x_n)`` ``(N, F)`` (:func:`~ascentrl.applications.gaussian.sufficient_statistics`).
        responsibilities: ``(R, K, N)``, summing to 1 over ``K``.
        dimension: ``D``.
        covariance_type: ``"full"`` or ``"diag"``.
        min_variance: a covariance with a variance below this along some direction has collapsed.

    Returns:
        ``log π`` ``(R, K)``, the Gaussians' unconstrained parameters, and the ``(R, K)`` mask of
        collapsed components (given the identity covariance here, so the result stays valid).
    """
    expected = (responsibilities.flatten(0, 1) @ statistics).unflatten(0, responsibilities.shape[:2])
    counts, gaussians, collapsed = gaussian_unit_step(expected, dimension, covariance_type, min_variance)
    return log_frequencies(counts, statistics.shape[0]), gaussians, collapsed


class GaussianMixture:
    """A Gaussian mixture fitted by gradient ascent on its log-likelihood (see the module docstring).

    Args:
        n_components: ``K ≥ 1``.
        covariance_type: ``"full"`` or ``"diag"``.
        n_restarts: starts fitted together (batched in one tensor); the best is kept.
        optimizer: ``"mirror"`` (full batch: mirror ascent, whose unit step is EM's; see the module
            docstring) or ``"nadam"``; minibatch fits always take NAdam steps.
        max_steps: upper bound on ascent steps.
        lr: NAdam learning rate on standardized data (not used by mirror ascent).
        tol: full batch: stop when every restart's mean log-likelihood per point stayed within a
            band of width ``tol`` over the last 10 NAdam steps, or rose by at most ``tol`` in a
            mirror-ascent iteration (or trails a settled restart beyond catching up).
        batch_size: points per step; ``None`` for full batch.
        seed: seeds initialization, minibatches and nothing else; same seed, same result.
        min_variance: collapse threshold on ``tr Σ⁻¹`` (``1/min_variance``, standardized units).
        on_collapse: ``"drop"`` collapsed restarts (an error only if all collapse) or ``"raise"``.
        dtype: floating-point type of the fit and of the fitted parameters.

    Attributes (after :meth:`fit`, in data units):
        weights_, means_, covariances_ (``(K, D, D)`` full, ``(K, D)`` variances diag),
        precision_cholesky_ (``(K, D, D)``), log_likelihood_ (mean per point, best restart),
        restart_log_likelihoods_ (``(R,)``, ``-inf`` if collapsed), best_restart_, n_steps_,
        converged_, collapses_ (tuple of :class:`~ascentrl.applications.fitting.Collapse`),
        history_ (objective of every restart after every NAdam step or mirror-ascent iteration,
        standardized units).
    """

    def __init__(
        self,
        n_components: int,
        *,
        covariance_type: str = "full",
        n_restarts: int = 10,
        optimizer: str = "mirror",
        max_steps: int = 2000,
        lr: float = 0.1,
        tol: float = 1e-10,
        batch_size: int | None = None,
        seed: int = 0,
        min_variance: float = 1e-8,
        on_collapse: str = "drop",
        dtype: torch.dtype = torch.float64,
    ) -> None:
        check_count("n_components", n_components)
        if covariance_type not in COVARIANCE_TYPES:
            raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}, got {covariance_type!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.settings = AscentSettings(n_restarts=n_restarts, optimizer=optimizer, max_steps=max_steps, lr=lr, tol=tol,
                                       batch_size=batch_size, min_variance=min_variance, on_collapse=on_collapse)
        self.seed = seed
        self.dtype = dtype
        self._log_weights: Tensor | None = None
        self._gaussians: GaussianParameters | None = None

    # ------------------------------------------------------------------------------ fitting
    def fit(self, x: Any) -> GaussianMixture:
        """Fit to points ``x`` of shape ``(N, D)`` (tensor or array), ``N ≥ n_components``; returns ``self``.

        Raises:
            ValueError: bad data (not 2-D, NaN/inf, fewer points than components).
            CovarianceCollapseError: a covariance collapsed (see ``on_collapse``).
        """
        x = as_observations(x, self.dtype, minimum_rows=self.n_components, what="points")
        standardizer = Standardizer(x)
        z = standardizer.transform(x)
        generator = torch.Generator().manual_seed(self.seed)
        n_restarts = self.settings.n_restarts
        centres = kmeans_plus_plus(z, self.n_components, n_restarts, generator)
        _, labels = kmeans(z, centres, KMEANS_ITERATIONS)
        weights, means, covariance = gaussians_from_clusters(z, labels, self.n_components)
        if self.covariance_type == "diag":
            covariance = torch.diagonal(covariance, dim1=-2, dim2=-1)
        start = parameters_from_covariances(means, covariance, self.covariance_type)
        log_weights = torch.log(weights).requires_grad_()
        gaussians = start.map(lambda tensor: tensor.clone().requires_grad_())
        statistics = sufficient_statistics(z, self.covariance_type)

        def joint_coefficients() -> Tensor:  # η_k with log π_k added to the constant term, (R, K, F)
            coefficients = natural_coefficients(gaussians)
            log_mixing = torch.log_softmax(log_weights, dim=-1)
            return torch.cat([coefficients[..., :-1], (coefficients[..., -1] + log_mixing).unsqueeze(-1)], -1)

        def objective(batch: Tensor | None) -> Tensor:
            return mixture_log_likelihood(statistics if batch is None else statistics[batch], joint_coefficients())

        def own_point_variances() -> Tensor:
            responsibilities = torch.softmax(joint_coefficients() @ statistics.T, dim=1)  # (R, K, N)
            return smallest_variances(z, responsibilities, self.covariance_type)

        def evaluate() -> tuple[Tensor, Tensor]:  # J and the responsibilities (R, K, N)
            log_joint = joint_coefficients() @ statistics.T
            peak = log_joint.amax(1, keepdim=True)
            joint = log_joint.sub_(peak).exp_()
            total = joint.sum(1, keepdim=True)
            return (peak + torch.log(total)).mean((1, 2)), joint.div_(total)

        def unit_step(responsibilities: Tensor) -> tuple[list[Tensor], Tensor]:
            log_mixing, target, collapsed = mixture_unit_step(statistics, responsibilities, z.shape[1],
                                                              self.covariance_type, self.settings.min_variance)
            return [log_mixing, *target.tensors()], collapsed

        parameters = [log_weights, *gaussians.tensors()]
        if self.settings.mirror(z.shape[0]):
            trace = mirror_ascend_likelihood(parameters, evaluate, unit_step, self.settings,
                                             lambda: precision_trace(gaussians), unit="component")
        else:
            trace = ascend_likelihood(parameters, objective, z.shape[0], self.settings, generator,
                                      lambda: precision_trace(gaussians), own_point_variances, unit="component")
        best = trace.best_restart
        self._log_weights = torch.log_softmax(log_weights[best].detach(), dim=-1)
        self._gaussians = standardizer.to_data_units(gaussians.map(lambda tensor: tensor[best].detach().clone()))
        record_fit(self, trace, standardizer.log_jacobian)
        return self

    @classmethod
    def from_parameters(cls, weights: Any, means: Any, covariances: Any, covariance_type: str = "full",
                        dtype: torch.dtype = torch.float64) -> GaussianMixture:
        """A fitted-looking mixture with the given weights ``(K,)``, means ``(K, D)`` and
        covariances (``(K, D, D)`` full, ``(K, D)`` diag), e.g. to score or sample from a known model."""
        weights = copied_tensor(weights, dtype)
        if weights.dim() != 1 or not bool((weights > 0).all()):
            raise ValueError("weights must be a 1-D tensor of positive numbers")
        model = cls(weights.shape[0], covariance_type=covariance_type, dtype=dtype)
        model._log_weights = torch.log(weights / weights.sum())
        model._gaussians = parameters_from_covariances(copied_tensor(means, dtype), copied_tensor(covariances, dtype),
                                                       covariance_type)
        return model

    # ---------------------------------------------------------------------------- the model
    def _fitted(self) -> tuple[Tensor, GaussianParameters]:
        if self._gaussians is None or self._log_weights is None:
            raise RuntimeError("this GaussianMixture is not fitted yet; call fit(x) first")
        return self._log_weights, self._gaussians

    @property
    def weights_(self) -> Tensor:
        return torch.exp(self._fitted()[0])

    @property
    def means_(self) -> Tensor:
        return self._fitted()[1].means

    @property
    def covariances_(self) -> Tensor:
        return covariances(self._fitted()[1])

    @property
    def precision_cholesky_(self) -> Tensor:
        return precision_cholesky(self._fitted()[1])

    def _log_joint(self, x: Any) -> Tensor:
        log_weights, gaussians = self._fitted()
        x = as_observations(x, self.dtype, minimum_rows=1, what="points", features=gaussians.means.shape[-1])
        return gaussian_log_density(x, gaussians).T + log_weights  # (N, K)

    def score_samples(self, x: Any) -> Tensor:
        """``log p(x_n)`` for every point, shape ``(N,)``."""
        return torch.logsumexp(self._log_joint(x), dim=-1)

    def score(self, x: Any) -> float:
        """Mean log-likelihood per point, ``(1/N) Σ_n log p(x_n)``."""
        return float(self.score_samples(x).mean())

    def predict_proba(self, x: Any) -> Tensor:
        """Responsibilities ``p(k | x_n)``, shape ``(N, K)``."""
        return torch.softmax(self._log_joint(x), dim=-1)

    def predict(self, x: Any) -> Tensor:
        """The most probable component of every point, shape ``(N,)``."""
        return self._log_joint(x).argmax(-1)

    def sample(self, n_samples: int, seed: int = 0) -> tuple[Tensor, Tensor]:
        """``n_samples`` points and their components, drawn with a generator seeded by ``seed``."""
        check_count("n_samples", n_samples)
        log_weights, gaussians = self._fitted()
        generator = torch.Generator().manual_seed(seed)
        labels = torch.multinomial(torch.exp(log_weights), n_samples, replacement=True, generator=generator)
        return sample_gaussians(gaussians, labels, generator), labels
