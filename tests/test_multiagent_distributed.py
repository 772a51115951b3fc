"""Data-parallel multi-agent REINFORCE: two gloo ranks on localhost, launched by torchrun.

The ranks must stay bit-identical, count the episodes of both, record the same returns, strategies
and NashConv (so they stop together), act on their own seeds (rank 0 on the single-process run's),
and only rank 0 may write the run's files. The game dynamics are refused under torchrun.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torchrun_launcher import torchrun

from ascentrl.agents import MultiAgentConfig, MultiAgentReinforce
from ascentrl.distributed import DistributedContext, rank_seed

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
NUM_ENVS, EPISODE_LENGTH, ITERATIONS = 8, 3, 4
CONFIGS = {
    # memoryless strategies (functions of the parameters); a NashConv target no run reaches
    "independent": dict(env="matching_pennies", method="independent", seed=3, num_envs=NUM_ENVS,
                        episode_length=EPISODE_LENGTH, lr_schedule="constant"),
    # strategies that read observations: averaged over the batches of both ranks
    "shared": dict(env="prisoners_dilemma", method="shared", seed=4, num_envs=NUM_ENVS,
                   episode_length=EPISODE_LENGTH, memoryless=False, hidden_sizes=(4,)),
}

AGENT_HELPER = f'''
"""Each rank trains the same data-parallel learners and saves what the test compares."""
import sys
from pathlib import Path

import torch

from ascentrl.agents import MultiAgentConfig, MultiAgentReinforce
from ascentrl.distributed import init_distributed
from ascentrl.training import NashConvTarget

out = Path(sys.argv[1])
results = {{}}
with init_distributed(timeout_seconds=60) as context:
    for name, config in {CONFIGS!r}.items():
        learners = MultiAgentReinforce(MultiAgentConfig(**config), distributed=context)
        first_rollout_seed = learners.rollout_seed()
        history = learners.train({ITERATIONS}, stop=NashConvTarget(0.0))
        results[name] = {{
            "parameters": [p.detach().clone() for policy in learners.policies for p in policy.parameters()],
            "optimizer_steps": [optimizer.steps for optimizer in learners.optimizers],
            "first_rollout_seed": first_rollout_seed,
            "counters": [(r.env_steps, r.agent_steps, r.episodes) for r in history.records],
            "mean_returns": [r.mean_returns for r in history.records],
            "nash_conv": [r.nash_conv for r in history.records],
            "strategies": [r.strategies for r in history.records],
        }}
        learners.close()
    torch.save(results, out / f"rank{{context.rank}}.pt")
'''


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    tmp_path = tmp_path_factory.mktemp("multiagent_data_parallel")
    helper = tmp_path / "helper.py"
    helper.write_text(AGENT_HELPER)
    status, output, _ = torchrun(tmp_path, str(helper), str(tmp_path))
    assert status == 0, output
    return [torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in range(2)]


@pytest.mark.parametrize("method", CONFIGS)
def test_ranks_end_with_bit_identical_parameters_after_several_updates(ranks, method):
    first, second = ranks[0][method], ranks[1][method]
    assert first["optimizer_steps"] == second["optimizer_steps"]
    assert min(first["optimizer_steps"]) == ITERATIONS
    for mine, theirs in zip(first["parameters"], second["parameters"], strict=True):
        assert torch.equal(mine, theirs)


@pytest.mark.parametrize("method", CONFIGS)
def test_counters_sum_both_ranks_episodes(ranks, method):
    # A matrix-game episode lasts exactly EPISODE_LENGTH rounds of 2 agents, on each of 2 ranks.
    expected = [(2 * NUM_ENVS * EPISODE_LENGTH * k, 2 * 2 * NUM_ENVS * EPISODE_LENGTH * k, 2 * NUM_ENVS * k)
                for k in range(1, ITERATIONS + 1)]
    assert ranks[0][method]["counters"] == ranks[1][method]["counters"] == expected


@pytest.mark.parametrize("method", CONFIGS)
def test_ranks_record_the_same_returns_strategies_and_nash_conv(ranks, method):
    first, second = ranks[0][method], ranks[1][method]
    for key in ("mean_returns", "nash_conv", "strategies"):
        assert first[key] == second[key], key
    for strategies in first["strategies"]:
        for strategy in strategies.values():
            assert sum(strategy) == pytest.approx(1.0, abs=1e-6)


def test_ranks_act_on_their_own_seeds_and_rank_zero_on_the_single_process_ones(ranks):
    for method, config in CONFIGS.items():
        single = MultiAgentReinforce(MultiAgentConfig(**config))
        assert single.rollout_seed() == ranks[0][method]["first_rollout_seed"]
        single.close()
        rank_one = int(np.random.SeedSequence([rank_seed(config["seed"], 1), 0]).generate_state(1)[0])
        assert ranks[1][method]["first_rollout_seed"] == rank_one != ranks[0][method]["first_rollout_seed"]


def test_game_dynamics_are_refused_in_a_data_parallel_job():
    context = DistributedContext(rank=1, world_size=2)  # no process group: the refusal comes first
    with pytest.raises(ValueError, match="data-parallel training supports only independent and shared"):
        MultiAgentReinforce(MultiAgentConfig(method="lola"), distributed=context)
    with pytest.raises(TypeError, match="distributed must be the DistributedContext"):
        MultiAgentReinforce(MultiAgentConfig(method="independent"), distributed=2)


def test_training_script_under_torchrun_writes_one_summary_with_the_world_size(tmp_path):
    out = tmp_path / "run"
    status, output, _ = torchrun(tmp_path, str(SCRIPTS / "train_multiagent.py"), "--method", "independent",
                                 "--env", "matching_pennies", "--iterations", "3", "--num-envs", "8",
                                 "--out", str(out), "--no-progress-bar")
    assert status == 0, output
    assert "different parameters" not in output
    report = "independent on matching_pennies, seed 0 on 2 processes: 3 iterations, 96 agent steps"
    assert output.count(report) == 1, output  # printed by rank 0 only
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["iterations"] == 3
    assert summary["episodes"] == 2 * 3 * 8 and summary["agent_steps"] == 2 * 2 * 3 * 8
    assert sorted(path.name for path in out.iterdir()) == [
        ".ascentrl.lock", "checkpoint.pt", "config.json", "nash_conv.png", "progress.csv", "returns.png",
        "strategies.png", "summary.json"]


def test_game_dynamics_are_refused_under_torchrun_with_one_line(tmp_path):
    status, output, _ = torchrun(tmp_path, str(SCRIPTS / "train_multiagent.py"), "--method", "lola",
                                 "--iterations", "2")
    assert status != 0
    refusals = [line for line in output.splitlines() if "data-parallel training supports only" in line]
    assert len(refusals) == 2, output  # one line from each rank
    for line in refusals:
        assert "error: method lola: data-parallel training supports only independent and shared" in line, line
