"""Behavioural and sequence-form strategies of an :class:`ExtensiveFormGame`, and conversions.

Three views of one strategy profile (both players at once), each batched over leading dimensions:

* A **policy** (behavioural strategy) is a table ``π`` of shape ``(*batch, num_infosets,
  num_distinct_actions)``: row ``I`` is the acting player's distribution over its legal actions at
  information set ``I`` (zero on illegal actions), like OpenSpiel's ``TabularPolicy``.
* **Local probabilities** ``b`` have shape ``(*batch, num_sequences)``: ``b(Ia) = π(I, a)`` and
  ``b(∅) = 1``. The same numbers laid out on sequences, the form the level-by-level passes use.
* A **realization plan** (sequence form) ``x`` of the same shape: ``x(σ)`` is the probability that
  the owner's own choices play ``σ``, the product of ``b`` along the path,
  ``x(Ia) = x(p(I)) · b(Ia)``. Expected payoffs are bilinear in ``x`` (Kuhn 1953's theorem
  makes the two views equivalent under perfect recall).

From ``x`` back to ``π``: ``π(I, a) = x(Ia) / x(p(I))`` where ``x(p(I)) > 0``; at information
sets the player's own strategy never reaches, any distribution gives the same realization plan and
the uniform one is returned.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ascentrl.games.extensive.tree import ExtensiveFormGame


def uniform_policy(game: ExtensiveFormGame) -> Tensor:
    """Every legal action equally likely: shape ``(num_infosets, num_distinct_actions)``."""
    mask = game.legal_actions_mask.to(game.dtype)
    return mask / mask.sum(-1, keepdim=True)


def random_policy(game: ExtensiveFormGame, *, batch_shape: tuple[int, ...] = (),
                  generator: torch.Generator | None = None) -> Tensor:
    """Policies drawn uniformly from each information set's simplex (flat Dirichlet).

    Args:
        game: the game.
        batch_shape: leading dimensions: that many independent policies.
        generator: a seeded ``torch.Generator`` for reproducible draws.

    Returns:
        A tensor of shape ``(*batch_shape, num_infosets, num_distinct_actions)``.
    """
    shape = (*batch_shape, game.num_infosets, game.num_distinct_actions)
    # Normalized independent exponentials are uniform on the simplex.
    draws = -torch.rand(shape, dtype=game.dtype, generator=generator).clamp_min(1e-300).log()
    draws = draws * game.legal_actions_mask
    return draws / draws.sum(-1, keepdim=True)


def check_policy(game: ExtensiveFormGame, policy: Tensor, *, tolerance: float = 1e-6) -> None:
    """Raise ``ValueError`` unless ``policy`` is a batch of policy tables of ``game``.

    Checks the shape, that entries are finite and non-negative, that illegal actions have
    probability zero and that every row sums to one within ``tolerance``.
    """
    expected = (game.num_infosets, game.num_distinct_actions)
    if not isinstance(policy, Tensor) or not policy.is_floating_point() or tuple(policy.shape[-2:]) != expected:
        shape = tuple(policy.shape) if isinstance(policy, Tensor) else type(policy).__name__
        raise ValueError(f"a policy of {game.name} must be a floating-point tensor of shape (*batch, {expected[0]},"
                         f" {expected[1]}) (information sets x actions), got {shape}")
    if not bool(torch.isfinite(policy).all()) or bool((policy < 0).any()):
        raise ValueError("policy probabilities must be finite and non-negative")
    illegal = (policy != 0) & ~game.legal_actions_mask
    if bool(illegal.any()):
        infoset = int(torch.nonzero(illegal.reshape(-1, *expected).any(0).any(-1))[0])
        raise ValueError(f"policy puts probability on an illegal action at {game.information_states[infoset]!r}")
    totals = policy.sum(-1)
    if bool(((totals - 1).abs() > tolerance).any()):
        infoset = int(torch.nonzero(((totals - 1).abs() > tolerance).reshape(-1, expected[0]).any(0))[0])
        raise ValueError(f"policy probabilities at {game.information_states[infoset]!r} sum to "
                         f"{float(totals.reshape(-1, expected[0])[:, infoset].max()):.9g}, not 1")


def local_probabilities(game: ExtensiveFormGame, policy: Tensor) -> Tensor:
    """``b(Ia) = π(I, a)`` for every sequence and ``b(∅) = 1``: shape ``(*batch, num_sequences)``."""
    flat = policy.flatten(-2)[..., game.sequence_table_index]
    return torch.cat([torch.ones(*flat.shape[:-1], 2, dtype=flat.dtype), flat], -1)


def table_from_sequences(game: ExtensiveFormGame, values: Tensor, *, fill: float = 0.0) -> Tensor:
    """Lay per-sequence values out as a ``(*batch, num_infosets, num_distinct_actions)`` table.

    Entry ``(I, a)`` is ``values[..., Ia]``; illegal actions get ``fill``. The inverse of
    :func:`local_probabilities` on policies.
    """
    batch = values.shape[:-1]
    table = torch.full((*batch, game.num_infosets * game.num_distinct_actions), fill, dtype=values.dtype)
    table = table.index_copy(-1, game.sequence_table_index, values[..., 2:])
    return table.reshape(*batch, game.num_infosets, game.num_distinct_actions)


def realization_plan(game: ExtensiveFormGame, local: Tensor) -> Tensor:
    """Top-down products ``x(Ia) = x(p(I)) · b(Ia)`` from local probabilities ``b`` (differentiable)."""
    plan = local[..., :2]
    for level in game.levels:
        plan = torch.cat([plan, plan.index_select(-1, level.sequence_parents) * local[..., level.start:level.stop]], -1)
    return plan


def sequence_form(game: ExtensiveFormGame, policy: Tensor) -> Tensor:
    """The realization plan of both players under ``policy``: shape ``(*batch, num_sequences)``."""
    return realization_plan(game, local_probabilities(game, policy))


def behavioural_policy(game: ExtensiveFormGame, plan: Tensor) -> Tensor:
    """The policy table of a realization plan (uniform where the owner never reaches the information set)."""
    parents = plan[..., game.sequence_parent[2:]]
    reached = parents > 0
    uniform = local_probabilities(game, uniform_policy(game))[2:]
    ratios = torch.where(reached, plan[..., 2:] / torch.where(reached, parents, 1), uniform)
    ones = torch.ones(*ratios.shape[:-1], 2, dtype=ratios.dtype)
    return table_from_sequences(game, torch.cat([ones, ratios], -1))
