"""Closed-form gradients and game-Hessian products of matrix games, for all players at once.

On a matrix game every objective is a multilinear form of the players' mixed strategies, so the
simultaneous gradient and the products with the game Hessian that SGA, consensus and LOLA need
are tensor contractions; :class:`MatrixGameGradients` computes them without autograd for
:class:`ascentrl.games.matrix_dynamics.ClosedFormDynamics`. Every player **maximizes** its payoff.

Notation. Player ``i`` has parameters ``θ_i``, mixed strategy ``x_i = σ(θ_i)`` over ``A_i`` actions
and payoff tensor ``P_i`` (``payoffs[i]``), and ascends ``u_i = P_i(x_1, …, x_n)``.

* Deviation payoffs ``d_i = ∂u_i/∂x_i``: ``P_i`` contracted with every ``x_j``, ``j ≠ i``.
* Hessian blocks of the multilinear forms: ``T_ij = ∂d_i/∂x_j = ∂²u_i/∂x_i∂x_j`` (``A_i × A_j``,
  ``i ≠ j``) is ``P_i`` contracted with every ``x_k``, ``k ∉ {i, j}``, and ``∂²u_i/∂x_i² = 0``
  (``u_i`` is linear in ``x_i``). On the stacked profile they form one matrix ``B = [T_ij]`` with
  zero diagonal blocks; as ``T_ij x_j = d_i`` for every ``j ≠ i``, ``B x = (n − 1) d``. With two
  players ``B = [[0, P_1], [P_2ᵀ, 0]]`` is constant. With more, ``B`` is multilinear in the profile:
  ``vec(B) = W X^{⊗(n−2)}`` for the flattened stacked profile ``X`` and a matrix ``W`` of the payoffs
  built once (``(nA)^n`` entries), so ``B`` at a step is one matrix product and the deviation
  payoffs are ``d = B x / (n − 1)``. Every Hessian product below is then a product with ``B`` or
  ``Bᵀ``.
* The parameterization's Jacobian ``S_i = ∂x_i/∂θ_i`` (symmetric) and curvature. ``"simplex"``:
  ``x = θ − mean(θ) + 1/A`` (the identity on the simplex, where the projection keeps ``θ``, and
  the affine map onto its hull), ``S = C = I − 11ᵀ/A`` and no curvature. ``"softmax"``:
  ``S = diag(x) − xxᵀ`` and ``∇²_θ⟨d, softmax(θ)⟩ = diag(g) − g xᵀ − x gᵀ`` with ``g = S d``
  (differentiate ``g_a = x_a (d_a − ⟨x, d⟩)``).

What follows:

* gradient ``g_i = ∇_{θ_i} u_i = S_i d_i``;
* game Hessian ``J = ∂g/∂θ`` by the product rule: ``J_ij = S_i T_ij S_j`` for ``i ≠ j`` (only
  ``d_i`` depends on ``θ_j``) and ``J_ii = H_i = ∇²_{θ_i}⟨d_i, σ(θ_i)⟩`` (``d_i`` does not depend
  on ``θ_i``): zero for simplex players, ``diag(g_i) − g_i x_iᵀ − x_i g_iᵀ`` for softmax players.
  Hence ``(Jv)_i = H_i v_i + S_i Σ_{j≠i} T_ij S_j v_j`` and
  ``(Jᵀw)_j = H_j w_j + S_j Σ_{i≠j} T_ijᵀ S_i w_i`` (``H`` and ``S`` are symmetric);
* LOLA's opponent gradient of my payoff: ``∇_{θ_o} u_p = S_o T_poᵀ x_p``.

For simplex players ``S = C`` is a constant projector, folded into the two-player operators
(``C B`` and ``C Bᵀ``); the vectors the Hessian products are applied to are gradients, images of
``C``, on which the inner ``C`` is the identity. ``Aᵀg = (Jᵀg − Jg)/2 = S (Bᵀ − B)/2 S g``: the
symmetric curvature cancels, so ``Jᵀg`` and ``Aᵀg`` come from one product with ``[Bᵀ; (Bᵀ − B)/2]``.

Arithmetic: NumPy, on arrays the class builds from the payoff tensor. A matrix game's arrays hold
a few entries, so a step's cost is the fixed cost of its thirty-odd operations, and a NumPy
operation on such an array costs a third to a quarter of a torch one (measured: 0.3–1.2 µs against
0.9–3.2 µs here); :class:`ascentrl.games.matrix_dynamics.ClosedFormDynamics` converts at the start
and the end of a run.

Layout: the players are stacked in one ``(*batch, n, A)`` tensor, ``A = max_i A_i``; a player
with fewer actions is padded with parameters 0 and probabilities exactly 0 (its softmax sees
``−inf`` logits there, :attr:`MatrixGameGradients.padding`), and every operator maps padded
entries to 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

Array = NDArray[np.floating]


class MatrixGameGradients:
    """Gradients and game-Hessian products of a matrix game for stacked players (module docstring).

    Every array argument and result is a NumPy array in the stacked ``(*batch, n, A)`` layout.

    Args:
        payoffs: ``(*batch, n, A_1, …, A_n)`` payoff tensor.
        actions: ``A_1, …, A_n``.
        batch_shape: the players' batch shape (the game's batch shape broadcasts to it).
        softmax: the players' parameterization is ``"softmax"`` (else ``"simplex"``).
        dtype: dtype of the parameters (the arrays' dtype is its NumPy counterpart).
    """

    def __init__(
        self, payoffs: Tensor, actions: Sequence[int], batch_shape: Sequence[int], *, softmax: bool, dtype: torch.dtype
    ) -> None:
        self.actions = list(actions)
        self.softmax = softmax
        n_players, width = len(self.actions), max(self.actions)
        self.stacked_shape = (*batch_shape, n_players, width)
        self._flat_shape = (*batch_shape, n_players * width, 1)
        self._pair_shape = (*batch_shape, 2, n_players, width)
        real = torch.zeros(n_players, width, dtype=torch.bool)
        for i, count in enumerate(self.actions):
            real[i, :count] = True
        self.padding = (None if real.all()
                        else torch.zeros(n_players, width, dtype=dtype).masked_fill(~real, -torch.inf).numpy())
        """``(n, A)``: 0 on real actions, ``−inf`` on padded ones; None without padding."""
        self._centering = _block_centering(self.actions, width, dtype).numpy()
        self._uniform = (real / torch.tensor(self.actions, dtype=dtype).unsqueeze(1)).reshape(-1, 1).numpy()
        self._blocks = _HessianBlocks(list(payoffs.detach().cpu().to(dtype).unbind(-n_players - 1)), width)
        self._deviation_scale = 1.0 / (n_players - 1)
        self._last_blocks: tuple[Array, Array] | None = None
        # Two players: B does not depend on the strategies; build B, Bᵀ and [Bᵀ; (Bᵀ − B)/2] once,
        # with the simplex players' constant S = C folded in on the left.
        self._constant = None
        if n_players == 2:
            direct = self._blocks.at(None)
            transposed = np.swapaxes(direct, -1, -2)
            antisymmetric = (transposed - direct) * 0.5
            if not softmax:
                direct, transposed, antisymmetric = (self._centering @ m for m in (direct, transposed, antisymmetric))
            self._constant = _Operators(direct, np.ascontiguousarray(transposed),
                                        np.concatenate([transposed, antisymmetric], axis=-2), folded=not softmax)

    def strategies(self, parameters: Array) -> Array:
        """``x = σ(θ)`` for every player, ``(*batch, n, A)``."""
        if self.softmax:
            logits = parameters if self.padding is None else parameters + self.padding
            exponentials = np.exp(logits - logits.max(-1, keepdims=True))
            return exponentials / exponentials.sum(-1, keepdims=True)
        flat = self._centering @ parameters.reshape(self._flat_shape)
        flat += self._uniform
        return flat.reshape(self.stacked_shape)

    def gradient(self, strategies: Array) -> Array:
        """``g_i = S_i d_i`` for every player."""
        if self._constant is not None:
            deviations = self._apply(self._constant.direct, strategies)  # B x, or C B x (folded)
            return self._left(strategies, deviations, self._constant)
        deviations = self._apply(self._blocks_at(strategies), strategies)
        deviations *= self._deviation_scale  # B x/(n−1)
        return self.tangent(strategies, deviations)

    def sga_products(self, strategies: Array, gradient: Array) -> tuple[Array, Array]:
        """``(Jᵀg, Aᵀg)`` at ``strategies`` for the gradient ``g`` there, ``A = (J − Jᵀ)/2``."""
        if self._constant is not None:
            operator, folded = self._constant.transposed_and_antisymmetric, self._constant.folded
        else:
            blocks = self._blocks_at(strategies)
            transposed = np.swapaxes(blocks, -1, -2)
            operator, folded = np.concatenate([transposed, (transposed - blocks) * 0.5], axis=-2), False
        inner, curvature = self._inner_and_curvature(strategies, gradient)
        pair = (operator @ inner.reshape(self._flat_shape)).reshape(self._pair_shape)
        if not folded:
            pair = self.tangent(strategies[..., None, :, :], pair)
        transposed, antisymmetric = pair[..., 0, :, :], pair[..., 1, :, :]
        return (transposed if curvature is None else transposed + curvature), antisymmetric

    def transposed_hessian_product(self, strategies: Array, gradient: Array) -> Array:
        """``Jᵀg`` alone (consensus)."""
        if self._constant is not None:
            operator, folded = self._constant.transposed, self._constant.folded
        else:
            operator, folded = np.swapaxes(self._blocks_at(strategies), -1, -2), False
        inner, curvature = self._inner_and_curvature(strategies, gradient)
        product = self._apply(operator, inner)
        if not folded:
            product = self.tangent(strategies, product)
        if curvature is not None:
            product += curvature
        return product

    def lola_shaping(self, strategies: Array) -> Array:
        """Two players: in player ``p``'s slot, ``J_opᵀ c_p = S_p T_opᵀ S_o c_p`` with
        ``c_p = ∇_{θ_o} u_p = S_o T_poᵀ x_p`` (the opponent's gradient of my payoff, held constant)."""
        operators = self._constant
        opponents_gradients = self._left(strategies, self._apply(operators.transposed, strategies), operators)
        inner = self.tangent(strategies, opponents_gradients) if self.softmax else opponents_gradients
        return self._left(strategies, self._apply(operators.transposed, inner), operators)

    def tangent(self, strategies: Array, vectors: Array) -> Array:
        """``S_i v_i`` for every player (``strategies`` broadcast against ``vectors``)."""
        if self.softmax:  # x ⊙ (v − ⟨x, v⟩), the order softmax's own backward uses
            product = vectors - (strategies * vectors).sum(-1, keepdims=True)
            product *= strategies
            return product
        shape = vectors.shape  # (*batch, n, A), possibly with a leading pair axis
        return (self._centering @ vectors.reshape(*shape[:-2], -1, 1)).reshape(shape)

    def stack(self, per_player: Sequence[Tensor]) -> Array:
        """Per-player ``(*batch, A_i)`` tensors as one zero-padded ``(*batch, n, A)`` array (a copy)."""
        stacked = np.zeros(self.stacked_shape, dtype=self._centering.dtype)
        for view, tensor in zip(self.unstack(stacked), per_player):
            view[...] = tensor.detach().cpu().numpy()
        return stacked

    def unstack(self, stacked: Array) -> list[Array]:
        """The per-player views ``stacked[..., i, :A_i]``."""
        return [stacked[..., i, :count] for i, count in enumerate(self.actions)]

    def _blocks_at(self, strategies: Array) -> Array:
        """``B`` at ``strategies`` (three or more players), kept for the next call with the same
        array: a step asks for it for the gradient and again for the Hessian products."""
        if self._last_blocks is None or self._last_blocks[0] is not strategies:
            self._last_blocks = (strategies, self._blocks.at(strategies))
        return self._last_blocks[1]

    def _left(self, strategies: Array, products: Array, operators: _Operators) -> Array:
        """The left-hand ``S_i`` of a product with ``B`` (already in the operator when folded)."""
        return products if operators.folded else self.tangent(strategies, products)

    def _inner_and_curvature(self, strategies: Array, gradient: Array) -> tuple[Array, Array | None]:
        """The right-hand ``S g`` of the off-diagonal blocks and ``H g``, sharing ``g − ⟨x, g⟩`` for
        softmax players: ``S g = x ⊙ (g − ⟨x, g⟩)`` and
        ``H g = g ⊙ g − g ⟨x, g⟩ − x ⟨g, g⟩ = g ⊙ (g − ⟨x, g⟩) − x ⟨g, g⟩`` (the same in ``J`` and
        ``Jᵀ``: ``H`` is symmetric). Simplex players: ``g`` itself (a gradient is an image of the
        projector ``C``) and no curvature."""
        if not self.softmax:
            return gradient, None
        centered = gradient - (strategies * gradient).sum(-1, keepdims=True)
        squared_norms = (gradient * gradient).sum(-1, keepdims=True)
        curvature = gradient * centered
        curvature -= strategies * squared_norms
        return strategies * centered, curvature

    def _apply(self, operator: Array, stacked: Array) -> Array:
        """``operator @ vec(stacked)``, back in the stacked layout."""
        return (operator @ stacked.reshape(self._flat_shape)).reshape(self.stacked_shape)


class _Operators(NamedTuple):
    """The constant two-player operators (``C`` folded in on the left for simplex players)."""

    direct: Array
    transposed: Array
    transposed_and_antisymmetric: Array
    folded: bool


class _HessianBlocks:
    """``B = [T_ij]`` as a matrix acting on a Kronecker power of the stacked profile.

    With ``X`` the flattened stack of all strategies (``nA`` entries) and ``X^{⊗k}`` its ``k``-fold
    Kronecker power, ``vec(B) = W X^{⊗(n−2)}``: ``W[(i, a), (j, b), (k_1, c_1), …]`` holds
    ``P_i[a, b, c_1, …]`` (axes reordered to ``i, j, k_1, …``) where ``k_1 < k_2 < …`` are the players
    other than ``i`` and ``j``, and zero elsewhere. ``W`` is built once (``(nA)^n`` entries, with torch
    from the payoff tensors); ``B`` at a profile is then one matrix product. With two players
    ``X^{⊗0} = 1`` and ``B`` is constant."""

    def __init__(self, player_payoffs: Sequence[Tensor], width: int) -> None:
        n_players = len(player_payoffs)
        padded = [torch.nn.functional.pad(p, [pad for a in reversed(p.shape[-n_players:]) for pad in (0, width - a)])
                  for p in player_payoffs]
        batch = padded[0].shape[:-n_players]
        every = slice(None)
        weights = padded[0].new_zeros(*batch, *[n_players, width] * n_players)
        for i, payoffs in enumerate(padded):
            for j in range(n_players):
                if j == i:
                    continue
                rest = [k for k in range(n_players) if k not in (i, j)]
                ordered = payoffs.permute(*range(len(batch)), *[len(batch) + k for k in (i, j, *rest)])
                weights[(..., i, every, j, every, *[index for k in rest for index in (k, every)])] = ordered
        size = n_players * width
        self._weights = weights.reshape(*batch, size * size, size ** (n_players - 2)).numpy()
        self._n_players, self._size = n_players, size

    def at(self, strategies: Array | None) -> Array:
        """``B = [T_ij]`` (zero diagonal blocks) on the flattened stack, ``nA × nA``, at the stacked
        strategies (None with two players)."""
        if self._n_players == 2:
            return self._weights.reshape(*self._weights.shape[:-2], self._size, self._size)
        power = _kronecker_power(strategies.reshape(*strategies.shape[:-2], -1), self._n_players - 2)
        product = self._weights @ power[..., None]
        return product.reshape(*product.shape[:-2], self._size, self._size)


def _kronecker_power(vector: Array, power: int) -> Array:
    """``vector^{⊗power}`` along the last axis (``power ≥ 1``), flattened row-major."""
    result = vector
    for _ in range(power - 1):
        result = (result[..., :, None] * vector[..., None, :]).reshape(*result.shape[:-1], -1)
    return result


def _block_centering(actions: list[int], width: int, dtype: torch.dtype) -> Tensor:
    """Block-diagonal ``C = diag(I − 11ᵀ/A_i)`` on the flattened stack, zero on padded entries: the
    simplex players' ``S``, and their strategy map ``x = Cθ + 1/A_i``."""
    centering = torch.zeros(len(actions) * width, len(actions) * width, dtype=dtype)
    for i, count in enumerate(actions):
        block = slice(i * width, i * width + count)
        centering[block, block] = torch.eye(count, dtype=dtype) - 1.0 / count
    return centering
