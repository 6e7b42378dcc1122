import json
import math

import numpy as np
import pytest

from iclbook.claims import Ledger, above, below, between, is_true, load, near, tally


def test_criteria():
    assert below(1)(0.5) and not below(1)(1.0) and not below(1)(math.nan)
    assert above(0)(1e-9) and not above(0)(-1)
    assert between(-1.2, -0.8)(-1.0) and not between(-1.2, -0.8)(-0.5)
    assert near(1.0, 0.1)(1.05) and not near(1.0, 0.1)(1.2)
    assert is_true()(True) and not is_true()(1)
    assert str(between(-1.2, -0.8)) == "in [-1.2, -0.8]"


def test_ledger_statuses_and_json(tmp_path):
    led = Ledger("01", "ci")
    led.add("1", "formula matches MC", np.float64(0.01), below(0.03), kind="check")
    led.add("2", "slope near -1", -0.4, between(-1.3, -0.7), kind="paper")
    led.add("5", "transformer near Bayes", 0.5, below(0.1), kind="extension", expected_at=("cpu", "gpu"))
    assert [c.status("ci") for c in led.claims] == ["holds", "FAILS", "not reproduced at `ci` (needs cpu/gpu)"]
    assert isinstance(led["1"].value, float)
    table = led.markdown()
    assert "| 1 | check | formula matches MC | 0.01 | < 0.03 |" in table
    assert "paper claims: 0 of 1 hold, 0 expected only at a larger profile, 1 fail where expected" in table
    assert "extensions: 0 of 1 hold, 1 expected only at a larger profile" in table
    assert "checks of our method: 1 of 1 hold" in table
    data = load(led.save(tmp_path / "claims.json"))
    assert data["profile"] == "ci" and [c["holds"] for c in data["claims"]] == [True, False, False]
    assert [c["kind"] for c in data["claims"]] == ["check", "paper", "extension"]
    assert tally(data["claims"], "cpu")["extension"] == {"holds": 0, "later": 0, "fails": 1}
    assert json.loads((tmp_path / "claims.json").read_text()) == data


def test_ledger_rejects_duplicates_and_bad_profiles():
    led = Ledger("01", "cpu")
    led.add("1", "x", 1.0, below(2), kind="paper")
    with pytest.raises(ValueError):
        led.add("1", "x", 1.0, below(2), kind="paper")
    with pytest.raises(ValueError):
        led.add("2", "x", 1.0, below(2), kind="paper", expected_at=("laptop",))
    with pytest.raises(ValueError, match="kind 'claim' is not one of paper, extension, check"):
        led.add("3", "x", 1.0, below(2), kind="claim")
    with pytest.raises(TypeError):  # no default: every entry's kind is a decision
        led.add("4", "x", 1.0, below(2))
