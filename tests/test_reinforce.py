"""REINFORCE: the score-function estimate is the exact policy gradient in expectation, and the agent
acts, learns and reproduces itself.

Part 1 checks the estimator built from ``ascentrl.returns`` (``reward_to_go`` / ``episode_returns``,
``first_episode_mask``, ``batch_mean_baseline``, ``score_function_objective``) on two problems whose
expected-return gradient is known exactly:

- a 4-armed bandit with a softmax policy, ``grad J = pi * (mu - pi . mu)`` in closed form;
- a 3-state chain MDP with a tabular softmax policy and a 5-step time limit, whose expected return is
  computed exactly by propagating the state distribution (exact enumeration of the finite horizon)
  and differentiated by autograd.

Episodes are sampled in batches with seeded vectorized torch sampling; the gradient estimate of
each batch is one sample, and the mean over ``B`` batches must lie within ``Z_TOLERANCE`` standard
errors of the exact gradient in every component. Each test also requires the standard error to be
small against the gradient, so the check has power (and one test shows it detects a known bias).

Part 2 runs the agent itself on Gymnasium envs with small budgets.
"""

from __future__ import annotations

import dataclasses
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import Tensor

from ascentrl.agents import Reinforce, ReinforceConfig
from ascentrl.agents.reinforce import EpisodeBatch
from ascentrl.returns import (
    batch_mean_baseline,
    episode_returns,
    first_episode_mask,
    reward_to_go,
    score_function_objective,
)

Z_TOLERANCE = 4.0  # standard errors; a correct estimator exceeds it in a component with p ~ 6e-5
RELATIVE_PRECISION = 0.15  # largest standard error / largest exact component, so the check has power
BATCHES, EPISODES_PER_BATCH = 200, 100
NUM_EPISODES = BATCHES * EPISODES_PER_BATCH


def z_scores(estimates: Tensor, exact: Tensor) -> Tensor:
    """``|mean - exact| / standard error`` per component; ``estimates`` [B, ...] are i.i.d. batches."""
    standard_error = estimates.std(dim=0) / math.sqrt(estimates.shape[0])
    assert float(standard_error.max()) < RELATIVE_PRECISION * float(exact.abs().max()), "too few samples"
    return (estimates.mean(dim=0) - exact).abs() / standard_error


def assert_matches_exact_gradient(estimates: Tensor, exact: Tensor) -> None:
    scores = z_scores(estimates, exact)
    assert float(scores.max()) < Z_TOLERANCE, f"estimate {estimates.mean(0)} vs exact {exact}, z {scores}"


def total_variance(estimates: Tensor) -> float:
    """Trace of the covariance of the per-batch gradient estimates."""
    return float(estimates.flatten(1).var(dim=0).sum())


def by_batch(tensor: Tensor) -> Tensor:
    """``[T, B * n] -> [B * T, n]``: one row per (batch, step), so that ``batch_mean_baseline``
    averages over the other episodes of the same batch at the same step."""
    steps = tensor.shape[0]
    return tensor.view(steps, BATCHES, EPISODES_PER_BATCH).transpose(0, 1).reshape(-1, EPISODES_PER_BATCH)


def from_batches(tensor: Tensor, steps: int) -> Tensor:
    """Inverse of :func:`by_batch`."""
    return tensor.view(BATCHES, steps, EPISODES_PER_BATCH).transpose(0, 1).reshape(steps, -1)


def leave_one_out_baseline(returns: Tensor, valid: Tensor) -> Tensor:
    steps = returns.shape[0]
    return from_batches(batch_mean_baseline(by_batch(returns), by_batch(valid)), steps)


def per_batch_gradients(theta: Tensor, objective) -> Tensor:
    """One gradient estimate per batch, ``[B, *theta.shape]``, from a single backward pass.

    ``objective(copies)`` gets one copy of ``theta`` per batch (``[B, *theta.shape]``) and returns the
    sum over batches of each batch's objective, which uses its own copy only.
    """
    copies = theta.detach().expand(BATCHES, *theta.shape).clone().requires_grad_(True)
    (gradients,) = torch.autograd.grad(objective(copies), copies)
    return gradients


# Column j of every [T, B * n] rollout below belongs to batch j // n.
BATCH_OF_EPISODE = torch.arange(NUM_EPISODES) // EPISODES_PER_BATCH


# ------------------------------------------------------------------------------ 4-armed bandit
ARM_MEANS = torch.tensor([10.0, 10.5, 9.0, 11.0], dtype=torch.float64)  # a large shared offset
ARM_NOISE = 1.0
BANDIT_THETA = torch.tensor([0.3, -0.2, 0.5, 0.0], dtype=torch.float64)


def bandit_estimates(use_baseline: bool) -> Tensor:
    generator = torch.Generator().manual_seed(1)
    probabilities = torch.softmax(BANDIT_THETA, dim=0)
    actions = torch.multinomial(probabilities, NUM_EPISODES, replacement=True,
                                generator=generator).unsqueeze(0)
    rewards = ARM_MEANS[actions] + ARM_NOISE * torch.randn(actions.shape, generator=generator,
                                                           dtype=torch.float64)
    ends = torch.ones_like(actions, dtype=torch.bool)  # one-step episodes: terminated
    returns = reward_to_go(rewards, ends, torch.zeros_like(ends), 1.0)
    weights = returns - leave_one_out_baseline(returns, ends) if use_baseline else returns

    def objective(copies: Tensor) -> Tensor:
        log_probs = torch.log_softmax(copies, dim=-1)[BATCH_OF_EPISODE, actions[0]].unsqueeze(0)
        return score_function_objective(log_probs, weights, ends, num_episodes=EPISODES_PER_BATCH)

    return per_batch_gradients(BANDIT_THETA, objective)


def test_bandit_gradient_without_baseline_matches_closed_form():
    probabilities = torch.softmax(BANDIT_THETA, dim=0)
    exact = probabilities * (ARM_MEANS - probabilities @ ARM_MEANS)
    assert_matches_exact_gradient(bandit_estimates(use_baseline=False), exact)


def test_bandit_gradient_with_leave_one_out_baseline_matches_closed_form_with_less_variance():
    probabilities = torch.softmax(BANDIT_THETA, dim=0)
    exact = probabilities * (ARM_MEANS - probabilities @ ARM_MEANS)
    with_baseline = bandit_estimates(use_baseline=True)
    assert_matches_exact_gradient(with_baseline, exact)
    # Rewards share an offset of ~10, which the baseline removes: the variance drops many-fold.
    assert total_variance(with_baseline) < 0.1 * total_variance(bandit_estimates(use_baseline=False))


# --------------------------------------------------------------------------- 3-state chain MDP
# States 0, 1, 2; action 0 moves left (stays at 0), action 1 moves right with probability 0.75
# (else stays). A step from state s pays STATE_REWARDS[s]; moving right from state 2 reaches the
# goal, which pays 3 more and terminates the episode. Episodes start in state 0 and are truncated
# after 5 steps. (State-dependent rewards make reward-to-go and whole-episode returns differ by
# more than a per-step constant, which a per-step baseline would cancel.)
CHAIN_STATES, CHAIN_ACTIONS, HORIZON = 3, 2, 5
MOVE_PROBABILITY, GOAL_REWARD = 0.75, 3.0
STATE_REWARDS = torch.tensor([1.0, 0.5, 1.5], dtype=torch.float64)
CHAIN_THETA = torch.tensor([[0.2, 0.4], [-0.3, 0.1], [0.5, 0.0]], dtype=torch.float64)


def chain_model() -> tuple[Tensor, Tensor]:
    """``transitions[s, a, s']`` among non-terminal states, and expected rewards ``[s, a]``."""
    transitions = torch.zeros(CHAIN_STATES, CHAIN_ACTIONS, CHAIN_STATES, dtype=torch.float64)
    rewards = STATE_REWARDS.unsqueeze(1).repeat(1, CHAIN_ACTIONS)
    for state in range(CHAIN_STATES):
        transitions[state, 0, max(state - 1, 0)] = 1.0
        transitions[state, 1, state] = 1.0 - MOVE_PROBABILITY
        if state + 1 < CHAIN_STATES:
            transitions[state, 1, state + 1] = MOVE_PROBABILITY
        else:  # the remaining probability mass leaves through the goal
            rewards[state, 1] += MOVE_PROBABILITY * GOAL_REWARD
    return transitions, rewards


def chain_exact_gradient(gamma: float) -> Tensor:
    r"""``grad_theta E[sum_{t < 5} gamma^t r_t]``, the expectation computed exactly forward in time."""
    transitions, rewards = chain_model()
    theta = CHAIN_THETA.clone().requires_grad_(True)
    policy = torch.softmax(theta, dim=1)
    occupancy = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)  # P(s_t = s, not yet ended)
    expected_return = torch.zeros((), dtype=torch.float64)
    for t in range(HORIZON):
        expected_return = expected_return + gamma**t * torch.einsum("s,sa,sa->", occupancy, policy, rewards)
        occupancy = torch.einsum("s,sa,sap->p", occupancy, policy, transitions)
    (gradient,) = torch.autograd.grad(expected_return, theta)
    return gradient


def sample_chain(seed: int) -> dict[str, Tensor]:
    """``NUM_EPISODES`` envs run for ``HORIZON`` steps, as ``[T, B * n]`` tensors.

    After reaching the goal an env restarts in state 0 and keeps going (its later steps are a second
    episode the estimator must ignore), like a vector env that resets finished sub-envs.
    """
    generator = torch.Generator().manual_seed(seed)
    policy = torch.softmax(CHAIN_THETA, dim=1)
    state = torch.zeros(NUM_EPISODES, dtype=torch.int64)
    record: dict[str, list[Tensor]] = {"states": [], "actions": [], "rewards": [], "terminated": []}
    for _ in range(HORIZON):
        action = torch.multinomial(policy[state], 1, generator=generator).squeeze(1)
        moves = torch.rand(NUM_EPISODES, generator=generator, dtype=torch.float64) < MOVE_PROBABILITY
        right = action == 1
        goal = right & moves & (state == CHAIN_STATES - 1)
        next_state = torch.where(right, state + moves.long(), (state - 1).clamp(min=0))
        for key, value in (("states", state), ("actions", action), ("terminated", goal),
                           ("rewards", STATE_REWARDS[state] + GOAL_REWARD * goal.double())):
            record[key].append(value)
        state = torch.where(goal, 0, next_state)
    rollout = {key: torch.stack(values) for key, values in record.items()}
    truncated = torch.zeros_like(rollout["terminated"])
    truncated[-1] = ~rollout["terminated"][-1]  # the time limit
    rollout["truncated"] = truncated
    return rollout


def chain_estimates(gamma: float, *, use_baseline: bool, whole_episode: bool = False,
                    discount_weighting: bool = True, seed: int = 2) -> Tensor:
    """Per-batch REINFORCE estimates with ``Psi_t = gamma^t (R_t - b_t)`` on first episodes."""
    rollout = sample_chain(seed)
    rewards, terminated, truncated = rollout["rewards"], rollout["terminated"], rollout["truncated"]
    valid = first_episode_mask(terminated, truncated)
    returns_of = episode_returns if whole_episode else reward_to_go
    returns = returns_of(rewards, terminated, truncated, gamma, valid=valid)
    weights = returns - leave_one_out_baseline(returns, valid) if use_baseline else returns
    if discount_weighting:
        weights = gamma ** torch.arange(HORIZON, dtype=torch.float64).unsqueeze(1) * weights

    def objective(copies: Tensor) -> Tensor:
        log_policy = torch.log_softmax(copies, dim=-1)
        log_probs = log_policy[BATCH_OF_EPISODE, rollout["states"], rollout["actions"]]
        return score_function_objective(log_probs, weights, valid, num_episodes=EPISODES_PER_BATCH)

    return per_batch_gradients(CHAIN_THETA, objective)


@pytest.mark.parametrize("use_baseline", [False, True], ids=["no_baseline", "leave_one_out_baseline"])
def test_chain_reward_to_go_gradient_matches_exact_gradient(use_baseline):
    assert_matches_exact_gradient(chain_estimates(1.0, use_baseline=use_baseline), chain_exact_gradient(1.0))


def test_chain_whole_episode_return_gradient_matches_exact_gradient():
    assert_matches_exact_gradient(chain_estimates(1.0, use_baseline=True, whole_episode=True),
                                  chain_exact_gradient(1.0))


def test_chain_discounted_gradient_matches_with_gamma_t_weighting():
    assert_matches_exact_gradient(chain_estimates(0.8, use_baseline=True), chain_exact_gradient(0.8))


def test_dropping_the_gamma_t_weighting_is_detected_as_biased():
    # The usual Psi_t = G_t - b_t with gamma < 1 estimates a different vector (score_function_objective's
    # docstring says so); the statistical check above must be able to tell.
    estimates = chain_estimates(0.5, use_baseline=True, discount_weighting=False)
    assert float(z_scores(estimates, chain_exact_gradient(0.5)).max()) > 2 * Z_TOLERANCE


def test_chain_baseline_lowers_the_variance():
    # Every step pays at least .5, so reward-to-go carries a large part shared by all episodes.
    without = total_variance(chain_estimates(1.0, use_baseline=False))
    with_baseline = total_variance(chain_estimates(1.0, use_baseline=True))
    assert with_baseline < 0.5 * without


# =================================================================================== the agent
def small_config(**overrides) -> ReinforceConfig:
    return ReinforceConfig(**{"seed": 0, "num_envs": 16, **overrides})


def parameters_of(agent: Reinforce) -> list[Tensor]:
    return [parameter.detach().clone() for parameter in agent.policy.parameters()]


def test_short_cartpole_run_improves_the_mean_return_by_a_clear_margin():
    agent = Reinforce(small_config(num_envs=32))
    before = agent.evaluate(100, deterministic=False)
    history = agent.train(20_000)
    after = agent.evaluate(100, deterministic=False)
    assert history.env_steps >= 20_000
    # A uniform policy balances ~22 steps; 20k steps of REINFORCE reach well over 100.
    assert before < 40.0
    assert after > before + 60.0, (before, after)


def test_same_seed_gives_identical_parameters_and_history_and_another_seed_does_not():
    def run(seed: int) -> tuple[list[Tensor], list[dict], float]:
        agent = Reinforce(small_config(seed=seed))
        history = agent.train(4_000, eval_episodes=10)
        records = [{**dataclasses.asdict(record), "wall_seconds": None} for record in history.records]
        return parameters_of(agent), records, history.eval_mean_return

    first, second, other = run(3), run(3), run(4)
    assert all(torch.equal(a, b) for a, b in zip(first[0], second[0]))
    assert first[1] == second[1] and first[2] == second[2]
    assert not all(torch.equal(a, b) for a, b in zip(first[0], other[0]))


def test_act_on_single_and_batched_cartpole_observations():
    agent = Reinforce(small_config(num_envs=2))
    env = gym.make("CartPole-v1")
    observations = np.stack([env.reset(seed=seed)[0] for seed in range(6)])
    single = agent.act(observations[0])
    assert np.ndim(single) == 0 and env.action_space.contains(int(single))
    batch = agent.act(observations)
    assert batch.shape == (6,) and all(env.action_space.contains(int(action)) for action in batch)
    # Greedy: the action of highest probability under the policy, the same alone or in a batch.
    inputs = torch.as_tensor(observations)
    with torch.no_grad():
        probabilities = torch.stack([agent.policy.log_prob_and_entropy(inputs, torch.full((6,), action))[0]
                                     for action in range(2)], dim=1).exp()
    greedy = agent.act(observations, deterministic=True)
    assert np.array_equal(greedy, probabilities.argmax(dim=1).numpy())
    assert [agent.act(observation, deterministic=True) for observation in observations] == list(greedy)
    with pytest.raises(ValueError, match="observation"):
        agent.act(np.zeros(3))


def test_sampled_actions_follow_the_policy_probabilities():
    agent = Reinforce(small_config(num_envs=2))
    with torch.no_grad():  # a policy far from uniform, so a wrong sampler would show
        agent.policy.logits.layers[-1].bias.copy_(torch.tensor([0.0, 1.0]))
    observation = np.array([0.01, -0.02, 0.03, 0.04], dtype=np.float32)
    draws = 20_000
    actions = agent.act(np.repeat(observation[None], draws, axis=0))
    with torch.no_grad():
        log_prob, _ = agent.policy.log_prob_and_entropy(torch.as_tensor(observation[None]), torch.tensor([1]))
    probability = float(log_prob.exp())
    standard_error = math.sqrt(probability * (1 - probability) / draws)
    assert abs(actions.mean() - probability) < Z_TOLERANCE * standard_error


def test_sampled_gaussian_actions_have_the_policy_mean_and_standard_deviation():
    agent = Reinforce(small_config(env="Pendulum-v1", num_envs=2, initial_log_std=-1.0))
    observation = np.array([0.6, 0.8, -1.0], dtype=np.float32)
    draws = 20_000
    with torch.no_grad():  # move the mean away from 0; sigma = e^-1 keeps samples inside [-2, 2]
        agent.policy.mean.layers[-1].bias.fill_(0.5)
        mean = float(agent.policy.mode(torch.as_tensor(observation[None])))
    actions = agent.act(np.repeat(observation[None], draws, axis=0))[:, 0]
    sigma = math.exp(-1.0)
    assert abs(actions.mean() - mean) < Z_TOLERANCE * sigma / math.sqrt(draws)
    assert abs(actions.std() - sigma) < Z_TOLERANCE * sigma / math.sqrt(2 * draws)
    assert float(agent.act(observation, deterministic=True)[0]) == pytest.approx(mean)


def test_policy_log_probabilities_and_entropies_match_torch_distributions():
    agent = Reinforce(small_config(num_envs=2))
    observations = torch.randn(7, 4, generator=torch.Generator().manual_seed(0))
    actions = torch.tensor([0, 1, 1, 0, 1, 0, 0])
    with torch.no_grad():
        log_probs, entropy = agent.policy.log_prob_and_entropy(observations, actions)
        reference = torch.distributions.Categorical(logits=agent.policy.logits(observations))
    torch.testing.assert_close(log_probs, reference.log_prob(actions))
    torch.testing.assert_close(entropy, reference.entropy())

    gaussian_agent = Reinforce(small_config(env="Pendulum-v1", num_envs=2, initial_log_std=-0.4))
    observations = torch.randn(7, 3, generator=torch.Generator().manual_seed(1))
    actions = torch.randn(7, 1, generator=torch.Generator().manual_seed(2))
    policy = gaussian_agent.policy
    with torch.no_grad():
        log_probs, entropy = policy.log_prob_and_entropy(observations, actions)
        reference = torch.distributions.Normal(policy.mean(observations), policy.log_std.exp())
    torch.testing.assert_close(log_probs, reference.log_prob(actions).sum(-1))
    torch.testing.assert_close(entropy, reference.entropy().sum(-1))


def test_acrobot_discrete_runs_a_few_iterations():
    # A value baseline: with the mean baseline, 100-step episodes that all time out have identical
    # returns, so every weight is exactly 0 and the policy rightly stays put.
    agent = Reinforce(small_config(env="Acrobot-v1", num_envs=8, max_episode_steps=100, baseline="value"))
    before = parameters_of(agent)
    history = agent.train(2_000, eval_episodes=8)
    assert len(history.records) >= 2 and history.env_steps >= 2_000
    assert all(math.isfinite(record.objective) for record in history.records)
    assert not all(torch.equal(a, b) for a, b in zip(before, parameters_of(agent)))
    assert -100.0 <= history.eval_mean_return <= 0.0  # reward -1 per step, at most 100 steps
    assert int(agent.act(np.zeros(6, dtype=np.float32))) in (0, 1, 2)


def test_pendulum_box_gaussian_runs_a_few_iterations_with_actions_in_bounds():
    agent = Reinforce(small_config(env="Pendulum-v1", num_envs=8))
    log_std_before = agent.policy.log_std.detach().clone()
    history = agent.train(3_200, eval_episodes=8)
    assert len(history.records) >= 2 and history.env_steps >= 3_200
    assert all(math.isfinite(record.objective) and math.isfinite(record.mean_return)
               for record in history.records)
    assert not torch.equal(agent.policy.log_std.detach(), log_std_before)  # the std is learned too
    # Pendulum pays at most ~16.27 of cost per step over 200 steps.
    assert -16.3 * 200 <= history.eval_mean_return <= 0.0
    far_out = np.array([[1.0, 0.0, 8.0]] * 64, dtype=np.float32)
    with torch.no_grad():
        agent.policy.log_std.fill_(3.0)  # samples far beyond the bounds must be clipped
    actions = agent.act(far_out)
    assert actions.shape == (64, 1) and np.all(np.abs(actions) <= 2.0)
    assert agent.act(far_out[0], deterministic=True).shape == (1,)


def test_rollout_learns_only_from_each_envs_first_episode():
    agent = Reinforce(small_config(num_envs=8, entropy_coef=0.01))
    batch = agent.collect()
    done = (batch.terminated | batch.truncated).numpy()
    expected_valid = np.zeros_like(done)
    for n in range(done.shape[1]):
        end = int(np.argmax(done[:, n]))  # every env finishes its first episode in the rollout
        assert done[end, n]
        expected_valid[: end + 1, n] = True
    assert np.array_equal(batch.valid.numpy(), expected_valid)
    assert (~batch.valid).any(), "no env finished early: nothing masked to test"
    assert torch.all(batch.rewards[batch.valid] == 1.0)  # CartPole pays 1 per real step

    def objective_gradient(batch: EpisodeBatch) -> tuple[Tensor, list[Tensor]]:
        weights, _ = agent.weights(batch)
        agent.policy.zero_grad()
        objective = agent.policy_objective(batch, weights)
        objective.backward()
        return weights, [parameter.grad.clone() for parameter in agent.policy.parameters()]

    weights, gradient = objective_gradient(batch)
    assert torch.all(weights[~batch.valid] == 0.0)
    # Whatever happens after an env's first episode (the autoreset step, later episodes) is ignored:
    # scrambling those observations, actions and rewards changes neither the weights nor the gradient.
    generator = torch.Generator().manual_seed(0)
    invalid = ~batch.valid
    scrambled = dataclasses.replace(
        batch,
        observations=torch.cat((torch.where(invalid.unsqueeze(-1), torch.randn(batch.observations[:-1].shape,
                                                                                generator=generator),
                                            batch.observations[:-1]), batch.observations[-1:])),
        actions=torch.where(invalid, 1 - batch.actions, batch.actions),
        rewards=torch.where(invalid, 100.0, batch.rewards),
    )
    scrambled_weights, scrambled_gradient = objective_gradient(scrambled)
    torch.testing.assert_close(scrambled_weights, weights)
    for a, b in zip(scrambled_gradient, gradient):
        torch.testing.assert_close(a, b)


def test_entropy_bonus_adds_beta_times_the_mean_episode_entropy():
    plain = Reinforce(small_config(num_envs=4))
    bonus = Reinforce(small_config(num_envs=4, entropy_coef=0.3))
    batch = plain.collect()
    weights, _ = plain.weights(batch)
    with torch.no_grad():
        distribution = torch.distributions.Categorical(logits=plain.policy.logits(batch.observations[:-1]))
        entropy_per_episode = (distribution.entropy() * batch.valid).sum() / batch.num_episodes
        difference = bonus.policy_objective(batch, weights) - plain.policy_objective(batch, weights)
    assert float(difference) == pytest.approx(0.3 * float(entropy_per_episode), rel=1e-5)


class ShiftedActionsEnv(gym.Env):
    """Actions ``Discrete(3, start=-1)``; each step pays the action itself; 5 steps per episode."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(3, start=-1)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} outside {self.action_space}")
        return np.zeros(2, np.float32), float(action), False, False, {}


SHIFTED_ACTIONS_ID = "AscentrlReinforceTest/ShiftedActions-v0"
gym.register(SHIFTED_ACTIONS_ID, ShiftedActionsEnv, max_episode_steps=5)


def test_discrete_actions_with_a_start_are_shifted_and_learned():
    agent = Reinforce(small_config(env=SHIFTED_ACTIONS_ID, num_envs=16, lr=0.1))
    assert set(agent.act(np.zeros((300, 2), np.float32)).tolist()) == {-1, 0, 1}
    history = agent.train(800, eval_episodes=4)
    assert int(agent.act(np.zeros(2, np.float32), deterministic=True)) == 1  # the best action
    assert history.records[-1].mean_return > history.records[0].mean_return


def test_value_baseline_bootstraps_at_truncation_and_not_at_termination():
    agent = Reinforce(small_config(num_envs=1, baseline="value", gamma=0.5, normalize_advantages=False))
    observations = torch.randn(3, 1, 4, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        v0, v1, v2 = (float(agent.value(observations[t]).squeeze()) for t in range(3))

    def batch(terminated_last: bool) -> EpisodeBatch:
        return EpisodeBatch(observations=observations, actions=torch.zeros(2, 1, dtype=torch.int64),
                            rewards=torch.tensor([[1.0], [2.0]]),
                            terminated=torch.tensor([[False], [terminated_last]]),
                            truncated=torch.tensor([[False], [not terminated_last]]),
                            valid=torch.ones(2, 1, dtype=torch.bool))

    weights, targets = agent.weights(batch(terminated_last=False))
    # Truncated after step 1: G1 = 2 + .5 V(s2), G0 = 1 + .5 G1; Psi_t = G_t - V(s_t).
    g1 = 2.0 + 0.5 * v2
    g0 = 1.0 + 0.5 * g1
    torch.testing.assert_close(targets, torch.tensor([[g0], [g1]]))
    torch.testing.assert_close(weights, torch.tensor([[g0 - v0], [g1 - v1]]))
    weights, targets = agent.weights(batch(terminated_last=True))
    torch.testing.assert_close(targets, torch.tensor([[2.0], [2.0]]))  # G1 = 2, G0 = 1 + .5 * 2
    torch.testing.assert_close(weights, torch.tensor([[2.0 - v0], [2.0 - v1]]))


def test_bad_config_names_the_argument():
    for overrides, name in (({"gamma": 1.5}, "gamma"), ({"num_envs": 0}, "num_envs"),
                            ({"returns": "sum"}, "returns"), ({"baseline": "median"}, "baseline"),
                            ({"lr": 0.0}, "lr")):
        with pytest.raises(ValueError, match=name):
            ReinforceConfig(**overrides)
