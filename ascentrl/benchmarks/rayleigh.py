"""The top eigenvector of a symmetric matrix by gradient ascent on the Rayleigh quotient.

For a symmetric matrix A, the Rayleigh quotient

    R(v) = vᵀAv / vᵀv

is maximized exactly by the eigenvectors of the largest eigenvalue λ_max, where R = λ_max.
Its gradient ∇R = 2(Av − R(v)v)/vᵀv is orthogonal to v, so ascent turns v towards the top
eigenvector while ‖v‖ only drifts slowly.  The benchmark compares the result with
:func:`torch.linalg.eigh`: the distance is min over the sign s of ‖v/‖v‖ − s·u‖ for eigh's top
eigenvector u, and the problem's optimum value is eigh's λ_max.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ascentrl.benchmarks.problem import Benchmark, Problem

MATRIX_SIZE = 10


def rayleigh_quotient(matrix: Tensor, vector: Tensor) -> Tensor:
    """R(v) = vᵀAv / vᵀv for a symmetric ``matrix`` A; maximized (= λ_max) by A's top eigenvectors."""
    return vector @ matrix @ vector / (vector @ vector)


def random_symmetric_matrix(size: int, generator: torch.Generator) -> Tensor:
    """A = (B + Bᵀ)/2 with B of i.i.d. standard-normal entries drawn from ``generator``."""
    entries = torch.randn(size, size, generator=generator)
    return (entries + entries.T) / 2


def eigenvector_distance(vector: Tensor, eigenvector: Tensor) -> float:
    """min over s ∈ {−1, 1} of ‖v/‖v‖ − s·u‖ for a unit ``eigenvector`` u (eigenvectors have no sign)."""
    direction = vector / vector.norm()
    return min(float((direction - eigenvector).norm()), float((direction + eigenvector).norm()))


def _build_rayleigh(seed: int) -> Problem:
    """R(v) for a random symmetric 10×10 matrix and a random start v, both drawn from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    matrix = random_symmetric_matrix(MATRIX_SIZE, generator)
    vector = torch.randn(MATRIX_SIZE, generator=generator).requires_grad_(True)
    eigenvalues, eigenvectors = torch.linalg.eigh(matrix)
    top_eigenvector = eigenvectors[:, -1]

    def distance() -> float:
        return eigenvector_distance(vector.detach(), top_eigenvector)

    return Problem([vector], lambda: rayleigh_quotient(matrix, vector), float(eigenvalues[-1]), distance)


RAYLEIGH_BENCHMARK = Benchmark(
    "rayleigh_quotient", "J = v'Av / v'v, A random symmetric 10x10; max = top eigenvalue (vs eigh)",
    _build_rayleigh, lr=0.1, steps=1000, optimum_kind="global",
)
"""Top eigenvector of a seeded random symmetric 10×10 matrix, compared with ``torch.linalg.eigh``."""
