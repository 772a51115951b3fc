"""Policy files keyed by OpenSpiel information-state strings: round trips and every refusal.

Truths used: OpenSpiel's ``TabularPolicy`` (a policy written here and loaded into it gives the
same NashConv under OpenSpiel's ``exploitability.nash_conv``, and one taken from OpenSpiel's CFR+
comes back unchanged) and the format's own definition (legal actions only, OpenSpiel's order).
"""

from __future__ import annotations

import json

import numpy as np
import pyspiel
import pytest
import torch
from harness.openspiel_policies import from_tabular_policy
from open_spiel.python import policy as openspiel_policy
from open_spiel.python.algorithms import cfr as openspiel_cfr
from open_spiel.python.algorithms import exploitability as openspiel_exploitability

from ascentrl.games.extensive import (
    load_policy,
    make_game,
    nash_conv,
    policy_from_dict,
    policy_to_dict,
    random_policy,
    save_policy,
    sequence_form,
)


@pytest.fixture(scope="module")
def leduc():
    return make_game("leduc_poker")


def test_format_lists_legal_actions_in_openspiels_order(leduc):
    mapping = policy_to_dict(leduc, random_policy(leduc, generator=torch.Generator().manual_seed(0)))
    assert set(mapping) == set(leduc.information_states)
    opening = "[Observer: 0][Private: 3][Round 1][Player: 0][Pot: 2][Money: 99 99][Round1: ][Round2: ]"
    facing_a_raise = "[Observer: 1][Private: 3][Round 1][Player: 1][Pot: 4][Money: 97 99][Round1: 2][Round2: ]"
    assert len(mapping[opening]) == 2 and len(mapping[facing_a_raise]) == 3  # call, raise / fold, call, raise
    assert all(sum(row) == pytest.approx(1, abs=1e-12) for row in mapping.values())


def test_round_trip_through_a_file_and_through_openspiel(leduc, tmp_path):
    policy = random_policy(leduc, generator=torch.Generator().manual_seed(1))
    path = save_policy(tmp_path / "policy.json", leduc, policy)
    loaded = load_policy(path, leduc)
    assert torch.allclose(loaded, policy, atol=1e-15, rtol=0)

    openspiel_game = pyspiel.load_game("leduc_poker")
    tabular = openspiel_policy.TabularPolicy(openspiel_game)
    for key, probabilities in json.loads(path.read_text()).items():  # what a user of OpenSpiel would write
        row = tabular.state_lookup[key]
        tabular.action_probability_array[row] = 0
        tabular.action_probability_array[row][tabular.legal_actions_mask[row] == 1] = probabilities
    expected = openspiel_exploitability.nash_conv(openspiel_game, tabular)
    assert float(nash_conv(leduc, sequence_form(leduc, loaded))) == pytest.approx(expected, abs=1e-9)


def test_a_policy_from_openspiel_comes_back_unchanged():
    kuhn, openspiel_game = make_game("kuhn_poker"), pyspiel.load_game("kuhn_poker")
    solver = openspiel_cfr.CFRPlusSolver(openspiel_game)
    for _ in range(5):
        solver.evaluate_and_update_policy()
    average = solver.average_policy()
    mapping = {key: [float(p) for p in average.action_probability_array[row][average.legal_actions_mask[row] == 1]]
               for key, row in average.state_lookup.items()}
    table = policy_from_dict(kuhn, mapping)
    assert np.allclose(table.numpy(), from_tabular_policy(kuhn, average).numpy(), atol=1e-15)
    written = policy_to_dict(kuhn, table)
    assert written.keys() == mapping.keys()
    assert all(np.allclose(written[key], mapping[key], atol=1e-15, rtol=0) for key in mapping)


@pytest.fixture
def kuhn_mapping():
    kuhn = make_game("kuhn_poker")
    return kuhn, policy_to_dict(kuhn, random_policy(kuhn, generator=torch.Generator().manual_seed(2)))


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m.pop("1pb"), r"1 information set\(s\) of kuhn_poker missing .* '1pb'"),
    (lambda m: m.update({"3": [0.5, 0.5]}), r"not in kuhn_poker, e.g. '3'"),
    (lambda m: m.update({"0": [0.5, 0.6]}), r"'0': probabilities sum to 1.1, not 1"),
    (lambda m: m.update({"0": [1.0]}), r"'0': expected 2 probabilities"),
    (lambda m: m.update({"0": [-0.5, 1.5]}), r"finite and >= 0"),
    (lambda m: m.update({"0": "uniform"}), r"expected a list of numbers"),
])
def test_bad_policies_name_the_problem(kuhn_mapping, change, message):
    kuhn, mapping = kuhn_mapping
    change(mapping)
    with pytest.raises(ValueError, match=message):
        policy_from_dict(kuhn, mapping)


def test_mass_on_an_illegal_action_is_refused(leduc):
    mapping = policy_to_dict(leduc, random_policy(leduc, generator=torch.Generator().manual_seed(3)))
    opening = "[Observer: 0][Private: 3][Round 1][Player: 0][Pot: 2][Money: 99 99][Round1: ][Round2: ]"
    mapping[opening] = [0.2, 0.5, 0.3]  # every action listed, but folding is not legal here
    with pytest.raises(ValueError, match=r"probability 0.2 on illegal action 0 \(Fold\)"):
        policy_from_dict(leduc, mapping)
    mapping[opening] = [0.0, 0.5, 0.5]  # a full OpenSpiel row with zero on the illegal action is fine
    assert policy_from_dict(leduc, mapping)[leduc.infoset_index[opening]].tolist() == [0.0, 0.5, 0.5]


def test_unreadable_files_name_the_path(tmp_path):
    kuhn = make_game("kuhn_poker")
    with pytest.raises(ValueError, match="cannot read"):
        load_policy(tmp_path / "missing.json", kuhn)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match=f"{broken}: not JSON"):
        load_policy(broken, kuhn)
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(ValueError, match="must be a JSON object"):
        load_policy(listed, kuhn)
