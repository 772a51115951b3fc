"""scripts/train_gan.py and scripts/eigengame.py: JSON output and bad input; the benchmark sections' tables.

Truths used: the JSON contracts of issue 13 (``modes_covered``, ``high_quality_fraction``;
``components`` as a k × d list, ``subspace_distance``, ``streak``), numpy's eigh of the covariance
of the data file, and the rule that bad input gets one line naming the option and exit code 2
before any work.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from harness.eigengame_benchmark import eigengame_rows, format_eigengame_table
from harness.gan_benchmark import format_gan_table, meets_target, summarize
from script_modules import load_script

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


train_gan_script = load_script("train_gan")
eigengame_script = load_script("eigengame")


@pytest.fixture(autouse=True)
def restore_torch_threads():
    """The scripts set one torch thread; give other tests theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def data_file(tmp_path):
    generator = np.random.default_rng(0)
    basis, _ = np.linalg.qr(generator.standard_normal((8, 8)))
    data = (generator.standard_normal((2000, 8)) * np.sqrt(np.linspace(3.0, 0.3, 8))) @ basis.T + 5.0
    path = tmp_path / "data.npy"
    np.save(path, data)
    return path, data


def refused(capsys, main, arguments: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_train_gan_json_and_plot(capsys, tmp_path):
    plot = tmp_path / "out" / "ring.png"
    arguments = ["--target", "ring8", "--dynamics", "alternating", "--steps", "30", "--hidden-units", "16",
                 "--hidden-layers", "1", "--batch-size", "32", "--seed", "3", "--plot", str(plot), "--json"]
    assert train_gan_script.main(arguments) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"modes_covered", "high_quality_fraction", "modes", "samples_per_mode", "mode_kl", "seconds"} <= set(result)
    assert result["target"] == "ring8" and result["dynamics"] == "alternating" and result["seed"] == 3
    assert result["modes"] == 8 and 0 <= result["modes_covered"] <= 8 and len(result["samples_per_mode"]) == 8
    assert 0.0 <= result["high_quality_fraction"] <= 1.0
    assert result["modes_covered"] == sum(count > 0 for count in result["samples_per_mode"])
    assert plot.read_bytes()[:8] == PNG_SIGNATURE


@pytest.mark.parametrize(
    ("arguments", "option"),
    [(["--target", "ring16"], "--target"), (["--dynamics", "lola"], "--dynamics"),
     (["--dynamics", "gradient"], "--dynamics"), (["--steps", "0"], "--steps"), (["--lr", "nan"], "--lr"),
     (["--seed", "-1"], "--seed"), (["--gradient-penalty", "-0.5"], "--gradient-penalty"),
     (["--generator-objective", "hinge"], "--generator-objective"), (["--steps", "many"], "--steps")],
)
def test_train_gan_bad_input(capsys, arguments, option):
    assert option in refused(capsys, train_gan_script.main, arguments)


def test_eigengame_json_matches_numpy_eigh(capsys, data_file):
    path, data = data_file
    assert eigengame_script.main(["--data", str(path), "--k", "3", "--epochs", "60", "--batch-size", "64",
                                  "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    components = np.array(result["components"])
    assert components.shape == (3, 8) and np.allclose(np.linalg.norm(components, axis=1), 1.0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(data.T, bias=True))
    truth = eigenvectors[:, ::-1][:, :3].T
    assert np.allclose(result["eigenvalues"], eigenvalues[::-1][:3])
    assert result["streak"] == 3
    assert np.all(np.abs((components * truth).sum(axis=1)) > 0.999)
    projector = components.T @ np.linalg.inv(components @ components.T) @ components
    assert result["subspace_distance"] == pytest.approx(1 - np.trace(truth @ projector @ truth.T) / 3, abs=1e-9)
    assert result["subspace_distance"] < 1e-4


@pytest.mark.parametrize("bad", ["nan", "inf", "vector", "cube", "text"])
def test_eigengame_bad_data(capsys, tmp_path, data_file, bad):
    _, data = data_file
    path = tmp_path / f"{bad}.npy"
    if bad in ("nan", "inf"):
        data = data.copy()
        data[5, 2] = float(bad)
        np.save(path, data)
    elif bad == "vector":
        np.save(path, data[:, 0])
    elif bad == "cube":
        np.save(path, data.reshape(2, 1000, 8))
    else:
        path.write_text("not an array")
    line = refused(capsys, eigengame_script.main, ["--data", str(path), "--k", "2"])
    assert "--data" in line


@pytest.mark.parametrize("k", ["0", "-3", "9"])
def test_eigengame_bad_k(capsys, data_file, k):
    line = refused(capsys, eigengame_script.main, ["--data", str(data_file[0]), "--k", k])
    assert "--k" in line and "[1, 8]" in line


def test_eigengame_needs_data(capsys, tmp_path):
    assert "--data" in refused(capsys, eigengame_script.main, ["--k", "2"])
    assert "--data" in refused(capsys, eigengame_script.main, ["--data", str(tmp_path / "missing.npy")])
    assert "--method" in refused(capsys, eigengame_script.main, ["--data", "x.npy", "--method", "svd"])


def test_gan_table_summarizes_rows_against_the_target():
    rows = [
        {"target": "grid25", "dynamics": "simultaneous", "seed": seed, "modes_covered": 20, "modes": 25,
         "high_quality_fraction": 0.95, "mode_kl": 0.1, "seconds": 10.0} for seed in range(2)
    ] + [
        {"target": "grid25", "dynamics": "alternating", "seed": 0, "modes_covered": 25, "modes": 25,
         "high_quality_fraction": 0.91, "mode_kl": 0.1, "seconds": 20.0},
        {"target": "grid25", "dynamics": "alternating", "seed": 1, "modes_covered": 25, "modes": 25,
         "high_quality_fraction": 0.89, "mode_kl": 0.1, "seconds": 20.0},
    ]
    assert [meets_target(row) for row in rows] == [False, False, True, False]
    summary = {s["dynamics"]: s for s in summarize(rows)}
    assert summary["alternating"]["seeds_meeting_target"] == 1
    assert summary["alternating"]["time_vs_simultaneous"] == pytest.approx(2.0)
    assert summary["simultaneous"]["mean_modes_covered"] == 20.0
    table = format_gan_table(rows)
    assert "VEEGAN (published)" in table and "1/2" in table


def test_eigengame_section_on_small_data(data_file):
    rows = eigengame_rows(data_file[1], 3, dataset="small", epochs=20, batch_size=64)
    assert [row["method"] for row in rows] == ["numpy eigh", "eigengame", "oja", "gha"]
    assert all(row["streak"] == 3 and row["subspace_distance"] < 1e-3 for row in rows)
    assert "small" in format_eigengame_table(rows)
