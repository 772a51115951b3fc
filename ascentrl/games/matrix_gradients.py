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
  players ``B = [[0, P_1], [P_2ᵀ, 0]]`` is constant. With more, ``B`` depends on the profile and is
  formed at each step by one batched product: every payoff tensor is permuted to the axes
  ``(i, j, others…)`` and flattened once (``n(n − 1)`` copies of the payoffs are kept), and ``T_ij`` is
  that matrix times the Kronecker product of the other strategies. Every Hessian product below is
  then a product with ``B`` or ``Bᵀ``.
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

Layout: the players are stacked in one ``(*batch, n, A)`` tensor, ``A = max_i A_i``; a player
with fewer actions is padded with parameters 0 and probabilities exactly 0 (its softmax sees
``−inf`` logits there, :attr:`MatrixGameGradients.padding`), and every operator maps padded
entries to 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor


class MatrixGameGradients:
    """Gradients and game-Hessian products of a matrix game for stacked players (module docstring).

    Args:
        payoffs: ``(*batch, n, A_1, …, A_n)`` payoff tensor.
        actions: ``A_1, …, A_n``.
        batch_shape: the players' batch shape (the game's batch shape broadcasts to it).
        softmax: the players' parameterization is ``"softmax"`` (else ``"simplex"``).
        dtype: dtype of the parameters.
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
        self.padding = None if real.all() else torch.zeros(n_players, width, dtype=dtype).masked_fill(~real, -torch.inf)
        """``(n, A)``: 0 on real actions, ``−inf`` on padded ones; None without padding."""
        self._centering = _block_centering(self.actions, width, dtype)
        self._uniform = (real / torch.tensor(self.actions, dtype=dtype).unsqueeze(1)).reshape(-1, 1)
        self._contractions = _Contractions(list(payoffs.detach().to(dtype).unbind(-n_players - 1)), width)
        # Two players: B does not depend on the strategies; build it (with C folded in) once.
        self._constant = None
        if n_players == 2:
            self._constant = self._operators(None, fold=not softmax)

    def strategies(self, parameters: Tensor) -> Tensor:
        """``x = σ(θ)`` for every player, ``(*batch, n, A)``."""
        if self.softmax:
            return torch.softmax(parameters if self.padding is None else parameters + self.padding, dim=-1)
        return (self._centering @ parameters.view(*self._flat_shape)).add_(self._uniform).view(*self.stacked_shape)

    def gradient(self, strategies: Tensor) -> Tensor:
        """``g_i = S_i d_i`` for every player."""
        if self._constant is not None:
            deviations = self._apply(self._constant.direct, strategies)  # B x, or C B x (folded)
            return self._left(strategies, deviations, self._constant)
        return self.tangent(strategies, self._contractions.deviations(strategies))

    def sga_products(self, strategies: Tensor, gradient: Tensor) -> tuple[Tensor, Tensor]:
        """``(Jᵀg, Aᵀg)`` at ``strategies`` for the gradient ``g`` there, ``A = (J − Jᵀ)/2``."""
        operators = self._operators(strategies)
        inner, curvature = self._inner_and_curvature(strategies, gradient)
        pair = (operators.transposed_and_antisymmetric @ inner.view(*self._flat_shape)).view(*self._pair_shape)
        transposed, antisymmetric = self._left(strategies.unsqueeze(-3), pair, operators).unbind(-3)
        return (transposed if curvature is None else transposed + curvature), antisymmetric

    def transposed_hessian_product(self, strategies: Tensor, gradient: Tensor) -> Tensor:
        """``Jᵀg`` alone (consensus)."""
        operators = self._operators(strategies)
        inner, curvature = self._inner_and_curvature(strategies, gradient)
        product = self._left(strategies, self._apply(operators.transposed, inner), operators)
        return product if curvature is None else product.add_(curvature)

    def lola_shaping(self, strategies: Tensor) -> Tensor:
        """Two players: in player ``p``'s slot, ``J_opᵀ c_p = S_p T_opᵀ S_o c_p`` with
        ``c_p = ∇_{θ_o} u_p = S_o T_poᵀ x_p`` (the opponent's gradient of my payoff, held constant)."""
        operators = self._operators(strategies)
        opponents_gradients = self._left(strategies, self._apply(operators.transposed, strategies), operators)
        inner = self.tangent(strategies, opponents_gradients) if self.softmax else opponents_gradients
        return self._left(strategies, self._apply(operators.transposed, inner), operators)

    def tangent(self, strategies: Tensor, vectors: Tensor) -> Tensor:
        """``S_i v_i`` for every player (``strategies`` broadcast against ``vectors``)."""
        if self.softmax:  # x ⊙ (v − ⟨x, v⟩), the order softmax's own backward uses
            return (vectors - (strategies * vectors).sum(-1, keepdim=True)).mul_(strategies)
        shape = vectors.shape  # (*batch, n, A), possibly with a leading pair axis
        return (self._centering @ vectors.reshape(*shape[:-2], -1, 1)).view(shape)

    def stack(self, per_player: Sequence[Tensor]) -> Tensor:
        """Per-player ``(*batch, A_i)`` tensors as one zero-padded ``(*batch, n, A)`` tensor."""
        if self.padding is None:
            return torch.stack(list(per_player), dim=-2)
        stacked = per_player[0].new_zeros(self.stacked_shape)
        for view, tensor in zip(self.unstack(stacked), per_player):
            view.copy_(tensor)
        return stacked

    def unstack(self, stacked: Tensor) -> list[Tensor]:
        """The per-player views ``stacked[..., i, :A_i]``."""
        return [stacked[..., i, :count] for i, count in enumerate(self.actions)]

    def _operators(self, strategies: Tensor | None, *, fold: bool = False) -> _Operators:
        """``B``, ``Bᵀ`` and ``[Bᵀ; (Bᵀ − B)/2]`` at ``strategies`` (constant with two players), with
        ``B = [T_ij]`` on the flattened stack; ``fold`` multiplies ``C`` in on the left."""
        if self._constant is not None:
            return self._constant
        blocks = self._contractions.blocks(strategies)
        transposed = blocks.mT
        antisymmetric = (transposed - blocks) * 0.5
        if fold:
            blocks, transposed, antisymmetric = (self._centering @ m for m in (blocks, transposed, antisymmetric))
        return _Operators(blocks, transposed.contiguous(), torch.cat([transposed, antisymmetric], dim=-2), fold)

    def _left(self, strategies: Tensor, products: Tensor, operators: _Operators) -> Tensor:
        """The left-hand ``S_i`` of a product with ``B`` (already in the operator when folded)."""
        return products if operators.folded else self.tangent(strategies, products)

    def _inner_and_curvature(self, strategies: Tensor, gradient: Tensor) -> tuple[Tensor, Tensor | None]:
        """The right-hand ``S g`` of the off-diagonal blocks and ``H g``, sharing ``g − ⟨x, g⟩`` for
        softmax players: ``S g = x ⊙ (g − ⟨x, g⟩)`` and
        ``H g = g ⊙ g − g ⟨x, g⟩ − x ⟨g, g⟩ = g ⊙ (g − ⟨x, g⟩) − x ⟨g, g⟩`` (the same in ``J`` and
        ``Jᵀ``: ``H`` is symmetric). Simplex players: ``g`` itself (a gradient is an image of the
        projector ``C``) and no curvature."""
        if not self.softmax:
            return gradient, None
        centered = gradient - (strategies * gradient).sum(-1, keepdim=True)
        squared_norms = (gradient * gradient).sum(-1, keepdim=True)
        return strategies * centered, torch.addcmul(gradient * centered, strategies, squared_norms, value=-1.0)

    def _apply(self, operator: Tensor, stacked: Tensor) -> Tensor:
        """``operator @ vec(stacked)``, back in the stacked layout."""
        return (operator @ stacked.reshape(*self._flat_shape)).view(*self.stacked_shape)


class _Operators(NamedTuple):
    direct: Tensor
    transposed: Tensor
    transposed_and_antisymmetric: Tensor
    folded: bool


class _Contractions:
    """The contractions of the payoff tensors with the strategies, as batched matrix products.

    Every player's payoffs are padded to ``A`` actions per player and permuted once: to the axes
    ``(i, others…)``, flattened to ``A × A^{n−1}``, for the deviation payoffs ``d_i``; and, for each
    ordered pair ``(i, j)``, to ``(i, j, rest…)``, flattened to ``A × A × A^{n−2}``, for the blocks
    ``T_ij``. At a profile each is one batched product with a Kronecker product of strategies."""

    def __init__(self, player_payoffs: Sequence[Tensor], width: int) -> None:
        n_players = len(player_payoffs)
        self.pairs = [(i, j) for i in range(n_players) for j in range(n_players) if i != j]
        padded = [torch.nn.functional.pad(p, [pad for a in reversed(p.shape[-n_players:]) for pad in (0, width - a)])
                  for p in player_payoffs]
        batch = len(padded[0].shape) - n_players

        def kernel(player: int, leading: tuple[int, ...]) -> Tensor:
            rest = [k for k in range(n_players) if k not in leading]
            axes = [*range(batch), *[batch + k for k in (*leading, *rest)]]
            return padded[player].permute(*axes).reshape(*padded[player].shape[:batch], *([width] * len(leading)), -1)

        self._deviation_kernels = torch.stack([kernel(i, (i,)) for i in range(n_players)], dim=-3)
        self._others = torch.tensor([[k for k in range(n_players) if k != i] for i in range(n_players)])
        self._block_kernels = torch.stack([kernel(i, (i, j)) for i, j in self.pairs], dim=-4)
        self._rest = torch.tensor([[k for k in range(n_players) if k not in pair] for pair in self.pairs],
                                  dtype=torch.long).reshape(len(self.pairs), n_players - 2)
        # Where each (i, j) block comes from in [0, T_pair_1, T_pair_2, …]: 0 on the diagonal.
        block_index = torch.zeros(n_players, n_players, dtype=torch.long)
        for number, (i, j) in enumerate(self.pairs):
            block_index[i, j] = number + 1
        self._block_index = block_index.flatten()
        self._n_players, self._width = n_players, width

    def deviations(self, strategies: Tensor) -> Tensor:
        """``d_i`` for every player, stacked ``(*batch, n, A)``."""
        kronecker = _kronecker(strategies, self._others)
        return (self._deviation_kernels @ kronecker.unsqueeze(-1)).squeeze(-1)

    def blocks(self, strategies: Tensor | None) -> Tensor:
        """``B = [T_ij]`` (zero diagonal blocks) on the flattened stack, ``nA × nA``, at the stacked
        strategies (None with two players)."""
        if self._rest.shape[1] == 0:
            blocks = self._block_kernels.squeeze(-1)
        else:
            blocks = (self._block_kernels @ _kronecker(strategies, self._rest)[..., None, :, None]).squeeze(-1)
        n_players, width = self._n_players, self._width
        with_zero = torch.cat([blocks.new_zeros(*blocks.shape[:-3], 1, width, width), blocks], dim=-3)
        grid = with_zero.index_select(-3, self._block_index).unflatten(-3, (n_players, n_players))
        return grid.transpose(-3, -2).reshape(*grid.shape[:-4], n_players * width, n_players * width)


def _kronecker(strategies: Tensor, players: Tensor) -> Tensor:
    """Row ``r``: the Kronecker product of the strategies of ``players[r]`` (in that order), flattened."""
    kronecker = strategies.index_select(-2, players[:, 0])
    for column in range(1, players.shape[1]):
        following = strategies.index_select(-2, players[:, column])
        kronecker = (kronecker.unsqueeze(-1) * following.unsqueeze(-2)).flatten(-2)
    return kronecker


def _block_centering(actions: list[int], width: int, dtype: torch.dtype) -> Tensor:
    """Block-diagonal ``C = diag(I − 11ᵀ/A_i)`` on the flattened stack, zero on padded entries: the
    simplex players' ``S``, and their strategy map ``x = Cθ + 1/A_i``."""
    centering = torch.zeros(len(actions) * width, len(actions) * width, dtype=dtype)
    for i, count in enumerate(actions):
        block = slice(i * width, i * width + count)
        centering[block, block] = torch.eye(count, dtype=dtype) - 1.0 / count
    return centering
