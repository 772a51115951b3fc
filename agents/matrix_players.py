"""Matrix-game players that ascend their expected payoff, and the loop that lets them play.

Sign convention: every player **maximizes** its expected payoff ``u_i(x)``; the dynamics write
``+∇u_i`` (or a corrected ascent direction) into the gradients and each player's own
:class:`ascentrl.Ascent` steps uphill. Nothing is negated.

One call of :func:`play`, top to bottom:

1. **Objectives.** A closure reads every player's current mixed strategy ``x_i`` and returns the
   expected payoffs ``u_i(x)`` (``game.expected_payoffs_by_player(x)``) — differentiable, so
   autograd gives ``∇u_i`` through the player's parameterization.
2. **Dynamics.** :func:`ascentrl.games.make_dynamics` turns the gradients into one step per player
   (``simultaneous``, ``optimistic``, ``extragradient``, ``sga``, …); each player's optimizer
   applies it, then simplex players are projected back onto the simplex.
3. **Record.** After every step the strategies, expected payoffs and NashConv are stored; the
   time average of the iterates and its NashConv are computed at the end.

Steps 1 and 2 run in closed form when they can (:class:`ascentrl.games.matrix_dynamics.ClosedFormDynamics`:
the gradients and game-Hessian products of a matrix game are tensor contractions), which gives the
same trajectory to 1e-12 in a tenth to a twentieth of the time; autograd runs them otherwise — for optimizer
options the closed form does not cover (adaptive modes, clipping, escape, ``track_update_norm``) and
for players with different parameterizations — or when asked with ``closed_form=False``.

A player's strategy is either ``softmax(logits)`` (``parameterization="softmax"``) or the
probability vector itself kept on the simplex by exact Euclidean projection
(``parameterization="simplex"``: projected gradient ascent). A player may hold a batch of
strategies (shape ``(*batch, A)``) to run many starting profiles, or many games, at once.

Why a simplex player reads its strategy as ``θ − mean(θ) + 1/A``: on the simplex this is ``θ``
itself, but it makes autograd see the game restricted to the simplex's affine hull, so
``∇u_i`` is the *tangent* gradient ``(I − 11ᵀ/A) d_i`` and every Hessian-vector product is taken
in the tangent space. The raw gradient ``d_i`` carries a component along ``1`` that the
projection discards anyway; first-order dynamics do not care (projecting ``θ + η d_i`` or
``θ + η (I − 11ᵀ/A) d_i`` gives the same point), but the second-order corrections of ``sga``,
``consensus`` and ``lola`` would mix that meaningless component into real directions. In the
prisoner's dilemma, for instance, it turned SGA and LOLA into cooperate/cooperate (NashConv 4):
the normal components of ``A`` and ``Aᵀ`` differ and looked like a rotation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from ascentrl import Ascent
from ascentrl.envs.matrix_games import MatrixGame
from ascentrl.games import DYNAMICS, make_dynamics, project_to_simplex
from ascentrl.games.matrix_dynamics import PARAMETERIZATIONS, ClosedFormDynamics, closed_form_unsupported

_PROBABILITY_TOLERANCE = 1e-6


class MatrixGamePlayer:
    """A player holding a mixed strategy over its actions, with its own :class:`Ascent` optimizer.

    Args:
        num_actions: number of actions; may be omitted when ``initial_strategy`` is given.
        initial_strategy: probabilities of shape ``(A,)`` or ``(*batch, A)`` (a batch of
            independent strategies); uniform if omitted. Must be strictly positive for
            ``parameterization="softmax"``.
        parameterization: ``"softmax"`` (logits) or ``"simplex"`` (probabilities, projected).
        lr: learning rate of the player's :class:`Ascent` optimizer.
        **ascent_options: further keyword arguments of :class:`Ascent` (``momentum``,
            ``adaptive``, ...).
    """

    def __init__(
        self,
        num_actions: int | None = None,
        *,
        initial_strategy: Tensor | Sequence[float] | np.ndarray | None = None,
        parameterization: str = "softmax",
        lr: float = 0.1,
        **ascent_options,
    ) -> None:
        if parameterization not in PARAMETERIZATIONS:
            raise ValueError(f"parameterization must be one of {PARAMETERIZATIONS}, got {parameterization!r}")
        strategy = _initial_strategy(num_actions, initial_strategy)
        if parameterization == "softmax" and not bool((strategy > 0).all()):
            raise ValueError(
                "initial_strategy must be strictly positive for parameterization='softmax'"
                " (a zero probability is an infinitely negative logit); use 'simplex' instead"
            )
        self.parameterization = parameterization
        value = strategy.log() if parameterization == "softmax" else project_to_simplex(strategy)
        self.parameter = torch.nn.Parameter(value.clone())
        self.optimizer = Ascent([self.parameter], lr=lr, **ascent_options)

    @property
    def num_actions(self) -> int:
        return self.parameter.shape[-1]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.parameter.shape[:-1])

    @property
    def projection(self):
        """What keeps the parameter feasible after a step: the simplex projection, or None."""
        return project_to_simplex if self.parameterization == "simplex" else None

    def strategy(self) -> Tensor:
        """The current mixed strategy ``(*batch, A)``, differentiable in :attr:`parameter`.

        For ``"simplex"`` this is the parameter moved onto the simplex's affine hull,
        ``θ − mean(θ) + 1/A``: equal to ``θ`` (which the projection keeps on the simplex), with
        gradients in the tangent space (see the module docstring).
        """
        if self.parameterization == "softmax":
            return torch.softmax(self.parameter, dim=-1)
        return self.parameter - self.parameter.mean(-1, keepdim=True) + 1.0 / self.num_actions


@dataclass(frozen=True)
class Trajectory:
    """What :func:`play` recorded.

    Attributes:
        method: the dynamics used.
        strategies: per player, ``(steps + 1, *batch, A_i)``: the start, then every iterate.
        payoffs: ``(steps + 1, *batch, n)`` expected payoff of every player at every iterate.
        nash_conv: ``(steps + 1, *batch)`` NashConv of every iterate.
        average_strategies: per player, ``(*batch, A_i)``: time average of all iterates.
        average_nash_conv: ``batch``: NashConv of the time-averaged profile.
        closed_form: whether the closed-form path computed the run (otherwise autograd did).
    """

    method: str
    strategies: list[Tensor]
    payoffs: Tensor
    nash_conv: Tensor
    average_strategies: list[Tensor]
    average_nash_conv: Tensor
    closed_form: bool = False

    @property
    def steps(self) -> int:
        return self.nash_conv.shape[0] - 1

    @property
    def last_strategies(self) -> list[Tensor]:
        """The last iterate, per player ``(*batch, A_i)``."""
        return [strategy[-1] for strategy in self.strategies]

    @property
    def last_nash_conv(self) -> Tensor:
        """NashConv of the last iterate, shape ``batch``."""
        return self.nash_conv[-1]


def play(
    game: MatrixGame,
    players: Sequence[MatrixGamePlayer],
    *,
    method: str = "simultaneous",
    steps: int = 1000,
    progress: bool = False,
    closed_form: bool | None = None,
    **method_options,
) -> Trajectory:
    """Let ``players`` learn ``game`` together for ``steps`` steps of the dynamics ``method``.

    Args:
        game: the (possibly batched) game.
        players: one :class:`MatrixGamePlayer` per player of the game. Every player's batch shape
            must equal the broadcast of the game's batch shape and all players' batch shapes, so
            that each batch entry is one independent run.
        method: a key of :data:`ascentrl.games.DYNAMICS`.
        steps: number of steps, >= 1.
        progress: show a tqdm progress bar.
        closed_form: ``None`` runs in closed form when the players' settings allow it and on
            autograd otherwise; ``True`` insists on the closed form (``ValueError`` naming what it does
            not cover); ``False`` always uses autograd.
        **method_options: options of the dynamics (``consensus_weight``, ``lookahead``, ...).

    Returns:
        The :class:`Trajectory`, start included.
    """
    if not isinstance(game, MatrixGame):
        raise TypeError(f"game must be an ascentrl.envs.MatrixGame, got {type(game).__name__}")
    if method not in DYNAMICS:
        raise ValueError(f"method must be one of {sorted(DYNAMICS)}, got {method!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    if closed_form not in (None, True, False):
        raise ValueError(f"closed_form must be None, True or False, got {closed_form!r}")
    batch_shape = _check_players(game, players)

    def objectives() -> list[Tensor]:
        return game.expected_payoffs_by_player([player.strategy() for player in players])

    dynamics = make_dynamics(
        method,
        [player.parameter for player in players],
        objectives,
        [player.optimizer for player in players],
        projections=[player.projection for player in players],
        batch_dims=len(batch_shape),
        **method_options,
    )

    parameterizations = [player.parameterization for player in players]
    unsupported = closed_form_unsupported(dynamics, parameterizations, game.payoffs)
    if closed_form and unsupported is not None:
        raise ValueError(f"closed_form=True, but the closed form does not cover this run: {unsupported}")
    use_closed_form = unsupported is None if closed_form is None else closed_form
    bar = tqdm(range(steps), desc=f"{game.name} {method}", disable=not progress)
    if use_closed_form:
        strategies = ClosedFormDynamics(dynamics, game.payoffs, parameterizations).run(bar)
    else:
        strategies = _run_autograd(dynamics, players, bar)
    with torch.no_grad():
        payoffs = game.expected_payoffs(strategies)
        nash_conv = game.nash_conv(strategies)
        average = [strategy.mean(0) for strategy in strategies]
        average_nash_conv = game.nash_conv(average)
    return Trajectory(
        method=method,
        strategies=strategies,
        payoffs=payoffs,
        nash_conv=nash_conv,
        average_strategies=average,
        average_nash_conv=average_nash_conv,
        closed_form=use_closed_form,
    )


def _run_autograd(dynamics, players: Sequence[MatrixGamePlayer], steps) -> list[Tensor]:
    """Step ``dynamics`` once per element of ``steps``; per player, the strategies at the start and
    after every step."""

    def snapshot() -> list[Tensor]:
        with torch.no_grad():
            return [player.strategy().detach().clone() for player in players]

    history = [snapshot()]
    for _ in steps:
        dynamics.step()
        history.append(snapshot())
    return [torch.stack([profile[i] for profile in history]) for i in range(len(players))]


def _initial_strategy(num_actions: int | None, initial_strategy) -> Tensor:
    if num_actions is not None and (isinstance(num_actions, bool) or not isinstance(num_actions, int)
                                    or num_actions < 1):
        raise ValueError(f"num_actions must be an int >= 1, got {num_actions!r}")
    if initial_strategy is None:
        if num_actions is None:
            raise ValueError("give num_actions or initial_strategy")
        return torch.full((num_actions,), 1.0 / num_actions, dtype=torch.float64)
    if isinstance(initial_strategy, Tensor):
        strategy = initial_strategy.detach().to(torch.float64)
    else:
        strategy = torch.as_tensor(np.asarray(initial_strategy, dtype=np.float64))
    if strategy.dim() < 1 or strategy.shape[-1] < 1:
        raise ValueError(f"initial_strategy must have shape (*batch, A) with A >= 1, got {tuple(strategy.shape)}")
    if num_actions is not None and strategy.shape[-1] != num_actions:
        raise ValueError(f"initial_strategy has {strategy.shape[-1]} actions but num_actions={num_actions}")
    valid = torch.isfinite(strategy).all() and (strategy >= 0).all()
    if not valid or (strategy.sum(-1) - 1).abs().max() > _PROBABILITY_TOLERANCE:
        raise ValueError("initial_strategy must hold probabilities: finite, >= 0 and summing to 1 over the last "
                         "dimension")
    return strategy


def _check_players(game: MatrixGame, players: Sequence[MatrixGamePlayer]) -> tuple[int, ...]:
    if len(players) != game.n_players or not all(isinstance(p, MatrixGamePlayer) for p in players):
        raise ValueError(f"players must hold {game.n_players} MatrixGamePlayer objects for {game.name!r}")
    for index, (player, actions) in enumerate(zip(players, game.num_actions)):
        if player.num_actions != actions:
            raise ValueError(f"players[{index}] has {player.num_actions} actions but the game gives it {actions}")
    batch_shape = torch.broadcast_shapes(game.batch_shape, *[p.batch_shape for p in players])
    for index, player in enumerate(players):
        if player.batch_shape != tuple(batch_shape):
            raise ValueError(
                f"players[{index}] holds strategies of batch shape {player.batch_shape}, but the runs"
                f" have batch shape {tuple(batch_shape)}; give every player an initial_strategy of shape"
                f" {(*batch_shape, player.num_actions)}"
            )
    return tuple(batch_shape)
