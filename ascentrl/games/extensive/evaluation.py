"""Exact evaluation of strategy profiles: expected payoffs, best responses, NashConv, exploitability.

Everything follows from the sequence form (see :mod:`ascentrl.games.extensive.tree`). With ``x``
a profile's realization plan and ``A`` the sparse sequence-form payoff matrix:

1. **Payoff gradient.** Each player's own payoff is linear in its own plan, so
   ``g_0 = ∂u_0/∂x_0 = A x_1`` and ``g_1 = ∂u_1/∂x_1 = −Aᵀ x_0``: one gather, one multiply and one
   scatter over the nonzero entries of ``A`` give both at once. ``g(σ)`` is the payoff collected
   at the terminal histories where ``σ`` was its owner's last choice, weighted by chance and by the
   opponent's plan.
2. **Expected payoffs.** ``u_0 = x_0ᵀ A x_1`` and ``u_1 = −u_0``.
3. **Values bottom-up.** The value of choosing ``Ia`` is ``q(Ia) = g(Ia) + Σ_J v(J)`` over the
   information sets ``J`` that follow ``Ia``. Against a fixed opponent, a best response takes
   ``v(J) = max_a q(Ja)`` (the best-response value of the player is ``q(∅)``); following a policy
   ``π`` takes ``v(J) = Σ_a π(J, a) q(Ja)``, the *counterfactual values* of CFR (Zinkevich et
   al. 2007). Both run level by level from the deepest information sets to the roots, over both
   players' trees at once.
4. **NashConv** (Lanctot et al. 2017) sums what each player gains by best responding:
   ``NashConv = Σ_i max_{x_i'} u_i(x_i', x_{-i}) − u_i(x)``, zero exactly at Nash equilibria. In a
   zero-sum game the two ``u_i`` cancel, so NashConv is the sum of the two best-response values
   (the duality gap). Exploitability is NashConv / 2, as in OpenSpiel.

Every function takes realization plans of shape ``(*batch, num_sequences)`` (see
:func:`~ascentrl.games.extensive.strategies.sequence_form`) and works on any batch shape.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from ascentrl.games.extensive.tree import ExtensiveFormGame


def payoff_gradient(game: ExtensiveFormGame, plan: Tensor) -> Tensor:
    """``g = (A x_1, −Aᵀ x_0)`` laid out on the sequences of both players: shape ``(*batch, num_sequences)``.

    Player ``i``'s part is the gradient of its own expected payoff ``u_i`` with respect to its own
    realization plan — the direction it ascends.
    """
    _check_plan(game, plan)
    rows, columns, payoffs = game.leaf_rows, game.leaf_columns, game.leaf_payoffs
    gradient = torch.zeros_like(plan)
    gradient = gradient.index_add(-1, rows, payoffs * plan[..., columns])
    return gradient.index_add(-1, columns, -payoffs * plan[..., rows])


def expected_payoffs(game: ExtensiveFormGame, plan: Tensor) -> Tensor:
    """``(u_0, u_1)`` of the profile: shape ``(*batch, 2)``, differentiable in ``plan``."""
    _check_plan(game, plan)
    payoff = (game.leaf_payoffs * plan[..., game.leaf_rows] * plan[..., game.leaf_columns]).sum(-1)
    return torch.stack([payoff, -payoff], -1)


def best_response_values(game: ExtensiveFormGame, plan: Tensor) -> Tensor:
    """``max_{x_i'} u_i(x_i', x_{-i})`` for both players: shape ``(*batch, 2)``."""
    values = _best_response_pass(game, payoff_gradient(game, plan))[0]
    return values[..., :2]


def best_responses(game: ExtensiveFormGame, plan: Tensor) -> Tensor:
    """A pure best response of each player to the other's plan, as one policy table.

    Rows of player ``i``'s information sets hold ``i``'s best response to ``x_{-i}``: at every
    information set (reached or not) the action with the highest value ``q``, ties broken towards
    the lowest action. Shape ``(*batch, num_infosets, num_distinct_actions)``, one-hot rows.
    """
    _, choices = _best_response_pass(game, payoff_gradient(game, plan))
    table = torch.zeros(*plan.shape[:-1], game.num_infosets, game.num_distinct_actions, dtype=plan.dtype)
    for level, best_slot in zip(game.levels, choices):
        sequences = level.sequences.expand(*best_slot.shape[:-1], *level.sequences.shape)
        actions = game.sequence_action[sequences.gather(-2, best_slot.unsqueeze(-2)).squeeze(-2)]
        one_hot = torch.nn.functional.one_hot(actions, game.num_distinct_actions).to(plan.dtype)
        table[..., level.infosets, :] = one_hot
    return table


def nash_conv(game: ExtensiveFormGame, plan: Tensor) -> Tensor:
    """NashConv of the profile: shape ``batch``; zero exactly at a Nash equilibrium."""
    return best_response_values(game, plan).sum(-1)


def exploitability(game: ExtensiveFormGame, plan: Tensor) -> Tensor:
    """NashConv / 2 (OpenSpiel's ``exploitability``): shape ``batch``."""
    return nash_conv(game, plan) / 2


def counterfactual_values(game: ExtensiveFormGame, gradient: Tensor, local: Tensor) -> tuple[Tensor, Tensor]:
    """Counterfactual action values ``q`` and information-set values ``v`` under a policy.

    Args:
        game: the game.
        gradient: :func:`payoff_gradient` of the profile (it holds the opponents' and chance's reach).
        local: the policy's local probabilities (see
            :func:`~ascentrl.games.extensive.strategies.local_probabilities`).

    Returns:
        ``q`` of shape ``(*batch, num_sequences)`` (``q(∅)`` is each player's expected payoff) and
        ``v`` of shape ``(*batch, num_infosets)``.
    """
    values = gradient
    infoset_values = torch.zeros(*gradient.shape[:-1], game.num_infosets, dtype=gradient.dtype)
    for level in reversed(game.levels):
        level_values = (level.gather(values) * level.gather(local) * level.legal).sum(-2)
        infoset_values[..., level.infosets] = level_values
        values = values.index_add(-1, level.parents, level_values)
    return values, infoset_values


def _best_response_pass(game: ExtensiveFormGame, gradient: Tensor) -> tuple[Tensor, list[Tensor]]:
    """Bottom-up maxima: best-response values ``q`` per sequence and the best action slot per level."""
    values, choices = gradient, []
    for level in reversed(game.levels):
        best, slot = (level.gather(values) + level.padding).max(-2)
        choices.append(slot)
        values = values.index_add(-1, level.parents, best)
    return values, choices[::-1]


def _check_plan(game: ExtensiveFormGame, plan: Tensor) -> None:
    if not isinstance(plan, Tensor) or plan.dim() < 1 or plan.shape[-1] != game.num_sequences:
        shape = tuple(plan.shape) if isinstance(plan, Tensor) else type(plan).__name__
        raise ValueError(f"a realization plan of {game.name} must have shape (*batch, {game.num_sequences}),"
                         f" got {shape}; convert a policy with sequence_form(game, policy)")


def counterfactual_reach(game: ExtensiveFormGame, plan: Tensor) -> Tensor:
    """The probability that chance and the opponent lead play into each information set.

    ``Σ_{h ∈ I} c(h) x_{-i}(σ_{-i}(h))`` for information set ``I`` of player ``i``; times the
    player's own reach ``x_i(p(I))`` it is the probability of reaching ``I``. Shape
    ``(*batch, num_infosets)``.
    """
    _check_plan(game, plan)
    reach = torch.zeros(*plan.shape[:-1], game.num_infosets, dtype=plan.dtype)
    return reach.index_add(-1, game.reach_infosets, game.reach_chance * plan[..., game.reach_sequences])


def payoff_gradient_matrix(game: ExtensiveFormGame) -> Tensor:
    """The sparse matrix ``G`` with ``G @ x = payoff_gradient(game, x)``: ``[[0, A], [−Aᵀ, 0]]`` in the
    joint sequence order, in compressed sparse row form (one sparse product per gradient, several
    times faster than the gather and scatter of :func:`payoff_gradient`; not differentiable).
    """
    rows = torch.cat([game.leaf_rows, game.leaf_columns])
    columns = torch.cat([game.leaf_columns, game.leaf_rows])
    values = torch.cat([game.leaf_payoffs, -game.leaf_payoffs])
    size = (game.num_sequences, game.num_sequences)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta": products are all we use
        return torch.sparse_coo_tensor(torch.stack([rows, columns]), values, size).coalesce().to_sparse_csr()
