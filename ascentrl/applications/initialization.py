"""Starting points for the likelihood fits: k-means++ seeding and Lloyd's k-means, batched over restarts.

Every function works on ``R`` independent restarts at once (a leading restart dimension), draws
its randomness from one ``torch.Generator`` and has no Python loop over points or restarts.

1. **k-means++** (Arthur & Vassilvitskii 2007, "k-means++: the advantages of careful seeding"):
   the first centre is a uniformly random point; each next centre is a point drawn with
   probability proportional to its squared distance ``D(x)²`` to the nearest centre chosen so
   far. The expected k-means cost is then within ``O(log K)`` of the optimum.
2. **Lloyd's iterations**: assign every point to its nearest centre, move every centre to the
   mean of its points (an empty cluster keeps its centre), until no assignment changes in any
   restart, the centres have (almost) stopped moving, or ``iterations`` are done.
3. **Gaussian components from the clusters** (:func:`gaussians_from_clusters`): weight, mean and
   covariance of each cluster, the covariance shrunk towards the identity by one pseudo-point,
   ``Σ_k = (S_k + I) / (n_k + 1)`` with ``S_k`` the cluster's scatter matrix. On standardized data
   (unit variance per feature) the identity is the whole data set's scale, so a cluster with
   fewer than ``D + 1`` points still gets a positive definite covariance, and a large cluster
   gets (almost) its empirical covariance. This is the EM-after-k-means start of scikit-learn's
   ``GaussianMixture(init_params="kmeans")``, except that the M-step is replaced by the
   shrunk covariance.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ascentrl.applications.gaussian import weighted_moments

__all__ = ["gaussians_from_clusters", "kmeans", "kmeans_plus_plus", "nearest_centres", "squared_distances"]


def squared_distances(x: Tensor, centres: Tensor) -> Tensor:
    """``‖x_n − c_{rk}‖²`` for points ``(N, D)`` and centres ``(R, K, D)``, shape ``(R, K, N)``."""
    cross = centres @ x.T  # (R, K, N)
    return (centres.square().sum(-1, keepdim=True) - 2 * cross + x.square().sum(-1)).clamp_min(0)


def kmeans_plus_plus(x: Tensor, n_clusters: int, n_restarts: int, generator: torch.Generator) -> Tensor:
    """``n_restarts`` independent k-means++ seedings of ``n_clusters`` centres, shape ``(R, K, D)``.

    Args:
        x: points, shape ``(N, D)`` with ``N ≥ n_clusters``.
        n_clusters: ``K``.
        n_restarts: ``R``.
        generator: source of all randomness.
    """
    n_points = x.shape[0]
    first = torch.randint(n_points, (n_restarts,), generator=generator)
    centres = [x[first]]
    nearest = squared_distances(x, centres[0].unsqueeze(1)).squeeze(1)  # (R, N)
    for _ in range(1, n_clusters):
        # Where every point already coincides with a centre (duplicated data), draw uniformly.
        weights = torch.where(nearest.sum(-1, keepdim=True) > 0, nearest, torch.ones_like(nearest))
        chosen = torch.multinomial(weights, 1, generator=generator).squeeze(-1)
        centres.append(x[chosen])
        nearest = torch.minimum(nearest, squared_distances(x, centres[-1].unsqueeze(1)).squeeze(1))
    return torch.stack(centres, dim=1)


def nearest_centres(x: Tensor, centres: Tensor) -> Tensor:
    """The index of the nearest centre ``(R, N)`` of every point ``(N, D)`` for centres ``(R, K, D)``.

    ``argmin_k ‖x_n − c_{rk}‖² = argmin_k (‖c_{rk}‖² − 2⟨c_{rk}, x_n⟩)``: the ``‖x_n‖²`` term is the same
    for every ``k``, so one batched matrix product with the norms added gives the assignment.
    """
    n_restarts, _, dimension = centres.shape
    scores = torch.baddbmm(centres.square().sum(-1).unsqueeze(-1), centres, x.T.expand(n_restarts, dimension, -1),
                           alpha=-2)  # (R, K, N)
    return scores.min(1).indices  # min(...).indices: faster than argmin on CPU here


def kmeans(x: Tensor, centres: Tensor, iterations: int, tol: float = 1e-4) -> tuple[Tensor, Tensor]:
    """Lloyd's iterations from ``centres`` ``(R, K, D)``; returns the centres and labels ``(R, N)``.

    Stops when no label changes, or when no restart's centres moved by more than ``tol`` times the
    data's mean per-feature variance in total squared distance (scikit-learn's ``KMeans`` rule), or
    after ``iterations``.
    """
    n_restarts, n_clusters, _ = centres.shape
    tolerance = tol * float(x.var(0, correction=0).mean()) if x.shape[0] > 1 else 0.0
    labels = nearest_centres(x, centres)
    for _ in range(iterations):
        members = torch.zeros(n_restarts, n_clusters, x.shape[0], dtype=x.dtype, device=x.device)
        members.scatter_(1, labels.unsqueeze(1), 1.0)  # one-hot, (R, K, N)
        counts = members.sum(-1)  # (R, K)
        sums = members @ x  # (R, K, D)
        moved = torch.where((counts > 0).unsqueeze(-1), sums / counts.clamp_min(1).unsqueeze(-1), centres)
        shift = (moved - centres).square().sum((1, 2)).max()
        centres = moved
        new_labels = nearest_centres(x, centres)
        if torch.equal(new_labels, labels) or shift <= tolerance:
            labels = new_labels
            break
        labels = new_labels
    return centres, labels


def gaussians_from_clusters(x: Tensor, labels: Tensor, n_clusters: int) -> tuple[Tensor, Tensor, Tensor]:
    """Weights ``(R, K)``, means ``(R, K, D)`` and shrunk covariances ``(R, K, D, D)`` of each cluster.

    ``weights_k = (n_k + 1)/(N + K)`` (never zero), ``mean_k`` the cluster mean (``0``, the data
    mean on standardized data, for an empty cluster) and ``Σ_k = (S_k + I)/(n_k + 1)``.
    """
    n_points, dimension = x.shape
    members = torch.nn.functional.one_hot(labels, n_clusters).to(x.dtype).transpose(1, 2)  # (R, K, N)
    counts, means, covariance = weighted_moments(x, members)
    identity = torch.eye(dimension, dtype=x.dtype, device=x.device)
    shrunk = (counts[..., None, None] * covariance + identity) / (counts + 1)[..., None, None]
    return (counts + 1) / (n_points + n_clusters), means, shrunk
