"""Tabular policies keyed by OpenSpiel information-state strings, to exchange with OpenSpiel and others.

A policy file is one JSON object, ``{information_state_string: [probability, ...]}``, with one
entry for every information set of both players and, in each, the probabilities of the legal
actions in OpenSpiel's order (ascending action ids): for Leduc poker ``[fold, call, raise]``
where all three are legal, ``[call, raise]`` where nothing is owed. Because the games here use
OpenSpiel's rules and strings, the same keys index ``open_spiel.python.policy.TabularPolicy``::

    for key, probabilities in policy_to_dict(game, policy).items():
        state_policy = tabular_policy.policy_for_key(key)      # zeros on illegal actions
        state_policy[tabular_policy.legal_actions_mask[tabular_policy.state_lookup[key]] == 1] = probabilities

Reading checks everything and names the first problem: an information set missing or unknown to
the game, a list of the wrong length, a negative or non-finite probability, probabilities that do
not sum to one, or — when a list gives all ``num_distinct_actions`` actions, as a full OpenSpiel
row does — probability on an illegal action.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from ascentrl.files import write_json
from ascentrl.games.extensive.strategies import check_policy
from ascentrl.games.extensive.tree import ExtensiveFormGame

SUM_TOLERANCE = 1e-6
"""How far from one the probabilities of an information set may sum."""


def policy_to_dict(game: ExtensiveFormGame, policy: Tensor) -> dict[str, list[float]]:
    """``{information_state_string: [probability of each legal action, ascending]}`` for every information set.

    Args:
        game: the game.
        policy: one policy table, shape ``(num_infosets, num_distinct_actions)``.
    """
    check_policy(game, policy)
    if policy.dim() != 2:
        raise ValueError(f"policy_to_dict writes one policy; got a batch of shape {tuple(policy.shape)}")
    rows = policy.detach().to(torch.float64).tolist()
    masks = game.legal_actions_mask.tolist()
    return {key: [probability for probability, legal in zip(row, mask) if legal]
            for key, row, mask in zip(game.information_states, rows, masks)}


def policy_from_dict(game: ExtensiveFormGame, mapping: Mapping[str, object]) -> Tensor:
    """The policy table described by ``mapping`` (the format of :func:`policy_to_dict`).

    Each value lists the legal actions' probabilities in ascending action order, or all
    ``num_distinct_actions`` actions' (zero on illegal ones).

    Raises:
        ValueError: naming the first problem found (see the module docstring).
    """
    if not isinstance(mapping, Mapping):
        raise ValueError(f"a policy must be a JSON object {{information_state: [probabilities]}}, "
                         f"got {type(mapping).__name__}")
    known = game.infoset_index
    missing = [key for key in game.information_states if key not in mapping]
    if missing:
        raise ValueError(f"{len(missing)} information set(s) of {game.name} missing from the policy, "
                         f"e.g. {missing[0]!r}; it must give every information set of both players")
    extra = [key for key in mapping if key not in known]
    if extra:
        raise ValueError(f"{len(extra)} information set(s) not in {game.name}, e.g. {extra[0]!r}; "
                         "keys must be OpenSpiel information state strings of this game")
    table = torch.zeros(game.num_infosets, game.num_distinct_actions, dtype=game.dtype)
    for key, probabilities in mapping.items():
        table[known[key]] = _row(game, key, probabilities)
    return table


def save_policy(path: str | os.PathLike, game: ExtensiveFormGame, policy: Tensor) -> Path:
    """Write ``policy`` as a policy file (atomically). Returns the path written."""
    return write_json(path, policy_to_dict(game, policy))


def load_policy(path: str | os.PathLike, game: ExtensiveFormGame) -> Tensor:
    """Read and check a policy file of ``game``.

    Raises:
        ValueError: the file cannot be read, is not JSON, or is not a complete, valid policy
            (the message starts with the path).
    """
    try:
        with open(path, encoding="utf-8") as file:
            mapping = json.load(file)
        return policy_from_dict(game, mapping)
    except OSError as error:
        raise ValueError(f"{path}: cannot read the policy file ({error.strerror or error})") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON ({error.msg} at line {error.lineno})") from None
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def _row(game: ExtensiveFormGame, key: str, probabilities: object) -> Tensor:
    """One information set's row of the table, checked."""
    index = game.infoset_index[key]
    mask = game.legal_actions_mask[index]
    legal = torch.nonzero(mask).flatten().tolist()
    if not isinstance(probabilities, (list, tuple)) or not all(
            isinstance(p, (int, float)) and not isinstance(p, bool) for p in probabilities):
        raise ValueError(f"{key!r}: expected a list of numbers, got {probabilities!r:.80}")
    values = [float(p) for p in probabilities]
    if any(not math.isfinite(p) or p < 0 for p in values):
        raise ValueError(f"{key!r}: probabilities must be finite and >= 0, got {values}")
    row = torch.zeros(game.num_distinct_actions, dtype=game.dtype)
    if len(values) == len(legal):
        row[legal] = torch.tensor(values, dtype=game.dtype)
    elif len(values) == game.num_distinct_actions:
        row = torch.tensor(values, dtype=game.dtype)
        illegal = [action for action in range(game.num_distinct_actions) if not mask[action] and values[action] > 0]
        if illegal:
            action = illegal[0]
            raise ValueError(f"{key!r}: probability {values[action]} on illegal action {action} "
                             f"({game.action_names[action]}); the legal actions are {legal}")
    else:
        raise ValueError(f"{key!r}: expected {len(legal)} probabilities (legal actions {legal}) or "
                         f"{game.num_distinct_actions} (every action), got {len(values)}")
    total = float(row.sum())
    if abs(total - 1) > SUM_TOLERANCE:
        raise ValueError(f"{key!r}: probabilities sum to {total:.9g}, not 1")
    return row
