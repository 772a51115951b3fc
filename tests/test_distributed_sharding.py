"""Sharding a batch of games across ranks: shard_slice, gather_shards and bench_games under torchrun."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
from pathlib import Path

import pytest
import torch
from torchrun_launcher import torchrun

from ascentrl.distributed import DistributedContext, gather_shards, shard_slice

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"

GATHER_HELPER = '''
"""Each rank gathers uneven float and bool shards and saves what it got."""
import sys
from pathlib import Path

import torch

from ascentrl.distributed import gather_shards, init_distributed, shard_slice

out = Path(sys.argv[1])
with init_distributed(timeout_seconds=60) as context:
    values = torch.arange(7 * 2, dtype=torch.float64).reshape(7, 2)
    share = values[shard_slice(7, context)]
    flags = share[:, 0] % 4 == 0
    torch.save({"values": gather_shards(share, context), "flags": gather_shards(flags, context),
                "share": share}, out / f"rank{context.rank}.pt")
'''


@pytest.mark.parametrize("count", [0, 1, 2, 7, 10_000])
@pytest.mark.parametrize("world_size", [1, 2, 3, 8])
def test_shards_cover_every_item_once_and_differ_by_at_most_one(count, world_size):
    slices = [shard_slice(count, DistributedContext(rank, world_size)) for rank in range(world_size)]
    covered = [index for piece in slices for index in range(count)[piece]]
    assert covered == list(range(count))
    lengths = [len(range(count)[piece]) for piece in slices]
    assert max(lengths) - min(lengths) <= 1


def test_single_process_sharding_is_the_identity():
    values = torch.randn(5, 3)
    assert shard_slice(5, DistributedContext()) == slice(0, 5)
    assert gather_shards(values, DistributedContext()) is values


@pytest.mark.parametrize("call, message", [
    (lambda: shard_slice(-1, DistributedContext()), "count must be an int >= 0"),
    (lambda: gather_shards(torch.tensor(1.0), DistributedContext()), "at least one dimension"),
    (lambda: shard_slice(3, "rank 0"), "DistributedContext"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_uneven_shards_gather_back_to_the_whole_batch_in_rank_order(tmp_path):
    helper = tmp_path / "helper.py"
    helper.write_text(GATHER_HELPER)
    status, output, _ = torchrun(tmp_path, str(helper), str(tmp_path))
    assert status == 0, output
    ranks = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in range(2)]
    expected = torch.arange(14, dtype=torch.float64).reshape(7, 2)
    assert [len(rank["share"]) for rank in ranks] == [3, 4]
    for rank in ranks:
        assert torch.equal(rank["values"], expected)
        assert rank["flags"].dtype == torch.bool
        assert torch.equal(rank["flags"], expected[:, 0] % 4 == 0)


def test_bench_games_sharded_over_two_ranks_solves_the_same_games_the_same_way(tmp_path):
    status, output, _ = torchrun(tmp_path, str(SCRIPTS / "bench_games.py"), "--games", "300", "--shapes", "3x3,4x6",
                                 "--highs-games", "0", "--dynamics-steps", "0", "--catalogue-steps", "0", "--json")
    assert status == 0, output
    (line,) = [line for line in output.splitlines() if line.startswith("{")]  # rank 0 alone prints
    sharded = json.loads(line)
    single = json.loads(_single_process_bench_games_json(games=300))
    assert (sharded["processes"], single["processes"]) == (2, 1)
    # The games are independent, so splitting the batch changes nothing but the wall time.
    assert [entry["shape"] for entry in sharded["zero_sum"]] == ["3x3", "4x6"]
    for ours, reference in zip(sharded["zero_sum"], single["zero_sum"]):
        for key in ("fraction_solved", "solved", "median_iterations", "max_iterations", "worst_nash_conv"):
            assert ours["ours"][key] == reference["ours"][key], key


def _single_process_bench_games_json(games: int) -> str:
    spec = importlib.util.spec_from_file_location("bench_games", SCRIPTS / "bench_games.py")
    bench_games = importlib.util.module_from_spec(spec)
    sys.modules["bench_games"] = bench_games  # dataclasses look their module up while the class is built
    spec.loader.exec_module(bench_games)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        config = bench_games.BenchConfig(shapes="3x3,4x6", games=games, highs_games=0, dynamics_steps=0,
                                         catalogue_steps=0, json=True)
        status = bench_games.run(config, DistributedContext())
    assert status == 0
    return buffer.getvalue()
