"""User data to validated tensors: observation matrices, symbol sequences, sequence lengths, padding.

Every check raises ``ValueError`` saying what was wrong and what is expected, before any work; the
models call them first thing, and scripts call them to name the offending option.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["as_lengths", "as_observations", "as_symbols", "check_count", "copied_tensor", "pad_sequences", "unpad",
           "valid_mask"]


def copied_tensor(x: Any, dtype: torch.dtype) -> Tensor:
    """A fresh ``dtype`` tensor holding ``x``: a model's parameters never share memory with the caller's array."""
    if isinstance(x, Tensor):
        return x.detach().to(dtype=dtype, copy=True)
    return torch.tensor(x, dtype=dtype)


def check_count(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def as_observations(x: Any, dtype: torch.dtype, *, minimum_rows: int, what: str, per: str = "component",
                    features: int | None = None) -> Tensor:
    """``x`` as a finite ``(N, D)`` tensor of ``dtype`` with ``N ≥ minimum_rows``.

    Args:
        x: a tensor or anything ``torch.as_tensor`` takes (numpy arrays, nested lists).
        dtype: the floating-point type wanted.
        minimum_rows: the fewest rows allowed (e.g. the number of components).
        what: what a row is called in messages (``"points"``, ``"observations"``).
        per: what ``minimum_rows`` counts, for the message (``"component"``, ``"state"``).
        features: required number of columns ``D``, if known (a fitted model's dimension).
    """
    try:
        tensor = torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"data must be a numeric array of shape (n_{what}, n_features): {error}") from None
    if tensor.is_complex() or tensor.dtype == torch.bool:
        raise ValueError(f"data must be real numbers, got dtype {tensor.dtype}")
    if tensor.dim() != 2:
        raise ValueError(f"data must be 2-D, of shape (n_{what}, n_features); got shape {tuple(tensor.shape)}")
    if tensor.shape[1] == 0:
        raise ValueError("data must have at least one feature (column); got 0")
    if features is not None and tensor.shape[1] != features:
        raise ValueError(f"data must have {features} features (columns) like the fitted model; got {tensor.shape[1]}")
    tensor = tensor.to(dtype)
    if not bool(torch.isfinite(tensor).all()):
        bad = int((~torch.isfinite(tensor)).any(-1).nonzero()[0])
        raise ValueError(f"data must be finite; row {bad} holds NaN or inf")
    if tensor.shape[0] < minimum_rows:
        raise ValueError(f"data has {tensor.shape[0]} {what}, fewer than the {minimum_rows} needed "
                         f"(at least one per {per})")
    return tensor


def as_symbols(x: Any, *, minimum_rows: int, n_symbols: int | None = None) -> Tensor:
    """``x`` as a 1-D ``int64`` tensor of symbols ``0 … M−1`` (one per row: shape ``(N,)`` or ``(N, 1)``).

    Args:
        x: a tensor or anything ``torch.as_tensor`` takes; floats must be whole numbers.
        minimum_rows: the fewest observations allowed.
        n_symbols: ``M`` if known (every symbol must be below it).
    """
    try:
        symbols = torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"data must be an array of integer symbols: {error}") from None
    if symbols.dim() == 2 and symbols.shape[1] == 1:
        symbols = symbols[:, 0]
    if symbols.dim() != 1:
        raise ValueError("categorical data must be one symbol per row, shape (N,) or (N, 1); "
                         f"got {tuple(symbols.shape)}")
    if symbols.is_floating_point():
        if not bool(torch.isfinite(symbols).all()):
            raise ValueError("categorical data must be finite integers; found NaN or inf")
        if not bool((symbols == symbols.round()).all()):
            raise ValueError("categorical data must be whole numbers (symbols 0 .. M-1)")
    elif symbols.dtype == torch.bool or symbols.is_complex():
        raise ValueError(f"categorical data must be integers, got dtype {symbols.dtype}")
    symbols = symbols.to(torch.int64)
    if symbols.numel() < minimum_rows:
        raise ValueError(f"data has {symbols.numel()} observations, fewer than the {minimum_rows} needed "
                         "(at least one per state)")
    if bool((symbols < 0).any()) or (n_symbols is not None and bool((symbols >= n_symbols).any())):
        allowed = "non-negative" if n_symbols is None else f"in 0 .. {n_symbols - 1}"
        raise ValueError(f"symbols must be {allowed}; got values from {int(symbols.min())} to {int(symbols.max())}")
    return symbols


def as_lengths(lengths: Any, n_rows: int) -> Tensor:
    """Sequence lengths as a 1-D ``int64`` tensor of positive entries summing to ``n_rows``.

    ``None`` means one sequence of all ``n_rows`` rows.
    """
    if lengths is None:
        return torch.tensor([n_rows], dtype=torch.int64)
    try:
        tensor = torch.as_tensor(lengths)
    except (TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"lengths must be a 1-D array of positive integers: {error}") from None
    if tensor.dim() != 1 or tensor.numel() == 0:
        raise ValueError(f"lengths must be a non-empty 1-D array of positive integers; got shape {tuple(tensor.shape)}")
    if tensor.is_floating_point():
        if not bool(torch.isfinite(tensor).all()) or not bool((tensor == tensor.round()).all()):
            raise ValueError("lengths must be whole numbers")
    elif tensor.dtype == torch.bool or tensor.is_complex():
        raise ValueError(f"lengths must be integers, got dtype {tensor.dtype}")
    tensor = tensor.to(torch.int64)
    if bool((tensor < 1).any()):
        raise ValueError(f"every length must be >= 1; got {int(tensor.min())}")
    if int(tensor.sum()) != n_rows:
        raise ValueError(f"lengths sum to {int(tensor.sum())} but the data has {n_rows} rows; they must be equal")
    return tensor


def pad_sequences(x: Tensor, lengths: Tensor) -> Tensor:
    """Rows of ``x`` ``(N, ...)`` split by ``lengths`` ``(S,)`` into a zero-padded ``(S, T_max, ...)`` tensor."""
    n_sequences, longest = lengths.shape[0], int(lengths.max())
    padded = x.new_zeros((n_sequences, longest, *x.shape[1:]))
    padded[valid_mask(lengths, longest)] = x
    return padded


def unpad(padded: Tensor, lengths: Tensor) -> Tensor:
    """The inverse of :func:`pad_sequences`: the valid rows of ``(S, T, ...)`` concatenated, ``(N, ...)``."""
    return padded[valid_mask(lengths, padded.shape[1])]


def valid_mask(lengths: Tensor, longest: int) -> Tensor:
    """``mask[s, t] = t < lengths[s]``, shape ``(S, longest)``."""
    return torch.arange(longest, device=lengths.device) < lengths.unsqueeze(-1)
