"""The game dynamics of :mod:`ascentrl.games.dynamics` on matrix games, in closed form.

:class:`ClosedFormDynamics` takes the steps a :class:`~ascentrl.games.GameDynamics` takes — the same
methods and options, the same optimizer update, the same projections — but computes the gradients
and game-Hessian products of the matrix game as tensor contractions
(:mod:`ascentrl.games.matrix_gradients` derives them) instead of through autograd, in NumPy on the
CPU (a matrix game's arrays are tiny, so the fixed cost per operation is the whole cost, and NumPy's
is a third of torch's). On small games the autograd path spends its time building graphs and in
Python; the closed form takes an eighteenth to a fifty-seventh of its time per step on a 2×2 game, about
15–36 µs (``scripts/bench_games.py`` measures it), and tests prove
the two trajectories equal to 1e-12 (float64) step by step. Both round differently, so where the
dynamics themselves amplify rounding the two drift apart like any two implementations: simultaneous
ascent on rock-paper-scissors (lr 0.2) separates them by more than 1e-12 after ~450 steps, and
the autograd path from itself started 1e-16 away after ~650. Every player **maximizes** its
payoff: nothing is negated.

One step, for every method:

1. Read the mixed strategies ``x`` of all players (stacked, see :mod:`ascentrl.games.matrix_gradients`).
2. Form each player's direction as the method's class does: ``g`` (simultaneous); ``g`` against the
   newest strategies, one player after the other (alternating); ``2g_t − g_{t−1}`` (optimistic); a
   look-ahead step, then ``g`` there from the start (extragradient; optimistic with two step sizes,
   whose look-ahead follows the previous look-ahead gradient); ``g − λ Aᵀg`` with
   ``Aᵀg = (Jᵀg − Jg)/2`` and the sign-alignment rule (sga); ``g − γ Jᵀg`` (consensus);
   ``g + η J_opᵀ c_p`` (lola).
3. Update every player with its own :class:`~ascentrl.Ascent`'s SGD rule
   (:func:`ascentrl._update_rules.sgd_forloop`): learning rate, momentum (dampening, Nesterov) and
   weight decay (coupled or decoupled) act exactly as ``Ascent`` makes them act. Players with the
   same settings step as one stacked tensor; without momentum or weight decay the update is the
   single ``θ += η·direction``, bit for bit the rule's ``θ −= η·(−direction)``.
4. Project simplex players onto the simplex.

At the end the parameters, momentum buffers, step counts and ``last_stats`` are written back to the
players' tensors and optimizers, as if autograd had run. What the closed form does not cover runs on
autograd (:func:`closed_form_unsupported` names the reason): adaptive modes, gradient clipping,
escape strategies, ``track_update_norm``, optimizers other than ``Ascent`` or with several parameter
groups, players with different parameterizations or several parameter tensors, subclasses of the
dynamics, and games whose Hessian-block operator would exceed :data:`MAX_OPERATOR_ENTRIES`.
Gradients of finite payoffs are finite, so the optimizers' ``nonfinite`` policy never acts; a
non-finite strategy (payoffs near the float range) raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import Tensor

from ascentrl import _update_rules as rules
from ascentrl.ascent import Ascent, NonFiniteGradientError, StepStats
from ascentrl.games.dynamics import (
    AlternatingAscent,
    ConsensusOptimization,
    Extragradient,
    GameDynamics,
    LookaheadOpponentLearning,
    OptimisticAscent,
    SimultaneousAscent,
    SymplecticGradientAdjustment,
)
from ascentrl.games.matrix_gradients import Array, MatrixGameGradients
from ascentrl.games.simplex import project_array_to_simplex

PARAMETERIZATIONS = ("softmax", "simplex")
"""How a player's parameters give its mixed strategy: ``softmax(θ)``, or ``θ`` kept on the simplex."""

MAX_OPERATOR_ENTRIES = 2**24
"""Largest Hessian-block operator (``(nA)^n`` entries per game, :mod:`ascentrl.games.matrix_gradients`)
the closed form builds; larger games run on autograd."""

_METHODS = {
    SimultaneousAscent: "simultaneous",
    AlternatingAscent: "alternating",
    OptimisticAscent: "optimistic",
    Extragradient: "extragradient",
    SymplecticGradientAdjustment: "sga",
    ConsensusOptimization: "consensus",
    LookaheadOpponentLearning: "lola",
}


def closed_form_unsupported(
    dynamics: GameDynamics, parameterizations: Sequence[str], payoffs: Tensor | None = None
) -> str | None:
    """Why :class:`ClosedFormDynamics` cannot reproduce ``dynamics`` exactly, or None if it can.

    Args:
        dynamics: a dynamics whose players each hold one parameter tensor.
        parameterizations: each player's parameterization, from :data:`PARAMETERIZATIONS`.
        payoffs: the game's payoff tensor, if its size is to be checked too.
    """
    if type(dynamics) not in _METHODS:
        return f"{type(dynamics).__name__} is not one of the dynamics of ascentrl.games.DYNAMICS"
    if len(set(parameterizations)) != 1 or parameterizations[0] not in PARAMETERIZATIONS:
        return f"the players' parameterizations {tuple(parameterizations)} are not one of {PARAMETERIZATIONS}"
    shapes = {(tensor.shape[:-1], tensor.dtype) for player in dynamics.players for tensor in player if tensor.dim()}
    if len(shapes) != 1 or any(tensor.dim() == 0 for player in dynamics.players for tensor in player):
        return "the players' parameters are not (*batch, actions) tensors of one batch shape and dtype"
    dtype = next(iter(shapes))[1]
    if dtype not in (torch.float32, torch.float64):
        return f"the players' parameters are {dtype}; the closed form computes in float32 or float64 (NumPy)"
    for index, (player, optimizer) in enumerate(zip(dynamics.players, dynamics.optimizers)):
        reason = _unsupported_optimizer(optimizer, player)
        if reason is not None:
            return f"optimizers[{index}] {reason}"
    if payoffs is not None:
        n_players = len(dynamics.players)
        width = max(player[0].shape[-1] for player in dynamics.players)
        entries = payoffs[(..., *[0] * (n_players + 1))].numel() * (n_players * width) ** n_players
        if entries > MAX_OPERATOR_ENTRIES:
            return (f"the game is too large: its Hessian-block operator would hold {entries:,} entries"
                    f" (more than {MAX_OPERATOR_ENTRIES:,})")
    return None


class ClosedFormDynamics:
    """Run ``dynamics`` on a matrix game without autograd (see the module docstring).

    ``dynamics`` supplies the method, its options, the players' parameters and their optimizers;
    its objectives must be the expected payoffs ``payoffs`` of the players' mixed strategies under
    ``parameterizations``, and its projections the simplex projection for ``"simplex"`` players and
    none for ``"softmax"`` ones (as :func:`ascentrl.agents.play` builds them). The parameters are read
    once; :meth:`run` writes the final ones, and the optimizers' state, back.

    Args:
        dynamics: the dynamics to reproduce; :func:`closed_form_unsupported` must accept it.
        payoffs: ``(*batch, n, A_1, …, A_n)`` payoff tensor, batch broadcasting with the parameters'.
        parameterizations: each player's parameterization (all equal).
    """

    def __init__(self, dynamics: GameDynamics, payoffs: Tensor, parameterizations: Sequence[str]) -> None:
        reason = closed_form_unsupported(dynamics, parameterizations, payoffs)
        if reason is not None:
            raise ValueError(f"the closed form cannot reproduce this dynamics: {reason}")
        self.dynamics = dynamics
        self.method = _METHODS[type(dynamics)]
        self._parameters = [player[0] for player in dynamics.players]
        dtype = self._parameters[0].dtype
        batch_shape = torch.broadcast_shapes(*[parameter.shape[:-1] for parameter in self._parameters])
        self.game = MatrixGameGradients(payoffs, [p.shape[-1] for p in self._parameters], batch_shape,
                                        softmax=parameterizations[0] == "softmax", dtype=dtype)
        self._theta = self.game.stack(self._parameters)
        self._views = self.game.unstack(self._theta)
        self._settings = [_update_settings(optimizer) for optimizer in dynamics.optimizers]
        buffers = [optimizer.state[parameter].get("momentum_buffer")
                   for optimizer, parameter in zip(dynamics.optimizers, self._parameters)]
        # One update of the whole stack when every player steps with the same settings: padded
        # entries have direction 0, so they stay 0 (weight decay included).
        self._stacked = (self.method != "alternating" and all(s == self._settings[0] for s in self._settings)
                         and len({buffer is None for buffer in buffers}) == 1)
        if self._stacked:
            self._buffers = [None if buffers[0] is None else torch.from_numpy(self.game.stack(buffers))]
        else:
            self._buffers = [[buffer] for buffer in buffers]
        self._optimizer_steps = [0] * len(self._parameters)
        self._last_directions: list[Array | None] = [None] * len(self._parameters)
        self._previous: Array | None = None
        self._n_parameters = float(sum(self.game.actions))
        # Simplex players start on the simplex (the projection keeps them there); a start off its
        # affine hull, which only a hand-set parameter can be, reads its strategies by the formula.
        self._on_hull = not self.game.softmax and all(
            bool((np.abs(view.sum(-1) - 1) <= 1e-12).all()) for view in self._views)

    def run(self, steps: Iterable) -> list[Tensor]:
        """Take one step per element of ``steps`` (e.g. ``range(n)`` or a tqdm bar) and write the
        result back into the parameters and optimizers.

        Returns:
            Per player, the strategies ``(len(steps) + 1, *batch, A_i)``: the start, then every iterate.
        """
        strategies = self._projected_strategies()
        history = [strategies]
        step = getattr(self, f"_{self.method}")
        for _ in steps:
            strategies = step(strategies)
            history.append(strategies)
        stacked = np.stack(history)
        if not np.isfinite(stacked).all():
            raise NonFiniteGradientError("the closed-form dynamics produced a non-finite strategy")
        self._write_back()
        device = self._parameters[0].device
        return [torch.from_numpy(np.ascontiguousarray(strategy)).to(device) for strategy in self.game.unstack(stacked)]

    # -------------------------------------------------------------------- one step per method
    def _simultaneous(self, strategies: Array) -> Array:
        self._ascend(self.game.gradient(strategies))
        return self._projected_strategies()

    def _alternating(self, strategies: Array) -> Array:
        for player in range(len(self._parameters)):
            if player > 0:
                strategies = self._projected_strategies()
            self._ascend(self.game.gradient(strategies), player)
        return self._projected_strategies()

    def _optimistic(self, strategies: Array) -> Array:
        if self.dynamics.extrapolation_lr is not None:
            return self._past_extragradient(strategies)
        gradient = self.game.gradient(strategies)
        previous = gradient if self._previous is None else self._previous
        self._ascend(2.0 * gradient + -1.0 * previous)
        self._previous = gradient
        return self._projected_strategies()

    def _past_extragradient(self, strategies: Array) -> Array:
        start = self._theta.copy()
        if self._previous is not None:
            self._ascend(self._previous, lr=self.dynamics.extrapolation_lr)
            strategies = self._projected_strategies()
        gradient = self.game.gradient(strategies)
        if self._previous is not None:
            self._theta[...] = start
        self._ascend(gradient)
        self._previous = gradient
        return self._projected_strategies()

    def _extragradient(self, strategies: Array) -> Array:
        start = self._theta.copy()
        self._ascend(self.game.gradient(strategies), lr=self.dynamics.extrapolation_lr)
        lookahead_gradient = self.game.gradient(self._projected_strategies())
        self._theta[...] = start
        self._ascend(lookahead_gradient)
        return self._projected_strategies()

    def _sga(self, strategies: Array) -> Array:
        options = self.dynamics
        gradient = self.game.gradient(strategies)
        transposed, antisymmetric = self.game.sga_products(strategies, gradient)
        adjustment = options.adjustment
        if options.alignment:
            # −⟨g, Jᵀg⟩⟨Aᵀg, Jᵀg⟩/d + ε, as dynamics.py rounds it: (−a)·b/d = a·b/(−d) exactly.
            score = _per_game_dot(gradient, transposed) * _per_game_dot(antisymmetric, transposed)
            score = score / -self._n_parameters + options.alignment_epsilon
            # λ·where(score >= 0, 1, −1) in one operation: adding ε ≥ 0 turns a −0.0 score into +0.0.
            adjustment = np.copysign(options.adjustment, score)
        self._ascend(gradient - adjustment * antisymmetric)
        return self._projected_strategies()

    def _consensus(self, strategies: Array) -> Array:
        gradient = self.game.gradient(strategies)
        transposed = self.game.transposed_hessian_product(strategies, gradient)
        self._ascend(gradient - self.dynamics.consensus_weight * transposed)
        return self._projected_strategies()

    def _lola(self, strategies: Array) -> Array:
        gradient = self.game.gradient(strategies)
        self._ascend(gradient + self.dynamics.lookahead * self.game.lola_shaping(strategies))
        return self._projected_strategies()

    def _projected_strategies(self) -> Array:
        """The strategies, read (as every method reads them) at the start or right after the simplex
        players' projection: softmax(θ), or ``θ`` itself where ``θ − mean(θ) + 1/A = θ`` (to rounding),
        i.e. where ``Σθ = 1``: one copy instead of a matrix product."""
        return self._theta.copy() if self._on_hull else self.game.strategies(self._theta)

    # ------------------------------------------------------------------------- optimization
    def _ascend(self, directions: Array, player: int | None = None, lr: float | None = None) -> None:
        """Each player's (or one player's) Ascent update along its direction, then projection; with
        ``lr``, every player steps with that learning rate instead of its own."""
        players = range(len(self._parameters)) if player is None else (player,)
        settings = self._settings if lr is None else [{**own, "lr": lr} for own in self._settings]
        if self._stacked:
            _sgd_step(self._theta, directions, self._buffers, settings[0])
        for i in players:
            if not self._stacked:
                direction = directions[..., i, : self.game.actions[i]]
                _sgd_step(self._views[i], direction, self._buffers[i], settings[i])
            self._optimizer_steps[i] += 1
            self._last_directions[i] = directions
        if self.game.softmax:
            return
        if player is None:
            padding = self.game.padding
            project_array_to_simplex(self._theta if padding is None else self._theta + padding, out=self._theta)
        else:
            project_array_to_simplex(self._views[player], out=self._views[player])

    def _write_back(self) -> None:
        """Copy the parameters, momentum buffers, step counts and last stats into the players."""
        for i, (parameter, optimizer) in enumerate(zip(self._parameters, self.dynamics.optimizers)):
            with torch.no_grad():
                parameter.copy_(torch.from_numpy(self._views[i]))
            buffer = self._buffers[0] if self._stacked else self._buffers[i][0]
            if buffer is not None:
                optimizer.state[parameter]["momentum_buffer"] = (
                    buffer[..., i, : self.game.actions[i]].clone() if self._stacked else buffer)
            if self._optimizer_steps[i] == 0:
                continue
            optimizer.steps += self._optimizer_steps[i]
            direction = self._last_directions[i][..., i, : self.game.actions[i]]
            norm = None if optimizer.nonfinite == "ignore" else float(np.linalg.norm(direction.reshape(-1)))
            optimizer.last_stats = StepStats(optimizer.steps, optimizer.param_groups[0]["lr"], norm, None, False, False)


def _sgd_step(parameters: Array, direction: Array, buffers: list[Tensor | None], settings: dict) -> None:
    """Ascent's SGD rule (:func:`ascentrl._update_rules.sgd_forloop`) on one array, in place. Without
    momentum and weight decay it is the single ``θ += η·direction``; with them the rule itself runs, on
    tensors that share the arrays' memory (its momentum buffers are tensors)."""
    if settings["momentum"] or settings["weight_decay"]:
        rules.sgd_forloop([torch.from_numpy(parameters)], [torch.from_numpy(direction)], buffers, **settings)
    else:
        parameters += settings["lr"] * direction


def _update_settings(optimizer: Ascent) -> dict:
    """The keyword arguments of Ascent's SGD rule for ``optimizer``'s (single) parameter group."""
    group = optimizer.param_groups[0]
    names = ("lr", "momentum", "dampening", "nesterov", "weight_decay", "decoupled_weight_decay")
    return {name: group[name] for name in names}


def _per_game_dot(first: Array, second: Array) -> Array:
    """``⟨first, second⟩`` over all players and actions, per game, shaped ``(*batch, 1, 1)``."""
    return (first * second).sum((-2, -1), keepdims=True)


def _unsupported_optimizer(optimizer, player: list[Tensor]) -> str | None:
    if len(player) != 1:
        return "belongs to a player with several parameter tensors"
    if not isinstance(optimizer, Ascent):
        return f"is a {type(optimizer).__name__}, not an ascentrl.Ascent"
    if len(optimizer.param_groups) != 1:
        return "has several parameter groups"
    group = optimizer.param_groups[0]
    for option in ("adaptive", "clip_value", "clip_norm"):
        if group[option] is not None:
            return f"uses {option}={group[option]!r}"
    if optimizer.escape is not None:
        return f"uses the escape strategy {optimizer.escape.name!r}"
    if optimizer.track_update_norm:
        return "tracks update norms"
    return None
