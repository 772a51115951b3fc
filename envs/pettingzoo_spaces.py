"""What the multi-agent learners need to know of a PettingZoo env's spaces, and how observations become tensors.

:func:`describe_agent_spaces` checks every possible agent's spaces once, up front, for a
``ParallelEnv`` and an ``AECEnv`` alike, and describes each agent as an :class:`AgentSpaces`: the
length of its encoded observation, the number of its actions, and, for image observations, the
shape a convolutional network reads the vector as. :func:`observation_encoder` returns the function
that writes one observation into a float32 vector; :func:`action_mask_of` reads an agent's legal
actions from PettingZoo's two conventions.

Observations, by space:

- ``Box`` with one dimension (or none): the values as they are (``float32``).
- ``Box`` with three dimensions: an image or a board, e.g. tic-tac-toe's ``(3, 3, 2)``, connect
  four's ``(6, 7, 2)``, pistonball's ``(457, 120, 3)``. It is encoded channels-first, ``(C, H, W)``
  flattened, for a convolutional encoder. PettingZoo and Gymnasium lay images out channels-last
  ``(H, W, C)``, so that is assumed unless the first dimension is at most 4 and the last is larger
  (a channels-first ``(3, 84, 84)``). ``uint8`` images are scaled to ``[0, 1]``.
- ``Box`` with two or four or more dimensions: refused with its shape, since they are neither a
  vector nor an image, unless ``encoding="flatten"``, which flattens every ``Box`` (images too)
  into a vector for a multi-layer perceptron.
- ``Discrete`` (one-hot), ``MultiDiscrete`` (one one-hot per entry), ``MultiBinary`` (flattened).
- ``Dict`` with keys ``"observation"`` (one of those) and ``"action_mask"``: PettingZoo's
  convention for legal actions. Any other ``Dict`` or ``Tuple`` is refused.

Action masks come from that ``"action_mask"`` entry or from an ``"action_mask"`` in the agent's
info dict. Actions must be ``Discrete``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv

__all__ = [
    "ENCODINGS",
    "MASK_KEY",
    "SUPPORTED_ACTION_SPACES",
    "SUPPORTED_OBSERVATION_SPACES",
    "AgentSpaces",
    "action_mask_of",
    "agent_encoders",
    "describe_agent_spaces",
    "observation_encoder",
]

SUPPORTED_ACTION_SPACES = ("Discrete",)
SUPPORTED_OBSERVATION_SPACES = (
    "Box (a vector, or an image of shape (H, W, C) or (C, H, W))", "Discrete", "MultiDiscrete", "MultiBinary",
    'Dict with "observation" and "action_mask"',
)
MASK_KEY = "action_mask"
ENCODINGS = ("auto", "flatten")
"""How Box observations are encoded: ``auto`` (vectors as they are, 3-D boxes as images, others
refused) or ``flatten`` (every Box flattened into a vector)."""
Encoding = Literal["auto", "flatten"]
_CHANNELS_FIRST_MAX = 4
"""A 3-D Box ``(a, b, c)`` is channels-first when ``a`` is at most this and ``c`` is larger."""


@dataclass(frozen=True)
class AgentSpaces:
    """What a learner needs to know about one agent's spaces.

    Attributes:
        agent: the agent's name.
        observation_size: length of the encoded observation vector.
        num_actions: ``n`` of the agent's ``Discrete(n, start)`` action space.
        action_start: ``start`` of that space; the learners use actions ``0 .. n-1``.
        masked_observation: the observation is a dict carrying an ``"action_mask"``.
        image_shape: ``(channels, height, width)`` of an image observation, whose encoded vector
            is that array flattened; None for vectors.
    """

    agent: str
    observation_size: int
    num_actions: int
    action_start: int
    masked_observation: bool
    image_shape: tuple[int, int, int] | None = None


def _is_masked_dict(space: spaces.Space) -> bool:
    return isinstance(space, spaces.Dict) and set(space.spaces) == {"observation", MASK_KEY}


def _image_layout(agent: str, space: spaces.Box, encoding: str) -> tuple[int, int, int] | None:
    """``(C, H, W)`` of a Box to read as an image, None for a vector; refuses other shapes."""
    shape = tuple(int(size) for size in space.shape)
    if len(shape) <= 1 or encoding == "flatten":
        return None
    if len(shape) != 3:
        raise ValueError(
            f"agent {agent!r}: Box observations of shape {shape} are neither a vector nor an image "
            f"(height, width, channels); flatten them on purpose with observation_encoding='flatten' "
            f"(--observation-encoding flatten)"
        )
    if shape[0] <= _CHANNELS_FIRST_MAX < shape[2]:
        return shape
    return shape[2], shape[0], shape[1]


def observation_encoder(agent: str, space: spaces.Space,
                        encoding: Encoding = "auto") -> tuple[int, Callable[[Any, np.ndarray], None]]:
    """``(size, encode)`` where ``encode(observation, out)`` writes the float vector into ``out``.

    ``space`` is the observation itself (the ``"observation"`` entry of a masked dict).

    Raises:
        ValueError: the space is not supported (the message names the agent and the space).
    """
    if isinstance(space, spaces.Box):
        size = int(np.prod(space.shape))
        image = _image_layout(agent, space, encoding)
        if image is None:
            def encode(observation: Any, out: np.ndarray) -> None:
                out[:] = np.asarray(observation, dtype=np.float32).reshape(-1)

            return size, encode
        channels_last = tuple(space.shape) != image
        scale = np.float32(1.0 / 255.0) if space.dtype == np.uint8 else None

        def encode_image(observation: Any, out: np.ndarray) -> None:
            array = np.asarray(observation)
            view = out.reshape(image)
            view[:] = np.moveaxis(array, -1, 0) if channels_last else array
            if scale is not None:
                view *= scale

        return size, encode_image
    if isinstance(space, spaces.Discrete):
        start = int(space.start)

        def encode(observation: Any, out: np.ndarray) -> None:
            out[:] = 0.0
            out[int(observation) - start] = 1.0

        return int(space.n), encode
    if isinstance(space, spaces.MultiDiscrete) and space.nvec.ndim == 1:
        nvec = space.nvec.astype(np.int64)
        offsets = np.concatenate(([0], np.cumsum(nvec)[:-1])) - space.start.astype(np.int64)

        def encode(observation: Any, out: np.ndarray) -> None:
            out[:] = 0.0
            out[offsets + np.asarray(observation, dtype=np.int64)] = 1.0

        return int(nvec.sum()), encode
    if isinstance(space, spaces.MultiBinary):
        size = int(np.prod(space.shape))

        def encode(observation: Any, out: np.ndarray) -> None:
            out[:] = np.asarray(observation, dtype=np.float32).reshape(-1)

        return size, encode
    raise ValueError(
        f"agent {agent!r}: unsupported observation space {space}; supported: "
        f"{', '.join(SUPPORTED_OBSERVATION_SPACES)}"
    )


def describe_agent_spaces(env: ParallelEnv | AECEnv, encoding: Encoding = "auto") -> tuple[AgentSpaces, ...]:
    """Check every possible agent's spaces and describe them, in ``env.possible_agents`` order.

    Args:
        env: a PettingZoo ``ParallelEnv`` or ``AECEnv``.
        encoding: ``"auto"`` or ``"flatten"`` (module docstring).

    Raises:
        ValueError: an agent's action space is not ``Discrete`` or its observation space is not
            supported (the message names the agent, the space and what is supported).
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"observation_encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
    described = []
    for agent in env.possible_agents:
        action_space = env.action_space(agent)
        if not isinstance(action_space, spaces.Discrete):
            raise ValueError(
                f"agent {agent!r}: unsupported action space {action_space}; supported: "
                f"{', '.join(SUPPORTED_ACTION_SPACES)}"
            )
        observation_space = env.observation_space(agent)
        masked = _is_masked_dict(observation_space)
        inner = observation_space["observation"] if masked else observation_space
        size, _ = observation_encoder(agent, inner, encoding)
        image = _image_layout(agent, inner, encoding) if isinstance(inner, spaces.Box) else None
        described.append(AgentSpaces(agent, size, int(action_space.n), int(action_space.start), masked, image))
    return tuple(described)


def agent_encoders(env: ParallelEnv | AECEnv, described: tuple[AgentSpaces, ...],
                   encoding: Encoding = "auto") -> list[Callable[[Any, np.ndarray], None]]:
    """Every agent's ``encode(observation, out)`` (:func:`observation_encoder`), in the order of
    ``described``; a masked dict's encoder reads its ``"observation"`` entry."""
    encoders = []
    for agent_spaces in described:
        space = env.observation_space(agent_spaces.agent)
        encoders.append(observation_encoder(agent_spaces.agent, space["observation"]
                                            if agent_spaces.masked_observation else space, encoding)[1])
    return encoders


def action_mask_of(observation: Any, info: Any, masked_observation: bool) -> np.ndarray | None:
    """An agent's legal actions as booleans: from its observation dict when its space carries a
    mask, else from an ``"action_mask"`` in its info dict; None when neither has one."""
    if masked_observation:
        return np.asarray(observation[MASK_KEY], dtype=bool)
    # Infos are plain dicts in practice; an empty one (the common case) is skipped at once.
    if info and isinstance(info, Mapping) and MASK_KEY in info:
        return np.asarray(info[MASK_KEY], dtype=bool)
    return None
