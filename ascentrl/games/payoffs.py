"""Payoffs of mixed-strategy profiles in normal-form games, and how far a profile is from Nash.

A normal-form game with ``n`` players is a payoff tensor of shape ``(*batch, n, A_1, …, A_n)``:
``payoffs[..., i, a_1, …, a_n]`` is player ``i``'s payoff when player ``j`` plays action
``a_j``. Leading ``*batch`` dimensions hold independent games. A mixed-strategy profile is a
sequence of ``n`` tensors, player ``i``'s of shape ``(*batch_i, A_i)``; the batch shapes of the
games and of the strategies broadcast, so one call evaluates many games and many profiles.

Everything follows from the *deviation payoffs* ``d_i[a] = u_i(a, x_{-i})`` — player ``i``'s
expected payoff for the pure action ``a`` while the others keep playing ``x_{-i}``:

1. ``d_i`` contracts player ``i``'s payoff tensor with every other player's strategy.
2. The expected payoff is ``u_i(x) = ⟨d_i, x_i⟩`` (payoffs are multilinear, so ``d_i`` is also
   the gradient of ``u_i`` with respect to ``x_i``).
3. The best-response value is ``max_a d_i[a]``: no strategy of player ``i`` does better against
   ``x_{-i}`` than its best pure action.
4. NashConv (Lanctot et al. 2017, "A unified game-theoretic approach to multiagent reinforcement
   learning") sums every player's incentive to deviate:
   ``NashConv(x) = Σ_i max_a u_i(a, x_{-i}) − u_i(x)``. It is non-negative and zero exactly at
   Nash equilibria. Exploitability is ``NashConv / n`` (as in OpenSpiel); in a two-player
   zero-sum game it is the mean of what each player loses against a best-responding opponent.
"""

from collections.abc import Sequence

import torch
from torch import Tensor


def deviation_payoffs(payoffs: Tensor, strategies: Sequence[Tensor]) -> list[Tensor]:
    """Each player's expected payoff for each of its pure actions against the others' strategies.

    Args:
        payoffs: payoff tensor of shape ``(*batch, n, A_1, …, A_n)``.
        strategies: ``n`` mixed strategies, player ``i``'s of shape ``(*batch_i, A_i)``.

    Returns:
        ``n`` tensors; the ``i``-th has shape ``(*broadcast_batch, A_i)`` and holds
        ``u_i(a, x_{-i})`` for every action ``a`` of player ``i``.
    """
    _check_profile(payoffs, strategies)
    n_players = len(strategies)
    return [
        _contract_all_but(payoffs.select(-n_players - 1, player), strategies, player)
        for player in range(n_players)
    ]


def expected_payoffs(payoffs: Tensor, strategies: Sequence[Tensor]) -> Tensor:
    """Expected payoff ``u_i(x)`` of every player under the mixed profile ``x``.

    Args:
        payoffs: payoff tensor of shape ``(*batch, n, A_1, …, A_n)``.
        strategies: ``n`` mixed strategies, player ``i``'s of shape ``(*batch_i, A_i)``.

    Returns:
        A tensor of shape ``(*broadcast_batch, n)``, differentiable in ``payoffs`` and in every
        strategy. To ascend, prefer :func:`expected_payoffs_by_player`.
    """
    return torch.stack(expected_payoffs_by_player(payoffs, strategies), dim=-1)


def expected_payoffs_by_player(payoffs: Tensor, strategies: Sequence[Tensor]) -> list[Tensor]:
    """``u_i(x)`` of every player as ``n`` separate tensors: the objectives each player ascends.

    The values equal :func:`expected_payoffs`, but every ``u_i`` has its own autograd graph, so
    ``∇u_i`` never runs backward through the other players' payoffs. Stacking them first would
    send zero gradients through all ``n`` payoff computations for each player (about twice the
    backward cost in two-player games, more with second-order dynamics).

    Returns:
        ``n`` tensors of shape ``broadcast_batch``.
    """
    deviations = deviation_payoffs(payoffs, strategies)
    return [(deviation * strategy).sum(-1) for deviation, strategy in zip(deviations, strategies)]


def best_response_values(payoffs: Tensor, strategies: Sequence[Tensor]) -> Tensor:
    """``max_a u_i(a, x_{-i})`` for every player: the most each player could get by deviating.

    Returns:
        A tensor of shape ``(*broadcast_batch, n)``.
    """
    return torch.stack(
        [deviation.amax(-1) for deviation in deviation_payoffs(payoffs, strategies)], dim=-1
    )


def best_responses(payoffs: Tensor, strategies: Sequence[Tensor]) -> list[Tensor]:
    """A pure best response of every player to the others' strategies, as one-hot strategies.

    Ties are broken towards the lowest action index.

    Returns:
        ``n`` tensors, player ``i``'s of shape ``(*broadcast_batch, A_i)``, each one-hot.
    """
    responses = []
    for deviation in deviation_payoffs(payoffs, strategies):
        best_action = deviation.argmax(-1)
        one_hot = torch.nn.functional.one_hot(best_action, deviation.shape[-1])
        responses.append(one_hot.to(deviation.dtype))
    return responses


def nash_conv(payoffs: Tensor, strategies: Sequence[Tensor]) -> Tensor:
    """NashConv: ``Σ_i max_a u_i(a, x_{-i}) − u_i(x)``, zero exactly at Nash equilibria.

    Returns:
        A tensor of shape ``(*broadcast_batch,)``.
    """
    deviations = deviation_payoffs(payoffs, strategies)
    incentives = [
        deviation.amax(-1) - (deviation * strategy).sum(-1)
        for deviation, strategy in zip(deviations, strategies)
    ]
    return torch.stack(incentives, dim=-1).sum(-1)


def exploitability(payoffs: Tensor, strategies: Sequence[Tensor]) -> Tensor:
    """Exploitability: NashConv divided by the number of players (OpenSpiel's convention).

    Returns:
        A tensor of shape ``(*broadcast_batch,)``.
    """
    return nash_conv(payoffs, strategies) / len(strategies)


def distance_to_equilibrium(strategies: Sequence[Tensor], equilibrium: Sequence[Tensor]) -> Tensor:
    """Euclidean distance between two profiles: ``sqrt(Σ_i ‖x_i − e_i‖²)``.

    Args:
        strategies: ``n`` mixed strategies, player ``i``'s of shape ``(*batch_i, A_i)``.
        equilibrium: ``n`` mixed strategies of the same action sizes (e.g. a known equilibrium).

    Returns:
        A tensor of shape ``(*broadcast_batch,)``.
    """
    if len(strategies) != len(equilibrium):
        raise ValueError(
            f"strategies has {len(strategies)} players but equilibrium has {len(equilibrium)}"
        )
    squared = [
        ((strategy - target) ** 2).sum(-1) for strategy, target in zip(strategies, equilibrium)
    ]
    return torch.stack(torch.broadcast_tensors(*squared), dim=-1).sum(-1).sqrt()


def _contract_all_but(player_payoffs: Tensor, strategies: Sequence[Tensor], keep: int) -> Tensor:
    """Sum ``player_payoffs`` (``(*batch, A_1, …, A_n)``) against every strategy except ``keep``'s.

    Contracting from the last action axis to the first keeps the position of every axis still to
    be contracted fixed: when we reach player ``j``, the axes left are ``A_1 … A_j`` and, if
    ``keep > j``, ``A_keep`` after them.
    """
    n_players = len(strategies)
    result = player_payoffs
    for player in reversed(range(n_players)):
        if player == keep:
            continue
        trailing = 1 if keep > player else 0
        strategy = strategies[player]
        shaped = strategy.reshape(
            *strategy.shape[:-1], *([1] * player), strategy.shape[-1], *([1] * trailing)
        )
        result = (result * shaped).sum(-1 - trailing)
    return result


def _check_profile(payoffs: Tensor, strategies: Sequence[Tensor]) -> None:
    """Raise ``ValueError`` unless ``strategies`` is a profile that fits ``payoffs``."""
    if not isinstance(payoffs, Tensor):
        raise TypeError(f"payoffs must be a torch.Tensor, got {type(payoffs).__name__}")
    n_players = len(strategies)
    if n_players < 1 or payoffs.dim() < n_players + 1:
        raise ValueError(
            f"payoffs of shape {tuple(payoffs.shape)} cannot hold a game of {n_players} players:"
            f" expected shape (*batch, {n_players}, A_1, ..., A_{n_players})"
        )
    action_counts = tuple(payoffs.shape[-n_players:])
    if payoffs.shape[-n_players - 1] != n_players:
        raise ValueError(
            f"payoffs has {payoffs.shape[-n_players - 1]} entries on its players axis but the"
            f" profile has {n_players} strategies"
        )
    for player, (strategy, actions) in enumerate(zip(strategies, action_counts)):
        if not isinstance(strategy, Tensor) or strategy.dim() < 1:
            raise ValueError(f"strategies[{player}] must be a tensor of shape (*batch, {actions})")
        if strategy.shape[-1] != actions:
            raise ValueError(
                f"strategies[{player}] has {strategy.shape[-1]} actions but the game gives that"
                f" player {actions}"
            )
