"""ExtensiveGameEnv: PettingZoo's API and seed tests, observations that are the information sets, deals.

Truths used: PettingZoo's ``api_test`` and ``seed_test``; the game's table (every observation
one-hot names the acting agent's OpenSpiel information state, and its mask is that state's legal
actions); the exact expected payoff of a policy profile, which the average reward over many seeded
deals must approach within four standard errors.
"""

from __future__ import annotations

import bisect
import math

import numpy as np
import pytest
import torch
from pettingzoo.test import api_test, seed_test

from ascentrl.envs import ExtensiveGameEnv
from ascentrl.games.extensive import expected_payoffs, make_game, random_policy, sequence_form


# api_test advises Box observations and flags all-zero ones; a dict with an action mask, zero for the agent
# that is not to act, is PettingZoo's convention for turn-based games (its classic games draw the same notes).
@pytest.mark.filterwarnings("ignore:Observation:UserWarning")
@pytest.mark.parametrize("name", ["kuhn_poker", "leduc_poker"])
def test_pettingzoo_api_and_seed_tests(name):
    api_test(ExtensiveGameEnv(name), num_cycles=100)
    seed_test(lambda: ExtensiveGameEnv(name), num_cycles=20)


def play(env: ExtensiveGameEnv, policy: np.ndarray, generator: np.random.Generator, seed: int) -> float:
    """One deal with both agents sampling from ``policy`` (a table); player 0's reward. Checks observations."""
    env.reset(seed=seed)
    reward_0 = 0.0
    for agent in env.agent_iter():
        observation, reward, terminated, truncated, info = env.last()
        if agent == "player_0":
            reward_0 += reward
        if terminated or truncated:
            env.step(None)
            continue
        infoset = int(np.argmax(observation["observation"]))
        assert observation["observation"].sum() == 1
        assert env.game.information_states[infoset] == info["information_state"]
        assert observation["action_mask"].tolist() == env.game.legal_actions_mask[infoset].int().tolist()
        other = "player_1" if agent == "player_0" else "player_0"
        assert env.observe(other)["observation"].sum() == 0 and env.infos[other]["information_state"] == ""
        env.step(int(generator.choice(policy.shape[1], p=policy[infoset])))
    return reward_0


@pytest.mark.parametrize(("name", "deals"), [("kuhn_poker", 3000), ("leduc_poker", 1500)])
def test_average_reward_approaches_the_exact_expected_payoff(name, deals):
    game = make_game(name)
    policy = random_policy(game, generator=torch.Generator().manual_seed(0))
    exact = float(expected_payoffs(game, sequence_form(game, policy))[0])
    env, generator = ExtensiveGameEnv(game), np.random.default_rng(0)
    table = policy.numpy()
    rewards = np.array([play(env, table, generator, seed) for seed in range(deals)])
    assert abs(rewards.mean() - exact) <= 4 * rewards.std() / math.sqrt(deals)


def test_seeds_fix_the_deal_and_illegal_actions_are_refused():
    env = ExtensiveGameEnv("leduc_poker", render_mode="ansi")
    env.reset(seed=3)
    first = env.render()
    env.reset(seed=3)
    assert env.render() == first and first.startswith("chance: ")
    deals = set()
    for seed in range(30):
        env.reset(seed=seed)
        deals.add(env.render())
    assert len(deals) > 10  # 30 possible private deals
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"the legal actions are \[1, 2\] \(Call, Raise\)"):
        env.step(0)  # folding is not legal when nothing is owed


def test_chance_draws_are_numpys_choice_from_the_same_stream():
    """The env bisects a cached distribution instead of calling Generator.choice(n, p=p) per chance
    node; with the same generator state both must pick the same outcome (numpy is the reference)."""
    from gymnasium.utils import seeding

    from ascentrl.envs.extensive_game_env import _cumulative_distribution

    source = np.random.default_rng(0)
    for seed in range(300):
        n = int(source.integers(1, 12))
        weights = source.random(n) + (source.random(n) < 0.2)  # some exact ties and uneven sizes
        probabilities = tuple((weights / weights.sum()).tolist())
        reference, _ = seeding.np_random(seed)
        ours, _ = seeding.np_random(seed)
        for _ in range(20):
            expected = int(reference.choice(n, p=np.array(probabilities) / np.array(probabilities).sum()))
            assert bisect.bisect_right(_cumulative_distribution(probabilities), ours.random()) == expected
    # Every outcome of a Leduc deal is reachable: the draws are not stuck on one branch.
    env = ExtensiveGameEnv("leduc_poker", render_mode="ansi")
    first_cards = set()
    for seed in range(200):
        env.reset(seed=seed)
        first_cards.add(env.render().split(";")[0])
    assert len(first_cards) == 6
