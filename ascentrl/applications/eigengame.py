r"""PCA as a game: EigenGame (Gemp, McWilliams, Vernade and Graepel 2021, "EigenGame: PCA as a Nash
equilibrium", ICLR), streaming over minibatches.

The top-``k`` principal components of data with covariance ``M`` (``d × d``) are the unique strict
Nash equilibrium of a ``k``-player game when the top ``k + 1`` eigenvalues are distinct. Player ``i``
holds a unit vector ``v̂_i ∈ R^d`` and **maximizes** its utility

.. math::
    u_i(\hat v_i \mid \hat v_{j<i}) = \hat v_i^\top M \hat v_i
        - \sum_{j<i} \frac{(\hat v_i^\top M \hat v_j)^2}{\hat v_j^\top M \hat v_j},

the variance it captures (its Rayleigh quotient) minus a penalty for aligning with any of its
*parents* ``j < i``: exactly the variance that ``v̂_j`` already explains in direction ``v̂_i``. Player
``i`` moves only ``v̂_i``; its parents are the other players' current vectors. Its gradient is

.. math::
    \nabla_{\hat v_i} u_i = 2M\Big[\hat v_i - \sum_{j<i}
        \frac{\hat v_i^\top M \hat v_j}{\hat v_j^\top M \hat v_j}\,\hat v_j\Big],

and the paper's parallel algorithm (its Algorithm 2) steps every player at once along the Riemannian
gradient on the sphere, ``∇^R = (I − v̂_i v̂_iᵀ) ∇``, then renormalizes. Here each player's vector
``v_i`` is stored unnormalized and ``u_i`` is evaluated at ``v̂_i = v_i / ‖v_i‖``; at ``‖v_i‖ = 1``
the gradient of that composition *is* ``∇^R``, so an :class:`ascentrl.Ascent` step followed by the
projection ``v_i ← v_i / ‖v_i‖`` is the paper's update, with the optimizer's momentum or step-size
schedule on top if wanted.

Streaming: every step draws a minibatch ``X_t`` (``B × d``) and uses ``M_t = X_tᵀX_t / B`` in place of
``M``, as the paper does. All products go through ``Y = X_t V̂ᵀ`` (``B × k``), so a step costs
``O(Bdk)`` and ``M`` is never formed.

One backward pass gives every player's own gradient: the surrogate
``Σ_i u_i(v̂_i | stop(v̂_{j<i}))``, with each parent held constant inside its children's utilities,
has ``∇_{v_i}`` equal to ``∇_{v_i} u_i`` for every ``i``. :func:`eigengame_utilities` is the game
itself (usable with :func:`ascentrl.games.make_dynamics`, one player per vector); the tests check that
the simultaneous dynamics of that game and :class:`EigenGame` take identical steps.

Metrics, as in the paper, against the true top-``k`` eigenvectors ``U*`` (``d × k``): the *longest
streak* of leading components each within angle ``π/8`` of its true eigenvector (sign ignored), and
the normalized subspace distance ``1 − tr(U* P) / k``, where ``P = V̂ᵀ(V̂V̂ᵀ)^{-1}V̂`` projects onto the
span of the estimates (0 when the spans agree, 1 when orthogonal).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR

from ascentrl.ascent import Ascent

__all__ = [
    "EigenGame",
    "PCAFit",
    "StreamingPCA",
    "eigengame_utilities",
    "fit_streaming",
    "largest_eigenvalue",
    "longest_streak",
    "subspace_distance",
    "unit_rows",
]


def unit_rows(vectors: Tensor) -> Tensor:
    """Each row of ``vectors`` divided by its Euclidean norm."""
    return vectors / torch.linalg.vector_norm(vectors, dim=-1, keepdim=True)


def _row_products(vectors: Tensor, data: Tensor) -> Tensor:
    """``Y = X V̂ᵀ`` for a minibatch ``X`` (``B × d``) and ``k`` vectors (``k × d``), shape ``(B, k)``."""
    return data @ unit_rows(vectors).mT


def eigengame_utilities(vectors: Sequence[Tensor] | Tensor, data: Tensor) -> Tensor:
    """The ``k`` players' utilities ``u_i(v̂_i | v̂_{j<i})`` on the minibatch ``data``, shape ``(k,)``.

    ``M = Xᵀ X / B`` for ``data = X`` of shape ``(B, d)``. Every vector is normalized before use, so
    the utilities depend on directions only. Differentiating ``u_i`` through all vectors gives the
    game's full Jacobian; each player ascends ``∇_{v_i} u_i`` only.

    Args:
        vectors: the players' vectors, ``k`` tensors of shape ``(d,)`` or one tensor ``(k, d)``.
        data: minibatch ``X``, shape ``(B, d)``.
    """
    stacked = torch.stack(list(vectors)) if not isinstance(vectors, Tensor) else vectors
    products = _row_products(stacked, data)
    covariances = products.mT @ products / len(data)  # (k, k): v̂_iᵀ M v̂_j
    variances = torch.diagonal(covariances)
    penalties = torch.tril(covariances**2 / variances, diagonal=-1).sum(dim=1)  # Σ_{j<i} (v̂_iᵀMv̂_j)² / v̂_jᵀMv̂_j
    return variances - penalties


def _own_gradient_surrogate(vectors: Tensor, data: Tensor) -> Tensor:
    """``Σ_i u_i(v̂_i | stop(v̂_{j<i}))``: its gradient holds every player's own ``∇_{v_i} u_i``."""
    products = _row_products(vectors, data)
    parents = products.detach()
    batch = len(data)
    variances = (products**2).sum(dim=0) / batch
    cross = products.mT @ parents / batch  # (i, j): v̂_iᵀ M stop(v̂_j), differentiable in v_i only
    parent_variances = (parents**2).sum(dim=0) / batch
    penalties = torch.tril(cross**2 / parent_variances, diagonal=-1).sum(dim=1)
    return (variances - penalties).sum()


def longest_streak(estimates: Tensor, truth: Tensor, *, angle: float = math.pi / 8) -> int:
    """How many leading estimates in a row lie within ``angle`` of their true eigenvector.

    Args:
        estimates: ``(k, d)``, one estimate per row, in order.
        truth: ``(k', d)`` true eigenvectors as rows, by decreasing eigenvalue, ``k' ≥ k``.
        angle: the tolerance (π/8 in the paper); the sign of an eigenvector is ignored.
    """
    _check_truth(estimates, truth)
    cosines = (unit_rows(estimates) * unit_rows(truth[: len(estimates)])).sum(dim=1).abs()
    within = cosines >= math.cos(angle)
    return len(within) if bool(within.all()) else int(torch.argmin(within.int()))


def subspace_distance(estimates: Tensor, truth: Tensor) -> float:
    """``1 − tr(U* P) / k`` between the span of ``estimates`` (``k × d``) and that of the top-``k`` truth.

    ``U* = Σ_i u_i u_iᵀ`` over the true eigenvectors (rows of ``truth``, orthonormal) and ``P`` is the
    orthogonal projector onto the span of the estimates, which need not be orthonormal.
    """
    _check_truth(estimates, truth)
    k = len(estimates)
    basis = torch.linalg.qr(estimates.mT.to(torch.float64)).Q  # (d, k), orthonormal, same span
    overlap = truth[:k].to(torch.float64) @ basis  # (k, k)
    return float(1.0 - (overlap**2).sum() / k)


@dataclass(frozen=True)
class PCAFit:
    """A streaming PCA run.

    Attributes:
        components: the estimates as unit rows, shape ``(k, d)``, by decreasing captured variance
            as each method orders them (EigenGame and GHA order by construction).
        seconds: wall time of the streaming loop.
        steps: minibatch steps taken.
        history: ``(step, value)`` pairs from the ``monitor`` callable, if one was given.
    """

    components: Tensor
    seconds: float
    steps: int
    history: list[tuple[int, float]] = field(default_factory=list)


class EigenGame:
    """``k`` players, one unit vector each, in one ``(k, d)`` tensor; :meth:`step` moves all of them.

    Args:
        dim: data dimension ``d``.
        k: number of players (components), ``1 ≤ k ≤ d``.
        lr: the players' step size ``η`` (plain :class:`ascentrl.Ascent`, as in the paper).
        seed: seeds the random initial vectors.
        dtype: of the vectors.
    """

    def __init__(self, dim: int, k: int, *, lr: float, seed: int = 0, dtype: torch.dtype = torch.float32) -> None:
        _check_k(dim, k)
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
        start = torch.randn(k, dim, generator=torch.Generator().manual_seed(seed), dtype=dtype)
        self.vectors = unit_rows(start).requires_grad_(True)
        self.optimizer = Ascent([self.vectors], lr=lr)

    def step(self, data: Tensor) -> None:
        """One simultaneous Riemannian ascent step of every player on the minibatch ``data`` (``B × d``)."""
        self.optimizer.zero_grad(set_to_none=True)
        _own_gradient_surrogate(self.vectors, data).backward()
        self.optimizer.step()
        with torch.no_grad():
            self.vectors.copy_(unit_rows(self.vectors))

    @property
    def components(self) -> Tensor:
        """The current unit vectors, detached, shape ``(k, d)``."""
        return self.vectors.detach().clone()


def stream_minibatches(data: Tensor, batch_size: int, epochs: int, seed: int) -> Iterator[Tensor]:
    """Yield minibatches of ``data``'s rows: each epoch a fresh permutation, cut in ``batch_size`` rows."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for batch in torch.randperm(len(data), generator=generator).split(batch_size):
            yield data[batch]


class StreamingPCA(Protocol):
    """What :func:`fit_streaming` drives: :class:`EigenGame`, :class:`~ascentrl.applications.OjaSubspace`
    and :class:`~ascentrl.applications.GeneralizedHebbian` all have it."""

    optimizer: Optimizer

    def step(self, data: Tensor) -> None: ...

    @property
    def components(self) -> Tensor: ...


def fit_streaming(
    method: StreamingPCA,
    data: Tensor,
    *,
    batch_size: int,
    epochs: int,
    seed: int = 0,
    anneal: bool = True,
    monitor: Callable[[Tensor], float] | None = None,
    monitor_every: int = 100,
) -> PCAFit:
    """Run a streaming PCA method over ``epochs`` passes of minibatches of ``data``.

    Args:
        method: the estimator to move, e.g. ``EigenGame(d, k, lr=0.1)``.
        data: the rows to stream (centre them first for PCA), shape ``(n, d)``.
        batch_size, epochs: minibatch size and number of passes.
        seed: seeds the order of the rows.
        anneal: decay the step size to 0 along a cosine over all steps
            (``torch.optim.lr_scheduler.CosineAnnealingLR``). A constant step leaves the estimates
            jittering at a distance proportional to the step and the minibatch noise; the decay
            removes that floor.
        monitor: optional ``components -> float`` (e.g. the subspace distance), recorded every
            ``monitor_every`` steps; its time is not counted in ``seconds``.
    """
    total_steps = epochs * math.ceil(len(data) / batch_size)
    schedule = CosineAnnealingLR(method.optimizer, total_steps) if anneal else None
    history, seconds, steps = [], 0.0, 0
    start = time.perf_counter()
    for minibatch in stream_minibatches(data, batch_size, epochs, seed):
        method.step(minibatch)
        if schedule is not None:
            schedule.step()
        steps += 1
        if monitor is not None and steps % monitor_every == 0:
            seconds += time.perf_counter() - start
            history.append((steps, float(monitor(method.components))))
            start = time.perf_counter()
    seconds += time.perf_counter() - start
    return PCAFit(unit_rows(method.components), seconds, steps, history)


def largest_eigenvalue(data: Tensor, *, rows: int = 1024, iterations: int = 50) -> float:
    """Power-iteration estimate of the top eigenvalue of ``XᵀX / B`` on the first ``rows`` rows of ``data``.

    Streaming step sizes are scaled by it, so that one setting of ``lr`` suits data of any scale.
    """
    sample = data[:rows].to(torch.float64)
    vector = torch.ones(data.shape[1], dtype=torch.float64)
    value = 0.0
    for _ in range(iterations):
        product = sample.mT @ (sample @ vector) / len(sample)
        value = float(torch.linalg.vector_norm(product))
        if value == 0.0:
            return 0.0
        vector = product / value
    return value


def _check_truth(estimates: Tensor, truth: Tensor) -> None:
    if estimates.dim() != 2 or truth.dim() != 2 or estimates.shape[1] != truth.shape[1] or len(truth) < len(estimates):
        raise ValueError(
            f"estimates (k, d) need at least k true eigenvectors (k', d) as rows; got shapes"
            f" {tuple(estimates.shape)} and {tuple(truth.shape)}"
        )


def _check_k(dim: int, k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= dim:
        raise ValueError(f"k must be an integer in [1, d] = [1, {dim}], got {k!r}")
