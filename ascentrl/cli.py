"""A command line built from config dataclasses, with bad input reported on one line (exit code 2).

- :func:`add_config_arguments` turns a dataclass whose fields each carry a one-line docstring into
  ``--option`` arguments (choices from ``Literal``, ``X | None`` as ``none``, tuples, JSON dicts);
  :func:`config_from_args` builds the dataclass back from the parsed arguments.
- :class:`CommandLineParser` reports an error as one line on stderr and exits with code 2;
  :func:`fail` does the same for errors found after parsing (a config's own validation).
- :func:`given_options` tells which options a command line set explicitly, which
  :func:`check_resume_options` needs: a resumed run refuses settings other than its own.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import os
import textwrap
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NoReturn, Union

__all__ = ["CommandLineParser", "add_config_arguments", "check_checkpoint_file", "check_resume_options",
           "config_from_args", "fail", "given_options"]


class CommandLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _field_docs(config_class: type) -> dict[str, str]:
    """The string literal written under each field of a dataclass (its one-line doc), base classes' too."""
    docs: dict[str, str] = {}
    for klass in reversed(config_class.__mro__):
        if klass is object or not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        body = getattr(ast.parse(source).body[0], "body", [])
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
        # argparse %-formats help strings: a literal % in a docstring ("up to 20%") must be doubled.
        help_text = f"{docs.get(field.name, '')} (default: {default!r})".strip().replace("%", "%%")
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


def given_options(parser: argparse.ArgumentParser, config_classes: Sequence[type],
                  argv: Sequence[str] | None) -> set[str]:
    """The fields of ``config_classes`` that ``argv`` sets explicitly (not left at their defaults).

    ``parser`` must be a fresh parser built with :func:`add_config_arguments` for those classes;
    its defaults are replaced by a marker, so do not use it for anything else.
    """
    not_given = object()  # not a string, so argparse does not run it through the option's type
    names = [field.name for config in config_classes for field in dataclasses.fields(config)]
    parser.set_defaults(**dict.fromkeys(names, not_given))
    parsed = vars(parser.parse_args(argv))
    return {name for name in names if parsed[name] is not not_given}


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

