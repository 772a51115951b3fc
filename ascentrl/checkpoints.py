"""Checkpoint files: written atomically, read safely, refused with one clear error when unusable.

- :func:`save_checkpoint` writes a state (tensors, numbers, strings, lists, dicts) with
  ``torch.save`` plus a header naming the format, its version, the library version and the *kind*
  of object that wrote it, through :func:`ascentrl.files.write_atomically`.
- :func:`load_checkpoint` checks the file's zip CRCs, reads it with
  ``torch.load(weights_only=True)`` (so a checkpoint cannot run code) and turns every way of failing
  into one :class:`CheckpointError` naming the file and the problem.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ascentrl import __version__
from ascentrl.files import write_atomically

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_FORMAT_VERSION", "CheckpointError", "load_checkpoint",
           "save_checkpoint"]

CHECKPOINT_FORMAT = "ascentrl-checkpoint"
CHECKPOINT_FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupted, foreign or of an unknown format version."""


def save_checkpoint(path: str | os.PathLike, kind: str, state: Mapping[str, Any]) -> Path:
    """Save ``state`` (tensors, numbers, strings, lists, dicts) as a checkpoint, atomically.

    The file holds ``state`` plus ``format``, ``format_version``, ``library_version`` and ``kind``
    (what wrote it, e.g. ``"Reinforce"``), checked again by :func:`load_checkpoint`.
    """
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "library_version": __version__,
        "kind": kind,
        **state,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return write_atomically(path, buffer.getvalue())


def _unreadable_reason(error: BaseException) -> str:
    """One line saying why ``torch.load(weights_only=True)`` refused a file."""
    text = str(error)
    if isinstance(error, pickle.UnpicklingError) and "Weights only load failed" in text:
        requested = re.search(r"GLOBAL ([\w.]+)", text)
        if requested:
            return (f"it asks to import {requested.group(1)}, which no checkpoint needs; refused, "
                    f"since loading it could run code")
        return "its pickle uses constructs the safe (weights_only) loader refuses; not loaded"
    if isinstance(error, EOFError):
        return "the file ends too early (empty or truncated)"
    first_line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return f"unreadable ({first_line.split('. This is an internal')[0]})"


def load_checkpoint(path: str | os.PathLike, kind: str) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` with the same ``kind``.

    The file is a torch zip archive: every member's CRC-32 is checked first (torch itself does not,
    so a flipped byte inside a tensor would otherwise load silently), then it is read with
    ``torch.load(weights_only=True, map_location="cpu")``: only tensors and plain containers are
    unpickled, never arbitrary objects.

    Raises:
        CheckpointError: the file is missing, unreadable, truncated, corrupted, not an ascentrl
            checkpoint, written by something other than ``kind``, or of an unknown format version.
            One line that names the file and the problem.
    """
    source = Path(path)
    if not source.is_file():
        raise CheckpointError(f"checkpoint {source}: no such file")
    try:
        data = source.read_bytes()
    except OSError as error:
        raise CheckpointError(f"checkpoint {source}: cannot be read: {error.strerror or error}") from None
    if not data:
        raise CheckpointError(f"checkpoint {source}: the file is empty")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            damaged = archive.testzip()
    except zipfile.BadZipFile:
        raise CheckpointError(
            f"checkpoint {source}: not a torch zip archive (truncated, or not written by torch.save)"
        ) from None
    except (OSError, EOFError, ValueError, zipfile.LargeZipFile) as error:
        raise CheckpointError(f"checkpoint {source}: corrupted zip archive ({error})") from None
    if damaged is not None:
        raise CheckpointError(f"checkpoint {source}: corrupted (checksum mismatch in {damaged})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols before failing
            payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, KeyError,
            AttributeError, ImportError, IndexError, TypeError) as error:
        raise CheckpointError(f"checkpoint {source}: {_unreadable_reason(error)}") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"checkpoint {source}: a torch file, but not an ascentrl checkpoint (no "
            f"format={CHECKPOINT_FORMAT!r} entry; it was not written by ascentrl.checkpoints.save_checkpoint)"
        )
    if payload.get("format_version") != CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {source}: format version {payload.get('format_version')!r} (written by "
            f"ascentrl {payload.get('library_version')!r}) is not readable by ascentrl {__version__}, "
            f"which reads format version {CHECKPOINT_FORMAT_VERSION}"
        )
    if payload.get("kind") != kind:
        raise CheckpointError(
            f"checkpoint {source}: holds a {payload.get('kind')!r} checkpoint, expected {kind!r}"
        )
    return payload
