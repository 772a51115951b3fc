r"""Multivariate Gaussians in the parameterization the likelihood fits ascend.

**Parameterization.** A Gaussian ``N(μ, Σ)`` on ``ℝ^D`` is held as its mean ``μ`` and the lower
Cholesky factor ``P`` of its *precision* ``Σ⁻¹ = P Pᵀ``:

.. math::
    P_{ii} = e^{s_i}, \qquad P_{ij} = o_{ij}\ (i > j), \qquad P_{ij} = 0\ (i < j),

with unconstrained real ``s`` (``log_diagonal``, shape ``(..., D)``) and ``o`` (``off_diagonal``,
the ``D(D−1)/2`` strictly lower entries in :func:`torch.tril_indices` order, shape
``(..., D(D−1)/2)``). Every real value of ``(μ, s, o)`` is a valid Gaussian, and every Gaussian has
exactly one such ``(μ, s, o)``, so an ascent step can never leave the model. A diagonal covariance
has no ``o`` and ``Σ = diag(e^{−2s})``. The precision factor is what scikit-learn's
``GaussianMixture`` also stores (there an upper factor); it makes the log-density a product, not
a solve:

.. math::
    \log \mathcal N(x; μ, Σ) = -\tfrac D2 \log 2π + \sum_i s_i - \tfrac12 \lVert Pᵀ(x - μ) \rVert^2 .

**Exponential-family form.** Expanding the square, the log-density is linear in the sufficient
statistics ``T(x) = (x_i x_j\ (i ≤ j),\ x,\ 1)``:

.. math::
    \log \mathcal N(x) = ⟨η, T(x)⟩,\quad η = \big(-\tfrac12 Λ_{ii},\ -Λ_{ij}\ (i<j),\ Λμ,\
        -\tfrac12 μᵀΛμ + \textstyle\sum_i s_i - \tfrac D2 \log 2π\big),\quad Λ = PPᵀ,

so the log-densities of every component at every point are one matrix product
``T(X) @ η`` (:func:`sufficient_statistics`, :func:`natural_coefficients`). The fits use this
form on standardized data (:class:`Standardizer`), where it loses no accuracy to cancellation;
scoring uses the direct form above (:func:`gaussian_log_density`), which is exact for any data.

**Collapse.** The likelihood of a Gaussian mixture or HMM is unbounded: a component that shrinks
onto a point or a subspace drives it to +∞ (Day 1969). On the way the precision grows without
bound, so a fit watches ``tr Σ⁻¹ = ‖P‖_F²`` (:func:`precision_trace`): once it exceeds
``1/min_variance`` the component has collapsed. That happens whenever the smallest eigenvalue of
``Σ`` is below ``min_variance``, and never while all eigenvalues exceed ``D·min_variance``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "COVARIANCE_TYPES",
    "CovarianceCollapseError",
    "GaussianParameters",
    "Standardizer",
    "covariances",
    "gaussian_log_density",
    "gaussian_unit_step",
    "moments_from_statistics",
    "natural_coefficients",
    "parameters_from_covariances",
    "precision_cholesky",
    "precision_trace",
    "sample_gaussians",
    "smallest_variance",
    "smallest_variances",
    "sufficient_statistics",
    "weighted_moments",
]

COVARIANCE_TYPES = ("full", "diag")
_LOG_TWO_PI = math.log(2 * math.pi)


class CovarianceCollapseError(FloatingPointError):
    """A Gaussian component's covariance became singular during a fit.

    Attributes:
        restart: index of the restart that collapsed (the first one, if every restart did).
        component: index of the component (mixture) or state (HMM) whose covariance collapsed.
        step: ascent step at which the collapse was detected.
    """

    def __init__(self, message: str, *, restart: int, component: int, step: int) -> None:
        super().__init__(message)
        self.restart = restart
        self.component = component
        self.step = step


@dataclass
class GaussianParameters:
    """Unconstrained parameters of a batch of Gaussians; see the module docstring.

    Attributes:
        means: ``μ``, shape ``(..., D)``.
        log_diagonal: ``s`` with ``P_ii = exp(s_i)``, shape ``(..., D)``.
        off_diagonal: strictly lower entries of ``P``, shape ``(..., D(D−1)/2)``; ``None`` for
            diagonal covariances.
    """

    means: Tensor
    log_diagonal: Tensor
    off_diagonal: Tensor | None

    @property
    def covariance_type(self) -> str:
        return "diag" if self.off_diagonal is None else "full"

    def tensors(self) -> list[Tensor]:
        """The tensors an optimizer should update, in a fixed order."""
        return [self.means, self.log_diagonal] + ([] if self.off_diagonal is None else [self.off_diagonal])

    def map(self, function: Callable[[Tensor], Tensor]) -> GaussianParameters:
        """``function`` applied to every tensor, e.g. ``lambda t: t[restart].detach()``."""
        return GaussianParameters(*(None if tensor is None else function(tensor)
                                    for tensor in (self.means, self.log_diagonal, self.off_diagonal)))


def precision_cholesky(parameters: GaussianParameters) -> Tensor:
    """``P`` (lower triangular, positive diagonal, ``Σ⁻¹ = PPᵀ``), shape ``(..., D, D)``."""
    diagonal = torch.exp(parameters.log_diagonal)
    factor = torch.diag_embed(diagonal)
    if parameters.off_diagonal is None:
        return factor
    rows, columns = torch.tril_indices(*factor.shape[-2:], offset=-1, device=factor.device)
    factor[..., rows, columns] = parameters.off_diagonal  # diag_embed made a fresh tensor; autograd tracks this
    return factor


def covariances(parameters: GaussianParameters) -> Tensor:
    """``Σ = P⁻ᵀP⁻¹``: shape ``(..., D, D)`` for full covariances, the variances ``(..., D)`` for diagonal."""
    if parameters.off_diagonal is None:
        return torch.exp(-2 * parameters.log_diagonal)
    factor = precision_cholesky(parameters)
    identity = torch.eye(factor.shape[-1], dtype=factor.dtype, device=factor.device)
    inverse = torch.linalg.solve_triangular(factor, identity.expand_as(factor), upper=False)
    return inverse.transpose(-1, -2) @ inverse


def parameters_from_covariances(means: Tensor, covariance: Tensor, covariance_type: str) -> GaussianParameters:
    """The unconstrained parameters of ``N(means, covariance)``.

    Args:
        means: shape ``(..., D)``.
        covariance: ``(..., D, D)`` symmetric positive definite (``"full"``) or positive
            variances ``(..., D)`` (``"diag"``).
        covariance_type: ``"full"`` or ``"diag"``.

    Raises:
        ValueError: if a covariance is not positive definite.
    """
    if covariance_type == "diag":
        if not bool((covariance > 0).all()):
            raise ValueError("diagonal covariances must be positive")
        return GaussianParameters(means, -0.5 * torch.log(covariance), None)
    factor, info = torch.linalg.cholesky_ex(torch.linalg.inv(covariance))
    if bool((info != 0).any()):
        raise ValueError("covariance matrices must be symmetric positive definite")
    dimension = factor.shape[-1]
    rows, columns = torch.tril_indices(dimension, dimension, offset=-1, device=factor.device)
    log_diagonal = torch.log(torch.diagonal(factor, dim1=-2, dim2=-1))
    return GaussianParameters(means, log_diagonal, factor[..., rows, columns])


def gaussian_log_density(x: Tensor, parameters: GaussianParameters) -> Tensor:
    """``log N(x_n; μ_k, Σ_k)`` for every point and every Gaussian, by the direct form.

    Args:
        x: points, shape ``(N, D)``.
        parameters: Gaussians with leading shape ``B`` (e.g. ``(K,)`` components).

    Returns:
        Shape ``(*B, N)``.
    """
    factor = precision_cholesky(parameters)
    centred = x - parameters.means.unsqueeze(-2)  # (*B, N, D)
    whitened = centred @ factor  # row n is (Pᵀ(x_n − μ))ᵀ
    dimension = x.shape[-1]
    return (parameters.log_diagonal.sum(-1, keepdim=True) - 0.5 * dimension * _LOG_TWO_PI
            - 0.5 * whitened.square().sum(-1))


def sufficient_statistics(x: Tensor, covariance_type: str) -> Tensor:
    """``T(x) = (x_i x_j for i ≤ j (full) or x_i² (diag), x, 1)`` for every point, shape ``(N, F)``."""
    dimension = x.shape[-1]
    if covariance_type == "diag":
        quadratic = x.square()
    else:
        rows, columns = torch.triu_indices(dimension, dimension, device=x.device)
        quadratic = x[:, rows] * x[:, columns]
    return torch.cat([quadratic, x, torch.ones_like(x[:, :1])], dim=1)


def natural_coefficients(parameters: GaussianParameters) -> Tensor:
    """``η`` with ``log N(x) = ⟨η, T(x)⟩`` for :func:`sufficient_statistics`, shape ``(..., F)``."""
    means, log_diagonal = parameters.means, parameters.log_diagonal
    dimension = means.shape[-1]
    normalizer = log_diagonal.sum(-1) - 0.5 * dimension * _LOG_TWO_PI
    if parameters.off_diagonal is None:
        precision = torch.exp(2 * log_diagonal)
        linear = precision * means
        quadratic = -0.5 * precision
    else:
        factor = precision_cholesky(parameters)
        precision_matrix = factor @ factor.transpose(-1, -2)
        rows, columns = torch.triu_indices(dimension, dimension, device=means.device)
        # x_i x_j appears twice in xᵀΛx for i ≠ j, once for i = j
        weight = torch.where(rows == columns, -0.5, -1.0).to(means.dtype)
        quadratic = precision_matrix[..., rows, columns] * weight
        linear = (precision_matrix @ means.unsqueeze(-1)).squeeze(-1)
    constant = normalizer - 0.5 * (linear * means).sum(-1)
    return torch.cat([quadratic, linear, constant.unsqueeze(-1)], dim=-1)


def precision_trace(parameters: GaussianParameters) -> Tensor:
    """``tr Σ⁻¹ = ‖P‖_F²`` for every Gaussian, shape ``(...)``; the collapse watch."""
    trace = torch.exp(2 * parameters.log_diagonal).sum(-1)
    if parameters.off_diagonal is not None:
        trace = trace + parameters.off_diagonal.square().sum(-1)
    return trace


def sample_gaussians(parameters: GaussianParameters, which: Tensor, generator: torch.Generator) -> Tensor:
    """One draw ``μ_k + P_k⁻ᵀ z`` (``z`` standard normal) for each index ``k`` in ``which``, shape ``(n, D)``."""
    chosen = parameters.map(lambda tensor: tensor[which])
    noise = torch.randn(chosen.means.shape, generator=generator, dtype=chosen.means.dtype)
    factor = precision_cholesky(chosen)
    # Cov(P⁻ᵀz) = P⁻ᵀP⁻¹ = (PPᵀ)⁻¹ = Σ
    offset = torch.linalg.solve_triangular(factor.transpose(-1, -2), noise.unsqueeze(-1), upper=True).squeeze(-1)
    return chosen.means + offset


def weighted_moments(x: Tensor, weights: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Total weight ``n_k``, mean and covariance of the points ``x`` ``(N, D)`` under each weighting.

    Args:
        x: points, shape ``(N, D)``.
        weights: non-negative weights ``(R, K, N)`` (one-hot cluster labels, responsibilities, or
            HMM posteriors).

    Returns:
        ``n_k`` ``(R, K)``, means ``(R, K, D)`` and covariances ``Σ_n w_n (x_n − m)(x_n − m)ᵀ / n_k``
        ``(R, K, D, D)`` (zero for an empty component), from one matrix product with the outer
        products ``x_n x_nᵀ``.
    """
    n_points, dimension = x.shape
    counts = weights.sum(-1)
    safe_counts = counts.clamp_min(torch.finfo(x.dtype).tiny)
    means = (weights @ x) / safe_counts.unsqueeze(-1)
    outer_products = (x.unsqueeze(-1) * x.unsqueeze(-2)).reshape(n_points, dimension * dimension)
    second_moments = (weights @ outer_products).unflatten(-1, (dimension, dimension)) / safe_counts[..., None, None]
    return counts, means, second_moments - means.unsqueeze(-1) * means.unsqueeze(-2)


def moments_from_statistics(expected: Tensor, dimension: int, covariance_type: str) -> tuple[Tensor, Tensor, Tensor]:
    """Total weight, mean and covariance from weighted sums of :func:`sufficient_statistics`.

    Args:
        expected: ``Σ_n w_n T(x_n)``, shape ``(..., F)`` (e.g. responsibilities ``(R, K, N)`` times
            the statistics ``(N, F)``: the gradient of a mixture's log-likelihood in its natural
            coefficients, times ``N``).
        dimension: ``D``.
        covariance_type: ``"full"`` (covariances ``(..., D, D)``) or ``"diag"`` (variances ``(..., D)``).

    Returns:
        ``n = Σ_n w_n`` ``(...)``, means ``(..., D)`` and covariances ``Σ_n w_n (x_n − m)(x_n − m)ᵀ / n``
        — what :func:`weighted_moments` computes from the points — without another pass over them.
    """
    quadratic_size = expected.shape[-1] - dimension - 1
    counts = expected[..., -1]
    safe_counts = counts.clamp_min(torch.finfo(expected.dtype).tiny).unsqueeze(-1)
    means = expected[..., quadratic_size:quadratic_size + dimension] / safe_counts
    second = expected[..., :quadratic_size] / safe_counts
    if covariance_type == "diag":
        return counts, means, second - means.square()
    rows, columns = torch.triu_indices(dimension, dimension, device=expected.device)
    matrix = expected.new_zeros(*expected.shape[:-1], dimension, dimension)
    matrix[..., rows, columns] = second
    matrix[..., columns, rows] = second
    return counts, means, matrix - means.unsqueeze(-1) * means.unsqueeze(-2)


def gaussian_unit_step(expected: Tensor, dimension: int, covariance_type: str,
                       min_variance: float) -> tuple[Tensor, GaussianParameters, Tensor]:
    """Moment matching: the Gaussians whose moments are the weighted sums ``expected`` (EM's M-step).

    Args:
        expected: ``Σ_n w_{kn} T(x_n)`` for every Gaussian ``k``, ``(R, K, F)`` (:func:`moments_from_statistics`).
        dimension: ``D``.
        covariance_type: ``"full"`` or ``"diag"``.
        min_variance: a covariance with a variance below this along some direction has collapsed.

    Returns:
        The total weights ``n_k`` ``(R, K)``, the unconstrained parameters of the matched Gaussians,
        and the ``(R, K)`` mask of collapsed ones (given the identity covariance, so the result stays valid).
    """
    counts, means, covariance = moments_from_statistics(expected, dimension, covariance_type)
    collapsed = smallest_variance(covariance, covariance_type) < min_variance
    if covariance_type == "diag":
        covariance = torch.where(collapsed.unsqueeze(-1), 1.0, covariance)
    else:
        identity = torch.eye(dimension, dtype=covariance.dtype, device=covariance.device)
        covariance = torch.where(collapsed[..., None, None], identity, covariance)
    return counts, parameters_from_covariances(means, covariance, covariance_type), collapsed


def smallest_variances(x: Tensor, weights: Tensor, covariance_type: str) -> Tensor:
    """The smallest variance of the points each weighting picks out, ``(R, K)``.

    Full covariances: the smallest eigenvalue of :func:`weighted_moments`' covariance; diagonal:
    the smallest per-feature variance. Zero means the points lie in a lower-dimensional set (or are
    one repeated point), where a Gaussian can shrink and raise the likelihood without bound.
    """
    _, _, covariance = weighted_moments(x, weights)
    if covariance_type == "diag":
        covariance = torch.diagonal(covariance, dim1=-2, dim2=-1)
    return smallest_variance(covariance, covariance_type)


def smallest_variance(covariance: Tensor, covariance_type: str) -> Tensor:
    """The smallest variance along any direction: the smallest eigenvalue of full covariances
    ``(..., D, D)``, the smallest entry of diagonal ones given as variances ``(..., D)``."""
    if covariance_type == "diag":
        return covariance.amin(-1)
    return torch.linalg.eigvalsh(covariance)[..., 0]


class Standardizer:
    """The affine map ``z = (x − m) / σ`` (per-feature mean and standard deviation) of a data set.

    Fits run on ``z``: the learning rate then means the same thing for every data set, and the
    exponential-family form loses nothing to cancellation. A Gaussian ``N(μ_z, Σ_z)`` on ``z`` is
    ``N(m + σ⊙μ_z, diag(σ) Σ_z diag(σ))`` on ``x``, whose precision factor is ``diag(1/σ) P_z``
    (still lower triangular with a positive diagonal); densities differ by the Jacobian,
    ``log p(x) = log p(z) − Σ_d log σ_d``. A constant feature gets ``σ = 1``.
    """

    def __init__(self, x: Tensor) -> None:
        self.location = x.mean(0)
        scale = x.std(0, correction=0)  # 0 for a constant feature, and for every feature of a single point
        self.scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        self.log_jacobian = float(-torch.log(self.scale).sum())

    def transform(self, x: Tensor) -> Tensor:
        return (x - self.location) / self.scale

    def to_data_units(self, parameters: GaussianParameters) -> GaussianParameters:
        """Gaussians on ``z`` as the same Gaussians on ``x``."""
        means = self.location + self.scale * parameters.means
        log_diagonal = parameters.log_diagonal - torch.log(self.scale)
        off = parameters.off_diagonal
        if off is not None:
            dimension = self.scale.shape[0]
            rows, _ = torch.tril_indices(dimension, dimension, offset=-1, device=off.device)
            off = off / self.scale[rows]
        return GaussianParameters(means, log_diagonal, off)
