"""Data-parallel REINFORCE: two gloo ranks on localhost, launched by torchrun.

The ranks must stay bit-identical, count the steps of both, act on their own seeds (rank 0 on the
single-process run's), and only rank 0 may write the run's files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torchrun_launcher import torchrun

from ascentrl.agents import Reinforce, ReinforceConfig
from ascentrl.distributed import DistributedContext

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
CONFIG = dict(num_envs=4, seed=3, max_episode_steps=100)

AGENT_HELPER = f'''
"""Each rank trains the same data-parallel Reinforce and saves what the test compares."""
import sys
from pathlib import Path

import torch

from ascentrl.agents import Reinforce, ReinforceConfig
from ascentrl.distributed import init_distributed

out = Path(sys.argv[1])
with init_distributed(timeout_seconds=60) as context:
    agent = Reinforce(ReinforceConfig(**{CONFIG!r}), distributed=context)
    first_rollout_seed = agent.rollout_seed()
    history = agent.train(3000, eval_episodes=3)
    torch.save({{"policy": agent.policy.state_dict(),
                "optimizer_steps": agent.policy_optimizer.steps,
                "first_rollout_seed": first_rollout_seed,
                "env_steps": [record.env_steps for record in history.records],
                "mean_returns": [record.mean_return for record in history.records],
                "eval_mean_return": history.eval_mean_return}},
               out / f"rank{{context.rank}}.pt")
'''


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    tmp_path = tmp_path_factory.mktemp("data_parallel")
    helper = tmp_path / "helper.py"
    helper.write_text(AGENT_HELPER)
    status, output, _ = torchrun(tmp_path, str(helper), str(tmp_path))
    assert status == 0, output
    return [torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in range(2)]


def test_ranks_end_with_bit_identical_parameters_after_several_updates(ranks):
    assert ranks[0]["optimizer_steps"] == ranks[1]["optimizer_steps"] >= 3
    for name, value in ranks[0]["policy"].items():
        assert torch.equal(value, ranks[1]["policy"][name]), name


def test_ranks_share_counters_and_statistics_but_not_their_environments(ranks):
    assert ranks[0]["env_steps"] == ranks[1]["env_steps"]
    assert ranks[0]["mean_returns"] == ranks[1]["mean_returns"]
    assert ranks[0]["eval_mean_return"] == ranks[1]["eval_mean_return"]
    assert ranks[0]["first_rollout_seed"] != ranks[1]["first_rollout_seed"]


def test_rank_zero_collects_what_the_single_process_run_collects(ranks):
    single = Reinforce(ReinforceConfig(**CONFIG), distributed=DistributedContext())
    assert single.rollout_seed() == ranks[0]["first_rollout_seed"]
    batch = single.collect()
    # Every rollout step simulates num_envs steps per rank; the shared counter holds both ranks'.
    assert ranks[0]["env_steps"][0] > single.env_steps == batch.rewards.shape[0] * CONFIG["num_envs"]


def test_training_script_under_torchrun_writes_one_summary_with_the_world_size(tmp_path):
    out = tmp_path / "run"
    status, output, _ = torchrun(tmp_path, str(SCRIPTS / "train_cartpole.py"), "--total-steps", "4000",
                              "--num-envs", "4", "--eval-episodes", "4", "--target-return", "10000",
                              "--out", str(out), "--no-progress-bar")
    assert status == 1, output  # budget spent without reaching the (unreachable) target: exit 1
    assert "different parameters" not in output
    assert output.count("CartPole-v1 seed 0 on 2 processes: not solved") == 1, output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["solved"] is False
    assert summary["env_steps"] >= 4000
    assert sorted(path.name for path in out.iterdir()) == [
        ".ascentrl.lock", "checkpoint.pt", "config.json", "learning_curve.png", "progress.csv", "summary.json"]


def test_resume_is_refused_under_torchrun(tmp_path):
    checkpoint = tmp_path / "checkpoint.pt"
    checkpoint.write_bytes(b"not read: the refusal comes first")
    status, output, _ = torchrun(tmp_path, str(SCRIPTS / "train_cartpole.py"), "--resume", str(checkpoint))
    assert status != 0
    assert "--resume: a run is resumed in a single process, not under torchrun (world size 2)" in output
