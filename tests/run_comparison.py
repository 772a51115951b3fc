"""Bit-for-bit comparison of two training runs, for the resume tests of every learner.

A run that was interrupted and resumed must end exactly like the one that never stopped: every
tensor of the learner's state (networks, optimizer states, generator, episode statistics, dynamics
memory — whatever ``Learner.state_dict`` holds), every counter, the schedulers' states, and the
summary.json and progress.csv numbers (wall time aside).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

# Header entries of every checkpoint, and entries that legitimately differ between the two runs:
# the call in progress (its history holds wall times; compared separately) and the process-wide
# generators (whatever else ran in the test process drew from them).
NOT_LEARNER_STATE = {"format", "format_version", "library_version", "kind", "training_run", "global_rng"}


def tensors_of(state: Any, path: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor in a nested state, with its path."""
    if isinstance(state, torch.Tensor):
        yield path, state
    elif isinstance(state, dict):
        for key, value in state.items():
            yield from tensors_of(value, f"{path}/{key}")
    elif isinstance(state, (list, tuple)):
        for index, value in enumerate(state):
            yield from tensors_of(value, f"{path}/{index}")


def without_tensors(state: Any) -> Any:
    """``state`` with every tensor replaced by a marker: the plain values around them."""
    if isinstance(state, torch.Tensor):
        return "<tensor>"
    if isinstance(state, dict):
        return {key: without_tensors(value) for key, value in state.items()}
    if isinstance(state, (list, tuple)):
        return [without_tensors(value) for value in state]
    return state


def assert_same_training_state(first: dict, second: dict) -> None:
    """Two checkpoints hold the same learner state, bit for bit, and the same schedulers."""
    parts = sorted(set(first) - NOT_LEARNER_STATE)
    assert parts == sorted(set(second) - NOT_LEARNER_STATE)
    for part in parts:
        mine, theirs = list(tensors_of(first[part])), list(tensors_of(second[part]))
        assert [path for path, _ in mine] == [path for path, _ in theirs], part
        for (path, tensor), (_, other) in zip(mine, theirs):
            assert tensor.dtype == other.dtype and torch.equal(tensor, other), f"{part}{path}"
        assert without_tensors(first[part]) == without_tensors(second[part]), part
    assert first["training_run"]["scheduler_states"] == second["training_run"]["scheduler_states"]


def without_wall_time(records: Any) -> list[dict]:
    return [{key: value for key, value in record.items() if key != "wall_seconds"} for record in records]


def summary_without_wall_time(folder: Path) -> dict:
    summary = json.loads((folder / "summary.json").read_text())
    assert summary.pop("wall_seconds") > 0
    return summary


def progress_without_wall_time(folder: Path) -> list[dict]:
    with open(folder / "progress.csv", newline="") as file:
        return without_wall_time(csv.DictReader(file))
