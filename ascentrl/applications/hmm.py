r"""Hidden Markov models fitted by gradient ascent on their exact log-likelihood.

The model: ``K`` hidden states with start probabilities ``π = softmax(a)``, transitions
``A_i = softmax(W_i)`` (row ``i`` of logits ``W``), and emissions — Gaussian (full or diagonal
covariances, parameterized as in :mod:`ascentrl.applications.gaussian`) in :class:`GaussianHMM`,
categorical over ``M`` symbols (``softmax`` of logits) in :class:`CategoricalHMM`. Every real
parameter value is a valid HMM. For sequences ``x_1, …, x_S`` of lengths ``L_s`` the objective,
maximized, is the mean log-likelihood per observation

.. math::
    J(θ) = \frac{\sum_s \log p(x_s)}{\sum_s L_s}, \qquad
    \log p(x_s) = \log \sum_{z} π_{z_0} b_{z_0}(x_{s,0}) \prod_{t ≥ 1} A_{z_{t−1} z_t} b_{z_t}(x_{s,t}),

computed by the forward algorithm in log space, multiplied out as a tree over time
(:func:`ascentrl.applications.hmm_inference.log_likelihood`), for all sequences (padded to the
longest) and all restarts in one batch. Autograd through it is the exact gradient, whose value is
Baum–Welch's expected statistics (``∂J/∂ log b_j(x_t) ∝ γ_t(j)``).

Fitting (:meth:`fit`):

1. Gaussian: standardize the observations; k-means++ and Lloyd's iterations on all observations
   (one per restart) give each state a mean and a shrunk covariance, and the labels' consecutive
   pairs give start and transition counts (plus one each). Categorical: random emission
   probabilities (uniform on the simplex), uniform start and transition probabilities, the start
   Baum–Welch implementations such as hmmlearn use.
2. Ascend ``J`` for all restarts at once (:mod:`ascentrl.applications.fitting`); keep the best
   restart. Full batch, the default ``optimizer="mirror"`` takes the gradient of ``Σ_s log p(x_s)``
   in the free log-probabilities — ``∂/∂ log π_j = Σ_s γ_{s,0}(j)``,
   ``∂/∂ log A_ij = Σ_{s,t} ξ_{s,t}(i, j)`` (expected transitions), ``∂/∂ log b_j(x_{s,t}) = γ_{s,t}(j)``:
   forward–backward is the backward pass of the forward algorithm — and maps it back by
   normalizing the counts and matching the emissions' moments, the mirror-ascent step of size 1,
   which is Baum–Welch's update, accelerated as in
   :func:`~ascentrl.applications.fitting.mirror_ascend_likelihood`. ``optimizer="nadam"`` (and
   every fit on minibatches of sequences) takes NAdam steps on ``J``, the start and transition
   logits with a 10x larger learning rate (:data:`CHAIN_LR_SCALE`).

Decoding: :meth:`predict` (Viterbi), :meth:`predict_proba` (forward–backward posteriors).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ascentrl.applications.data import (
    as_lengths,
    as_observations,
    as_symbols,
    check_count,
    copied_tensor,
    pad_sequences,
    unpad,
)
from ascentrl.applications.fitting import (
    AscentSettings,
    ascend_likelihood,
    log_frequencies,
    mirror_ascend_likelihood,
    record_fit,
)
from ascentrl.applications.gaussian import (
    COVARIANCE_TYPES,
    GaussianParameters,
    Standardizer,
    covariances,
    gaussian_log_density,
    gaussian_unit_step,
    natural_coefficients,
    parameters_from_covariances,
    precision_trace,
    sample_gaussians,
    smallest_variances,
    sufficient_statistics,
)
from ascentrl.applications.hmm_inference import expected_counts, log_likelihood, posteriors, viterbi
from ascentrl.applications.initialization import gaussians_from_clusters, kmeans, kmeans_plus_plus

__all__ = ["CategoricalHMM", "GaussianHMM"]

KMEANS_ITERATIONS = 50
CHAIN_LR_SCALE = 10.0
"""Factor on the learning rate of the start and transition logits. Their maximum-likelihood values
often sit on the boundary of the simplex — one sequence puts all its start probability on one
state, an absorbing state has transition probability 0 to the others — which a logit reaches only by
running off to infinity, one step at a time: at the Gaussian parameters' learning rate that took
~1900 steps on a 3-state sequence of 2000 observations, at 10x it took ~200."""


@dataclass
class _EmissionFit:
    """What a subclass hands the shared fit: its emission parameters and how to use them.

    Attributes:
        parameters: leaf tensors to ascend, each with a leading restart dimension.
        log_emission: ``(batch of sequences or None, steps) -> log b`` of shape ``(R, S, T, K)``.
        keep: stores restart ``best`` as the fitted emissions (in data units).
        unit_step: ``posteriors γ (R, S, T, K) -> (targets, collapsed)``: the emission parameters
            whose moments match the posterior-weighted observations (Baum–Welch's M-step), and
            the ``(R, K)`` mask of collapsed Gaussians.
        labels: k-means labels ``(R, N)`` of the observations, to count start and transition
            frequencies from; ``None`` starts the chain uniform.
        log_jacobian: per-observation log-Jacobian of the data transform (standardization).
        precision_traces: ``() -> (R, K)`` collapse watch, ``None`` if nothing can collapse.
        smallest_variances: ``posteriors (R, K, N) -> (R, K)`` smallest variance of each state's own
            observations (the end-of-fit collapse check), ``None`` if nothing can collapse.
    """

    parameters: list[Tensor]
    log_emission: Callable[[Tensor | None, int], Tensor]
    keep: Callable[[int], None]
    unit_step: Callable[[Tensor], tuple[list[Tensor], Tensor]]
    labels: Tensor | None = None
    log_jacobian: float = 0.0
    precision_traces: Callable[[], Tensor] | None = None
    smallest_variances: Callable[[Tensor], Tensor] | None = None


class _HiddenMarkovModel:
    """Start and transition probabilities, the fit, inference and sampling; emissions in subclasses."""

    def __init__(self, n_states: int, *, n_restarts: int, optimizer: str, max_steps: int, lr: float, tol: float,
                 batch_size: int | None, seed: int, min_variance: float, on_collapse: str,
                 dtype: torch.dtype) -> None:
        check_count("n_states", n_states)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        self.n_states = n_states
        self.settings = AscentSettings(n_restarts=n_restarts, optimizer=optimizer, max_steps=max_steps, lr=lr, tol=tol,
                                       batch_size=batch_size, min_variance=min_variance, on_collapse=on_collapse)
        self.seed = seed
        self.dtype = dtype
        self._log_start: Tensor | None = None
        self._log_transition: Tensor | None = None

    # --------------------------------------------------------- emission hooks (subclasses)
    def _validated(self, x: Any, minimum_rows: int) -> Tensor:
        raise NotImplementedError

    def _start_emissions(self, x: Tensor, lengths: Tensor, generator: torch.Generator) -> _EmissionFit:
        raise NotImplementedError

    def _log_emission(self, x: Tensor) -> Tensor:
        """``log b_k(x_n)`` of the fitted model, ``(N, K)``."""
        raise NotImplementedError

    def _sample_emissions(self, states: Tensor, generator: torch.Generator) -> Tensor:
        raise NotImplementedError

    # ------------------------------------------------------------------------------ fitting
    def fit(self, x: Any, lengths: Any = None) -> _HiddenMarkovModel:
        """Fit to the rows of ``x`` (sequences concatenated), split by ``lengths`` (one sequence if None).

        Raises:
            ValueError: bad data or lengths (not summing to the number of rows, ...).
            CovarianceCollapseError: a Gaussian state's covariance collapsed (see ``on_collapse``).
        """
        x = self._validated(x, self.n_states)
        lengths = as_lengths(lengths, x.shape[0])
        generator = torch.Generator().manual_seed(self.seed)
        n_restarts = self.settings.n_restarts
        emissions = self._start_emissions(x, lengths, generator)
        labels = emissions.labels
        start_counts = torch.ones(n_restarts, self.n_states, dtype=self.dtype)
        transition_counts = torch.ones(n_restarts, self.n_states, self.n_states, dtype=self.dtype)
        if labels is not None:
            first = torch.cumsum(lengths, 0) - lengths
            start_counts += torch.nn.functional.one_hot(labels[:, first], self.n_states).sum(1)
            follows = torch.ones(x.shape[0], dtype=torch.bool)
            follows[first] = False  # pairs (t−1, t) inside a sequence, not across two
            pair_index = labels[:, :-1] * self.n_states + labels[:, 1:]
            pairs = torch.nn.functional.one_hot(pair_index[:, follows[1:]], self.n_states**2).sum(1)
            transition_counts += pairs.view(n_restarts, self.n_states, self.n_states)
        start_logits = torch.log(start_counts / start_counts.sum(-1, keepdim=True)).requires_grad_()
        transition_logits = torch.log(transition_counts / transition_counts.sum(-1, keepdim=True)).requires_grad_()

        def objective(batch: Tensor | None) -> Tensor:
            chosen = lengths if batch is None else lengths[batch]
            emission = emissions.log_emission(batch, int(chosen.max()))  # (R, S, T, K)
            log_p = log_likelihood(torch.log_softmax(start_logits, -1), torch.log_softmax(transition_logits, -1),
                                   emission, chosen)
            return log_p.sum(-1) / chosen.sum()

        def own_point_variances() -> Tensor:
            gamma, _ = posteriors(torch.log_softmax(start_logits, -1), torch.log_softmax(transition_logits, -1),
                                  emissions.log_emission(None, int(lengths.max())), lengths)
            return emissions.smallest_variances(unpad(gamma.movedim(0, 2), lengths).movedim(0, -1))  # (R, K, N)

        def evaluate() -> tuple[Tensor, tuple[Tensor, Tensor, Tensor]]:  # J and the expected counts
            *counts, log_p = expected_counts(torch.log_softmax(start_logits, -1),
                                             torch.log_softmax(transition_logits, -1),
                                             emissions.log_emission(None, int(lengths.max())), lengths)
            return log_p.sum(-1) / lengths.sum(), tuple(counts)

        def unit_step(counts: tuple[Tensor, Tensor, Tensor]) -> tuple[list[Tensor], Tensor]:  # Baum–Welch
            start, transition, gamma = counts
            emission_targets, collapsed = emissions.unit_step(gamma)
            return [log_frequencies(start, len(lengths)),
                    log_frequencies(transition, transition.sum(-1, keepdim=True)), *emission_targets], collapsed

        parameters = [start_logits, transition_logits, *emissions.parameters]
        if self.settings.mirror(len(lengths)):
            trace = mirror_ascend_likelihood(parameters, evaluate, unit_step, self.settings,
                                             emissions.precision_traces, unit="state")
        else:
            trace = ascend_likelihood(parameters, objective, len(lengths), self.settings, generator,
                                      emissions.precision_traces,
                                      None if emissions.smallest_variances is None else own_point_variances,
                                      unit="state",
                                      lr_scales=[CHAIN_LR_SCALE, CHAIN_LR_SCALE] + [1.0] * len(emissions.parameters))
        best = trace.best_restart
        self._log_start = torch.log_softmax(start_logits[best].detach(), -1)
        self._log_transition = torch.log_softmax(transition_logits[best].detach(), -1)
        emissions.keep(best)
        record_fit(self, trace, emissions.log_jacobian)
        return self

    def _set_chain(self, start: Any, transition: Any) -> None:
        start = copied_tensor(start, self.dtype)
        transition = copied_tensor(transition, self.dtype)
        if start.shape != (self.n_states,) or transition.shape != (self.n_states, self.n_states):
            raise ValueError(f"start must have shape ({self.n_states},) and transition ({self.n_states}, "
                             f"{self.n_states}); got {tuple(start.shape)} and {tuple(transition.shape)}")
        if bool((start < 0).any()) or bool((transition < 0).any()):
            raise ValueError("start and transition probabilities must be non-negative")
        self._log_start = torch.log(start / start.sum())
        self._log_transition = torch.log(transition / transition.sum(-1, keepdim=True))

    # ----------------------------------------------------------------------------- the model
    def _chain(self) -> tuple[Tensor, Tensor]:
        if self._log_start is None or self._log_transition is None:
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet; call fit(x, lengths) first")
        return self._log_start, self._log_transition

    @property
    def start_probabilities_(self) -> Tensor:
        return torch.exp(self._chain()[0])

    @property
    def transition_matrix_(self) -> Tensor:
        return torch.exp(self._chain()[1])

    def _inference_inputs(self, x: Any, lengths: Any) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        log_start, log_transition = self._chain()
        x = self._validated(x, 1)
        lengths = as_lengths(lengths, x.shape[0])
        return log_start, log_transition, pad_sequences(self._log_emission(x), lengths), lengths

    def score_sequences(self, x: Any, lengths: Any = None) -> Tensor:
        """``log p(x_s)`` of every sequence, shape ``(S,)``."""
        return log_likelihood(*self._inference_inputs(x, lengths))

    def score(self, x: Any, lengths: Any = None) -> float:
        """Mean log-likelihood per observation, ``Σ_s log p(x_s) / Σ_s L_s`` (hmmlearn's ``score`` is the sum)."""
        log_start, log_transition, emission, lengths = self._inference_inputs(x, lengths)
        return float(log_likelihood(log_start, log_transition, emission, lengths).sum() / lengths.sum())

    def predict_proba(self, x: Any, lengths: Any = None) -> Tensor:
        """Posteriors ``p(z_t = k | x_s)`` by forward–backward, rows as in ``x``, shape ``(N, K)``."""
        log_start, log_transition, emission, lengths = self._inference_inputs(x, lengths)
        return unpad(posteriors(log_start, log_transition, emission, lengths)[0], lengths)

    def decode(self, x: Any, lengths: Any = None) -> tuple[Tensor, Tensor]:
        """Viterbi: ``log max_z p(x_s, z)`` per sequence ``(S,)`` and the states, rows as in ``x`` ``(N,)``."""
        log_start, log_transition, emission, lengths = self._inference_inputs(x, lengths)
        best, paths = viterbi(log_start, log_transition, emission, lengths)
        return best, unpad(paths, lengths)

    def predict(self, x: Any, lengths: Any = None) -> Tensor:
        """The most probable state sequence (Viterbi), rows as in ``x``, shape ``(N,)``."""
        return self.decode(x, lengths)[1]

    def sample(self, lengths: Any, seed: int = 0) -> tuple[Tensor, Tensor]:
        """Sequences of the given lengths (an int for one sequence) and their states, rows concatenated."""
        log_start, log_transition = self._chain()
        lengths = torch.as_tensor([lengths] if isinstance(lengths, int) else lengths, dtype=torch.int64)
        lengths = as_lengths(lengths, int(lengths.sum()))
        generator = torch.Generator().manual_seed(seed)
        transition = torch.exp(log_transition)
        state = torch.multinomial(torch.exp(log_start).expand(len(lengths), -1), 1, generator=generator).squeeze(-1)
        states = [state]
        for _ in range(1, int(lengths.max())):
            state = torch.multinomial(transition[state], 1, generator=generator).squeeze(-1)
            states.append(state)
        states = unpad(torch.stack(states, dim=1), lengths)
        return self._sample_emissions(states, generator), states


class GaussianHMM(_HiddenMarkovModel):
    """An HMM with Gaussian emissions fitted by gradient ascent (see the module docstring).

    Args:
        n_states: ``K ≥ 1``.
        covariance_type: ``"full"`` or ``"diag"``.
        n_restarts, optimizer, max_steps, lr, tol, batch_size (sequences per step), seed, min_variance,
        on_collapse, dtype: as for :class:`~ascentrl.applications.GaussianMixture`.

    Attributes (after :meth:`fit`, in data units): start_probabilities_ ``(K,)``,
    transition_matrix_ ``(K, K)``, means_ ``(K, D)``, covariances_, log_likelihood_ (mean per
    observation), restart_log_likelihoods_, best_restart_, n_steps_, converged_, collapses_, history_.
    """

    def __init__(self, n_states: int, *, covariance_type: str = "full", n_restarts: int = 10,
                 optimizer: str = "mirror", max_steps: int = 2000, lr: float = 0.1, tol: float = 1e-10,
                 batch_size: int | None = None, seed: int = 0, min_variance: float = 1e-8, on_collapse: str = "drop",
                 dtype: torch.dtype = torch.float64) -> None:
        if covariance_type not in COVARIANCE_TYPES:
            raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}, got {covariance_type!r}")
        super().__init__(n_states, n_restarts=n_restarts, optimizer=optimizer, max_steps=max_steps, lr=lr, tol=tol,
                         batch_size=batch_size, seed=seed, min_variance=min_variance, on_collapse=on_collapse,
                         dtype=dtype)
        self.covariance_type = covariance_type
        self._gaussians: GaussianParameters | None = None

    @classmethod
    def from_parameters(cls, start: Any, transition: Any, means: Any, covariances: Any,
                        covariance_type: str = "full", dtype: torch.dtype = torch.float64) -> GaussianHMM:
        """A model with known parameters, e.g. to score, decode or sample."""
        means = copied_tensor(means, dtype)
        model = cls(means.shape[0], covariance_type=covariance_type, dtype=dtype)
        model._set_chain(start, transition)
        model._gaussians = parameters_from_covariances(means, copied_tensor(covariances, dtype),
                                                       covariance_type)
        return model

    def _validated(self, x: Any, minimum_rows: int) -> Tensor:
        features = None if self._gaussians is None else self._gaussians.means.shape[-1]
        return as_observations(x, self.dtype, minimum_rows=minimum_rows, what="observations", per="state",
                               features=features)

    def _start_emissions(self, x: Tensor, lengths: Tensor, generator: torch.Generator) -> _EmissionFit:
        standardizer = Standardizer(x)
        z = standardizer.transform(x)
        centres = kmeans_plus_plus(z, self.n_states, self.settings.n_restarts, generator)
        _, labels = kmeans(z, centres, KMEANS_ITERATIONS)
        _, means, covariance = gaussians_from_clusters(z, labels, self.n_states)
        if self.covariance_type == "diag":
            covariance = torch.diagonal(covariance, dim1=-2, dim2=-1)
        start = parameters_from_covariances(means, covariance, self.covariance_type)
        gaussians = start.map(lambda tensor: tensor.clone().requires_grad_())
        statistics = pad_sequences(sufficient_statistics(z, self.covariance_type), lengths)  # (S, T, F)

        def log_emission(batch: Tensor | None, steps: int) -> Tensor:
            chosen = (statistics if batch is None else statistics[batch])[:, :steps]
            coefficients = natural_coefficients(gaussians)  # (R, K, F)
            n_restarts, n_states, n_statistics = coefficients.shape
            densities = chosen.reshape(-1, n_statistics) @ coefficients.reshape(-1, n_statistics).T
            return densities.view(*chosen.shape[:2], n_restarts, n_states).permute(2, 0, 1, 3)

        def keep(best: int) -> None:
            self._gaussians = standardizer.to_data_units(gaussians.map(lambda tensor: tensor[best].detach().clone()))

        def unit_step(gamma: Tensor) -> tuple[list[Tensor], Tensor]:
            weights = gamma.flatten(1, 2).transpose(1, 2)  # (R, K, S·T), zero at padded steps
            expected = weights @ statistics.flatten(0, 1)  # (R, K, F)
            _, target, collapsed = gaussian_unit_step(expected, z.shape[1], self.covariance_type,
                                                      self.settings.min_variance)
            return target.tensors(), collapsed

        return _EmissionFit(gaussians.tensors(), log_emission, keep, unit_step, labels, standardizer.log_jacobian,
                            lambda: precision_trace(gaussians),
                            lambda weights: smallest_variances(z, weights, self.covariance_type))

    def _fitted_gaussians(self) -> GaussianParameters:
        if self._gaussians is None:
            raise RuntimeError("this GaussianHMM is not fitted yet; call fit(x, lengths) first")
        return self._gaussians

    @property
    def means_(self) -> Tensor:
        return self._fitted_gaussians().means

    @property
    def covariances_(self) -> Tensor:
        return covariances(self._fitted_gaussians())

    def _log_emission(self, x: Tensor) -> Tensor:
        return gaussian_log_density(x, self._fitted_gaussians()).T

    def _sample_emissions(self, states: Tensor, generator: torch.Generator) -> Tensor:
        return sample_gaussians(self._fitted_gaussians(), states, generator)


class CategoricalHMM(_HiddenMarkovModel):
    """An HMM with categorical emissions over symbols ``0 … M−1``, fitted by gradient ascent.

    Observations are integers, one per row (shape ``(N,)`` or ``(N, 1)``).

    Args:
        n_states: ``K ≥ 1``.
        n_symbols: ``M``; by default one more than the largest symbol in the data given to :meth:`fit`.
        n_restarts, optimizer, max_steps, lr, tol, batch_size (sequences per step), seed, dtype: as for
            :class:`~ascentrl.applications.GaussianMixture`.

    Attributes (after :meth:`fit`): start_probabilities_, transition_matrix_,
    emission_probabilities_ ``(K, M)``, log_likelihood_, restart_log_likelihoods_, best_restart_,
    n_steps_, converged_, history_.
    """

    def __init__(self, n_states: int, *, n_symbols: int | None = None, n_restarts: int = 10,
                 optimizer: str = "mirror", max_steps: int = 2000, lr: float = 0.1, tol: float = 1e-10,
                 batch_size: int | None = None, seed: int = 0, dtype: torch.dtype = torch.float64) -> None:
        if n_symbols is not None:
            check_count("n_symbols", n_symbols)
        super().__init__(n_states, n_restarts=n_restarts, optimizer=optimizer, max_steps=max_steps, lr=lr, tol=tol,
                         batch_size=batch_size, seed=seed, min_variance=1e-8, on_collapse="drop", dtype=dtype)
        self.n_symbols = n_symbols
        self._log_emission_probabilities: Tensor | None = None

    @classmethod
    def from_parameters(cls, start: Any, transition: Any, emission: Any,
                        dtype: torch.dtype = torch.float64) -> CategoricalHMM:
        """A model with known parameters; ``emission`` is ``(K, M)``, rows summing to one."""
        emission = torch.as_tensor(emission, dtype=dtype)
        if emission.dim() != 2 or bool((emission < 0).any()):
            raise ValueError("emission must be a (K, M) matrix of non-negative probabilities")
        model = cls(emission.shape[0], n_symbols=emission.shape[1], dtype=dtype)
        model._set_chain(start, transition)
        model._log_emission_probabilities = torch.log(emission / emission.sum(-1, keepdim=True))
        return model

    def _validated(self, x: Any, minimum_rows: int) -> Tensor:
        return as_symbols(x, minimum_rows=minimum_rows, n_symbols=self.n_symbols)

    def _start_emissions(self, x: Tensor, lengths: Tensor, generator: torch.Generator) -> _EmissionFit:
        if self.n_symbols is None:
            self.n_symbols = int(x.max()) + 1
        shape = (self.settings.n_restarts, self.n_states, self.n_symbols)
        uniform = torch.rand(shape, generator=generator, dtype=self.dtype)
        # -log(u) is Exp(1); normalized exponentials are uniform on the simplex (Dirichlet(1, …, 1))
        emission_logits = torch.log(-torch.log(uniform)).requires_grad_()
        symbols = pad_sequences(x, lengths)  # (S, T)

        def log_emission(batch: Tensor | None, steps: int) -> Tensor:
            chosen = (symbols if batch is None else symbols[batch])[:, :steps]
            return torch.log_softmax(emission_logits, -1).transpose(-1, -2)[:, chosen]  # (R, S, T, K)

        def keep(best: int) -> None:
            self._log_emission_probabilities = torch.log_softmax(emission_logits[best].detach(), -1)

        one_hot = torch.nn.functional.one_hot(symbols.flatten(), self.n_symbols).to(self.dtype)  # (S·T, M)

        def unit_step(gamma: Tensor) -> tuple[list[Tensor], Tensor]:
            counts = gamma.flatten(1, 2).transpose(1, 2) @ one_hot  # (R, K, M); padded steps weigh 0
            nothing_collapses = torch.zeros(counts.shape[:2], dtype=torch.bool)
            return [log_frequencies(counts, counts.sum(-1, keepdim=True))], nothing_collapses

        return _EmissionFit([emission_logits], log_emission, keep, unit_step)

    @property
    def emission_probabilities_(self) -> Tensor:
        if self._log_emission_probabilities is None:
            raise RuntimeError("this CategoricalHMM is not fitted yet; call fit(x, lengths) first")
        return torch.exp(self._log_emission_probabilities)

    def _log_emission(self, x: Tensor) -> Tensor:
        return self._log_emission_probabilities.T[x]  # (N, K)

    def _sample_emissions(self, states: Tensor, generator: torch.Generator) -> Tensor:
        return torch.multinomial(self.emission_probabilities_[states], 1, generator=generator).squeeze(-1)
