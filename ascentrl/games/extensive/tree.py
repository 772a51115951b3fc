"""A two-player zero-sum extensive-form game, walked once and stored as tensors (the sequence form).

:func:`build_game` asks a :class:`~ascentrl.games.extensive.rules.GameRules` about every history,
depth first, and keeps only what the algorithms need (von Stengel 1996, "Efficient computation of
behavior strategies"; Koller, Megiddo & von Stengel 1994):

1. **Information sets.** Every decision history is filed under its acting player's information
   state string. Histories with the same string must offer the same legal actions and follow the
   same own last sequence (perfect recall); both are checked, and a string may belong to one
   player only.
2. **Sequences.** A player's *sequence* is an information set with one of its legal actions: the
   last choice on the way to a history. With the empty sequence ``∅`` of each player they index
   the sequence form. A *realization plan* ``x_i`` gives every sequence of player ``i`` the
   probability that ``i``'s own choices play it: ``x_i(∅) = 1`` and, at every information set
   ``I`` with parent sequence ``p(I)``, ``Σ_a x_i(Ia) = x_i(p(I))`` (the *treeplex*).
3. **Leaves.** A terminal history ``z`` reached by chance with probability ``c(z)`` contributes
   ``c(z) u_0(z)`` to the entry ``A[σ_0(z), σ_1(z)]`` of the *sequence-form payoff matrix*, where
   ``σ_i(z)`` is player ``i``'s last sequence before ``z``. Then player 0's expected payoff is the
   bilinear form ``u_0 = x_0ᵀ A x_1`` and ``u_1 = −u_0``. ``A`` is stored sparsely, one entry per
   distinct pair of sequences (Kuhn poker: 30 terminal histories, 30 entries; Leduc poker: 5,520).

The sequences of both players share one index space, so a strategy *profile* in sequence form is
a single tensor of shape ``(*batch, num_sequences)``: positions 0 and 1 hold player 0's and
player 1's empty sequences, and the rest are grouped by *level* (how many own choices precede the
information set). Every algorithm then runs over the levels of both players' trees at once —
bottom-up for values and best responses, top-down for realization plans — with a handful of
gathers and scatters per level, batched over any leading dimensions. A behavioural profile is
a table of shape ``(*batch, num_infosets, num_distinct_actions)`` over both players' information
sets (player 0's first, in the order the walk met them), like OpenSpiel's ``TabularPolicy``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ascentrl.games.extensive.rules import CHANCE, TERMINAL, GameRules

_PROBABILITY_TOLERANCE = 1e-9


@dataclass(frozen=True, eq=False)
class TreeLevel:
    """The information sets of both players that follow the same number of own choices.

    Stored *actions first*: a level is a table with one column per information set and one row
    per action slot (the ``k``-th legal action, ascending), padded to the widest information set.
    Reductions over actions then run across rows with the information sets contiguous in memory,
    several times faster than over a short trailing dimension (as in
    :mod:`ascentrl.games.zero_sum`). Padded slots gather the column's first sequence (any finite
    value would do) and carry ``-inf`` in ``padding`` so that maxima, log-sum-exps and projections
    ignore them.

    Attributes:
        infosets: ``(columns,)`` information set indices.
        parents: ``(columns,)`` the parent sequence of each information set.
        sequences: ``(width, columns)`` the sequence of each legal action (padded).
        legal: ``(width, columns)`` which slots are real actions.
        padding: ``(width, columns)`` ``0`` on real actions, ``-inf`` on padded slots.
        start, stop: this level's sequences are ``start:stop``, information set by information set.
        sequence_parents: ``(stop - start,)`` the parent sequence of each of them.
        legal_positions: ``(stop - start,)`` where each of those sequences sits in the flattened
            ``(width * columns)`` table.
    """

    infosets: Tensor
    parents: Tensor
    sequences: Tensor
    legal: Tensor
    padding: Tensor
    start: int
    stop: int
    sequence_parents: Tensor
    legal_positions: Tensor

    def gather(self, values: Tensor) -> Tensor:
        """``values[..., sequences]``: per-sequence values as a ``(*batch, width, columns)`` table."""
        # index_select on the flat index is two to three times faster than advanced indexing here.
        return values.index_select(-1, self.sequences.view(-1)).view(*values.shape[:-1], *self.sequences.shape)

    def scatter(self, table: Tensor) -> Tensor:
        """The inverse of :meth:`gather` on real actions: ``(*batch, width, columns) -> (*batch, stop - start)``."""
        return table.flatten(-2).index_select(-1, self.legal_positions)


@dataclass(frozen=True, eq=False)
class ExtensiveFormGame:
    """A finite two-player zero-sum game with chance and information sets, as tensors.

    Build one with :func:`build_game` (or :func:`ascentrl.games.extensive.make_game` by name).

    Attributes:
        name: the game's name.
        rules: the :class:`GameRules` it was built from (the environments replay them).
        num_distinct_actions: actions are ``range(num_distinct_actions)``.
        action_names: a readable name per action.
        information_states: the information state string of every information set.
        infoset_index: string -> information set index.
        infoset_player: ``(num_infosets,)`` the acting player.
        legal_actions_mask: ``(num_infosets, num_distinct_actions)`` bool.
        infoset_parent: ``(num_infosets,)`` the parent sequence (the player's previous choice).
        infoset_chance_weight: ``(num_infosets,)`` ``Σ_{h ∈ I} c(h)``, the chance probability of the
            histories in each information set: in poker, the probability of the cards the player sees.
        reach_infosets, reach_sequences, reach_chance: the *counterfactual reach* of information set
            ``I`` — the probability that chance and the opponent lead play into ``I`` — is
            ``Σ c · y(τ)`` over the entries with ``reach_infosets == I``, where ``τ`` is the
            opponent's last sequence (``reach_sequences``) and ``c`` the chance probability of those
            histories (``reach_chance``).
        sequence_player: ``(num_sequences,)`` owner of each sequence.
        sequence_infoset, sequence_action: ``(num_sequences,)`` the information set and action of
            each sequence, ``-1`` for the two empty sequences.
        sequence_parent: ``(num_sequences,)`` the parent sequence (an empty sequence is its own parent).
        sequence_table_index: ``(num_sequences - 2,)`` where each non-empty sequence sits in a flattened
            ``(num_infosets * num_distinct_actions)`` policy table.
        levels: the :class:`TreeLevel` s, from the root down.
        leaf_rows, leaf_columns: ``(num_entries,)`` player 0's and player 1's sequence of each entry of ``A``.
        leaf_payoffs: ``(num_entries,)`` the entry ``Σ_z c(z) u_0(z)`` over the terminal histories it collects.
        num_terminal_histories: terminal histories of the tree.
    """

    name: str
    rules: GameRules
    num_distinct_actions: int
    action_names: tuple[str, ...]
    information_states: tuple[str, ...]
    infoset_index: dict[str, int]
    infoset_player: Tensor
    legal_actions_mask: Tensor
    infoset_parent: Tensor
    infoset_chance_weight: Tensor
    reach_infosets: Tensor
    reach_sequences: Tensor
    reach_chance: Tensor
    sequence_player: Tensor
    sequence_infoset: Tensor
    sequence_action: Tensor
    sequence_parent: Tensor
    sequence_table_index: Tensor
    levels: tuple[TreeLevel, ...]
    leaf_rows: Tensor
    leaf_columns: Tensor
    leaf_payoffs: Tensor
    num_terminal_histories: int

    @property
    def num_infosets(self) -> int:
        return len(self.information_states)

    @property
    def num_sequences(self) -> int:
        return len(self.sequence_player)

    @property
    def dtype(self) -> torch.dtype:
        return self.leaf_payoffs.dtype

    def player_infosets(self, player: int) -> Tensor:
        """Indices of ``player``'s information sets."""
        return torch.nonzero(self.infoset_player == player).flatten()

    def player_sequences(self, player: int) -> Tensor:
        """Indices of ``player``'s sequences, its empty sequence (index ``player``) first."""
        return torch.nonzero(self.sequence_player == player).flatten()

    def __repr__(self) -> str:
        counts = [int((self.infoset_player == player).sum()) for player in (0, 1)]
        return (f"ExtensiveFormGame({self.name!r}: {counts[0]} + {counts[1]} information sets,"
                f" {self.num_sequences} sequences, {self.num_terminal_histories} terminal histories,"
                f" {len(self.leaf_payoffs)} payoff entries)")


@dataclass
class _Infoset:
    player: int
    key: str
    legal: tuple[int, ...]
    parent: tuple[int, int] | None
    """The player's previous ``(infoset, action)``, or ``None`` at its first choice."""
    depth: int
    reach: dict = field(default_factory=dict)
    """The opponent's last ``(infoset, action)`` (or ``None``) -> chance probability of those histories."""


def build_game(rules: GameRules, *, dtype: torch.dtype = torch.float64) -> ExtensiveFormGame:
    """Walk every history of ``rules`` once and return the game as tensors.

    Args:
        rules: the game's rules (see :mod:`ascentrl.games.extensive.rules`).
        dtype: floating-point type of the payoffs; float64 (the default) keeps NashConv exact to
            about 1e-15, which matters below 1e-6.

    Raises:
        ValueError: a rule returns something inconsistent (probabilities that do not sum to one,
            illegal or unsorted actions, an information state string shared by both players,
            histories of one information set with different legal actions or own histories).
    """
    if not isinstance(rules, GameRules):
        raise TypeError(f"rules must be a GameRules, got {type(rules).__name__}")
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point type, got {dtype}")
    infosets: list[_Infoset] = []
    index: dict[str, int] = {}
    entries: dict[tuple, float] = {}
    terminal_histories = 0
    # Depth first, children in action order: (state, chance probability, each player's last choice).
    stack: list[tuple[object, float, tuple]] = [(rules.initial_state(), 1.0, (None, None))]
    while stack:
        state, chance, last = stack.pop()
        player = rules.current_player(state)
        if player == TERMINAL:
            payoff = float(rules.payoff(state))
            if not math.isfinite(payoff):
                raise ValueError(f"{rules.name}: payoff {payoff} at a terminal history is not finite")
            entries[last] = entries.get(last, 0.0) + chance * payoff
            terminal_histories += 1
        elif player == CHANCE:
            outcomes = list(rules.chance_outcomes(state))
            _check_chance(rules, outcomes)
            stack.extend((rules.next_state(state, outcome), chance * probability, last)
                         for outcome, probability in reversed(outcomes))
        elif player in (0, 1):
            infoset = _file_history(rules, state, player, last, infosets, index)
            opponent_choice = last[1 - player]
            reach = infosets[infoset].reach
            reach[opponent_choice] = reach.get(opponent_choice, 0.0) + chance
            children = []
            for action in infosets[infoset].legal:
                choices = list(last)
                choices[player] = (infoset, action)
                children.append((rules.next_state(state, action), chance, tuple(choices)))
            stack.extend(reversed(children))
        else:
            raise ValueError(f"{rules.name}: current_player returned {player!r}; expected 0, 1, CHANCE or TERMINAL")
    if terminal_histories == 0:
        raise ValueError(f"{rules.name}: the game has no terminal history")
    return _tensors(rules, infosets, entries, terminal_histories, dtype)


def _check_chance(rules: GameRules, outcomes: list[tuple[int, float]]) -> None:
    probabilities = [probability for _, probability in outcomes]
    if not outcomes or min(probabilities) <= 0 or abs(sum(probabilities) - 1) > _PROBABILITY_TOLERANCE:
        raise ValueError(f"{rules.name}: chance outcomes {outcomes} must have positive probabilities summing to 1")


def _file_history(rules: GameRules, state, player: int, last: tuple, infosets: list[_Infoset],
                  index: dict[str, int]) -> int:
    """The information set of a decision history (created on first sight, checked afterwards)."""
    key = rules.information_state(state, player)
    legal = tuple(int(action) for action in rules.legal_actions(state))
    if not legal or list(legal) != sorted(set(legal)) or not 0 <= legal[0] <= legal[-1] < rules.num_distinct_actions:
        raise ValueError(f"{rules.name}: legal actions {legal} at {key!r} must be distinct, ascending and in "
                         f"range({rules.num_distinct_actions})")
    parent = last[player]
    existing = index.get(key)
    if existing is None:
        depth = 0 if parent is None else infosets[parent[0]].depth + 1
        index[key] = len(infosets)
        infosets.append(_Infoset(player, key, legal, parent, depth))
        return index[key]
    infoset = infosets[existing]
    if infoset.player != player:
        raise ValueError(f"{rules.name}: information state {key!r} belongs to both players; make the strings differ")
    if infoset.legal != legal:
        raise ValueError(f"{rules.name}: histories of information set {key!r} have different legal actions "
                         f"({infoset.legal} and {legal})")
    if infoset.parent != parent:
        raise ValueError(f"{rules.name}: information set {key!r} is reached after different own choices; "
                         "the game must have perfect recall")
    return existing


def _tensors(rules: GameRules, infosets: list[_Infoset], entries: dict[tuple, float], terminal_histories: int,
             dtype: torch.dtype) -> ExtensiveFormGame:
    """Number information sets (player 0's first) and sequences (by level), and build the tensors."""
    order = sorted(range(len(infosets)), key=lambda i: (infosets[i].player, i))
    infoset_number = {old: new for new, old in enumerate(order)}
    table = [infosets[old] for old in order]
    sequence_number: dict[tuple[int, int] | tuple[str, int], int] = {("root", 0): 0, ("root", 1): 1}
    sequence_player, sequence_infoset, sequence_action = [0, 1], [-1, -1], [-1, -1]

    def parent_of(infoset: _Infoset) -> int:
        if infoset.parent is None:
            return sequence_number[("root", infoset.player)]
        return sequence_number[(infoset_number[infoset.parent[0]], infoset.parent[1])]

    width_by_level: dict[int, int] = {}
    for infoset in table:
        width_by_level[infoset.depth] = max(width_by_level.get(infoset.depth, 0), len(infoset.legal))
    levels = []
    for depth in sorted(width_by_level):
        members = [number for number, infoset in enumerate(table) if infoset.depth == depth]
        width, start = width_by_level[depth], len(sequence_player)
        # Built one list per information set, then transposed to the level's actions-first layout.
        sequences, sequence_parents, legal_positions = [], [], []
        for position, number in enumerate(members):
            infoset = table[number]
            first = len(sequence_player)
            sequence_parents += [parent_of(infoset)] * len(infoset.legal)
            for slot, action in enumerate(infoset.legal):
                sequence_number[(number, action)] = len(sequence_player)
                sequence_player.append(infoset.player)
                sequence_infoset.append(number)
                sequence_action.append(action)
                legal_positions.append(slot * len(members) + position)
            sequences.append([first + slot if slot < len(infoset.legal) else first for slot in range(width)])
        legal = torch.tensor([[slot < len(table[number].legal) for slot in range(width)] for number in members]).T
        levels.append(TreeLevel(
            infosets=torch.tensor(members),
            parents=torch.tensor([parent_of(table[number]) for number in members]),
            sequences=torch.tensor(sequences).T.contiguous(),
            legal=legal.contiguous(),
            padding=torch.zeros(legal.shape, dtype=dtype).masked_fill(~legal, -math.inf),
            start=start,
            stop=len(sequence_player),
            sequence_parents=torch.tensor(sequence_parents),
            legal_positions=torch.tensor(legal_positions),
        ))
    infoset_parent = [parent_of(infoset) for infoset in table]
    sequence_parent = [0, 1] + [infoset_parent[infoset] for infoset in sequence_infoset[2:]]

    def sequence_of(choice: tuple[int, int] | None, player: int) -> int:
        return player if choice is None else sequence_number[(infoset_number[choice[0]], choice[1])]

    keys = sorted(entries, key=lambda last: (sequence_of(last[0], 0), sequence_of(last[1], 1)))
    mask = torch.zeros(len(table), rules.num_distinct_actions, dtype=torch.bool)
    for number, infoset in enumerate(table):
        mask[number, list(infoset.legal)] = True
    return ExtensiveFormGame(
        name=rules.name,
        rules=rules,
        num_distinct_actions=rules.num_distinct_actions,
        action_names=tuple(rules.action_name(action) for action in range(rules.num_distinct_actions)),
        information_states=tuple(infoset.key for infoset in table),
        infoset_index={infoset.key: number for number, infoset in enumerate(table)},
        infoset_player=torch.tensor([infoset.player for infoset in table]),
        legal_actions_mask=mask,
        infoset_parent=torch.tensor(infoset_parent),
        infoset_chance_weight=torch.tensor([sum(infoset.reach.values()) for infoset in table], dtype=dtype),
        reach_infosets=torch.tensor([number for number, infoset in enumerate(table) for _ in infoset.reach]),
        reach_sequences=torch.tensor([sequence_of(choice, 1 - infoset.player)
                                      for infoset in table for choice in infoset.reach]),
        reach_chance=torch.tensor([chance for infoset in table for chance in infoset.reach.values()], dtype=dtype),
        sequence_player=torch.tensor(sequence_player),
        sequence_infoset=torch.tensor(sequence_infoset),
        sequence_action=torch.tensor(sequence_action),
        sequence_parent=torch.tensor(sequence_parent),
        sequence_table_index=torch.tensor(sequence_infoset[2:]) * rules.num_distinct_actions
        + torch.tensor(sequence_action[2:]),
        levels=tuple(levels),
        leaf_rows=torch.tensor([sequence_of(last[0], 0) for last in keys]),
        leaf_columns=torch.tensor([sequence_of(last[1], 1) for last in keys]),
        leaf_payoffs=torch.tensor([entries[last] for last in keys], dtype=dtype),
        num_terminal_histories=terminal_histories,
    )
