"""Hidden Markov models: inference in ascentrl.applications.hmm_inference and the GaussianHMM/CategoricalHMM fits.

Truths used: brute-force enumeration of every state path of tiny HMMs (sequences of different
lengths, padded), hmmlearn's scores, posteriors and Viterbi paths for the same parameters,
scipy.stats.multivariate_normal emission densities, torch.autograd.gradcheck in float64, and the
known parameters the data were sampled from (with stated tolerances, up to relabelling the states).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hmmlearn import hmm as hmmlearn
from scipy.stats import multivariate_normal

from ascentrl.applications import CategoricalHMM, GaussianHMM
from ascentrl.applications import hmm_inference as inference


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The fits' tensors are small: on a busy machine a second thread costs far more than it saves."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


LENGTHS = torch.tensor([5, 1, 3, 4])


@pytest.fixture(scope="module")
def tiny():
    """Two random 3-state models (a batch), 4 sequences padded to length 5, garbage in the padding."""
    generator = torch.Generator().manual_seed(0)
    log_start = torch.log_softmax(torch.randn(2, 3, generator=generator, dtype=torch.float64), -1)
    log_transition = torch.log_softmax(torch.randn(2, 3, 3, generator=generator, dtype=torch.float64), -1)
    log_emission = torch.randn(2, 4, 5, 3, generator=generator, dtype=torch.float64)
    padding = ~inference.valid_mask(LENGTHS, 5)
    log_emission[:, padding] = 1e6  # must be ignored exactly
    return log_start, log_transition, log_emission


def enumerate_paths(log_start, log_transition, log_emission, length):
    """(log p(x), {path: log p(x, path)}) by summing over all K^length paths."""
    joint = {}
    for path in itertools.product(range(log_start.shape[-1]), repeat=length):
        value = log_start[path[0]] + log_emission[0, path[0]]
        for t in range(1, length):
            value = value + log_transition[path[t - 1], path[t]] + log_emission[t, path[t]]
        joint[path] = value
    return torch.logsumexp(torch.stack(list(joint.values())), 0), joint


def test_likelihood_posteriors_and_viterbi_against_brute_force(tiny):
    log_start, log_transition, log_emission = tiny
    forward_value = inference.forward(*tiny, LENGTHS)[1]
    tree_value = inference.log_likelihood(*tiny, LENGTHS)
    gamma, posterior_value = inference.posteriors(*tiny, LENGTHS)
    best, paths = inference.viterbi(*tiny, LENGTHS)
    for model in range(2):
        for sequence, length in enumerate(LENGTHS.tolist()):
            total, joint = enumerate_paths(log_start[model], log_transition[model], log_emission[model, sequence],
                                           length)
            for value in (forward_value, tree_value, posterior_value):
                assert value[model, sequence].item() == pytest.approx(total.item(), abs=1e-12)
            expected_gamma = torch.zeros(length, 3, dtype=torch.float64)
            for path, value in joint.items():
                expected_gamma[torch.arange(length), torch.tensor(path)] += torch.exp(value - total)
            assert torch.allclose(gamma[model, sequence, :length], expected_gamma, atol=1e-12)
            assert gamma[model, sequence, length:].abs().sum() == 0
            best_path = max(joint, key=lambda path: joint[path].item())
            assert tuple(paths[model, sequence, :length].tolist()) == best_path
            assert best[model, sequence].item() == pytest.approx(joint[best_path].item(), abs=1e-12)


def test_impossible_transitions_and_unreachable_states(tiny):
    # Given parameters may hold exact zeros: state 2 is a start-only state nobody can reach.
    _, _, log_emission = tiny
    start = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    transition = torch.tensor([[0.9, 0.1, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0]], dtype=torch.float64)
    log_start, log_transition = torch.log(start), torch.log(transition)
    tree = inference.log_likelihood(log_start, log_transition, log_emission[0], LENGTHS)
    forward = inference.forward(log_start, log_transition, log_emission[0], LENGTHS)[1]
    for sequence, length in enumerate(LENGTHS.tolist()):
        total, _ = enumerate_paths(log_start, log_transition, log_emission[0, sequence], length)
        assert tree[sequence].item() == pytest.approx(total.item(), abs=1e-12)
        assert forward[sequence].item() == pytest.approx(total.item(), abs=1e-12)
    # The fits ascend the gradient of the tree: finite, and the posteriors of forward-backward.
    expected_start, expected_transition, gamma, _ = inference.expected_counts(log_start, log_transition,
                                                                             log_emission[0], LENGTHS)
    assert all(bool(torch.isfinite(counts).all()) for counts in (expected_start, expected_transition, gamma))
    assert torch.allclose(gamma, inference.posteriors(log_start, log_transition, log_emission[0], LENGTHS)[0],
                          atol=1e-12)


def test_posteriors_are_the_gradient_of_the_log_likelihood(tiny):
    # Fisher's identity for HMMs: ∂ log p(x) / ∂ log b_j(x_t) = γ_t(j).
    log_start, log_transition, log_emission = tiny
    log_emission = log_emission.clone().requires_grad_()
    inference.log_likelihood(log_start, log_transition, log_emission, LENGTHS).sum().backward()
    gamma, _ = inference.posteriors(log_start, log_transition, log_emission.detach(), LENGTHS)
    assert torch.allclose(log_emission.grad, gamma, atol=1e-12)


def test_tree_likelihood_passes_gradcheck_with_padding():
    generator = torch.Generator().manual_seed(1)
    start = torch.randn(2, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    transition = torch.randn(2, 3, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    emission = torch.randn(2, 3, 6, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([6, 2, 5])

    def log_likelihood(start, transition, emission):
        return inference.log_likelihood(torch.log_softmax(start, -1), torch.log_softmax(transition, -1), emission,
                                        lengths)

    assert torch.autograd.gradcheck(log_likelihood, (start, transition, emission))


def test_the_sequential_fallback_and_long_sequences(monkeypatch):
    generator = torch.Generator().manual_seed(2)
    log_start = torch.log_softmax(torch.randn(3, generator=generator, dtype=torch.float64), -1)
    log_transition = torch.log_softmax(torch.randn(3, 3, generator=generator, dtype=torch.float64), -1)
    log_emission = 30 * torch.randn(2, 5000, 3, generator=generator, dtype=torch.float64)  # p(x) ≈ e^-10^5
    lengths = torch.tensor([5000, 3777])
    tree = inference.log_likelihood(log_start, log_transition, log_emission, lengths)
    forward = inference.forward(log_start, log_transition, log_emission, lengths)[1]
    assert bool(torch.isfinite(tree).all()) and torch.allclose(tree, forward, rtol=1e-12)
    monkeypatch.setattr(inference, "TREE_MEMORY_BUDGET", 10)
    assert torch.equal(inference.log_likelihood(log_start, log_transition, log_emission, lengths), forward)


def test_the_tree_is_used_up_to_its_memory_budget_and_no_further(monkeypatch):
    """The documented rule: the tree while |B|·S·max(T // 2, 1)·K³ <= TREE_MEMORY_BUDGET, else the
    sequential recursion, with the same values either way. Checked on both sides of the bound, for
    T = 5 (T // 2 = 2) and T = 3 (T // 2 = 1)."""
    calls = []
    sequential = inference.forward

    def counted(*args):
        calls.append(True)
        return sequential(*args)

    monkeypatch.setattr(inference, "forward", counted)
    generator = torch.Generator().manual_seed(3)
    log_start = torch.log_softmax(torch.randn(2, 3, generator=generator, dtype=torch.float64), -1)
    log_transition = torch.log_softmax(torch.randn(2, 3, 3, generator=generator, dtype=torch.float64), -1)
    for steps in (5, 3):
        log_emission = torch.randn(2, 4, steps, 3, generator=generator, dtype=torch.float64)
        lengths = torch.tensor([steps, 1, 2, steps])
        expected = sequential(log_start, log_transition, log_emission, lengths)[1]
        bound = 2 * 4 * max(steps // 2, 1) * 3**3
        for budget, sequential_used in ((bound, False), (bound - 1, True)):
            monkeypatch.setattr(inference, "TREE_MEMORY_BUDGET", budget)
            calls.clear()
            value = inference.log_likelihood(log_start, log_transition, log_emission, lengths)
            assert bool(calls) == sequential_used, (steps, budget)
            assert torch.allclose(value, expected, atol=1e-12)


def test_sequences_of_one_step_and_a_one_state_model():
    """T = 1: log p(x) = logsumexp_j(log π_j + log b_j(x_0)), γ_0 ∝ π b(x_0), the best state is the
    argmax. K = 1: log p(x) is the sum of the real steps' log b, every posterior is 1, every path 0."""
    generator = torch.Generator().manual_seed(4)
    log_start = torch.log_softmax(torch.randn(2, 3, generator=generator, dtype=torch.float64), -1)
    log_transition = torch.log_softmax(torch.randn(2, 3, 3, generator=generator, dtype=torch.float64), -1)
    log_emission = torch.randn(2, 4, 1, 3, generator=generator, dtype=torch.float64)
    ones = torch.ones(4, dtype=torch.long)
    joint = log_start.unsqueeze(-2) + log_emission[..., 0, :]  # (2, 4, 3)
    expected = torch.logsumexp(joint, -1)
    for value in (inference.log_likelihood(log_start, log_transition, log_emission, ones),
                  inference.forward(log_start, log_transition, log_emission, ones)[1]):
        assert value.shape == (2, 4) and torch.allclose(value, expected, atol=1e-12)
    gamma, _ = inference.posteriors(log_start, log_transition, log_emission, ones)
    assert torch.allclose(gamma[..., 0, :], torch.softmax(joint, -1), atol=1e-12)
    best, path = inference.viterbi(log_start, log_transition, log_emission, ones)
    assert torch.equal(path[..., 0], joint.argmax(-1)) and torch.allclose(best, joint.amax(-1), atol=1e-12)

    log_emission = torch.randn(3, 6, 1, generator=generator, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    zero = torch.zeros(1, dtype=torch.float64)
    expected = torch.stack([log_emission[s, :length, 0].sum() for s, length in enumerate(lengths.tolist())])
    assert torch.allclose(inference.log_likelihood(zero, zero.view(1, 1), log_emission, lengths), expected, atol=1e-12)
    gamma, value = inference.posteriors(zero, zero.view(1, 1), log_emission, lengths)
    assert torch.allclose(value, expected, atol=1e-12)
    assert torch.allclose(gamma[..., 0], inference.valid_mask(lengths, 6).double(), atol=1e-12)
    assert torch.equal(inference.viterbi(zero, zero.view(1, 1), log_emission, lengths)[1], torch.zeros(3, 6).long())


START = np.array([0.6, 0.4])
TRANSITION = np.array([[0.9, 0.1], [0.2, 0.8]])
MEANS = np.array([[0.0, 0.0], [2.0, 1.0]])
COVARIANCES = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.4, 0.0], [0.0, 0.8]]])


def hmmlearn_gaussian(covariance_type: str = "full") -> hmmlearn.GaussianHMM:
    model = hmmlearn.GaussianHMM(2, covariance_type=covariance_type, init_params="", params="")
    model.startprob_, model.transmat_, model.means_ = START, TRANSITION, MEANS
    model.covars_ = COVARIANCES if covariance_type == "full" else np.diagonal(COVARIANCES, axis1=1, axis2=2)
    return model


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_gaussian_hmm_inference_matches_hmmlearn(covariance_type):
    peer = hmmlearn_gaussian(covariance_type)
    x, _ = peer.sample(60, random_state=3)
    lengths = [25, 1, 34]
    covariances = COVARIANCES if covariance_type == "full" else np.diagonal(COVARIANCES, axis1=1, axis2=2)
    model = GaussianHMM.from_parameters(START, TRANSITION, MEANS, covariances, covariance_type)
    starts = np.cumsum([0, *lengths])
    for index, (begin, end) in enumerate(zip(starts[:-1], starts[1:])):
        assert model.score_sequences(x, lengths)[index].item() == pytest.approx(peer.score(x[begin:end]), abs=1e-9)
    assert model.score(x, lengths) * 60 == pytest.approx(peer.score(x, lengths), abs=1e-9)
    assert model.predict_proba(x, lengths).numpy() == pytest.approx(peer.predict_proba(x, lengths), abs=1e-9)
    best, states = model.decode(x, lengths)
    peer_best, peer_states = peer.decode(x, lengths, algorithm="viterbi")
    assert states.tolist() == peer_states.tolist()
    assert best.sum().item() == pytest.approx(peer_best, abs=1e-9)
    matrices = COVARIANCES if covariance_type == "full" else np.stack([np.diag(c) for c in covariances])
    emission = model._log_emission(torch.tensor(x)).numpy()
    for k in range(2):
        assert emission[:, k] == pytest.approx(multivariate_normal(MEANS[k], matrices[k]).logpdf(x), abs=1e-10)


def test_categorical_hmm_inference_matches_hmmlearn():
    emission = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    peer = hmmlearn.CategoricalHMM(2, init_params="", params="")
    peer.startprob_, peer.transmat_, peer.emissionprob_ = START, TRANSITION, emission
    x, _ = peer.sample(50, random_state=4)
    lengths = [20, 30]
    model = CategoricalHMM.from_parameters(START, TRANSITION, emission)
    assert model.score(x, lengths) * 50 == pytest.approx(peer.score(x, lengths), abs=1e-9)
    assert model.predict_proba(x, lengths).numpy() == pytest.approx(peer.predict_proba(x, lengths), abs=1e-9)
    assert model.predict(x, lengths).tolist() == peer.predict(x, lengths).tolist()


def best_relabelling(estimated_means: np.ndarray, true_means: np.ndarray) -> list[int]:
    permutations = list(itertools.permutations(range(len(true_means))))
    return list(min(permutations, key=lambda order: np.abs(estimated_means[list(order)] - true_means).sum()))


def test_recovers_a_known_gaussian_hmm():
    truth = GaussianHMM.from_parameters(START, TRANSITION, MEANS, COVARIANCES)
    lengths = [200] * 10
    x, states = truth.sample(lengths, seed=0)
    model = GaussianHMM(2, n_restarts=2, seed=0).fit(x, lengths)
    order = best_relabelling(model.means_.numpy(), MEANS)
    # tolerances: a few standard errors for 2000 observations (~1300 and ~700 per state)
    assert model.means_.numpy()[order] == pytest.approx(MEANS, abs=0.12)
    assert model.covariances_.numpy()[order] == pytest.approx(COVARIANCES, abs=0.12)
    assert model.transition_matrix_.numpy()[np.ix_(order, order)] == pytest.approx(TRANSITION, abs=0.04)
    decoded = model.predict(x, lengths).numpy()
    assert np.mean(np.array(order)[decoded] == states.numpy()) > 0.85
    assert model.log_likelihood_ >= truth.score(x, lengths)  # the MLE beats the true parameters on their data


def test_recovers_a_known_categorical_hmm_and_beats_baum_welch_or_ties():
    emission = np.array([[0.8, 0.15, 0.05], [0.05, 0.25, 0.7]])
    truth = CategoricalHMM.from_parameters(START, TRANSITION, emission)
    lengths = [50] * 40
    x, _ = truth.sample(lengths, seed=1)
    model = CategoricalHMM(2, n_restarts=2, seed=0).fit(x, lengths)
    order = best_relabelling(model.emission_probabilities_.numpy(), emission)
    # 2000 observations leave the MLE up to ~0.06 from the truth (it is Baum-Welch's MLE too, below)
    assert model.emission_probabilities_.numpy()[order] == pytest.approx(emission, abs=0.08)
    assert model.transition_matrix_.numpy()[np.ix_(order, order)] == pytest.approx(TRANSITION, abs=0.05)
    peer = hmmlearn.CategoricalHMM(2, n_iter=2000, tol=1e-4, random_state=0).fit(x.numpy()[:, None], lengths)
    assert model.log_likelihood_ >= peer.score(x.numpy()[:, None], lengths) / len(x) - 1e-7
    # Our maximum is a fixed point of Baum-Welch: started there, EM barely moves.
    polish = hmmlearn.CategoricalHMM(2, n_iter=50, tol=1e-12, init_params="")
    polish.startprob_ = model.start_probabilities_.numpy()
    polish.transmat_ = model.transition_matrix_.numpy()
    polish.emissionprob_ = model.emission_probabilities_.numpy()
    polish.fit(x.numpy()[:, None], lengths)
    assert polish.emissionprob_ == pytest.approx(model.emission_probabilities_.numpy(), abs=1e-4)
    assert polish.transmat_ == pytest.approx(model.transition_matrix_.numpy(), abs=1e-4)
    assert polish.score(x.numpy()[:, None], lengths) / len(x) == pytest.approx(model.log_likelihood_, abs=1e-9)


def test_same_seed_same_fit():
    truth = GaussianHMM.from_parameters(START, TRANSITION, MEANS, COVARIANCES, "full")
    x, _ = truth.sample([40, 60], seed=2)
    first = GaussianHMM(2, n_restarts=2, max_steps=30, seed=3).fit(x, [40, 60])
    again = GaussianHMM(2, n_restarts=2, max_steps=30, seed=3).fit(x, [40, 60])
    assert torch.equal(first.history_, again.history_) and torch.equal(first.transition_matrix_,
                                                                        again.transition_matrix_)


def test_sampling_follows_the_chain():
    truth = CategoricalHMM.from_parameters(START, TRANSITION, [[1.0, 0.0], [0.0, 1.0]])
    x, states = truth.sample(20_000, seed=5)  # one sequence: 20,000 batched draws of one step each
    assert torch.equal(x, states)  # each state emits its own symbol
    pairs = torch.bincount(states[:-1] * 2 + states[1:], minlength=4).view(2, 2).double()
    assert (pairs / pairs.sum(1, keepdim=True)).numpy() == pytest.approx(TRANSITION, abs=0.015)
    again, _ = truth.sample(20_000, seed=5)
    assert torch.equal(x, again)


def test_bad_input_is_refused_with_a_reason():
    x = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(ValueError, match="lengths sum to 20 but the data has 30 rows"):
        GaussianHMM(2).fit(x, [10, 10])
    with pytest.raises(ValueError, match="finite"):
        GaussianHMM(2).fit(np.where(np.arange(60).reshape(30, 2) == 7, np.nan, x))
    with pytest.raises(ValueError, match="n_states must be a positive integer"):
        GaussianHMM(0)
    with pytest.raises(ValueError, match="symbols must be in 0 .. 2"):
        CategoricalHMM(2, n_symbols=3).fit([0, 1, 3, 1])
    with pytest.raises(RuntimeError, match="not fitted"):
        GaussianHMM(2).predict(x)


def test_a_model_made_from_parameters_refits_with_the_defaults_of_a_new_one():
    gaussian = GaussianHMM.from_parameters(START, TRANSITION, MEANS, COVARIANCES)
    assert gaussian.settings == GaussianHMM(2).settings and gaussian.settings.n_restarts == 10
    categorical = CategoricalHMM.from_parameters(START, TRANSITION, [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    assert categorical.settings == CategoricalHMM(2, n_symbols=3).settings
