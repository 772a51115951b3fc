"""Checkpoint files: written atomically, checked whole, read safely, refused with one clear error.

- :func:`save_checkpoint` writes a state (tensors, numbers, strings, lists, dicts) with
  ``torch.save``, plus entries naming the format, its version, the library version and the *kind* of
  object that wrote it, through :func:`ascentrl.files.write_atomically`.
- **Whole-file integrity.** The file is a plain torch zip archive whose zip comment (the last bytes
  of any zip file) is ``ascentrl-sha256:`` followed by the hex SHA-256 of every byte before the
  digest. :func:`load_checkpoint` recomputes it before anything parses the file, so a change to any
  byte — tensor data, pickle, zip index, the checksum itself — is one :class:`CheckpointError`,
  never a silent load of wrong weights. (torch's own reader checks no CRC, and a zip's CRCs do not
  cover its index.) The comment is part of the zip format, so ``torch.load`` still reads the file.
- Then the file is read with ``torch.load(weights_only=True)`` (so a checkpoint cannot run code)
  and every way of failing becomes one :class:`CheckpointError` naming the file and the problem.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ascentrl import __version__
from ascentrl.files import write_atomically
from ascentrl.interrupts import signals_held

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_FORMAT_VERSION", "CheckpointError", "load_checkpoint",
           "save_checkpoint", "with_checksum"]

CHECKPOINT_FORMAT = "ascentrl-checkpoint"
CHECKPOINT_FORMAT_VERSION = 2
"""2: whole-file SHA-256 in the zip comment, and the ``Learner`` state layout of ascentrl 0.2."""
CHECKSUM_PREFIX = b"ascentrl-sha256:"
_DIGEST_LENGTH = 64
_TRAILER_LENGTH = len(CHECKSUM_PREFIX) + _DIGEST_LENGTH
_END_OF_CENTRAL_DIRECTORY = b"PK\x05\x06"
_END_RECORD_LENGTH = 22  # the end-of-central-directory record without its comment


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
    with signals_held():  # a second Ctrl-C waits until the file is whole (ascentrl.interrupts)
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        return write_atomically(path, with_checksum(buffer.getvalue()))


def with_checksum(archive: bytes) -> bytes:
    """A zip archive without a comment, given the comment ``ascentrl-sha256:<digest>``.

    The digest is the SHA-256 of every byte of the result before the digest itself (the archive with
    its comment length set, and the prefix).
    """
    end = len(archive) - _END_RECORD_LENGTH
    if end < 0 or archive[end:end + 4] != _END_OF_CENTRAL_DIRECTORY or archive[-2:] != b"\0\0":
        raise ValueError("not a zip archive without a comment (what torch.save writes)")
    signed = archive[:-2] + _TRAILER_LENGTH.to_bytes(2, "little") + CHECKSUM_PREFIX
    return signed + hashlib.sha256(signed).hexdigest().encode("ascii")


def _verified_archive(source: Path, data: bytes) -> bytes:
    """``data`` if its checksum trailer matches every byte before it, else a CheckpointError."""
    if data[-_TRAILER_LENGTH:-_DIGEST_LENGTH] != CHECKSUM_PREFIX:
        if not data.startswith(b"PK\x03\x04"):
            raise CheckpointError(f"checkpoint {source}: not an ascentrl checkpoint (not a torch zip archive)")
        raise CheckpointError(
            f"checkpoint {source}: not an ascentrl checkpoint, or an incomplete one: it lacks the checksum "
            f"ascentrl writes at the end of every checkpoint (truncated, written by ascentrl 0.1, or a plain "
            f"torch file)")
    if hashlib.sha256(data[:-_DIGEST_LENGTH]).hexdigest().encode("ascii") != data[-_DIGEST_LENGTH:]:
        raise CheckpointError(f"checkpoint {source}: corrupted (the checksum of its bytes does not match "
                              f"the one written with it; a byte changed after it was saved)")
    return data


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


def load_checkpoint(path: str | os.PathLike, kind: str | None) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` with the same ``kind`` (None: any kind).

    The whole-file checksum is verified first (module docstring), then the file is read with
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
    data = _verified_archive(source, data)
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
    if kind is not None and payload.get("kind") != kind:
        raise CheckpointError(
            f"checkpoint {source}: holds a {payload.get('kind')!r} checkpoint, expected {kind!r}"
        )
    return payload
