"""`iclbook seeds`: one run per seed into its own folder, sharing the store, and a claim × seed table."""
import json
from pathlib import Path

import pytest

from iclbook import seeds
from iclbook.profiles import Param

NOTEBOOK = '''# %% tags=["parameters"]
profile = None
seed = None

# %%
from iclbook.claims import Ledger, above
from iclbook.paths import outputs_dir
led = Ledger("99", profile)
led.add("1", "the seed is even", float(seed % 2 == 0), above(0.5), kind="paper")
led.add("2", "always", 1.0, above(0.5), kind="check")
led.save(outputs_dir(profile, "99_toy") / "claims.json")
if seed == 7:
    raise RuntimeError("seed 7 breaks")
'''


@pytest.fixture
def toy(make_toy, tmp_path, monkeypatch):
    monkeypatch.setenv("ICLBOOK_STORE", str(tmp_path / "store"))
    return make_toy(NOTEBOOK, Param("seed", int, {"ci": 0, "cpu": 0, "gpu": 0}, "seed", low=0, high=100))


def test_claim_by_seed_table(toy, tmp_path):
    table = seeds.run_seeds(toy, "ci", [0, 1, 2, 7])
    rows = {r["id"]: r for r in table["claims"]}
    assert rows["1"]["holds_k"] == 2 and rows["1"]["n"] == 4  # seeds 0 and 2 (seed 7 failed after saving)
    assert rows["2"]["holds_k"] == 3 and set(rows["1"]["per_seed"]) == {"0", "1", "2"}
    assert "seed 7 breaks" not in json.dumps(rows) and "7" in table["errors"]
    for s in (0, 1, 2):  # each seed into its own folder
        assert (seeds.seed_build_dir(toy, "ci", s) / "ci" / "outputs" / "99_toy" / "claims.json").exists()
    md = seeds.table_path(toy, "ci", ".md").read_text()
    assert "| 1: the seed is even | paper | ci, cpu, gpu | 1 ✓ | 0 ✗ | 1 ✓ | – | 2 of 4 |" in md
    assert "paper: 0 of 1 expected at `ci` hold in every seed; check: 0 of 1" in md
    assert "3 of 4" in md and "Seed 7 did not finish" in md
    assert json.loads(seeds.table_path(toy, "ci").read_text())["seeds"] == [0, 1, 2, 7]


def test_seeds_are_checked_before_any_run(toy):
    with pytest.raises(Exception, match="parameter 'seed'"):
        seeds.run_seeds(toy, "ci", [0, 101])
    with pytest.raises(ValueError, match="distinct"):
        seeds.run_seeds(toy, "ci", [1, 1])
    assert not (Path(seeds.seed_build_dir(toy, "ci", 0))).exists()


def test_collect_tabulates_seeds_run_apart_without_executing(toy):
    seeds.run_seeds(toy, "ci", [0])
    seeds.run_seeds(toy, "ci", [1])
    table = seeds.run_seeds(toy, "ci", [0, 1, 3], collect=True)  # seed 3 never ran
    rows = {r["id"]: r for r in table["claims"]}
    assert rows["1"]["holds_k"] == 1 and rows["2"]["holds_k"] == 2 and rows["2"]["n"] == 3
    assert set(table["errors"]) == {"3"}


def test_parallel_seeds_run_in_dask_workers_with_the_same_table(toy, monkeypatch):
    monkeypatch.setenv("ICLBOOK_EXECUTOR", "local:2")  # a worker's chapter must not start a cluster of its own
    table = seeds.run_seeds(toy, "ci", [0, 1, 7], parallel=2)
    rows = {r["id"]: r for r in table["claims"]}
    assert rows["1"]["per_seed"] == {"0": {"value": 1.0, "holds": True}, "1": {"value": 0.0, "holds": False}}
    assert "seed 7 breaks" in table["errors"]["7"] and set(table["errors"]) == {"7"}
    assert seeds.run_seeds(toy, "ci", [0, 1], collect=True)["errors"] == {}
    with pytest.raises(ValueError, match="--parallel"):
        seeds.run_seeds(toy, "ci", [0, 1], parallel=0)
