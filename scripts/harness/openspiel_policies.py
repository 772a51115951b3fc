"""Move policies between :mod:`ascentrl.games.extensive` tables and OpenSpiel's policy objects.

Harness code for the benchmark and the tests (OpenSpiel is a test and benchmark peer, never a
dependency of ``ascentrl``). Both sides key information sets by the same OpenSpiel
information-state strings, so a conversion is a lookup per information set.
"""

from __future__ import annotations

import torch
from open_spiel.python import policy as openspiel_policy

from ascentrl.games.extensive import ExtensiveFormGame

__all__ = ["from_cpp_policy", "from_tabular_policy", "to_tabular_policy"]


def to_tabular_policy(game: ExtensiveFormGame, openspiel_game, table: torch.Tensor) -> openspiel_policy.TabularPolicy:
    """An ``open_spiel.python.policy.TabularPolicy`` holding the policy ``table`` of ``game``."""
    tabular = openspiel_policy.TabularPolicy(openspiel_game)
    rows = table.detach().to(torch.float64).numpy()
    for key, index in tabular.state_lookup.items():
        tabular.action_probability_array[index] = rows[game.infoset_index[key]]
    return tabular


def from_tabular_policy(game: ExtensiveFormGame, tabular: openspiel_policy.TabularPolicy) -> torch.Tensor:
    """The policy table of an ``open_spiel.python.policy.TabularPolicy`` (rows by action id, as ours)."""
    table = torch.zeros(game.num_infosets, game.num_distinct_actions, dtype=game.dtype)
    for key, index in tabular.state_lookup.items():
        table[game.infoset_index[key]] = torch.from_numpy(tabular.action_probability_array[index])
    return table


def from_cpp_policy(game: ExtensiveFormGame, policy) -> torch.Tensor:
    """The policy table of a C++ ``pyspiel.Policy`` (e.g. ``pyspiel.CFRPlusSolver().average_policy()``)."""
    table = torch.zeros(game.num_infosets, game.num_distinct_actions, dtype=game.dtype)
    for key, index in game.infoset_index.items():
        for action, probability in policy.get_state_policy(key):
            table[index, action] = probability
    return table
