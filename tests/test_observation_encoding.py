"""Observations: images and boards encoded channels-first for convolutions, other shapes refused,
uint8 scaled; the convolutional policy's shapes, parameters and seat input."""

from __future__ import annotations

import re

import numpy as np
import pettingzoo
import pytest
import torch
from gymnasium import spaces
from pettingzoo_test_envs import ScriptedEnv

from ascentrl.agents import MultiAgentConfig, MultiAgentReinforce
from ascentrl.agents.conv_policy import ConvCategoricalPolicy, conv_policy_parameters
from ascentrl.envs.pettingzoo_envs import ParallelEnvBatch, PettingZooAdapter
from ascentrl.envs.pettingzoo_spaces import describe_agent_spaces, observation_encoder


def _encode(space: spaces.Space, observation, encoding="auto") -> np.ndarray:
    size, encode = observation_encoder("agent", space, encoding)
    out = np.full(size, np.nan, np.float32)
    encode(observation, out)
    return out


def test_channels_last_boards_are_encoded_channels_first():
    board = np.arange(3 * 3 * 2, dtype=np.int8).reshape(3, 3, 2) % 2
    encoded = _encode(spaces.Box(0, 1, (3, 3, 2), np.int8), board)
    np.testing.assert_array_equal(encoded.reshape(2, 3, 3), np.moveaxis(board, -1, 0))


def test_channels_first_images_keep_their_layout_and_uint8_is_scaled_to_one():
    image = np.random.default_rng(0).integers(0, 256, (3, 40, 36), dtype=np.uint8)
    encoded = _encode(spaces.Box(0, 255, (3, 40, 36), np.uint8), image)
    np.testing.assert_allclose(encoded.reshape(3, 40, 36), image / 255.0, rtol=1e-6)
    channels_last = np.moveaxis(image, 0, -1)
    encoded = _encode(spaces.Box(0, 255, (40, 36, 3), np.uint8), channels_last)
    np.testing.assert_allclose(encoded.reshape(3, 40, 36), image / 255.0, rtol=1e-6)


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4, 5)])
def test_other_multi_dimensional_boxes_are_refused_naming_the_shape_unless_flattened(shape):
    space = spaces.Box(0.0, 1.0, shape, np.float32)
    with pytest.raises(ValueError, match=rf"agent 'agent': Box observations of shape {re.escape(str(shape))}.*"
                                         r"neither a vector nor an image.*observation_encoding='flatten'"):
        observation_encoder("agent", space)
    observation = np.random.default_rng(1).random(shape, dtype=np.float32)
    np.testing.assert_array_equal(_encode(space, observation, "flatten"), observation.reshape(-1))


def test_dicts_and_tuples_other_than_the_action_mask_convention_are_refused():
    for space in (spaces.Dict({"position": spaces.Box(0, 1, (2,))}), spaces.Tuple((spaces.Discrete(2),))):
        with pytest.raises(ValueError, match="unsupported observation space"):
            observation_encoder("agent", space)


def test_board_games_are_described_as_images():
    tictactoe = pettingzoo.make("aec", "classic/tictactoe-v3")
    described = describe_agent_spaces(tictactoe)
    assert [(s.image_shape, s.observation_size, s.num_actions, s.masked_observation) for s in described] == [
        ((2, 3, 3), 18, 9, True)] * 2
    assert describe_agent_spaces(tictactoe, "flatten")[0].image_shape is None


class _ImageObservations(ScriptedEnv):
    def observation_space(self, agent):
        if agent == "runner":
            return spaces.Box(0, 255, (8, 6, 3), np.uint8)
        return super().observation_space(agent)

    def _observe(self, agent):
        if agent == "runner":
            return np.full((8, 6, 3), 51 * (self.step_count % 5), np.uint8)
        return super()._observe(agent)


def test_the_parallel_batch_reads_images_scaled_and_channels_first():
    batch = ParallelEnvBatch(_ImageObservations, 2)
    assert batch.spaces[0].image_shape == (3, 8, 6)
    batch.reset(seed=0)
    after = batch.step(torch.tensor([[0, 0], [0, 0], [0, 0]]))
    np.testing.assert_allclose(after.observations[0].numpy(), 0.2, rtol=1e-6)  # 51 / 255 after one step


def test_the_adapter_refuses_a_turn_based_env():
    with pytest.raises(ValueError, match="is a turn-based AEC env"):
        PettingZooAdapter(pettingzoo.make("aec", "classic/connect_four-v3"))


@pytest.mark.parametrize("image_shape, channels", [((2, 6, 7), (16, 32)), ((3, 64, 48), (8, 16, 16))])
def test_the_conv_policy_maps_images_and_seat_to_logits_with_the_counted_parameters(image_shape, channels):
    extra, actions = 2, 7
    policy = ConvCategoricalPolicy(image_shape, extra, actions, channels, (32,))
    assert sum(p.numel() for p in policy.parameters()) == conv_policy_parameters(image_shape, extra, actions,
                                                                                 channels, (32,))
    size = int(np.prod(image_shape))
    inputs = torch.randn(4, 5, size + extra)
    logits = policy.logits(inputs)
    assert logits.shape == (4, 5, actions)
    # The seat features reach the logits: changing them changes the output.
    other = inputs.clone()
    other[..., size:] = -other[..., size:]
    assert not torch.allclose(policy.logits(other), logits)
    # Each row is computed alone: the batch layout does not matter.
    torch.testing.assert_close(policy.logits(inputs[1, 2]), logits[1, 2])


def test_boards_keep_their_shape_and_large_images_are_strided_before_the_dense_layers():
    # Connect four: 3 x 3 convolutions with padding keep 6 x 7, so the dense layer reads 64 x 42.
    board = (32 * 2 * 9 + 32) + (64 * 32 * 9 + 64) + (64 * 42 * 64 + 64) + (64 * 7 + 7)
    assert conv_policy_parameters((2, 6, 7), 0, 7, (32, 64), (64,)) == board
    # Pistonball's 457 x 120 screen: 8 x 8 stride 4 -> 113 x 29, 4 x 4 stride 2 -> 55 x 13, 3 x 3 -> 53 x 11.
    screen = (32 * 3 * 64 + 32) + (64 * 32 * 16 + 64) + (64 * 64 * 9 + 64) + (64 * 53 * 11 * 64 + 64) + (64 * 10 + 10)
    assert conv_policy_parameters((3, 457, 120), 0, 10, (32, 64, 64), (64,)) == screen


def test_learners_on_a_board_game_build_convolutional_policies():
    learners = MultiAgentReinforce(MultiAgentConfig(env="classic/connect_four-v3", method="shared", num_envs=2,
                                                    conv_channels=(4, 8), hidden_sizes=(16,)))
    assert isinstance(learners.policies[0], ConvCategoricalPolicy)
    history = learners.train(1)
    assert history.episodes == 2 and 7 <= history.env_steps / 2 <= 42
    learners.close()
