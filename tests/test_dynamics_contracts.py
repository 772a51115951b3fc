"""The game dynamics' shared plumbing (ascentrl.games.dynamics_base) and options, against hand values:
keyword options reach the base class for every method, projections run after each step, argument
checks at their boundaries, per-game reductions over batch dimensions, memory copied in and out of
state dicts, SGA's alignment score normalized by the number of parameters, and the alternating
method's second player seeing the first one's move. Every player **maximizes** its objective."""

from __future__ import annotations

import math

import pytest
import torch

from ascentrl import Ascent
from ascentrl.games import DYNAMICS, make_dynamics


def scalars(*values: float) -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.tensor(value, dtype=torch.float64)) for value in values]


def ascents(players, lr: float = 0.1) -> list[Ascent]:
    return [Ascent([player], lr=lr) for player in players]


@pytest.mark.parametrize("method", list(DYNAMICS))
def test_keyword_options_of_the_base_class_reach_every_method(method):
    """batch_dims and projections given by keyword: a batch of two games, and a projection that
    clamps the first player to [-0.05, 0.05]."""
    x = torch.nn.Parameter(torch.tensor([0.0, 1.0], dtype=torch.float64))
    y = torch.nn.Parameter(torch.tensor([1.0, 0.0], dtype=torch.float64))
    dynamics = make_dynamics(method, [x, y], lambda: [x * y, -x * y], ascents([x, y]), batch_dims=1,
                             projections=[lambda t: t.clamp(-0.05, 0.05), None])
    assert dynamics.batch_dims == 1
    dynamics.step()
    assert bool((x.detach().abs() <= 0.05).all())
    assert float(x.detach()[0]) == pytest.approx(0.05)  # game 0: x ascends y = 1 → 0.1, clamped


def test_a_projection_sees_the_stepped_parameter():
    x, y = scalars(0.0, 2.0)
    seen = []
    projection = lambda t: seen.append(float(t.detach())) or t * 0.5  # noqa: E731
    make_dynamics("simultaneous", [x, y], lambda: [x * y, -x * y], ascents([x, y]),
                  projections=[projection, None]).step()
    assert seen == [pytest.approx(0.2)] and float(x.detach()) == pytest.approx(0.1)


@pytest.mark.parametrize(("options", "message"), [
    ({"batch_dims": -1}, "batch_dims must be an int >= 0"),
    ({"batch_dims": 1.0}, "batch_dims must be an int >= 0"),
    ({"projections": [None]}, "projections must hold 2 entries"),
    ({"projections": [None, None, None]}, "projections must hold 2 entries"),
    ({"projections": [None, "clamp"]}, "projections must hold 2 entries"),
])
def test_base_arguments_are_checked(options, message):
    x, y = scalars(0.0, 0.0)
    with pytest.raises(ValueError, match=message):
        make_dynamics("simultaneous", [x, y], lambda: [x * y, -x * y], ascents([x, y]), **options)


def test_players_given_as_one_tensor_are_refused():
    x = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    with pytest.raises((TypeError, ValueError), match="players"):
        make_dynamics("simultaneous", x, lambda: [x.sum(), -x.sum()], ascents([x]))


@pytest.mark.parametrize(("method", "option"), [("sga", "alignment_epsilon"), ("lola", "lookahead"),
                                                ("consensus", "consensus_weight")])
def test_non_negative_options_accept_zero_and_refuse_negatives_and_infinity(method, option):
    x, y = scalars(0.0, 0.0)
    make_dynamics(method, [x, y], lambda: [x * y, -x * y], ascents([x, y]), **{option: 0.0})
    for bad in (-1e-3, math.inf, True):
        with pytest.raises(ValueError, match=rf"^{option} must be a finite number >= 0"):
            make_dynamics(method, [x, y], lambda: [x * y, -x * y], ascents([x, y]), **{option: bad})


def test_two_player_methods_name_the_number_of_players():
    x, y, z = scalars(0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="needs 2 players, got 3"):
        make_dynamics("lola", [x, y, z], lambda: [x, y, z], ascents([x, y, z]))


def test_alternating_second_player_answers_the_first_players_move():
    """u_x = xy, u_y = -xy from (1, 1), lr 0.1: x moves to 1 + 0.1·1 = 1.1; y then ascends -x at the new
    x: 1 - 0.1·1.1 = 0.89."""
    x, y = scalars(1.0, 1.0)
    make_dynamics("alternating", [x, y], lambda: [x * y, -x * y], ascents([x, y])).step()
    assert (x.item(), y.item()) == (pytest.approx(1.1), pytest.approx(0.89))


def cloned(value):
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, (list, tuple)):
        return [cloned(item) for item in value]
    return value


def same(first, second) -> bool:
    if isinstance(first, torch.Tensor):
        return torch.equal(first, second)
    if isinstance(first, (list, tuple)):
        return len(first) == len(second) and all(same(a, b) for a, b in zip(first, second))
    return first == second


def test_state_dicts_hold_copies_of_the_memory():
    """The optimistic method remembers the previous gradients; neither its state dict nor a loaded
    one may alias the memory that later steps overwrite."""
    x, y = scalars(1.0, 1.0)
    dynamics = make_dynamics("optimistic", [x, y], lambda: [x * y, -x * y], ascents([x, y]))
    dynamics.step()
    state = dynamics.state_dict()
    saved = cloned(state)
    assert any(isinstance(value, (list, torch.Tensor)) for value in saved.values())  # there is memory
    dynamics.step()
    assert all(same(saved[key], state[key]) for key in saved)
    other = make_dynamics("optimistic", [x, y], lambda: [x * y, -x * y], ascents([x, y]))
    other.load_state_dict(state)
    other.step()
    assert all(same(saved[key], state[key]) for key in saved)


def test_sga_alignment_score_is_divided_by_the_parameter_count():
    """u_x = xy + x²/2, u_y = -xy + xy²/4 ... any game with a symmetric part: with a = ⟨g, Jᵀg⟩ and
    b = ⟨Aᵀg, Jᵀg⟩ (computed here by autograd) and d = 2 parameters, ε = ab puts -ab/d + ε = ab/2 > 0
    and -ab·d + ε < 0 on opposite sides, so the step tells whether the score is divided by d."""
    def objectives_of(x, y):
        return lambda: [x * y + 0.5 * x * x, -x * y + 0.25 * x * y * y]

    start = (0.7, -1.3)
    theta = torch.tensor(start, dtype=torch.float64)

    def gradient(t):
        x, y = t[0], t[1]
        return torch.stack([y + x, -x + 0.5 * x * y])

    g = gradient(theta)
    jacobian = torch.autograd.functional.jacobian(gradient, theta)
    transposed = jacobian.T @ g
    antisymmetric = (jacobian.T - jacobian) @ g / 2
    a, b = float(g @ transposed), float(antisymmetric @ transposed)
    assert a * b > 0
    expected = theta + 0.1 * (g - 0.5 * antisymmetric)  # score ab/2 > 0: sign +1
    x, y = scalars(*start)
    make_dynamics("sga", [x, y], objectives_of(x, y), ascents([x, y]), adjustment=0.5, alignment=True,
                  alignment_epsilon=a * b).step()
    assert (x.item(), y.item()) == (pytest.approx(float(expected[0])), pytest.approx(float(expected[1])))


def test_sga_alignment_score_is_normalized_by_the_parameter_count_and_zero_counts_as_aligned():
    """SGA's sign rule: λ·sign(-⟨g, Jᵀg⟩⟨Aᵀg, Jᵀg⟩/d + ε) with sign(0) = +1. On u_x = xy, u_y = -xy
    (J antisymmetric, Jᵀg ⊥ g) the score is ε exactly, so the sign is +1 with ε = 0 too; the step is
    g - λAᵀg."""
    for epsilon in (0.0, 0.1):
        x, y = scalars(1.0, 2.0)
        make_dynamics("sga", [x, y], lambda x=x, y=y: [x * y, -x * y], ascents([x, y]), adjustment=0.5,
                      alignment=True, alignment_epsilon=epsilon).step()
        # g = (y, -x) = (2, -1); J = [[0, 1], [-1, 0]]; Aᵀg = Jᵀg = (1, 2) ... g - λAᵀg = (1.5, -2).
        assert (x.item(), y.item()) == (pytest.approx(1.15), pytest.approx(1.8))


def test_one_player_too_few_is_named_with_the_minimum():
    (x,) = scalars(0.0)
    with pytest.raises(ValueError, match="needs >= 2 players, got 1"):
        make_dynamics("simultaneous", [x], lambda: [x], ascents([x]))


def test_players_must_be_a_sequence():
    with pytest.raises(TypeError, match="players"):
        make_dynamics("simultaneous", 5, lambda: [], [])


def test_a_non_number_option_is_refused_by_name():
    x, y = scalars(0.0, 0.0)
    with pytest.raises(ValueError, match="lookahead"):
        make_dynamics("lola", [x, y], lambda: [x * y, -x * y], ascents([x, y]), lookahead="large")


def test_alternating_returns_the_objectives_before_anyone_moved():
    x, y = scalars(1.0, 1.0)
    values = make_dynamics("alternating", [x, y], lambda: [x * y, -x * y], ascents([x, y])).step()
    assert values.tolist() == [1.0, -1.0]


@pytest.mark.parametrize("method", ["sga", "consensus"])
def test_second_order_methods_with_unused_and_split_parameters(method):
    """Players of two tensors each, one of which no objective reads: the split back into tensors
    matches one-tensor players' steps, and the unused tensor gets a zero direction."""
    x1, x2, unused, y1, y2 = (torch.nn.Parameter(torch.tensor(v, dtype=torch.float64))
                              for v in (0.3, -0.2, 5.0, 0.7, 0.1))
    split = make_dynamics(method, [[x1, x2, unused], [y1, y2]],
                          lambda: [x1 * y1 + x2 * y2 + 0.5 * x1 * x1, -x1 * y1 - x2 * y2],
                          [Ascent([x1, x2, unused], lr=0.1), Ascent([y1, y2], lr=0.1)])
    split.step()
    x = torch.nn.Parameter(torch.tensor([0.3, -0.2], dtype=torch.float64))
    y = torch.nn.Parameter(torch.tensor([0.7, 0.1], dtype=torch.float64))
    whole = make_dynamics(method, [x, y], lambda: [(x * y).sum() + 0.5 * x[0] * x[0], -(x * y).sum()],
                          [Ascent([x], lr=0.1), Ascent([y], lr=0.1)])
    whole.step()
    assert [x1.item(), x2.item(), y1.item(), y2.item()] == pytest.approx(x.tolist() + y.tolist(), abs=1e-12)
    assert unused.item() == 5.0


def test_constant_objectives_give_zero_second_order_terms():
    x, y = scalars(1.0, 2.0)
    make_dynamics("consensus", [x, y], lambda: [torch.tensor(1.0), torch.tensor(2.0)], ascents([x, y])).step()
    assert (x.item(), y.item()) == (1.0, 2.0)


def test_sga_decides_the_sign_per_game():
    """A batch of the asymmetric game above at two starts (and a batch of one) steps each game as
    it steps alone."""
    def objectives_of(x, y):
        return lambda: [x * y + 0.5 * x * x, -x * y + 0.25 * x * y * y]

    starts = [(0.7, -1.3), (-0.4, 0.9)]
    alone = []
    for start in starts:
        x, y = scalars(*start)
        make_dynamics("sga", [x, y], objectives_of(x, y), ascents([x, y]), adjustment=0.5, alignment=True,
                      alignment_epsilon=0.05).step()
        alone.append((x.item(), y.item()))
    for games in (starts, starts[:1]):
        x = torch.nn.Parameter(torch.tensor([s[0] for s in games], dtype=torch.float64))
        y = torch.nn.Parameter(torch.tensor([s[1] for s in games], dtype=torch.float64))
        make_dynamics("sga", [x, y], objectives_of(x, y), ascents([x, y]), adjustment=0.5, alignment=True,
                      alignment_epsilon=0.05, batch_dims=1).step()
        expected = [value for pair in alone[:len(games)] for value in pair]
        assert [value for pair in zip(x.tolist(), y.tolist()) for value in pair] == pytest.approx(expected, abs=1e-12)


def test_documented_option_defaults():
    x, y = scalars(0.0, 0.0)

    def build(method):
        return make_dynamics(method, [x, y], lambda: [x * y, -x * y], ascents([x, y]))

    assert build("lola").lookahead == 1.0 and build("consensus").consensus_weight == 1.0
    sga = build("sga")
    assert (sga.adjustment, sga.alignment, sga.alignment_epsilon) == (1.0, True, 0.1)


class PlainSGD(torch.optim.Optimizer):
    """A minimal optimizer whose parameter groups have no "maximize" entry: it descends."""

    def __init__(self, params):
        super().__init__(params, {"lr": 0.1})

    def step(self, closure=None):
        return None


def test_an_optimizer_without_a_maximize_setting_counts_as_descending():
    x, y = scalars(0.0, 0.0)
    with pytest.raises(ValueError, match=r"optimizers\[0\] would descend the objective"):
        make_dynamics("simultaneous", [x, y], lambda: [x * y, -x * y], [PlainSGD([x]), Ascent([y], lr=0.1)])


def test_three_players_with_split_parameters():
    """Consensus on a three-player game whose first player holds two tensors: the split back into
    tensors matches one-tensor players' steps (a wrong slice offset would move the third player)."""
    a1, a2, b, c = (torch.nn.Parameter(torch.tensor(v, dtype=torch.float64)) for v in (0.3, -0.2, 0.5, -0.4))
    split = make_dynamics("consensus", [[a1, a2], [b], [c]],
                          lambda: [a1 * b + a2 * c + 0.5 * a1 * a1, b * c - a1 * b, -a2 * c - b * c],
                          [Ascent([a1, a2], lr=0.1), Ascent([b], lr=0.1), Ascent([c], lr=0.1)])
    split.step()
    a = torch.nn.Parameter(torch.tensor([0.3, -0.2], dtype=torch.float64))
    b0, c0 = scalars(0.5, -0.4)
    whole = make_dynamics("consensus", [a, b0, c0],
                          lambda: [a[0] * b0 + a[1] * c0 + 0.5 * a[0] * a[0], b0 * c0 - a[0] * b0,
                                   -a[1] * c0 - b0 * c0],
                          [Ascent([a], lr=0.1), Ascent([b0], lr=0.1), Ascent([c0], lr=0.1)])
    whole.step()
    assert [a1.item(), a2.item(), b.item(), c.item()] == pytest.approx(a.tolist() + [b0.item(), c0.item()], abs=1e-12)


def test_sga_decides_the_sign_per_game_for_vector_players():
    """Players holding two parameters per game, batch of two games: the alignment score of each game
    sums over that game's parameters only, so the batch steps as each game alone."""
    def objectives_of(x, y):
        return lambda: [(x * y).sum(-1) + 0.5 * x[..., 0] ** 2, -(x * y).sum(-1) + 0.25 * x[..., 1] * y[..., 0] ** 2]

    starts = [([0.7, -0.2], [-1.3, 0.4]), ([-1.0, 1.2], [0.5, 0.5])]  # scores +0.003 and -1.56 (by autograd)
    alone = []
    for start_x, start_y in starts:
        x = torch.nn.Parameter(torch.tensor(start_x, dtype=torch.float64))
        y = torch.nn.Parameter(torch.tensor(start_y, dtype=torch.float64))
        make_dynamics("sga", [x, y], objectives_of(x, y), ascents([x, y]), alignment_epsilon=0.05).step()
        alone.append(x.tolist() + y.tolist())
    x = torch.nn.Parameter(torch.tensor([s[0] for s in starts], dtype=torch.float64))
    y = torch.nn.Parameter(torch.tensor([s[1] for s in starts], dtype=torch.float64))
    make_dynamics("sga", [x, y], objectives_of(x, y), ascents([x, y]), alignment_epsilon=0.05, batch_dims=1).step()
    batched = [x[game].tolist() + y[game].tolist() for game in range(2)]
    assert [v for row in batched for v in row] == pytest.approx([v for row in alone for v in row], abs=1e-12)
