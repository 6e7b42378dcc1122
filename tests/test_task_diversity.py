"""The chapter-2 sweep: probe sets and baselines, checkpoint evaluations per member, both training paths, LLC."""
import dataclasses
import math

import numpy as np
import pytest
import torch

from iclbook.analysis.llc import SGLDConfig
from iclbook.store import Store
from iclbook.experiments.transient_ridge import SweepConfig, calibrated_llc, make_probes, sweep_llc, train_sweep

CFG = SweepConfig(Ms=(1, 4, math.inf), D=2, K=4, n_embd=16, n_head=2, n_layer=1, steps=6, batch=8, n_eval=32,
                  n_probe=4, n_linear=2, n_log=2)


def test_probes_and_baselines():
    P = make_probes(CFG, "cpu")
    assert P.x_ood.shape == (32, 4, 2) and P.x_probe.shape == (4, 4, 2)
    assert torch.equal(P.dmmse_ood["∞"], P.ridge_ood)  # dMMSE_∞ is ridge
    b1, binf = P.baseline_losses(1), P.baseline_losses(math.inf)
    assert b1["dmmse"] > b1["ridge"] and binf["dmmse"] == binf["ridge"]
    # the probe set is the root task t₁: dMMSE_1 predicts t₁ᵀx exactly
    t1 = CFG.task().pool(1)[0]
    assert torch.allclose(P.dmmse_probe["1"], P.x_probe @ t1, atol=1e-5)


def test_sweep_batched_and_sequential_evaluate_every_member(tmp_path):
    P = make_probes(CFG, "cpu")
    for batched in (True, False):
        runs = train_sweep(CFG, Store(tmp_path / f"s{batched}"), "cpu", P, batched=batched)
        assert set(runs) == {"1", "4", "∞"}
        for r in runs.values():
            assert r.steps[0] == 0 and r.steps[-1] == CFG.steps
            assert r.evals["probe"].shape == (len(r.steps), 4 * 4)
            assert np.isfinite(r.evals["ood"]).all() and (r.evals["d_ridge"] >= 0).all()
        assert np.allclose(runs["∞"].evals["d_ridge"], runs["∞"].evals["d_dmmse"])
    again = train_sweep(CFG, Store(tmp_path / "sFalse"), "cpu", P, batched=False)  # read back from the store
    assert np.allclose(again["4"].evals["ood"], runs["4"].evals["ood"])
    llc = sweep_llc(CFG, runs, Store(tmp_path / "llc"), SGLDConfig(chains=2, burn_in=2, draws=3, batch_size=4), n=16)
    assert set(llc) == set(runs) and all(v["trace"].shape == (2, 5) for v in llc.values())
    with pytest.raises(FloatingPointError, match=r"for M = 1 at llc_eps = 1e\+06"):  # names M, not a member index
        sweep_llc(CFG, runs, Store(tmp_path / "llc2"), SGLDConfig(eps=1e6, chains=1, burn_in=2, draws=30), n=16)




def test_calibrated_llc_takes_the_largest_finite_step_size_and_marks_divergence(tmp_path):
    P = make_probes(CFG, "cpu")
    runs = train_sweep(CFG, Store(tmp_path / "s"), "cpu", P, batched=True)
    sgld = SGLDConfig(chains=2, burn_in=2, draws=30, batch_size=4)
    llc, chosen = calibrated_llc(CFG, runs, Store(tmp_path / "llc"), sgld, n=16, eps_grid=(1e-4, 1e6))
    assert chosen == dataclasses.replace(sgld, eps=1e-4) and not any(v["diverged"] for v in llc.values())
    assert all(math.isfinite(v["llc"]) and v["eps"] == 1e-4 for v in llc.values())
    # nothing on the grid holds: every M is "not estimated" (λ̂ = nan), and nothing raises
    llc, chosen = calibrated_llc(CFG, runs, Store(tmp_path / "llc2"), sgld, n=16, eps_grid=(1e6,))
    assert chosen.eps == 1e6 and all(v["diverged"] and math.isnan(v["llc"]) for v in llc.values())
    # the grid is part of the cache key: the same ε under another grid is its own entry
    store = Store(tmp_path / "llc3")
    calibrated_llc(CFG, runs, store, sgld, n=16, eps_grid=(1e-4,))
    calibrated_llc(CFG, runs, store, sgld, n=16, eps_grid=(1e-4, 1e-5))
    assert len(list((tmp_path / "llc3" / "ch02-llc").iterdir())) == 2
