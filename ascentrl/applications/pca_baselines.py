"""The streaming PCA methods EigenGame is measured against: Oja's rule and the generalized Hebbian algorithm.

Both take the same minibatches ``X_t`` (``B × d``, ``M_t = X_tᵀX_t / B``) as
:class:`ascentrl.applications.EigenGame` and keep ``k`` vectors as the rows of ``V`` (``k × d``);
``Y = X_t Vᵀ``.

* :class:`OjaSubspace`: Oja's rule for ``k`` components (Oja 1982; with orthonormalization it is
  stochastic orthogonal iteration). Ascend ``J(V) = tr(V M_t Vᵀ) / 2``, whose gradient is
  ``Vᵀ ↦ M_t Vᵀ``, i.e. ``YᵀX_t / B`` as rows, with an :class:`ascentrl.Ascent` step, then
  re-orthonormalize the rows by Gram–Schmidt in order (a QR factorization of ``Vᵀ``). Orthogonalizing
  in order makes row ``i`` converge to the ``i``-th eigenvector, not just the span.
* :class:`GeneralizedHebbian`: Sanger's rule (Sanger 1989, "Optimal unsupervised learning in a
  single-layer linear feedforward neural network"): ``V ← V + η (YᵀX_t − LT(YᵀY) V) / B`` with
  ``LT`` the lower triangle including the diagonal. Row ``i`` runs Oja's single-vector rule on the
  data deflated by rows ``j < i``. It is not the gradient of any objective; its direction is handed
  to an :class:`ascentrl.Ascent` as the ascent direction (as :mod:`ascentrl.games.dynamics` does with
  its adjusted directions), so the same step-size schedules apply to all three methods.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ascentrl.applications.eigengame import _check_k, unit_rows
from ascentrl.ascent import Ascent

__all__ = ["GeneralizedHebbian", "OjaSubspace"]


def _random_orthonormal_rows(dim: int, k: int, seed: int, dtype: torch.dtype) -> Tensor:
    start = torch.randn(dim, k, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    return torch.linalg.qr(start).Q.mT.contiguous()


def _check_lr(lr: float) -> None:
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")


class OjaSubspace:
    """Oja's rule for ``k`` ordered components: ascent on ``tr(V M_t Vᵀ)/2``, then QR.

    Args:
        dim, k, lr, seed, dtype: as :class:`ascentrl.applications.EigenGame`.
    """

    def __init__(self, dim: int, k: int, *, lr: float, seed: int = 0, dtype: torch.dtype = torch.float32) -> None:
        _check_k(dim, k)
        _check_lr(lr)
        self.vectors = _random_orthonormal_rows(dim, k, seed, dtype).requires_grad_(True)
        self.optimizer = Ascent([self.vectors], lr=lr)

    def step(self, data: Tensor) -> None:
        """One ascent step on the captured variance of ``data``, then re-orthonormalize."""
        self.optimizer.zero_grad(set_to_none=True)
        captured = data @ self.vectors.mT
        (0.5 * (captured**2).sum() / len(data)).backward()
        self.optimizer.step()
        with torch.no_grad():
            self.vectors.copy_(torch.linalg.qr(self.vectors.mT).Q.mT)

    @property
    def components(self) -> Tensor:
        return self.vectors.detach().clone()


class GeneralizedHebbian:
    """Sanger's generalized Hebbian algorithm: ``V ← V + η (YᵀX − LT(YᵀY) V) / B``.

    Args:
        dim, k, lr, seed, dtype: as :class:`ascentrl.applications.EigenGame`.
    """

    def __init__(self, dim: int, k: int, *, lr: float, seed: int = 0, dtype: torch.dtype = torch.float32) -> None:
        _check_k(dim, k)
        _check_lr(lr)
        self.vectors = _random_orthonormal_rows(dim, k, seed, dtype).requires_grad_(True)
        self.optimizer = Ascent([self.vectors], lr=lr)

    def step(self, data: Tensor) -> None:
        """One Hebbian update on ``data`` (``B × d``)."""
        with torch.no_grad():
            outputs = data @ self.vectors.mT
            hebbian = outputs.mT @ data
            decay = torch.tril(outputs.mT @ outputs) @ self.vectors
            self.vectors.grad = (hebbian - decay) / len(data)
        self.optimizer.step()
        self.vectors.grad = None

    @property
    def components(self) -> Tensor:
        return unit_rows(self.vectors.detach()).clone()
