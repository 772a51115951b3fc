"""One PPO update of ours equals Stable-Baselines3's on the same batch, from the same weights, over the
same minibatches: the clipped surrogate, the value error, the entropy bonus, per-minibatch advantage
normalization, Adam (eps 1e-5) and the global norm clip, all at once, against an independent
implementation.

The batch is one rollout of ours on LunarLander-v3 (16 envs), copied into SB3's rollout buffer;
ours draws each epoch's permutation from its generator, and SB3's ``np.random.permutation`` is
made to return the same order in its own layout (env-major where ours is time-major).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ascentrl.agents import PPO, PPOConfig, preset_for

stable_baselines3 = pytest.importorskip("stable_baselines3")
pytest.importorskip("Box2D")

STEPS, ENVS, EPOCHS = 32, 16, 4


def test_one_update_matches_stable_baselines3(monkeypatch):
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.logger import Logger

    settings = {k: v for k, v in preset_for("ppo", "LunarLander-v3").items() if k != "total_steps"}
    settings.update(num_steps=STEPS, minibatches=STEPS * ENVS // 64, epochs=EPOCHS)
    agent = PPO(PPOConfig(env="LunarLander-v3", seed=0, **settings))
    batch = agent.collect()

    env = make_vec_env("LunarLander-v3", n_envs=ENVS, seed=0)
    model = stable_baselines3.PPO("MlpPolicy", env, n_steps=STEPS, batch_size=64, gae_lambda=0.98, gamma=0.999,
                                  n_epochs=EPOCHS, ent_coef=0.01, seed=0, device="cpu")
    model.set_logger(Logger(folder=None, output_formats=[]))
    policy, ours = model.policy, agent.network
    pairs = [(policy.mlp_extractor.policy_net[0], ours.actor.layers[0]),
             (policy.mlp_extractor.policy_net[2], ours.actor.layers[1]),
             (policy.action_net, ours.actor.layers[2]),
             (policy.mlp_extractor.value_net[0], ours.critic.layers[0]),
             (policy.mlp_extractor.value_net[2], ours.critic.layers[1]),
             (policy.value_net, ours.critic.layers[2])]
    with torch.no_grad():
        for theirs, mine in pairs:
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)

    buffer = model.rollout_buffer
    buffer.reset()
    buffer.observations[:] = batch.observations.numpy().reshape(buffer.observations.shape)
    buffer.actions[:] = batch.actions.numpy().reshape(buffer.actions.shape)
    for name in ("values", "log_probs", "advantages", "returns"):
        getattr(buffer, name)[:] = getattr(batch, name).numpy().astype(np.float32)
    buffer.full, buffer.pos, buffer.generator_ready = True, STEPS, False

    replay = torch.Generator()
    replay.set_state(agent.generator.get_state())
    orders = [torch.randperm(STEPS * ENVS, generator=replay).numpy() for _ in range(EPOCHS)]
    layout = [(order % ENVS) * STEPS + order // ENVS for order in orders]  # ours t*N+e -> SB3's e*T+t
    monkeypatch.setattr(np.random, "permutation", lambda n: layout.pop(0))

    before = [mine.weight.detach().clone() for _, mine in pairs]
    agent.update(batch)
    model.train()
    assert not layout  # SB3 drew exactly one permutation per epoch
    moved = max(float((mine.weight.detach() - old).abs().max()) for (_, mine), old in zip(pairs, before))
    assert moved > 1e-2  # the update did something worth comparing
    for theirs, mine in pairs:
        torch.testing.assert_close(theirs.weight, mine.weight, rtol=0, atol=1e-6)
        torch.testing.assert_close(theirs.bias, mine.bias, rtol=0, atol=1e-6)
    agent.close()
    env.close()
