"""Reading the ``.npy`` files the fitting scripts take, with errors that name the option.

``np.load`` runs with ``allow_pickle=False``, so a file cannot run code. Every problem is a
``ValueError`` starting with the option and the path, so the script can print it as its one line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["load_npy"]


def load_npy(option: str, path: str) -> np.ndarray:
    """The array stored in ``path``, or ``ValueError("--option path: what is wrong")``.

    Args:
        option: the command-line option that named the file, e.g. ``"--data"``.
        path: the file; it must end in ``.npy`` and hold a numeric array (no pickled objects).
    """
    if not path:
        raise ValueError(f"{option} is required: give a .npy file")
    if Path(path).suffix != ".npy":
        raise ValueError(f"{option} {path}: expected a .npy file (numpy.save); got a '{Path(path).suffix}' file")
    if not Path(path).is_file():
        raise ValueError(f"{option} {path}: no such file")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"{option} {path}: not a readable .npy array ({error})") from None
    if not isinstance(array, np.ndarray) or not (np.issubdtype(array.dtype, np.number)
                                                 or array.dtype == np.bool_):
        raise ValueError(f"{option} {path}: expected a numeric array, got dtype {getattr(array, 'dtype', '?')}")
    if array.dtype == np.bool_ or np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"{option} {path}: expected real numbers, got dtype {array.dtype}")
    return array
