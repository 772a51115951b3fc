"""Normal-form (matrix) games: the :class:`MatrixGame` type, a catalogue and random games.

A game with ``n`` players is a payoff tensor of shape ``(n, A_1, …, A_n)``:
``payoffs[i, a_1, …, a_n]`` is what player ``i`` receives when player ``j`` plays ``a_j``. Every
player **maximizes** its expected payoff. With ``batch_dims = k`` the first ``k`` dimensions index
independent games of the same shape (e.g. 10,000 random games), and every metric is batched.

The payoff math (expected payoffs, best responses, NashConv) lives once in
:mod:`ascentrl.games.payoffs`; :class:`MatrixGame` validates the tensor and binds it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ascentrl.games import payoffs as payoff_math
from ascentrl.games.zero_sum import solve_zero_sum_games

Profile = Sequence[Tensor]


class MatrixGame:
    """A normal-form game (or a batch of games of the same shape) given by its payoff tensor.

    Args:
        payoffs: numpy array, torch tensor or nested list of shape ``(*batch, n, A_1, …, A_n)``
            with ``n ≥ 2`` players and ``A_i ≥ 1`` actions each; stored as float64.
        batch_dims: number of leading dimensions that index independent games.
        name: a label for tables and plots.
        action_names: optional names of each player's actions.
        equilibria: known Nash equilibria, each a profile (one probability list per player).

    Raises:
        TypeError: if ``payoffs`` is not numeric array-like.
        ValueError: if the tensor has the wrong rank, non-finite entries, a players axis that
            does not match its number of action axes, or an empty action axis.
    """

    def __init__(
        self,
        payoffs: Tensor | np.ndarray | Sequence,
        *,
        batch_dims: int = 0,
        name: str = "custom",
        action_names: Sequence[Sequence[str]] | None = None,
        equilibria: Sequence[Sequence[Sequence[float]]] = (),
    ) -> None:
        if isinstance(batch_dims, bool) or not isinstance(batch_dims, int) or batch_dims < 0:
            raise ValueError(f"batch_dims must be an int >= 0, got {batch_dims!r}")
        self.payoffs = _payoff_tensor(payoffs, batch_dims)
        self.batch_dims = batch_dims
        self.batch_shape = tuple(self.payoffs.shape[:batch_dims])
        self.n_players = self.payoffs.shape[batch_dims]
        self.num_actions = tuple(self.payoffs.shape[batch_dims + 1 :])
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        self.name = name
        if action_names is None:
            action_names = [[str(a) for a in range(k)] for k in self.num_actions]
        if [len(names) for names in action_names] != list(self.num_actions):
            raise ValueError(
                f"action_names must give {list(self.num_actions)} names per player, got"
                f" {[len(names) for names in action_names]}"
            )
        self.action_names = tuple(tuple(str(a) for a in names) for names in action_names)
        self.equilibria = tuple(self._profile(profile, "equilibria") for profile in equilibria)

    def __repr__(self) -> str:
        batch = f", batch_shape={self.batch_shape}" if self.batch_shape else ""
        return f"MatrixGame(name={self.name!r}, num_actions={self.num_actions}{batch})"

    def uniform_profile(self) -> list[Tensor]:
        """Every player mixes uniformly over its actions."""
        return [torch.full((k,), 1.0 / k, dtype=self.payoffs.dtype) for k in self.num_actions]

    def random_profile(self, *, count: int | None = None, seed: int = 0) -> list[Tensor]:
        """A profile drawn uniformly from every player's simplex (flat Dirichlet), seeded.

        Returns:
            One strategy per player of shape ``(*batch_shape, A_i)``, or
            ``(count, *batch_shape, A_i)`` when ``count`` is given.
        """
        generator = _generator(seed)
        leading = self.batch_shape if count is None else (_check_count(count), *self.batch_shape)
        profile = []
        for actions in self.num_actions:
            uniform = torch.rand(*leading, actions, generator=generator, dtype=self.payoffs.dtype)
            exponential = (-torch.log1p(-uniform)).clamp_min(torch.finfo(uniform.dtype).tiny)
            profile.append(exponential / exponential.sum(-1, keepdim=True))
        return profile

    def payoff(self, joint_action: Sequence[int]) -> Tensor:
        """Every player's payoff ``(*batch, n)`` for one pure joint action ``(a_1, …, a_n)``."""
        if len(joint_action) != self.n_players or not all(
            0 <= int(a) < k for a, k in zip(joint_action, self.num_actions)
        ):
            raise ValueError(
                f"joint_action must hold one action per player within {self.num_actions},"
                f" got {tuple(joint_action)}"
            )
        index = (Ellipsis, slice(None), *[int(a) for a in joint_action])
        return self.payoffs[index]

    def is_zero_sum(self, atol: float = 1e-9) -> bool:
        """True if the payoffs of every joint action sum to zero over the players (within atol)."""
        return bool(self.payoffs.sum(self.batch_dims).abs().max() <= atol)

    def expected_payoffs(self, strategies: Profile) -> Tensor:
        """``u_i(x)`` for every player, shape ``(*batch, n)``; differentiable in the strategies."""
        return payoff_math.expected_payoffs(self.payoffs, self._profile(strategies))

    def expected_payoffs_by_player(self, strategies: Profile) -> list[Tensor]:
        """``[u_1(x), …, u_n(x)]``, each of shape ``batch`` with its own autograd graph: the
        objectives the players ascend (see :func:`ascentrl.games.expected_payoffs_by_player`)."""
        return payoff_math.expected_payoffs_by_player(self.payoffs, self._profile(strategies))

    def deviation_payoffs(self, strategies: Profile) -> list[Tensor]:
        """``u_i(a, x_{-i})`` for every player ``i`` and action ``a``."""
        return payoff_math.deviation_payoffs(self.payoffs, self._profile(strategies))

    def best_responses(self, strategies: Profile) -> list[Tensor]:
        """A pure best response per player, one-hot (ties to the lowest action)."""
        return payoff_math.best_responses(self.payoffs, self._profile(strategies))

    def best_response_values(self, strategies: Profile) -> Tensor:
        """``max_a u_i(a, x_{-i})`` for every player, shape ``(*batch, n)``."""
        return payoff_math.best_response_values(self.payoffs, self._profile(strategies))

    def nash_conv(self, strategies: Profile) -> Tensor:
        """``Σ_i max_a u_i(a, x_{-i}) − u_i(x)``, shape ``batch``; zero exactly at equilibria."""
        return payoff_math.nash_conv(self.payoffs, self._profile(strategies))

    def exploitability(self, strategies: Profile) -> Tensor:
        """NashConv divided by the number of players."""
        return payoff_math.exploitability(self.payoffs, self._profile(strategies))

    def _profile(self, strategies: Profile, argument: str = "strategies") -> list[Tensor]:
        """Turn a profile of tensors or probability lists into tensors, checking action counts."""
        if isinstance(strategies, (Tensor, np.ndarray)) or len(strategies) != self.n_players:
            raise ValueError(f"{argument} must hold one strategy per player ({self.n_players})")
        profile = []
        for player, strategy in enumerate(strategies):
            tensor = strategy if isinstance(strategy, Tensor) else torch.as_tensor(
                np.asarray(strategy, dtype=np.float64)
            )
            if tensor.dim() < 1 or tensor.shape[-1] != self.num_actions[player]:
                raise ValueError(
                    f"{argument}[{player}] must have {self.num_actions[player]} probabilities in"
                    f" its last dimension, got shape {tuple(tensor.shape)}"
                )
            profile.append(tensor)
        return profile


def _payoff_tensor(payoffs, batch_dims: int) -> Tensor:
    """Convert and validate a payoff tensor of shape ``(*batch, n, A_1, …, A_n)``."""
    if isinstance(payoffs, Tensor):
        tensor = payoffs.detach()
    else:
        try:
            array = np.asarray(payoffs)
        except (TypeError, ValueError) as error:
            raise TypeError(f"payoffs must be a numeric array, got {type(payoffs).__name__}") from error
        if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            raise TypeError(f"payoffs must be a numeric array, got dtype {array.dtype}")
        tensor = torch.as_tensor(array)
    if tensor.is_complex():
        raise TypeError("payoffs must be real numbers, got a complex tensor")
    tensor = tensor.to(torch.float64)
    shape = tuple(tensor.shape)
    if tensor.dim() < batch_dims + 3:
        raise ValueError(
            f"payoffs must have shape (*batch, n_players, A_1, ..., A_n) with n_players >= 2 and"
            f" {batch_dims} batch dimension(s), got shape {shape}"
        )
    n_players = shape[batch_dims]
    action_axes = tensor.dim() - batch_dims - 1
    if n_players != action_axes:
        raise ValueError(
            f"payoffs of shape {shape} has {n_players} entries on its players axis (dimension"
            f" {batch_dims}) but {action_axes} action axes after it; they must match, e.g. shape"
            f" (2, A_1, A_2) for a two-player game"
        )
    if 0 in shape[batch_dims + 1 :]:
        raise ValueError(f"every player needs at least one action, got payoffs of shape {shape}")
    if not torch.isfinite(tensor).all():
        raise ValueError("payoffs must be finite: found NaN or infinite entries")
    largest = float(tensor.abs().max())
    if largest > PAYOFF_LIMIT:
        raise ValueError(
            f"payoffs must be at most {PAYOFF_LIMIT:g} in magnitude, got {largest:g}: the second-order "
            f"dynamics (sga, consensus, lola) multiply payoffs and square the result, which overflows "
            f"float64 beyond about 1e77; divide the payoffs by a positive constant (the equilibria stay)")
    return tensor.contiguous()


def _two_player(row: Sequence[Sequence[float]], column: Sequence[Sequence[float]]) -> np.ndarray:
    return np.stack([np.asarray(row, dtype=np.float64), np.asarray(column, dtype=np.float64)])


def _zero_sum(row: Sequence[Sequence[float]]) -> np.ndarray:
    return _two_player(row, -np.asarray(row, dtype=np.float64))


def _symmetric(row: Sequence[Sequence[float]]) -> np.ndarray:
    return _two_player(row, np.asarray(row, dtype=np.float64).T)


def _matching_pennies_3p() -> np.ndarray:
    """Jordan (1993): 1 wants to match 2, 2 wants to match 3, 3 wants to mismatch 1."""
    payoffs = np.empty((3, 2, 2, 2))
    for a1 in range(2):
        for a2 in range(2):
            for a3 in range(2):
                payoffs[:, a1, a2, a3] = [
                    1 if a1 == a2 else -1,
                    1 if a2 == a3 else -1,
                    1 if a3 != a1 else -1,
                ]
    return payoffs


_RPS = ("rock", "paper", "scissors")
_HALF = ((0.5, 0.5), (0.5, 0.5))

# name: (payoffs, action names per player, known equilibria). Every equilibrium listed is checked
# against nashpy in the tests.
_CATALOGUE = {
    "prisoners_dilemma": (
        _symmetric([[3, 0], [5, 1]]),
        [("cooperate", "defect")] * 2,
        [((0, 1), (0, 1))],
    ),
    "matching_pennies": (_zero_sum([[1, -1], [-1, 1]]), [("heads", "tails")] * 2, [_HALF]),
    "rock_paper_scissors": (
        _zero_sum([[0, -1, 1], [1, 0, -1], [-1, 1, 0]]),
        [_RPS] * 2,
        [((1 / 3,) * 3, (1 / 3,) * 3)],
    ),
    # OpenSpiel's biased RPS ("matrix_brps") scaled by 1/50 so payoffs lie in [-1, 1].
    "biased_rock_paper_scissors": (
        _zero_sum([[0, -0.5, 1], [0.5, 0, -0.1], [-1, 0.1, 0]]),
        [_RPS] * 2,
        [((1 / 16, 10 / 16, 5 / 16), (1 / 16, 10 / 16, 5 / 16))],
    ),
    "stag_hunt": (
        _symmetric([[4, 0], [3, 3]]),
        [("stag", "hare")] * 2,
        [((1, 0), (1, 0)), ((0, 1), (0, 1)), ((0.75, 0.25), (0.75, 0.25))],
    ),
    "chicken": (
        _symmetric([[0, -1], [1, -10]]),
        [("swerve", "straight")] * 2,
        [((1, 0), (0, 1)), ((0, 1), (1, 0)), ((0.9, 0.1), (0.9, 0.1))],
    ),
    "battle_of_the_sexes": (
        _two_player([[3, 0], [0, 2]], [[2, 0], [0, 3]]),
        [("opera", "football")] * 2,
        [((1, 0), (1, 0)), ((0, 1), (0, 1)), ((0.6, 0.4), (0.4, 0.6))],
    ),
    "coordination": (
        _two_player([[1, 0], [0, 1]], [[1, 0], [0, 1]]),
        [("left", "right")] * 2,
        [((1, 0), (1, 0)), ((0, 1), (0, 1)), _HALF],
    ),
    # Shapley (1964): fictitious play cycles; the unique equilibrium is uniform.
    "shapley": (
        _two_player([[1, 0, 0], [0, 1, 0], [0, 0, 1]], [[0, 1, 0], [0, 0, 1], [1, 0, 0]]),
        [("a", "b", "c")] * 2,
        [((1 / 3,) * 3, (1 / 3,) * 3)],
    ),
    "matching_pennies_3p": (
        _matching_pennies_3p(),
        [("heads", "tails")] * 3,
        [((0.5, 0.5),) * 3],
    ),
}

MATRIX_GAMES: tuple[str, ...] = tuple(_CATALOGUE)
PAYOFF_LIMIT = 1e50
"""Largest payoff magnitude a game may have: the second-order dynamics square products of payoffs,
which overflows float64 (about 1.8e308) beyond payoffs of about 1e77."""
"""Names accepted by :func:`make_matrix_game`."""


def make_matrix_game(name: str) -> MatrixGame:
    """A catalogue game by name (see :data:`MATRIX_GAMES`), with its known equilibria.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    if name not in _CATALOGUE:
        raise ValueError(f"unknown matrix game {name!r}; choose one of {', '.join(MATRIX_GAMES)}")
    payoffs, action_names, equilibria = _CATALOGUE[name]
    return MatrixGame(payoffs, name=name, action_names=action_names, equilibria=equilibria)


def load_matrix_game(path: str | os.PathLike) -> MatrixGame:
    """A game from a ``.npy`` payoff tensor of shape ``(n_players, A_1, ..., A_n)``, named after the file.

    The file is checked before its data is read: it must start with numpy's ``.npy`` magic bytes,
    hold numbers (no pickled objects, which are never loaded), and be exactly as long as its header
    says (a header claiming a huge shape over a short file is refused, not allocated).

    Raises:
        ValueError: the file is not a readable ``.npy`` array, or not a valid payoff tensor.
    """
    try:
        with open(path, "rb") as file:
            try:
                version = np.lib.format.read_magic(file)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read_header(file)
            except ValueError as error:
                raise ValueError(f"{path}: not a .npy file ({error})") from None
            if dtype.hasobject:
                raise ValueError(f"{path}: holds Python objects (dtype {dtype}), which are never loaded: "
                                 f"loading them could run code; save plain numbers")
            expected = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
            actual = os.fstat(file.fileno()).st_size - file.tell()
            if expected != actual:
                raise ValueError(f"{path}: its header promises shape {shape} of {dtype} ({expected} bytes) but "
                                 f"{actual} bytes follow it: truncated or corrupted")
            file.seek(0)
            array = np.lib.format.read_array(file, allow_pickle=False)
    except OSError as error:
        raise ValueError(f"{path}: cannot read a .npy array ({error.strerror or error})") from None
    try:
        return MatrixGame(array, name=Path(path).stem)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{path}: {error}") from None


def known_equilibria(game: MatrixGame) -> list[list[Tensor]]:
    """The catalogue's equilibria of ``game``; for another two-player zero-sum game, the one solved
    by :func:`ascentrl.games.solve_zero_sum_games`; otherwise none."""
    if game.equilibria:
        return [list(profile) for profile in game.equilibria]
    if game.n_players == 2 and game.is_zero_sum():
        solution = solve_zero_sum_games(game.payoffs[0].unsqueeze(0))
        if bool(solution.converged[0]):
            return [[solution.row_strategies[0], solution.column_strategies[0]]]
    return []


def random_zero_sum_game(
    num_actions: Sequence[int] = (3, 3), *, count: int | None = None, seed: int = 0
) -> MatrixGame:
    """Two-player zero-sum game(s) with standard normal row payoffs ``A`` (the column player gets ``−A``).

    Args:
        num_actions: ``(m, n)``, the actions of the row and column player.
        count: if given, a batch of that many independent games (``batch_dims = 1``).
        seed: seed of the torch generator; the same seed gives the same games.
    """
    rows, columns = _check_actions(num_actions, two_players=True)
    generator = _generator(seed)
    batch = () if count is None else (_check_count(count),)
    row = torch.randn(*batch, rows, columns, generator=generator, dtype=torch.float64)
    return MatrixGame(
        torch.stack([row, -row], dim=len(batch)), batch_dims=len(batch), name="random_zero_sum"
    )


def random_general_sum_game(
    num_actions: Sequence[int] = (3, 3), *, count: int | None = None, seed: int = 0
) -> MatrixGame:
    """General-sum game(s): every player's payoffs are independent standard normal entries.

    Args:
        num_actions: ``(A_1, …, A_n)`` with ``n ≥ 2``.
        count: if given, a batch of that many independent games (``batch_dims = 1``).
        seed: seed of the torch generator; the same seed gives the same games.
    """
    actions = _check_actions(num_actions, two_players=False)
    generator = _generator(seed)
    batch = () if count is None else (_check_count(count),)
    payoffs = torch.randn(*batch, len(actions), *actions, generator=generator, dtype=torch.float64)
    return MatrixGame(payoffs, batch_dims=len(batch), name="random_general_sum")


def _check_actions(num_actions: Sequence[int], *, two_players: bool) -> tuple[int, ...]:
    players = "exactly 2" if two_players else "at least 2"
    if not isinstance(num_actions, Sequence) or isinstance(num_actions, str):
        raise TypeError(f"num_actions must be a sequence of ints, got {num_actions!r}")
    valid = all(isinstance(a, int) and not isinstance(a, bool) and a >= 1 for a in num_actions)
    if not valid or (len(num_actions) != 2 if two_players else len(num_actions) < 2):
        raise ValueError(f"num_actions must list {players} action counts >= 1, got {tuple(num_actions)!r}")
    return tuple(num_actions)


def _check_count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be None or an int >= 1, got {count!r}")
    return count


def _generator(seed: int) -> torch.Generator:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    return torch.Generator().manual_seed(seed)
