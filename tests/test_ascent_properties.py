"""Property-based tests of Ascent: random shapes, dtypes, missing gradients and hyperparameters."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ascentrl import Ascent

shapes = st.lists(st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple), min_size=1, max_size=4)

options = st.one_of(
    st.builds(lambda lr, mu, damp, wd, dec: dict(lr=lr, momentum=mu, dampening=damp, weight_decay=wd,
                                                 decoupled_weight_decay=dec),
              st.floats(0, 0.5), st.floats(0, 0.99), st.floats(0, 1), st.floats(0, 0.5), st.booleans()),
    st.builds(lambda lr, mu, wd: dict(lr=lr, momentum=mu, nesterov=True, weight_decay=wd),
              st.floats(0, 0.5), st.floats(0.01, 0.99), st.floats(0, 0.5)),
    st.builds(lambda lr, b1, b2, wd, dec, nest: dict(lr=lr, adaptive="adam", betas=(b1, b2), weight_decay=wd,
                                                     decoupled_weight_decay=dec, nesterov=nest),
              st.floats(0, 0.5), st.floats(0, 0.99), st.floats(0, 0.999), st.floats(0, 0.5), st.booleans(),
              st.booleans()),
    st.builds(lambda lr, alpha, mu, wd: dict(lr=lr, adaptive="rmsprop", alpha=alpha, momentum=mu, weight_decay=wd),
              st.floats(0, 0.5), st.floats(0, 0.99), st.floats(0, 0.99), st.floats(0, 0.5)),
    st.builds(lambda lr, wd: dict(lr=lr, adaptive="adagrad", weight_decay=wd), st.floats(0, 0.5), st.floats(0, 0.5)),
)
clipping = st.fixed_dictionaries({}, optional={"clip_value": st.floats(0.01, 2), "clip_norm": st.floats(0.01, 2)})


def _run(shape_list, dtypes, missing, opts, path, seed):
    generator = torch.Generator().manual_seed(seed)
    params = [torch.randn(shape, generator=generator, dtype=dtype).requires_grad_()
              for shape, dtype in zip(shape_list, dtypes)]
    optimizer = Ascent(params, **opts, **path)
    for step in range(4):
        for index, param in enumerate(params):
            has_grad = not (missing[index] and step % 2)  # some params skip every other step
            param.grad = torch.randn(param.shape, generator=generator, dtype=param.dtype) if has_grad else None
        optimizer.step()
    return [p.detach() for p in params]


@settings(max_examples=60, deadline=None)
@given(shape_list=shapes, opts=options, clip=clipping, data=st.data())
def test_every_path_computes_the_same_update(shape_list, opts, clip, data):
    dtypes = data.draw(st.lists(st.sampled_from([torch.float32, torch.float64]), min_size=len(shape_list),
                                max_size=len(shape_list)))
    missing = data.draw(st.lists(st.booleans(), min_size=len(shape_list), max_size=len(shape_list)))
    if "clip_norm" in clip:
        dtypes = [torch.float64] * len(shape_list)  # norm clipping couples dtypes through the group norm
    opts = {**opts, **clip}
    reference = _run(shape_list, dtypes, missing, opts, dict(foreach=False), seed=0)
    paths = [dict(foreach=True)]
    if opts.get("adaptive") != "rmsprop" and not (opts.get("adaptive") == "adam" and opts.get("nesterov")):
        paths.append(dict(fused=True))
    for path in paths:
        for ours, expected in zip(_run(shape_list, dtypes, missing, opts, path, seed=0), reference):
            tolerance = 1e-12 if ours.dtype == torch.float64 else 1e-5
            assert torch.allclose(ours, expected, rtol=tolerance, atol=tolerance)


@settings(max_examples=40, deadline=None)
@given(opts=options, n=st.integers(1, 20), seed=st.integers(0, 2**16))
def test_a_small_step_increases_a_concave_objective(opts, n, seed):
    """On J(x) = −‖x − c‖² any mode's first step with a small lr moves J up (or leaves it)."""
    opts = {**opts, "lr": 1e-3, "weight_decay": 0.0}
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=generator, dtype=torch.float64, requires_grad=True)
    target = torch.randn(n, generator=generator, dtype=torch.float64)
    optimizer = Ascent([x], **opts)
    value = -(x - target).pow(2).sum()
    value.backward()
    before = x.detach().clone()
    optimizer.step()
    # The step moves (an optimizer that does nothing fails here) in an ascent direction ...
    assert float((x.grad * (x.detach() - before)).sum()) > 0
    # ... and with lr = 1e-3 it does not overshoot.
    assert -(x - target).pow(2).sum().item() >= value.item() - 1e-15
