"""A categorical policy that reads image observations (boards, screens) through a convolutional encoder.

The observation arrives as the flat vector :mod:`ascentrl.envs.pettingzoo_spaces` encodes: an image
``(C, H, W)`` flattened channels-first, possibly followed by ``extra`` plain features (the agent's
one-hot id of a parameter-shared policy). The network

1. reshapes the first ``C * H * W`` entries into the image;
2. runs the convolutional trunk, each layer followed by ReLU:

   - boards and small images (both sides under 32): ``3 x 3`` convolutions, stride 1, padding 1,
     with ``conv_channels`` output channels, so every layer keeps the board's shape and a
     detail on one square is seen by the next layer's whole neighbourhood;
   - larger images: the strided encoder of Mnih et al. 2015 ("Human-level control through deep
     reinforcement learning"): ``8 x 8`` stride 4, then ``4 x 4`` stride 2, then ``3 x 3`` stride 1,
     which shrinks a screen before the dense layers see it;

3. flattens the feature maps, appends the extra features, and maps them through a ReLU
   multi-layer perceptron (``hidden_sizes``) to one logit per action.

Initialization as for the library's other networks: orthogonal, gain ``sqrt 2`` in hidden layers,
0.01 on the logits (a near-uniform start), biases 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ascentrl.agents.policies import MLP

__all__ = ["LARGE_IMAGE_SIDE", "ConvCategoricalPolicy", "ConvLogits", "conv_policy_parameters"]

LARGE_IMAGE_SIDE = 32
"""Images with both sides at least this long get the strided encoder; smaller ones keep their shape."""
_STRIDED_LAYERS = ((8, 4), (4, 2))
"""(kernel, stride) of the strided encoder's first layers; later layers are 3 x 3, stride 1."""


def _layer_geometry(image_shape: tuple[int, int, int], layers: int) -> list[tuple[int, int, int]]:
    """(kernel, stride, padding) of each convolution for an image of ``image_shape``."""
    _, height, width = image_shape
    if min(height, width) < LARGE_IMAGE_SIDE:
        return [(3, 1, 1)] * layers
    return [(*_STRIDED_LAYERS[index], 0) if index < len(_STRIDED_LAYERS) else (3, 1, 0) for index in range(layers)]


def _output_side(side: int, geometry: list[tuple[int, int, int]]) -> int:
    for kernel, stride, padding in geometry:
        side = (side + 2 * padding - kernel) // stride + 1
    return side


def _feature_size(image_shape: tuple[int, int, int], conv_channels: Sequence[int]) -> int:
    channels, height, width = image_shape
    geometry = _layer_geometry(image_shape, len(conv_channels))
    out_height, out_width = _output_side(height, geometry), _output_side(width, geometry)
    if out_height < 1 or out_width < 1:
        raise ValueError(f"image observations of shape {image_shape} (C, H, W) are too small for "
                         f"{len(conv_channels)} strided convolutions; give fewer conv_channels")
    return (conv_channels[-1] if conv_channels else channels) * out_height * out_width


def conv_policy_parameters(image_shape: tuple[int, int, int], extra: int, num_actions: int,
                           conv_channels: Sequence[int], hidden_sizes: Sequence[int]) -> int:
    """Parameters of a :class:`ConvCategoricalPolicy` (for memory estimates, before building one)."""
    geometry = _layer_geometry(image_shape, len(conv_channels))
    total, previous = 0, image_shape[0]
    for (kernel, _, _), channels in zip(geometry, conv_channels):
        total += channels * previous * kernel * kernel + channels
        previous = channels
    sizes = [_feature_size(image_shape, conv_channels) + extra, *hidden_sizes, num_actions]
    return total + sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))


class ConvLogits(nn.Module):
    """``inputs [..., C*H*W + extra] -> logits [..., num_actions]`` (module docstring); with
    ``output_gain=1`` and one output, a value network."""

    def __init__(self, image_shape: tuple[int, int, int], extra: int, num_actions: int,
                 conv_channels: Sequence[int], hidden_sizes: Sequence[int], output_gain: float = 0.01) -> None:
        super().__init__()
        self.image_shape = tuple(int(size) for size in image_shape)
        self.image_size = math.prod(self.image_shape)
        self.extra = extra
        layers: list[nn.Module] = []
        previous = self.image_shape[0]
        for (kernel, stride, padding), channels in zip(_layer_geometry(self.image_shape, len(conv_channels)),
                                                       conv_channels):
            convolution = nn.Conv2d(previous, channels, kernel, stride=stride, padding=padding)
            nn.init.orthogonal_(convolution.weight, gain=math.sqrt(2.0))
            nn.init.zeros_(convolution.bias)
            layers += [convolution, nn.ReLU()]
            previous = channels
        self.trunk = nn.Sequential(*layers)
        self.head = MLP(_feature_size(self.image_shape, conv_channels) + extra, hidden_sizes, num_actions,
                        output_gain=output_gain, activation="relu")

    def forward(self, inputs: Tensor) -> Tensor:
        batch_shape = inputs.shape[:-1]
        flat = inputs.reshape(-1, inputs.shape[-1])
        features = self.trunk(flat[:, :self.image_size].reshape(-1, *self.image_shape)).flatten(1)
        if self.extra:
            features = torch.cat((features, flat[:, self.image_size:]), dim=1)
        logits = self.head(features)
        return logits.reshape(*batch_shape, logits.shape[-1])


class ConvCategoricalPolicy(nn.Module):
    """Softmax policy ``pi(a|s) = softmax(logits(s))_a`` whose logits read an image (module docstring).

    Args:
        image_shape: ``(C, H, W)`` of the image part of the observation vector.
        extra: plain features after the image (e.g. a one-hot agent id), 0 for none.
        num_actions: number of discrete actions.
        conv_channels: output channels of each convolution.
        hidden_sizes: widths of the dense layers after the convolutions.
    """

    def __init__(self, image_shape: tuple[int, int, int], extra: int, num_actions: int,
                 conv_channels: Sequence[int], hidden_sizes: Sequence[int]) -> None:
        super().__init__()
        self.num_actions = num_actions
        self.logits = ConvLogits(image_shape, extra, num_actions, conv_channels, hidden_sizes)
