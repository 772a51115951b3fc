"""Data parallelism on torch.distributed: two gloo ranks on localhost, launched by torchrun.

The multi-process tests write the helper script below to ``tmp_path``, run it under
``python -m torch.distributed.run --standalone --nproc_per_node 2`` (which picks a free port), and
check what the ranks saved or printed. The test process loads the same helper as a module to
compute the single-process reference, so the model, data and objective exist in one place.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import torch
import torch.distributed as dist
from torchrun_launcher import TORCHRUN_VARIABLES, torchrun

from ascentrl import Ascent
from ascentrl.distributed import (
    DistributedContext,
    all_reduce_gradients,
    all_reduce_sum,
    broadcast_parameters,
    init_distributed,
    rank_seed,
)

LAUNCH_TIMEOUT_SECONDS = 40  # a hard stop: a test that gets here has hung, which is the bug

HELPER = '''
"""One scenario of tests/test_distributed.py per launch: python helper.py SCENARIO OUT_DIR."""

import sys
import time
from pathlib import Path

import torch
from torch.distributed.elastic.multiprocessing.errors import record

from ascentrl import Ascent
from ascentrl.distributed import (
    all_reduce_gradients, all_reduce_sum, broadcast_parameters, init_distributed, rank_seed,
)

SEED = 1234
# Samples per rank, one pair (rank 0, rank 1) per round: unequal, and once none on rank 0.
GRADIENT_COUNTS = [(3, 11), (0, 6)]
TRAINING_COUNTS = [(5, 2), (1, 9), (4, 4), (7, 3), (2, 6)]


def make_policy(seed: int, dtype: torch.dtype) -> torch.nn.Module:
    """A softmax policy over 3 actions, plus a parameter nobody uses and one only rank 1 uses."""
    torch.manual_seed(seed)
    policy = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    policy.register_parameter("unused", torch.nn.Parameter(torch.randn(2)))
    policy.register_parameter("bonus", torch.nn.Parameter(torch.randn(4)))
    return policy.to(dtype)


def make_batch(round_index: int, rank: int, count: int, dtype: torch.dtype) -> dict:
    """Rank-specific samples; only rank 1's are flagged to use the bonus parameter."""
    generator = torch.Generator().manual_seed(1000 * round_index + rank)
    return {
        "states": torch.randn(count, 4, generator=generator, dtype=dtype),
        "actions": torch.randint(0, 3, (count,), generator=generator),
        "advantages": torch.randn(count, generator=generator, dtype=dtype),
        "flagged": torch.full((count,), rank == 1),
    }


def join(batches: list) -> dict:
    return {key: torch.cat([batch[key] for batch in batches]) for key in batches[0]}


def objective(policy: torch.nn.Module, batch: dict) -> torch.Tensor:
    """J = mean_i [log pi(a_i|s_i) A_i + flagged_i <bonus, s_i>], to be maximized."""
    log_probs = torch.log_softmax(policy(batch["states"]), dim=-1)
    per_sample = log_probs.gather(1, batch["actions"][:, None]).squeeze(1) * batch["advantages"]
    total = per_sample.sum()
    if batch["flagged"].any():  # unflagged batches never touch bonus, so its grad stays None
        total = total + (batch["states"][batch["flagged"]] @ policy.bonus).sum()
    return total / max(len(batch["actions"]), 1)


def gradient(context, out: Path) -> None:
    rounds = []
    for round_index, counts in enumerate(GRADIENT_COUNTS):
        policy = make_policy(SEED, torch.float32)
        batch = make_batch(round_index, context.rank, counts[context.rank], torch.float32)
        objective(policy, batch).backward()
        total = all_reduce_gradients(policy, counts[context.rank], context)
        grads = {name: p.grad for name, p in policy.named_parameters()}
        rounds.append({"batch": batch, "total": total, "grads": grads})
    torch.save(rounds, out / f"gradient_rank{context.rank}.pt")


def training(context, out: Path) -> None:
    policy = make_policy(rank_seed(SEED, context.rank), torch.float64)
    before_broadcast = {name: p.detach().clone() for name, p in policy.named_parameters()}
    broadcast_parameters(policy, context)
    optimizer = Ascent(policy.parameters(), lr=0.05, adaptive="adam")
    logged = []
    for round_index, counts in enumerate(TRAINING_COUNTS):
        count = counts[context.rank]
        optimizer.zero_grad()
        J = objective(policy, make_batch(round_index, context.rank, count, torch.float64))
        J.backward()
        all_reduce_gradients(policy, count, context)
        optimizer.step()
        logged.append(all_reduce_sum({"objective_sum": J.item() * count, "samples": count}, context))
    torch.save(
        {"before_broadcast": before_broadcast, "final": policy.state_dict(), "logged": logged},
        out / f"training_rank{context.rank}.pt",
    )


def failure(context, mode: str) -> None:
    policy = make_policy(SEED, torch.float32)
    objective(policy, make_batch(0, context.rank, 4, torch.float32)).backward()
    all_reduce_gradients(policy, 4, context)
    if context.rank == 1:
        if mode == "raise":
            raise RuntimeError("rank 1 failed on purpose")
        time.sleep(60)  # a hung rank: the others must time out long before this ends
    all_reduce_gradients(policy, 4, context)


@record
def main() -> None:
    scenario, out = sys.argv[1], Path(sys.argv[2])
    # The failure scenarios need a short collective timeout (a hung rank must be detected quickly);
    # the correctness one must not trip it when a loaded machine slows one rank down.
    with init_distributed(timeout_seconds=30.0 if scenario == "correctness" else 5.0) as context:
        assert context.is_distributed and context.world_size == 2, context
        if scenario == "correctness":
            gradient(context, out)
            training(context, out)
        else:
            failure(context, scenario)


if __name__ == "__main__":
    main()
'''


def load_helper(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("distributed_helper", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_helper(tmp_path: Path, scenario: str) -> tuple[int, str, float]:
    """Run the helper's ``scenario`` on 2 ranks; return exit status, combined output, seconds."""
    helper = tmp_path / "helper.py"
    helper.write_text(HELPER)
    return torchrun(tmp_path, str(helper), scenario, str(tmp_path), timeout=LAUNCH_TIMEOUT_SECONDS)


@pytest.fixture(scope="module")
def correctness_run(tmp_path_factory) -> Path:
    """One launch shared by the gradient and training tests: the directory the ranks wrote to."""
    tmp_path = tmp_path_factory.mktemp("correctness")
    status, output, _ = run_helper(tmp_path, "correctness")
    assert status == 0, output
    return tmp_path


def test_all_reduced_gradient_is_the_gradient_over_the_union_of_batches(correctness_run):
    tmp_path = correctness_run
    helper = load_helper(tmp_path / "helper.py")
    ranks = [torch.load(tmp_path / f"gradient_rank{r}.pt") for r in range(2)]
    for round_index, counts in enumerate(helper.GRADIENT_COUNTS):
        rank0, rank1 = ranks[0][round_index], ranks[1][round_index]
        policy = helper.make_policy(helper.SEED, torch.float32)
        helper.objective(policy, helper.join([rank0["batch"], rank1["batch"]])).backward()
        assert rank0["total"] == rank1["total"] == sum(counts)
        for name, parameter in policy.named_parameters():
            expected, got0, got1 = parameter.grad, rank0["grads"][name], rank1["grads"][name]
            if expected is None:  # only "unused"
                assert got0 is None and got1 is None, name
                continue
            assert torch.equal(got0, got1), f"{name}: ranks received different gradients"
            torch.testing.assert_close(got0, expected, rtol=0, atol=1e-6, msg=name)
    # rank 0 never touches "bonus": a None gradient counts as zero, yet the union's is non-zero.
    assert ranks[0][0]["grads"]["bonus"].abs().sum() > 0
    # With 3 and 11 samples, the plain mean of the ranks' gradients (what DDP computes) is wrong.
    local = []
    for rank in range(2):
        policy = helper.make_policy(helper.SEED, torch.float32)
        helper.objective(policy, ranks[rank][0]["batch"]).backward()
        local.append(policy[0].weight.grad)
    assert (ranks[0][0]["grads"]["0.weight"] - (local[0] + local[1]) / 2).abs().max() > 1e-3


def test_ascent_updates_keep_every_rank_bit_identical(correctness_run):
    tmp_path = correctness_run
    helper = load_helper(tmp_path / "helper.py")
    rank0, rank1 = (torch.load(tmp_path / f"training_rank{r}.pt") for r in range(2))
    assert any(not torch.equal(rank0["before_broadcast"][n], rank1["before_broadcast"][n])
               for n in rank0["before_broadcast"]), "rank seeds should give different initial policies"
    for name, value in rank0["final"].items():
        assert torch.equal(value, rank1["final"][name]), f"{name} differs between ranks"
    assert rank0["logged"] == rank1["logged"]

    # The same training in one process on the union of both ranks' batches.
    policy = helper.make_policy(rank_seed(helper.SEED, 0), torch.float64)
    optimizer = Ascent(policy.parameters(), lr=0.05, adaptive="adam")
    for round_index, counts in enumerate(helper.TRAINING_COUNTS):
        batches = [helper.make_batch(round_index, r, counts[r], torch.float64) for r in range(2)]
        optimizer.zero_grad()
        J = helper.objective(policy, helper.join(batches))
        J.backward()
        optimizer.step()
        logged = rank0["logged"][round_index]
        assert logged["samples"] == sum(counts)
        assert logged["objective_sum"] / logged["samples"] == pytest.approx(J.item(), abs=1e-12)
    for name, value in policy.state_dict().items():
        torch.testing.assert_close(rank0["final"][name], value, rtol=0, atol=1e-10, msg=name)
        assert not torch.equal(value, rank0["before_broadcast"][name]) or name == "unused"


def test_a_rank_that_raises_fails_the_job_with_its_error(tmp_path):
    status, output, seconds = run_helper(tmp_path, "raise")
    assert status != 0, output
    # The rank's own traceback, streamed with torch.distributed's "[rankK]:" prefix ...
    assert "[rank1]: RuntimeError: rank 1 failed on purpose" in output, output
    # ... and again in torchrun's failure summary (written by @record). Which rank the summary
    # calls "Root Cause" is not asserted: it compares whole-second timestamps, and rank 0 fails
    # ("Connection closed by peer") within milliseconds of rank 1.
    summary = output.partition("FAILED\n")[2]
    assert "rank 1 failed on purpose" in summary, output
    assert seconds < 30, f"the job took {seconds:.1f} s to fail"


def test_a_hung_rank_makes_the_others_time_out(tmp_path):
    status, output, seconds = run_helper(tmp_path, "hang")
    assert status != 0, output
    errors = [line for line in output.splitlines() if line.startswith("[rank0]: RuntimeError")]
    assert errors and "Timed out" in errors[-1], output
    assert seconds < 30, f"the job took {seconds:.1f} s to fail; the hung rank sleeps 60 s"


@pytest.fixture
def no_torchrun(monkeypatch):
    for name in TORCHRUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_without_torchrun_everything_is_a_single_process_no_op(no_torchrun):
    with init_distributed() as context:
        assert context == DistributedContext(rank=0, world_size=1, local_rank=0, backend=None)
        assert context.is_main and not context.is_distributed
        assert not dist.is_initialized()
        policy = torch.nn.Linear(3, 2)
        policy(torch.randn(5, 3)).sum().backward()
        grads = [p.grad for p in policy.parameters()]
        snapshot = [g.clone() for g in grads]
        assert all_reduce_gradients(policy, 5, context) == 5
        assert all(p.grad is g and torch.equal(g, s) for p, g, s in zip(policy.parameters(), grads, snapshot))
        broadcast_parameters(policy, context)
        assert all_reduce_sum({"b": 2, "a": 1.5}, context) == {"a": 1.5, "b": 2.0}
    assert not dist.is_initialized()


def test_partial_torchrun_environment_is_an_error(no_torchrun, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ValueError, match="MASTER_ADDR"):
        init_distributed()
    assert not dist.is_initialized()


def test_rank_seeds_are_deterministic_distinct_and_rank_zero_keeps_the_seed():
    seeds = {(seed, rank): rank_seed(seed, rank) for seed in range(4) for rank in range(8)}
    assert all(rank_seed(seed, 0) == seed for seed in range(4))
    assert len(set(seeds.values())) == len(seeds), "two (seed, rank) pairs share a seed"
    assert seeds == {(seed, rank): rank_seed(seed, rank) for seed in range(4) for rank in range(8)}
    assert all(0 <= value < 2**32 for value in seeds.values())


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: rank_seed(-1, 0), "seed"),
        (lambda: rank_seed(0, 1.5), "rank"),
        (lambda: init_distributed(timeout_seconds=0), "timeout_seconds"),
        (lambda: init_distributed(backend="mpi"), "backend"),
        (lambda: all_reduce_gradients([], -1, DistributedContext()), "local_count"),
        (lambda: all_reduce_gradients([], 0, DistributedContext()), "local_count"),
        (lambda: broadcast_parameters([], DistributedContext(), src=1), "src"),
    ],
)
def test_bad_arguments_are_named(no_torchrun, call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_context_must_come_from_init_distributed():
    with pytest.raises(TypeError, match="context"):
        all_reduce_gradients([], 1, context=None)
