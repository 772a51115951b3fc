"""When every episode of a batch earns the same returns, the batch-mean baseline removes them exactly.

Acrobot-v1 gives -1 per step until the goal; a batch in which every episode hits the 500-step time
limit has identical reward-to-go in every episode, so ``R_t - b_t`` must be exactly 0 and the
REINFORCE update zero. Summing the raw float32 returns left a rounding residue (about 1e-5) that
advantage normalization rescaled to unit variance: pure-noise updates of full size, which drove the
policy to one action before it ever reached the goal (seeds stalled at -500 for good).
"""

from __future__ import annotations

import pytest
import torch

from ascentrl.returns import batch_mean_baseline, normalize_advantages, reward_to_go


def all_timeouts(steps: int, num_envs: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Reward-to-go of ``num_envs`` episodes of -1 per step, all truncated at ``steps``, and the mask."""
    rewards = -torch.ones(steps, num_envs, dtype=dtype)
    terminated = torch.zeros(steps, num_envs, dtype=torch.bool)
    truncated = torch.zeros(steps, num_envs, dtype=torch.bool)
    truncated[-1] = True
    valid = torch.ones(steps, num_envs, dtype=torch.bool)
    return reward_to_go(rewards, terminated, truncated, 0.99, valid=valid), valid


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("num_envs", [3, 16, 64])
def test_identical_episodes_get_exactly_zero_weights(dtype: torch.dtype, num_envs: int) -> None:
    returns, valid = all_timeouts(500, num_envs, dtype)
    advantages = returns - batch_mean_baseline(returns, valid)
    assert torch.count_nonzero(advantages) == 0
    assert torch.count_nonzero(normalize_advantages(advantages, valid)) == 0


def test_identical_valid_episodes_stay_exact_next_to_masked_out_steps() -> None:
    # Env 0 finished early (its later steps are masked out and hold 0); the valid envs at each
    # step all have the same return, so each of them must get exactly 0 advantage.
    returns, valid = all_timeouts(200, 8, torch.float32)
    valid = valid.clone()
    valid[100:, 0] = False
    returns = returns * valid
    advantages = (returns - batch_mean_baseline(returns, valid)) * valid
    assert torch.count_nonzero(advantages) == 0


def test_a_single_different_episode_still_gets_the_leave_one_out_weight() -> None:
    # Three equal returns and one larger: the leave-one-out means by hand are 1 for the larger
    # one and (1 + 1 + 5) / 3 for each of the others.
    returns = torch.tensor([[1.0, 1.0, 1.0, 5.0]])
    valid = torch.ones_like(returns, dtype=torch.bool)
    expected = torch.tensor([[7 / 3, 7 / 3, 7 / 3, 1.0]])
    torch.testing.assert_close(batch_mean_baseline(returns, valid), expected)
