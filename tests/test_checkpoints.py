"""Checkpoint files: atomic writes, safe loading, one clear error per broken file, RNG states.

Every broken file must raise exactly one :class:`CheckpointError` whose message names the file and
says what is wrong, and a file carrying code must not run it.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import random
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from ascentrl import __version__
from ascentrl.agents import Reinforce, ReinforceConfig
from ascentrl.checkpoints import CHECKPOINT_FORMAT, CheckpointError, load_checkpoint, save_checkpoint, with_checksum
from ascentrl.rng import capture_rng_states, restore_rng_states

KIND = "Test"


def good_checkpoint(folder: Path) -> Path:
    return save_checkpoint(folder / "good.pt", KIND, {"weights": torch.arange(256, dtype=torch.float32),
                                                      "step": 7})


def assert_one_clear_error(path: Path, *fragments: str) -> None:
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path, KIND)
    message = str(caught.value)
    assert str(path) in message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    assert caught.value.__cause__ is None  # no raw unpickling traceback chained underneath


class CodeThatRuns:
    """Unpickling this calls ``Path.touch`` on a marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_round_trip_keeps_the_state_and_adds_format_and_versions(tmp_path):
    loaded = load_checkpoint(good_checkpoint(tmp_path), KIND)
    assert torch.equal(loaded["weights"], torch.arange(256, dtype=torch.float32))
    assert loaded["step"] == 7
    assert (loaded["format"], loaded["library_version"], loaded["kind"]) == (CHECKPOINT_FORMAT, __version__, KIND)


def test_missing_and_empty_files(tmp_path):
    assert_one_clear_error(tmp_path / "absent.pt", "no such file")
    (tmp_path / "empty.pt").write_bytes(b"")
    assert_one_clear_error(tmp_path / "empty.pt", "empty")


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9])
def test_truncated_files(tmp_path, keep):
    data = good_checkpoint(tmp_path).read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: int(len(data) * keep)])
    assert_one_clear_error(truncated, "truncated")


def test_a_flipped_byte_inside_tensor_data_is_caught_by_the_checksum(tmp_path):
    path = good_checkpoint(tmp_path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        member = next(info for info in archive.infolist() if "/data/" in info.filename)
    # The stored member's bytes start after its local header (30 bytes + name + extra field).
    header = data[member.header_offset: member.header_offset + 30]
    name_length, extra_length = int.from_bytes(header[26:28], "little"), int.from_bytes(header[28:30], "little")
    start = member.header_offset + 30 + name_length + extra_length
    data[start + 100] ^= 0xFF
    corrupted = tmp_path / "corrupted.pt"
    corrupted.write_bytes(bytes(data))
    assert_one_clear_error(corrupted, "corrupted", "checksum")


def test_the_checksum_is_the_sha256_of_every_byte_before_it(tmp_path):
    data = good_checkpoint(tmp_path).read_bytes()
    digest, prefix = data[-64:], data[-80:-64]
    assert prefix == b"ascentrl-sha256:"
    assert digest.decode() == hashlib.sha256(data[:-64]).hexdigest()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:  # the trailer is the zip's own comment
        assert archive.comment == data[-80:]


def test_a_plain_torch_file_is_foreign(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save({"weights": torch.ones(3)}, path)
    assert_one_clear_error(path, "not an ascentrl checkpoint")


def test_a_raw_pickle_is_foreign_and_its_code_never_runs(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "raw.pkl"
    path.write_bytes(pickle.dumps({"payload": CodeThatRuns(marker)}))
    assert_one_clear_error(path, "not a torch zip archive")
    assert not marker.exists()


def torch_file_with_checksum(path: Path, payload: object) -> Path:
    """``torch.save(payload)`` with a valid checksum trailer: it passes the integrity check, so the
    loader's later checks are what the test sees. A checksum is not a signature: anyone can add one."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    path.write_bytes(with_checksum(buffer.getvalue()))
    return path


def test_a_torch_file_carrying_code_is_refused_and_the_code_never_runs(tmp_path):
    marker = tmp_path / "code-ran"
    plain = tmp_path / "malicious.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "payload": CodeThatRuns(marker)}, plain)
    assert_one_clear_error(plain, "not an ascentrl checkpoint")
    checksummed = torch_file_with_checksum(tmp_path / "checksummed.pt",
                                           {"format": CHECKPOINT_FORMAT, "payload": CodeThatRuns(marker)})
    assert_one_clear_error(checksummed, "refused", "could run code")
    assert not marker.exists()


def test_an_unknown_format_version_names_both_versions(tmp_path):
    path = torch_file_with_checksum(tmp_path / "future.pt", {"format": CHECKPOINT_FORMAT, "format_version": 99,
                                                              "library_version": "9.0", "kind": KIND})
    assert_one_clear_error(path, "format version 99", "'9.0'", __version__)


def test_a_checkpoint_of_another_kind(tmp_path):
    path = save_checkpoint(tmp_path / "other.pt", "Other", {})
    assert_one_clear_error(path, "'Other'", f"'{KIND}'")


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    path = good_checkpoint(tmp_path)
    before = path.read_bytes()
    with pytest.raises((AttributeError, TypeError, pickle.PicklingError)):
        save_checkpoint(path, KIND, {"unpicklable": lambda: None})
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["good.pt"]


def test_rng_states_survive_a_checkpoint(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.normal()  # leaves a cached Gaussian in numpy's state
    path = save_checkpoint(tmp_path / "rng.pt", KIND, {"rng": capture_rng_states()})
    expected = (random.random(), np.random.normal(), np.random.random(), torch.rand(3))
    random.seed(10), np.random.seed(20), torch.manual_seed(30)
    restore_rng_states(load_checkpoint(path, KIND)["rng"])
    got = (random.random(), np.random.normal(), np.random.random(), torch.rand(3))
    assert got[:3] == expected[:3]
    assert torch.equal(got[3], expected[3])
    with pytest.raises(ValueError, match="random generator states"):
        restore_rng_states({"python": "nonsense"})


def test_a_reinforce_checkpoint_with_missing_parts_is_one_clear_error(tmp_path):
    agent = Reinforce(ReinforceConfig(num_envs=2))
    agent.save(tmp_path / "agent.pt")
    payload = load_checkpoint(tmp_path / "agent.pt", "Reinforce")
    del payload["policy_optimizer"]
    for key in ("format", "format_version", "library_version", "kind"):
        payload.pop(key)
    save_checkpoint(tmp_path / "broken.pt", "Reinforce", payload)
    with pytest.raises(CheckpointError, match=r"broken\.pt: does not hold a usable Reinforce agent.*policy_optimizer"):
        Reinforce.load(tmp_path / "broken.pt")
    payload["config"]["num_envs"] = 0
    save_checkpoint(tmp_path / "bad-config.pt", "Reinforce", payload)
    with pytest.raises(CheckpointError, match=r"bad-config\.pt: its config cannot build an agent.*num_envs"):
        Reinforce.load(tmp_path / "bad-config.pt")


def test_reinforce_save_and_load_round_trip_everything_needed_to_continue(tmp_path):
    agent = Reinforce(ReinforceConfig(num_envs=4, seed=5, baseline="value"))
    agent.train(1500, eval_episodes=2)
    agent.save(tmp_path / "agent.pt")
    loaded = Reinforce.load(tmp_path / "agent.pt")
    for mine, theirs in ((agent.policy, loaded.policy), (agent.value, loaded.value)):
        for (name, tensor), (_, other) in zip(mine.state_dict().items(), theirs.state_dict().items()):
            assert torch.equal(tensor, other), name
    assert torch.equal(agent.generator.get_state(), loaded.generator.get_state())
    assert (loaded.env_steps, loaded.episodes, loaded.iterations, loaded.evaluations) == (
        agent.env_steps, agent.episodes, agent.iterations, agent.evaluations)
    assert list(loaded.env.return_queue) == list(agent.env.return_queue)
    assert all(type(value) is np.float64 for value in loaded.env.return_queue)
    assert int(loaded.env.episode_count) == int(agent.env.episode_count)
    assert loaded.training_run.finished and loaded.training_run.history == agent.training_run.history


def test_checkpoints_are_plain_torch_files_readable_with_weights_only(tmp_path):
    # No private format: torch.load(weights_only=True) reads our files without ascentrl.
    path = good_checkpoint(tmp_path)
    payload = torch.load(io.BytesIO(path.read_bytes()), weights_only=True)
    assert payload["kind"] == KIND
