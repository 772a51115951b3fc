r"""Sparse coding (dictionary learning) as alternating ascent on a penalized log-likelihood.

Olshausen and Field (1996), "Emergence of simple-cell receptive field properties by learning a sparse
code for natural images". Each data point ``x_n ∈ R^d`` is a sparse combination of ``m`` atoms, the
columns of a dictionary ``D`` (``d × m``), plus Gaussian noise: ``x_n = D a_n + ε``,
``ε ~ N(0, I)``, with a Laplace prior ``p(a) ∝ exp(−λ‖a‖₁)`` on the codes. The log joint likelihood of
data ``X`` (``n × d``, one point per row) and codes ``A`` (``n × m``) is, up to constants,

.. math::
    \log p(X, A \mid D) = \underbrace{-\tfrac12 \lVert X - A D^\top \rVert_F^2}_{J(A, D)}
        - \lambda \lVert A \rVert_1,

**maximized** over the codes and over the dictionary with unit-norm atoms (the scale of an atom and
of its codes trade off, so the norm is fixed). One step of :class:`SparseCoding` alternates the two
blocks, each by one proximal gradient ascent step with the step size ``1/L`` of its block's Lipschitz
constant — proximal alternating linearized maximization (PALM; Bolte, Sabach and Teboulle 2014):

1. codes: ``A ← S_{λ/L_A}(A + ∇_A J / L_A)`` with ``∇_A J = (X − ADᵀ) D``, ``L_A = ‖DᵀD‖₂`` and
   ``S_t(a) = sign(a) max(|a| − t, 0)`` the soft threshold, the proximal map of ``λ‖·‖₁`` (ISTA's step);
2. dictionary: ``D ← normalize_columns(D + ∇_D J / L_D)`` with ``∇_D J = (X − AD^T)ᵀ A`` and
   ``L_D = ‖AᵀA‖₂``;
3. atom replacement, as K-SVD does it (Aharon, Elad and Bruckstein 2006): alternating ascent can
   settle with two atoms on (nearly) the same direction, sharing one planted atom while another is
   missing; that is a local maximum the gradient cannot leave. When two atoms have ``|cos| > 0.95``,
   or an atom is used by no code, the less used one is replaced by the normalized residual
   ``x_n − D a_n`` of the worst-represented point and its codes are reset to 0.

The smooth part ``J`` is differentiated by autograd and stepped by an :class:`ascentrl.Ascent`
optimizer per block (plain steps with the learning rate set to ``1/L`` every time); the soft
threshold and the column normalization are the blocks' projections. The dictionary starts from
``m`` distinct data points, normalized (a common initialization that starts every atom in the data's
span).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ascentrl.ascent import Ascent

__all__ = ["SparseCoding", "atom_recovery", "soft_threshold"]


def soft_threshold(values: Tensor, threshold: float | Tensor) -> Tensor:
    """``sign(v) · max(|v| − t, 0)``: the proximal map of ``t‖·‖₁``."""
    return torch.sign(values) * torch.clamp(values.abs() - threshold, min=0.0)


def _unit_columns(matrix: Tensor) -> Tensor:
    norms = torch.linalg.vector_norm(matrix, dim=0, keepdim=True)
    return matrix / torch.where(norms > 0, norms, 1.0)


def _spectral_norm_squared(matrix: Tensor) -> float:
    """``‖MᵀM‖₂``, the largest squared singular value of ``M``."""
    return float(torch.linalg.matrix_norm(matrix, ord=2)) ** 2


class SparseCoding:
    """Dictionary learning by alternating proximal ascent on ``−½‖X − ADᵀ‖² − λ‖A‖₁``.

    Args:
        data: ``X``, one point per row, shape ``(n, d)``.
        atoms: dictionary size ``m`` (``1 ≤ m ≤ n``).
        sparsity_weight: ``λ > 0``, the weight of the Laplace prior.
        seed: picks the data points that initialize the dictionary.
        replace_atoms: replace duplicated and unused atoms (step 3 of the module docstring).
    """

    duplicate_cosine = 0.95
    """Two atoms whose ``|cos|`` exceeds this are duplicates."""

    def __init__(
        self, data: Tensor, atoms: int, *, sparsity_weight: float, seed: int = 0, replace_atoms: bool = True
    ) -> None:
        if data.dim() != 2 or not bool(torch.isfinite(data).all()):
            raise ValueError(f"data must be a finite matrix (n, d), got shape {tuple(data.shape)}")
        if isinstance(atoms, bool) or not isinstance(atoms, int) or not 1 <= atoms <= len(data):
            raise ValueError(f"atoms must be an integer in [1, n] = [1, {len(data)}], got {atoms!r}")
        if not (math.isfinite(sparsity_weight) and sparsity_weight > 0):
            raise ValueError(f"sparsity_weight must be a finite number > 0, got {sparsity_weight!r}")
        self.data = data
        self.sparsity_weight = float(sparsity_weight)
        self.replace_atoms = replace_atoms
        chosen = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:atoms]
        self.dictionary = _unit_columns(data[chosen].mT.clone()).requires_grad_(True)
        self.codes = torch.zeros(len(data), atoms, dtype=data.dtype, requires_grad=True)
        self.code_optimizer = Ascent([self.codes], lr=1.0)
        self.dictionary_optimizer = Ascent([self.dictionary], lr=1.0)

    def smooth_objective(self) -> Tensor:
        """``J(A, D) = −½‖X − ADᵀ‖²_F``, the Gaussian log-likelihood up to a constant."""
        return -0.5 * ((self.data - self.codes @ self.dictionary.mT) ** 2).sum()

    def log_likelihood(self) -> float:
        """The penalized log-likelihood ``J(A, D) − λ‖A‖₁`` being maximized (up to a constant)."""
        with torch.no_grad():
            return float(self.smooth_objective() - self.sparsity_weight * self.codes.abs().sum())

    def step(self) -> None:
        """One proximal ascent step on the codes, then one on the dictionary."""
        code_lipschitz = _spectral_norm_squared(self.dictionary.detach())
        self._ascend(self.code_optimizer, 1.0 / code_lipschitz)
        with torch.no_grad():
            self.codes.copy_(soft_threshold(self.codes, self.sparsity_weight / code_lipschitz))
        dictionary_lipschitz = _spectral_norm_squared(self.codes.detach())
        if dictionary_lipschitz > 0:
            self._ascend(self.dictionary_optimizer, 1.0 / dictionary_lipschitz)
            with torch.no_grad():
                self.dictionary.copy_(_unit_columns(self.dictionary))
        if self.replace_atoms:
            self._replace_redundant_atom()

    @torch.no_grad()
    def _replace_redundant_atom(self) -> None:
        """Replace one duplicated or unused atom by the worst-represented point's residual."""
        usage = (self.codes != 0).sum(dim=0)
        cosines = (self.dictionary.mT @ self.dictionary).abs().fill_diagonal_(0.0)
        first, second = divmod(int(cosines.argmax()), cosines.shape[1])
        if float(cosines[first, second]) > self.duplicate_cosine:
            atom = first if usage[first] <= usage[second] else second
        elif bool((usage == 0).any()):
            atom = int(torch.argmin(usage))
        else:
            return
        residuals = self.data - self.codes @ self.dictionary.mT
        worst = int(torch.argmax((residuals**2).sum(dim=1)))
        if float(residuals[worst].norm()) == 0.0:
            return
        self.dictionary[:, atom] = residuals[worst] / residuals[worst].norm()
        self.codes[:, atom] = 0.0

    def _ascend(self, optimizer: Ascent, lr: float) -> None:
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        self.smooth_objective().backward()
        optimizer.step()
        for tensor in (self.codes, self.dictionary):
            tensor.grad = None

    def fit(self, steps: int) -> list[float]:
        """Take ``steps`` alternating steps; returns the penalized log-likelihood after each."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps!r}")
        history = []
        for _ in range(steps):
            self.step()
            history.append(self.log_likelihood())
        return history


def atom_recovery(learned: Tensor, planted: Tensor) -> Tensor:
    """For each planted atom (column of ``planted``), the largest ``|cos|`` to any learned atom."""
    return (_unit_columns(learned).mT @ _unit_columns(planted)).abs().max(dim=0).values
