"""scripts/fit_mixture.py and scripts/fit_hmm.py: their JSON, bad input (one line, exit 2), numerical failure.

Truths used: scipy's log-densities and hmmlearn's score recomputed from the printed parameters
(the printed mean_log_likelihood must be the likelihood of the printed model), and the CLI contract
of the issue (exit code 2 and one line naming the option, before any work).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from hmmlearn import hmm as hmmlearn
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from script_modules import SCRIPTS, load_script

fit_mixture = load_script("fit_mixture")
fit_hmm = load_script("fit_hmm")


@pytest.fixture(autouse=True)
def restore_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal([0, 0], 1.0, size=(150, 2)), rng.normal([5, 2], 0.7, size=(100, 2))])
    np.save(folder / "points.npy", points)
    bad = points.copy()
    bad[7, 1] = np.nan
    np.save(folder / "nan.npy", bad)
    np.save(folder / "flat.npy", points[:, 0])
    np.save(folder / "three.npy", points[:3])
    np.save(folder / "lengths.npy", np.array([100, 150]))
    np.save(folder / "short_lengths.npy", np.array([100, 100]))
    np.save(folder / "symbols.npy", rng.integers(0, 3, size=120))
    np.save(folder / "repeated.npy", np.concatenate([points, np.tile([[30.0, 30.0]], (20, 1))]))
    (folder / "points.csv").write_text("1,2\n3,4\n")
    return folder


def run_json(capsys, script, *arguments: str) -> dict:
    assert script.main([*arguments, "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return json.loads(captured.out)


def test_fit_mixture_prints_the_likelihood_of_the_printed_model(capsys, files):
    result = run_json(capsys, fit_mixture, "--data", str(files / "points.npy"), "--components", "2",
                      "--restarts", "2")
    assert {"mean_log_likelihood", "weights", "means", "covariances", "restart_mean_log_likelihoods",
            "steps", "converged", "collapsed_restarts"} <= set(result)
    points = np.load(files / "points.npy")
    log_joint = np.stack([np.log(w) + multivariate_normal(m, c).logpdf(points)
                          for w, m, c in zip(result["weights"], result["means"], result["covariances"])], axis=1)
    assert result["mean_log_likelihood"] == pytest.approx(logsumexp(log_joint, axis=1).mean(), abs=1e-9)
    assert max(result["restart_mean_log_likelihoods"]) == result["mean_log_likelihood"]
    text_run = fit_mixture.main(["--data", str(files / "points.npy"), "--components", "2", "--restarts", "2"])
    assert text_run == 0 and "mean log-likelihood per point" in capsys.readouterr().out
    nadam = run_json(capsys, fit_mixture, "--data", str(files / "points.npy"), "--components", "2", "--restarts", "2",
                     "--optimizer", "nadam")
    assert nadam["mean_log_likelihood"] == pytest.approx(result["mean_log_likelihood"], abs=1e-7)
    assert nadam["steps"] > result["steps"]


def test_fit_hmm_prints_the_likelihood_of_the_printed_model(capsys, files):
    result = run_json(capsys, fit_hmm, "--data", str(files / "points.npy"), "--lengths", str(files / "lengths.npy"),
                      "--states", "2", "--restarts", "2", "--covariance-type", "diag")
    peer = hmmlearn.GaussianHMM(2, covariance_type="diag", init_params="", params="")
    peer.startprob_ = np.array(result["start_probabilities"])
    peer.transmat_ = np.array(result["transition_matrix"])
    peer.means_ = np.array(result["means"])
    peer.covars_ = np.array(result["covariances"])
    points = np.load(files / "points.npy")
    assert result["n_sequences"] == 2 and result["n_observations"] == 250
    assert result["mean_log_likelihood"] == pytest.approx(peer.score(points, [100, 150]) / 250, abs=1e-9)


def test_fit_hmm_with_categorical_emissions(capsys, files):
    result = run_json(capsys, fit_hmm, "--data", str(files / "symbols.npy"), "--states", "2",
                      "--emissions", "categorical", "--restarts", "2", "--steps", "200")
    peer = hmmlearn.CategoricalHMM(2, init_params="", params="")
    peer.startprob_ = np.array(result["start_probabilities"])
    peer.transmat_ = np.array(result["transition_matrix"])
    peer.emissionprob_ = np.array(result["emission_probabilities"])
    symbols = np.load(files / "symbols.npy")[:, None]
    assert result["mean_log_likelihood"] == pytest.approx(peer.score(symbols) / 120, abs=1e-9)


BAD_MIXTURE_INPUT = [
    (["--data", "{d}/nan.npy", "--components", "2"], "--data .*finite; row 7"),
    (["--data", "{d}/flat.npy", "--components", "2"], "--data .*2-D"),
    (["--data", "{d}/three.npy", "--components", "4"], "--data .*fewer than the 4 needed"),
    (["--data", "{d}/points.npy", "--components", "0"], "--components must be a positive integer"),
    (["--data", "{d}/points.npy"], "--components must be a positive integer \\(required\\)"),
    (["--data", "{d}/points.csv", "--components", "2"], "--data .*expected a .npy file"),
    (["--data", "{d}/points.npy", "--components", "2", "--optimizer", "em"], "--optimizer.*mirror.*nadam"),
    (["--data", "{d}/missing.npy", "--components", "2"], "--data .*no such file"),
    (["--components", "2"], "--data is required"),
    (["--data", "{d}/points.npy", "--components", "2", "--lr", "-1"], "--lr must be a finite number > 0"),
    (["--data", "{d}/points.npy", "--components", "2", "--covariance-type", "tied"], "--covariance-type"),
]

BAD_HMM_INPUT = [
    (["--data", "{d}/points.npy", "--states", "2", "--lengths", "{d}/short_lengths.npy"],
     "--lengths .*sum to 200 but the data has 250 rows"),
    (["--data", "{d}/points.npy", "--states", "2", "--lengths", "{d}/points.npy"], "--lengths .*1-D"),
    (["--data", "{d}/nan.npy", "--states", "2"], "--data .*finite"),
    (["--data", "{d}/points.npy", "--states", "-3"], "--states must be a positive integer"),
    (["--data", "{d}/points.npy", "--states", "2", "--emissions", "categorical"], "--data .*one symbol per row"),
    (["--data", "{d}/points.npy", "--states", "2", "--lengths", "{d}/points.csv"], "--lengths .*expected a .npy"),
]


@pytest.mark.parametrize(("script", "arguments", "message"),
                         [(fit_mixture, *case) for case in BAD_MIXTURE_INPUT]
                         + [(fit_hmm, *case) for case in BAD_HMM_INPUT])
def test_bad_input_is_one_line_and_exit_code_2(capsys, files, script, arguments, message):
    with pytest.raises(SystemExit) as exit_info:
        script.main([argument.format(d=files) for argument in arguments])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert re.search(message, lines[0]), lines[0]


def test_a_collapse_is_reported_with_component_and_step(files):
    completed = subprocess.run(
        [sys.executable, str(SCRIPTS / "fit_mixture.py"), "--data", str(files / "repeated.npy"), "--components", "3",
         "--restarts", "2", "--steps", "60"], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 1 and completed.stdout == ""
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1
    assert re.search(r"fit failed: .*component \d+ collapsed at step \d+", lines[0]), lines[0]
