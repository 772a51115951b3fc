"""``load(path, restore_global_rng=True)`` puts python's, numpy's and torch's global generators back.

The learners draw only from their own generators, so a resumed run reproduces the uninterrupted one
even when the global generators are not restored (``test_resume.py`` cannot see this part). Here the
truth is the global generators' own next draws right after saving.
"""

from __future__ import annotations

import random

import numpy as np
import torch

from ascentrl.agents import Reinforce, ReinforceConfig


def _draws() -> tuple[float, float, list[float]]:
    return random.random(), float(np.random.random()), torch.rand(3).tolist()


def test_load_restores_the_global_generators_as_they_were_at_saving(tmp_path):
    learner = Reinforce(ReinforceConfig(num_envs=2, seed=4))
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    learner.save(tmp_path / "run.pt")
    after_saving = _draws()
    learner.close()

    random.seed(10)
    np.random.seed(20)
    torch.manual_seed(30)
    Reinforce.load(tmp_path / "run.pt").close()
    assert _draws() != after_saving, "without restore_global_rng the global generators are left alone"

    Reinforce.load(tmp_path / "run.pt", restore_global_rng=True).close()
    assert _draws() == after_saving
