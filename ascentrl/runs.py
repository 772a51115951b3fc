"""Run plumbing shared by the training scripts: seeding, files written atomically, safe checkpoints,
and a command line built from a config dataclass.

Nothing here knows about a particular algorithm or environment.

- :func:`seed_everything` seeds python's ``random``, numpy and torch in one visible call.
- :func:`write_json`, :func:`write_csv`, :func:`write_line_plot`, :func:`write_figure`, :func:`save_checkpoint`
  write through a temporary file in the same folder, flush and fsync it, then ``os.replace`` it over the target:
  a crash mid-write leaves the previous file (or none), never a broken one.
- :func:`load_checkpoint` checks the file's zip CRCs, reads it with ``torch.load(weights_only=True)``
  (so a checkpoint cannot run code) and turns every way of failing into one :class:`CheckpointError`
  naming the file and the problem.
- :func:`capture_rng_states` / :func:`restore_rng_states` carry python's, numpy's and torch's
  global generators through a checkpoint, in types the safe loader accepts.
- :func:`non_finite_report` finds NaN/inf in objectives and gradients before a step is applied;
  :class:`NonFiniteUpdateError` is what a training loop raises when it finds one.
- :func:`add_config_arguments` / :func:`config_from_args` turn a dataclass whose fields carry a
  one-line docstring into argparse options; :class:`CommandLineParser` reports bad input on one
  line and exits with code 2.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import csv
import dataclasses
import inspect
import io
import json
import os
import pickle
import random
import re
import tempfile
import textwrap
import types
import typing
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NoReturn, Union

import numpy as np
import torch
from torch import Tensor

from ascentrl import __version__

__all__ = [
    "CheckpointError",
    "CommandLineParser",
    "NonFiniteUpdateError",
    "add_config_arguments",
    "check_checkpointing",
    "check_checkpoint_file",
    "check_resume_options",
    "capture_rng_states",
    "config_from_args",
    "create_output_folder",
    "fail",
    "given_options",
    "interrupted_message",
    "load_checkpoint",
    "non_finite_report",
    "restore_rng_states",
    "save_checkpoint",
    "seed_everything",
    "stopped_on_non_finite",
    "write_csv",
    "write_figure",
    "write_json",
    "write_line_plot",
]

CHECKPOINT_FORMAT = "ascentrl-checkpoint"
CHECKPOINT_FORMAT_VERSION = 1


def _umask_file_mode() -> int:
    current = os.umask(0)
    os.umask(current)
    return 0o666 & ~current


_FILE_MODE = _umask_file_mode()


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupted, foreign or of an unknown format version."""


class NonFiniteUpdateError(FloatingPointError):
    """An objective or a gradient was NaN or infinite; the update was not applied."""


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global generator and torch (CPU and CUDA) with ``seed``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture_rng_states() -> dict[str, Any]:
    """The states of python's ``random``, numpy's global generator and torch's CPU generator.

    Returned as tuples, ints and tensors only, so the dict can go into :func:`save_checkpoint` and
    come back through the ``weights_only`` loader unchanged.
    """
    name, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (name, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss),
                  float(cached_gaussian)),
        "torch": torch.get_rng_state(),
    }


def restore_rng_states(states: Mapping[str, Any]) -> None:
    """Put back the generator states that :func:`capture_rng_states` returned.

    Raises:
        ValueError: ``states`` is not such a dict (the message says which part is wrong).
    """
    try:
        version, internal, gauss = states["python"]
        random.setstate((version, tuple(internal), gauss))
        name, keys, position, has_gauss, cached_gaussian = states["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian))
        torch.set_rng_state(states["torch"])
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as error:
        raise ValueError(f"not a set of random generator states: {type(error).__name__}: {error}") from None


def non_finite_report(objectives: Mapping[str, Tensor | None],
                      parameters: Mapping[str, Iterable[Tensor]]) -> str | None:
    """Describe the first NaN/inf among ``objectives`` and the gradients of ``parameters``.

    Args:
        objectives: name -> scalar objective (``None`` entries are skipped).
        parameters: name -> parameters whose ``.grad`` to check (missing gradients are skipped).

    Returns:
        ``None`` when everything is finite, else e.g. ``"the policy objective is nan"`` or
        ``"the value network's gradient holds 3 non-finite entries"``.
    """
    for name, objective in objectives.items():
        if objective is not None and not bool(torch.isfinite(objective.detach()).all()):
            return f"the {name} is {float(objective.detach()):g}"
    for name, tensors in parameters.items():
        gradients = [tensor.grad for tensor in tensors if tensor.grad is not None]
        bad = sum(int((~torch.isfinite(gradient)).sum()) for gradient in gradients)
        if bad:
            return f"the {name}'s gradient holds {bad} non-finite entries"
    return None


def _write_atomically(path: str | os.PathLike, write: Callable[[Any], Any], binary: bool) -> Path:
    """Write ``path`` through a temporary file in the same folder, fsync it, then rename it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.chmod(temporary, _FILE_MODE)  # mkstemp makes 0600; give the usual mode of a new file
        with os.fdopen(descriptor, "wb" if binary else "w", **({} if binary else {"newline": ""})) as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where the OS allows it
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    return target


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically. Returns the path written."""
    text = json.dumps(data, indent=2, sort_keys=False, allow_nan=True) + "\n"
    return _write_atomically(path, lambda file: file.write(text), binary=False)


def write_csv(
    path: str | os.PathLike, fieldnames: Sequence[str], rows: Iterable[Mapping[str, Any]]
) -> Path:
    """Write (or rewrite) a CSV file with a header row, atomically. Returns the path written."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fieldnames))
    writer.writeheader()
    writer.writerows(rows)
    text = buffer.getvalue()
    return _write_atomically(path, lambda file: file.write(text), binary=False)


def write_line_plot(
    path: str | os.PathLike,
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    reference: tuple[str, float] | None = None,
) -> Path:
    """Plot each ``label -> (x, y)`` as a line and write a PNG, atomically (matplotlib, no pyplot).

    ``reference = (label, y)`` adds a dashed horizontal line, e.g. a target return.
    """
    from matplotlib.figure import Figure  # imported here: only the scripts that plot pay for it

    figure = Figure(figsize=(7, 4.2), layout="constrained")
    axes = figure.subplots()
    for label, (xs, ys) in series.items():
        axes.plot(list(xs), list(ys), label=label)
    if reference is not None:
        axes.axhline(reference[1], linestyle="--", color="grey", label=reference[0])
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if title:
        axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="best")
    return write_figure(path, figure)


def write_figure(path: str | os.PathLike, figure: Any, *, dpi: int = 110) -> Path:
    """Render a matplotlib ``Figure`` (built without pyplot) to a PNG and write it atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    data = buffer.getvalue()
    return _write_atomically(path, lambda file: file.write(data), binary=True)


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
    data = buffer.getvalue()
    return _write_atomically(path, lambda file: file.write(data), binary=True)


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
            f"format={CHECKPOINT_FORMAT!r} entry; it was not written by ascentrl.runs.save_checkpoint)"
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


class CommandLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _field_docs(config_class: type) -> dict[str, str]:
    """The string literal written under each field of a dataclass (its one-line doc)."""
    try:
        source = textwrap.dedent(inspect.getsource(config_class))
    except (OSError, TypeError):
        return {}
    class_node = ast.parse(source).body[0]
    docs: dict[str, str] = {}
    body = getattr(class_node, "body", [])
    for statement, following in zip(body, body[1:]):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[statement.target.id] = " ".join(following.value.value.split())
    return docs


def _optional_inner(annotation: Any) -> tuple[Any, bool]:
    """``(X, True)`` for ``X | None`` / ``Optional[X]``, else ``(annotation, False)``."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        arguments = [argument for argument in typing.get_args(annotation) if argument is not type(None)]
        if len(arguments) == 1 and len(typing.get_args(annotation)) == 2:
            return arguments[0], True
    return annotation, False


def _parse_scalar(kind: type, optional: bool, name: str):
    def parse(text: str):
        if optional and text.lower() == "none":
            return None
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {kind.__name__}{' or none' if optional else ''} for {name}, got {text!r}"
            ) from None

    parse.__name__ = kind.__name__
    return parse


def _parse_json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r} ({error.msg})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def add_config_arguments(
    parser: argparse.ArgumentParser, config_class: type, *, flags: Mapping[str, str] | None = None
) -> None:
    """Add one ``--option`` per field of the dataclass ``config_class``, documented by its docstring.

    ``field_name`` becomes ``--field-name`` unless ``flags`` maps it to another flag. Supported field
    types: ``bool`` (``--x`` / ``--no-x``), ``int``, ``float``, ``str``, ``Literal[...]`` (choices),
    ``X | None`` (write ``none``), ``tuple[int, ...]`` (zero or more values) and ``dict`` (JSON).
    """
    hints = typing.get_type_hints(config_class)
    docs = _field_docs(config_class)
    flags = dict(flags or {})
    for field in dataclasses.fields(config_class):
        flag = flags.get(field.name, "--" + field.name.replace("_", "-"))
        default = (field.default if field.default is not dataclasses.MISSING
                   else field.default_factory())  # type: ignore[misc]
        annotation, optional = _optional_inner(hints[field.name])
        help_text = f"{docs.get(field.name, '')} (default: {default!r})".strip()
        options: dict[str, Any] = {"dest": field.name, "default": default, "help": help_text}
        origin = typing.get_origin(annotation)
        if annotation is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif origin is Literal:
            options["choices"] = list(typing.get_args(annotation))
            options["type"] = type(options["choices"][0])
        elif origin is tuple:
            options["nargs"] = "*"
            options["type"] = _parse_scalar(typing.get_args(annotation)[0], False, flag)
            options["metavar"] = "N"
        elif annotation is dict or origin is dict:
            options["type"] = _parse_json_object
            options["metavar"] = "JSON"
        elif annotation in (int, float, str):
            options["type"] = _parse_scalar(annotation, optional, flag)
        else:
            raise TypeError(f"{config_class.__name__}.{field.name}: unsupported field type {annotation!r}")
        parser.add_argument(flag, **options)


def config_from_args(config_class: type, arguments: argparse.Namespace):
    """Build ``config_class`` from the options that :func:`add_config_arguments` added."""
    values = {}
    for field in dataclasses.fields(config_class):
        value = getattr(arguments, field.name)
        values[field.name] = tuple(value) if isinstance(value, list) else value
    return config_class(**values)


def check_checkpointing(path: str | os.PathLike | None, every: int | None) -> None:
    """Validate a training call's ``checkpoint_path`` / ``checkpoint_every`` pair."""
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
        raise ValueError(f"checkpoint_every must be a positive integer or None, got {every!r}")
    if every is not None and path is None:
        raise ValueError("checkpoint_every needs a checkpoint_path to write to")


def stopped_on_non_finite(iteration: int, error: NonFiniteUpdateError,
                          last_checkpoint: tuple[str, int] | None) -> NonFiniteUpdateError:
    """The error that stops training on a NaN/inf: what, at which iteration, and what is left."""
    left = (f"Last good checkpoint: {last_checkpoint[0]} (iteration {last_checkpoint[1]})"
            if last_checkpoint else "No checkpoint was written")
    return NonFiniteUpdateError(f"iteration {iteration}: {error}; training stopped. {left}. "
                                "on_nonfinite='skip' would skip such updates instead")


def create_output_folder(out: str | os.PathLike) -> None:
    """Create the run's ``--out`` folder (and its parents), or raise ``ValueError`` naming it."""
    try:
        Path(out).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"--out {out}: cannot create the folder ({error.strerror or error})") from None


def interrupted_message(signal_name: str, progress: str, checkpoint_path: str | os.PathLike,
                        resume_command: str) -> str:
    """What a training script prints when a signal stopped it: where it stopped, where the
    checkpoint is, and the command that continues the run."""
    return (f"{signal_name}: stopped after {progress}; checkpoint written to {checkpoint_path}\n"
            f"resume with: {resume_command} --resume {checkpoint_path}")


def given_options(parser: argparse.ArgumentParser, config_classes: Sequence[type],
                  argv: Sequence[str] | None) -> set[str]:
    """The fields of ``config_classes`` that ``argv`` sets explicitly (not left at their defaults).

    ``parser`` must be a fresh parser built with :func:`add_config_arguments` for those classes;
    its defaults are replaced by a marker, so do not use it for anything else.
    """
    not_given = object()  # not a string, so argparse does not run it through the option's type
    names = [field.name for config in config_classes for field in dataclasses.fields(config)]
    parser.set_defaults(**dict.fromkeys(names, not_given))
    return {name for name, value in vars(parser.parse_args(argv)).items() if value is not not_given}


def check_resume_options(given: set[str], allowed: Sequence[str]) -> None:
    """Refuse options other than ``--resume`` and ``allowed`` next to ``--resume``.

    A resumed run continues with the settings saved in its checkpoint; accepting others silently
    would make it a different run.

    Raises:
        ValueError: naming the refused options and the accepted ones.
    """
    refused = sorted(given - {"resume", *allowed})
    if refused:
        def as_flags(names: Iterable[str]) -> str:
            return ", ".join("--" + name.replace("_", "-") for name in names)

        raise ValueError(f"--resume continues the saved run with its own settings; drop {as_flags(refused)} "
                         f"(only {as_flags(allowed)} may be given)")


def check_checkpoint_file(option: str, path: str | os.PathLike) -> None:
    """Raise ``ValueError`` naming ``option`` unless ``path`` is an existing file."""
    if not Path(path).is_file():
        problem = "is a folder, not a checkpoint file" if Path(path).is_dir() else "no such checkpoint file"
        raise ValueError(f"{option} {path}: {problem}")


def fail(parser: argparse.ArgumentParser, error: BaseException) -> NoReturn:
    """Report ``error`` as one line on stderr and exit with code 2 (bad input)."""
    parser.error(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__)

