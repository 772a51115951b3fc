"""PettingZoo environments by id: matrix games, PettingZoo's registry, and the ``mpe2`` package.

:func:`make_pettingzoo_env` builds the env an id names:

- a matrix-game name of :data:`ascentrl.envs.MATRIX_GAMES` (played repeatedly through
  :class:`MatrixGameEnv`, a ``ParallelEnv``);
- a PettingZoo id such as ``"classic/rps-v2"`` or ``"classic/tictactoe-v3"`` from PettingZoo's
  registry (``pettingzoo.make``, PettingZoo >= 1.27; older versions import the
  ``pettingzoo.<family>.<name>_v<N>`` module);
- ``mpe2/<name>-v<N>`` from the ``mpe2`` package (the module ``mpe2.<name>_v<N>``);
- ``extensive/<game>`` for a built-in extensive-form game of :data:`ascentrl.games.extensive.EXTENSIVE_GAMES`
  (``extensive/kuhn_poker``, ``extensive/leduc_poker``) as an :class:`~ascentrl.envs.ExtensiveGameEnv`,
  whose observations are one-hot information sets, so a learned policy maps onto a policy table
  for exact NashConv.

PettingZoo has two APIs. A ``ParallelEnv`` steps every live agent at once. An ``AECEnv`` steps one
agent at a time (``agent_selection``); if its agents all act once per cycle
(``metadata["is_parallelizable"]``, e.g. rock-paper-scissors) it is converted with PettingZoo's
own ``aec_to_parallel``, and otherwise it is *turn-based* (tic-tac-toe, connect four, poker) and
returned as it is, for :class:`~ascentrl.envs.turn_based.TurnBasedEnvBatch`.
:func:`make_parallel_env` is :func:`make_pettingzoo_env` for callers that need simultaneous moves.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import pettingzoo
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.conversions import aec_to_parallel

from ascentrl.envs.extensive_game_env import ExtensiveGameEnv
from ascentrl.envs.matrix_game_env import MatrixGameEnv
from ascentrl.envs.matrix_games import MATRIX_GAMES, make_matrix_game
from ascentrl.games.extensive import EXTENSIVE_GAMES

__all__ = ["EXTENSIVE_PREFIX", "is_turn_based", "make_pettingzoo_env", "make_parallel_env"]

_MPE2_PREFIX = "mpe2/"
EXTENSIVE_PREFIX = "extensive/"
"""Ids ``extensive/<game>`` name the extensive-form games of :data:`ascentrl.games.extensive.EXTENSIVE_GAMES`."""
_PETTINGZOO_EXTRAS = ("atari", "butterfly", "classic", "mpe", "sisl")
"""Env families with an extra of their own in PettingZoo's packaging (pip install 'pettingzoo[FAMILY]')."""


def is_turn_based(env: ParallelEnv | AECEnv) -> bool:
    """Whether ``env`` is an AEC env whose agents do not all act once per cycle."""
    return isinstance(env, AECEnv) and not env.metadata.get("is_parallelizable", False)


def make_pettingzoo_env(env_id: str, *, episode_length: int | None = None, **kwargs: Any) -> ParallelEnv | AECEnv:
    """The env ``env_id`` names: a ``ParallelEnv``, or a turn-based ``AECEnv`` (module docstring).

    Args:
        env_id: a name of :data:`ascentrl.envs.MATRIX_GAMES` (e.g. ``"matching_pennies"``), a
            PettingZoo id (e.g. ``"classic/rps-v2"``, ``"classic/connect_four-v3"``), or
            ``"mpe2/<name>-v<N>"`` for the Multi-Particle Environments of the ``mpe2`` package
            (e.g. ``"mpe2/simple_spread-v3"``, the extra ``ascentrl[mpe]``).
        episode_length: rounds per episode of a matrix game (default 1: every episode is one play
            of the stage game), or ``max_cycles`` of a PettingZoo env (default: the env's own).
        **kwargs: further keyword arguments of the PettingZoo env.

    Raises:
        ValueError: unknown id, an env whose extra dependencies are missing, bad env options or a
            bad ``episode_length``.
    """
    if not isinstance(env_id, str) or not env_id:
        raise ValueError(f"env_id must be a matrix game name or a PettingZoo id, got {env_id!r}")
    if episode_length is not None and (
        isinstance(episode_length, bool) or not isinstance(episode_length, int) or episode_length < 1
    ):
        raise ValueError(f"episode_length must be a positive integer or None, got {episode_length!r}")
    if env_id in MATRIX_GAMES:
        if kwargs:
            raise ValueError(f"matrix game {env_id!r} takes no env options, got {sorted(kwargs)}")
        return MatrixGameEnv(make_matrix_game(env_id), rounds=episode_length or 1)
    if env_id.startswith(EXTENSIVE_PREFIX):
        return _make_extensive(env_id, episode_length, kwargs)
    if episode_length is not None:
        kwargs["max_cycles"] = episode_length
    if env_id.startswith(_MPE2_PREFIX):
        if importlib.util.find_spec("mpe2") is None:
            raise ValueError(f"{env_id} needs the mpe2 package: pip install 'ascentrl[mpe]'")
        return _make_from_module(env_id[len(_MPE2_PREFIX):], kwargs, package="mpe2")
    if hasattr(pettingzoo, "make"):
        return _make_registered(env_id, kwargs)
    return _make_from_module(env_id, kwargs)


def make_parallel_env(env_id: str, *, episode_length: int | None = None, **kwargs: Any) -> ParallelEnv:
    """:func:`make_pettingzoo_env` for envs whose agents act simultaneously.

    Raises:
        ValueError: as :func:`make_pettingzoo_env`, and for a turn-based env.
    """
    env = make_pettingzoo_env(env_id, episode_length=episode_length, **kwargs)
    if is_turn_based(env):
        env.close()
        raise ValueError(f"{env_id} is a turn-based AEC env (agents do not all act once per cycle); a "
                         f"ParallelEnv needs agents that act simultaneously (TurnBasedEnvBatch plays it)")
    return env


def _make_extensive(env_id: str, episode_length: int | None, kwargs: dict[str, Any]) -> ExtensiveGameEnv:
    """``extensive/<game>``: one deal per episode, so there is no episode length to set."""
    name = env_id[len(EXTENSIVE_PREFIX):]
    if name not in EXTENSIVE_GAMES:
        raise ValueError(f"unknown env id {env_id!r}: the extensive-form games are "
                         f"{', '.join(EXTENSIVE_PREFIX + game for game in EXTENSIVE_GAMES)}")
    if episode_length is not None:
        raise ValueError(f"{env_id} plays one deal per episode; episode_length does not apply (got {episode_length})")
    if kwargs:
        raise ValueError(f"{env_id} takes no env options, got {sorted(kwargs)}")
    return ExtensiveGameEnv(name)


def _parallel_if_possible(env: AECEnv) -> ParallelEnv | AECEnv:
    return env if is_turn_based(env) else aec_to_parallel(env)


def _make_registered(env_id: str, kwargs: dict[str, Any]) -> ParallelEnv | AECEnv:
    """PettingZoo >= 1.27: the parallel registry, else the AEC registry."""
    from pettingzoo.env_registry.exceptions import FailedToImport, PettingZooRegistryError

    for kind in ("parallel", "aec"):
        try:
            pettingzoo.spec(kind, env_id)
        except PettingZooRegistryError:
            continue
        try:
            env = pettingzoo.make(kind, env_id, **kwargs)
        except FailedToImport as error:
            raise ValueError(f"{env_id}: {error}") from None
        except ImportError as error:
            raise _missing_dependency(env_id, error) from None
        except TypeError as error:
            raise ValueError(f"{env_id}: bad env options {sorted(kwargs)}: {error}") from None
        return env if kind == "parallel" else _parallel_if_possible(env)
    known = sorted(set(pettingzoo.parallel_registry) | set(pettingzoo.aec_registry))
    raise ValueError(
        f"unknown env id {env_id!r}: expected a matrix game ({', '.join(MATRIX_GAMES)}) or a "
        f"PettingZoo id such as {', '.join(known[:4])}, ... (pettingzoo.pprint_registry() lists them)"
    )


def _make_from_module(env_id: str, kwargs: dict[str, Any], package: str = "pettingzoo") -> ParallelEnv | AECEnv:
    """``family/name-vN`` is the module ``<package>.family.name_vN`` (PettingZoo < 1.27 has no
    registry; mpe2 has none either)."""
    family, _, versioned = env_id.rpartition("/")
    module_name = ".".join(filter(None, (package, family, versioned.replace("-", "_"))))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and module_name.startswith(error.name):
            raise ValueError(f"unknown env id {env_id!r}: cannot import {module_name} ({error})") from None
        raise _missing_dependency(env_id, error) from None
    except ImportError as error:
        raise _missing_dependency(env_id, error) from None
    try:
        if hasattr(module, "parallel_env"):
            return module.parallel_env(**kwargs)
        return _parallel_if_possible(module.env(**kwargs))
    except ImportError as error:
        raise _missing_dependency(env_id, error) from None
    except TypeError as error:
        raise ValueError(f"{env_id}: bad env options {sorted(kwargs)}: {error}") from None


def _missing_dependency(env_id: str, error: ImportError) -> ValueError:
    """One line for an env whose optional dependency is missing, with the extra that installs it."""
    family = env_id.split("/")[0] if "/" in env_id else None
    extra = f"pip install 'pettingzoo[{family}]'" if family in _PETTINGZOO_EXTRAS else "install what it names"
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return ValueError(f"{env_id} needs an optional dependency that is not installed ({text}); {extra}")
