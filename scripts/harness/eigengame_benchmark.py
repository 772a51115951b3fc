"""The EigenGame section of the applications benchmark: top-k PCA by EigenGame, Oja, GHA and eigh.

Data (MNIST cannot be downloaded here):

* ``synthetic784``: 60,000 rows of 784-dimensional Gaussian data (MNIST's shape) with covariance
  ``Q diag(λ) Qᵀ``, ``λ_i = 5 · i^{-0.8}`` (``λ₁ = 5`` as MNIST's, a slowly decaying tail, every
  eigenvalue distinct: ``λ₁₆ − λ₁₇ ≈ 0.025``) and ``Q`` a random orthogonal matrix (QR of a Gaussian
  matrix), seeded. The truth is ``numpy.linalg.eigh`` of the *sample* covariance of the centred rows.
* ``digits64``: scikit-learn's bundled 8 × 8 handwritten digits (1,797 rows, 64 dimensions), real
  data, when scikit-learn is installed.

Every streaming method sees the same minibatches of the centred rows (:func:`fit_streaming`, cosine
step decay) with the step size ``lr / λ̂₁``, on one torch thread; numpy's float64 covariance plus
``eigh`` (batch PCA), on one BLAS thread, is timed in the same run and every row carries its time
relative to it. Target of issue 13 (synthetic784, k = 16):
streak 16/16 and subspace distance ≤ 1e-3.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

import numpy as np
import torch

from ascentrl.applications import (
    EigenGame,
    GeneralizedHebbian,
    OjaSubspace,
    fit_streaming,
    largest_eigenvalue,
    longest_streak,
    subspace_distance,
)

__all__ = ["STREAMING_METHODS", "eigengame_rows", "format_eigengame_table", "load_digits", "synthetic_784"]

STREAMING_METHODS = {"eigengame": EigenGame, "oja": OjaSubspace, "gha": GeneralizedHebbian}
TARGET_DISTANCE = 1e-3


def synthetic_784(rows: int = 60_000, dim: int = 784, seed: int = 0) -> np.ndarray:
    """Gaussian rows with covariance ``Q diag(5 i^{-0.8}) Qᵀ`` (see the module docstring), float32."""
    generator = np.random.default_rng(seed)
    eigenvalues = 5.0 * np.arange(1, dim + 1) ** -0.8
    basis, _ = np.linalg.qr(generator.standard_normal((dim, dim)))
    return ((generator.standard_normal((rows, dim)) * np.sqrt(eigenvalues)) @ basis.T).astype(np.float32)


def load_digits() -> np.ndarray | None:
    """scikit-learn's 8 × 8 digits as float32 rows, or ``None`` without scikit-learn."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        return None
    return sklearn_digits().data.astype(np.float32)


def _one_blas_thread():
    """Limit numpy's BLAS to one thread (threadpoolctl, a scikit-learn dependency) if it is installed:
    the streaming methods run on one torch thread, and on a busy two-core machine a second BLAS
    thread made ``eigh`` several times slower, not faster."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def _numpy_eigh(centred: np.ndarray, k: int) -> tuple[np.ndarray, float, float]:
    """Top-``k`` eigenvectors (rows) of the float64 covariance by numpy, the seconds spent forming the
    covariance and the seconds of ``eigh`` itself."""
    with _one_blas_thread():
        start = time.perf_counter()
        rows = centred.astype(np.float64)
        covariance = rows.T @ rows / len(rows)
        formed = time.perf_counter()
        _, eigenvectors = np.linalg.eigh(covariance)
        done = time.perf_counter()
    return eigenvectors[:, ::-1][:, :k].T.copy(), formed - start, done - formed


def eigengame_rows(
    data: np.ndarray,
    k: int = 16,
    *,
    dataset: str = "synthetic784",
    methods: Sequence[str] = ("eigengame", "oja", "gha"),
    epochs: int = 10,
    batch_size: int = 256,
    lr: float = 0.5,
    seed: int = 0,
) -> list[dict]:
    """numpy's eigh and each streaming method on ``data``; one row each, times relative to numpy's
    covariance + eigh (the cost of batch PCA; the numpy row also splits it into its two parts)."""
    torch.set_num_threads(1)
    centred = data - data.mean(axis=0, keepdims=True)
    truth_rows, covariance_seconds, eigh_only_seconds = _numpy_eigh(centred, k)
    eigh_seconds = covariance_seconds + eigh_only_seconds
    truth = torch.from_numpy(truth_rows)
    rows = [{"dataset": dataset, "method": "numpy eigh", "k": k, "seconds": eigh_seconds, "time_vs_eigh": 1.0,
             "covariance_seconds": covariance_seconds, "eigh_only_seconds": eigh_only_seconds,
             "subspace_distance": 0.0, "streak": k, "steps": None}]
    minibatches = torch.from_numpy(np.ascontiguousarray(centred, dtype=np.float32))
    step_size = lr / largest_eigenvalue(minibatches)
    for name in methods:
        method = STREAMING_METHODS[name](minibatches.shape[1], k, lr=step_size, seed=seed)
        fit = fit_streaming(method, minibatches, batch_size=batch_size, epochs=epochs, seed=seed)
        estimates = fit.components.to(torch.float64)
        rows.append({
            "dataset": dataset,
            "method": name,
            "k": k,
            "seconds": fit.seconds,
            "time_vs_eigh": fit.seconds / eigh_seconds,
            "subspace_distance": subspace_distance(estimates, truth),
            "streak": longest_streak(estimates, truth),
            "steps": fit.steps,
        })
    return rows


def format_eigengame_table(rows: Sequence[dict]) -> str:
    """A text table of :func:`eigengame_rows`, with the verdict on the issue's target."""
    lines = [f"{'data':<14}{'method':<12}{'k':>4}{'streak':>8}{'subspace dist.':>16}{'seconds':>10}{'x numpy':>9}"]
    for row in rows:
        split = ""
        if "covariance_seconds" in row:
            split = f"   (covariance {row['covariance_seconds']:.2f} s + eigh {row['eigh_only_seconds']:.2f} s)"
        lines.append(f"{row['dataset']:<14}{row['method']:<12}{row['k']:>4}{row['streak']:>5}/{row['k']:<2}"
                     f"{row['subspace_distance']:>16.2e}{row['seconds']:>10.2f}{row['time_vs_eigh']:>9.2f}{split}")
    target_rows = [r for r in rows if r["dataset"] == "synthetic784" and r["method"] == "eigengame" and r["k"] == 16]
    if target_rows:
        row = target_rows[0]
        met = row["streak"] == 16 and row["subspace_distance"] <= TARGET_DISTANCE
        lines.append(f"target (synthetic784, top 16: streak 16/16, distance <= {TARGET_DISTANCE:g}):"
                     f" {'met' if met else 'NOT met'} — streak {row['streak']}/16,"
                     f" distance {row['subspace_distance']:.2e}")
    return "\n".join(lines)
