"""Seeding and the global random generators: one visible call to seed, and their states as data.

- :func:`seed_everything` seeds python's ``random``, numpy's global generator and torch.
- :func:`capture_rng_states` / :func:`restore_rng_states` carry those generators through a
  checkpoint, in types the safe (``weights_only``) loader accepts.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

__all__ = ["capture_rng_states", "restore_rng_states", "seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global generator and torch (CPU and CUDA) with ``seed``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture_rng_states() -> dict[str, Any]:
    """The states of python's ``random``, numpy's global generator and torch's CPU generator.

    Returned as tuples, ints and tensors only, so the dict can go into a checkpoint and come back
    through the ``weights_only`` loader unchanged.
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
