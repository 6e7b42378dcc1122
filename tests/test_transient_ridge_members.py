"""Chapter 2's studies (issue 34): the Bayes gap against the pool-gaps table within Monte Carlo error, the M_transient
rule, every claim failing and holding on synthetic cases (1e now needs a finite M on the ridge side), the studies'
criteria, and members that return every kept value."""
import math
from types import SimpleNamespace

import numpy as np
import pytest

from iclbook.analysis import bayes_gap
from iclbook.experiments import transient_ridge_claims as tc
from iclbook.experiments.transient_ridge import llc_geometry, on_ridge_side, pca_geometry

# ../shared/reviews/pool-gaps-2026-12.md: D = 4, K = 8, σ² = 0.125, 4096 fresh-task sequences; ridge 0.412
POOL_GAPS_MS = (4, 8, 13, 16, 32)
POOL_GAPS = {0: (1.457, 1.002, 0.917, 0.906, 0.773), 1: (1.038, 1.038, 0.940, 0.883, 0.774),
             2: (1.016, 0.962, 0.899, 0.856, 0.769), 3: (1.535, 1.024, 0.907, 0.840, 0.724),
             4: (1.078, 0.981, 0.976, 0.919, 0.762), 5: (2.737, 1.182, 0.974, 0.880, 0.730)}
TABLE_N = 4096


def _misses(sigma2: float, n: int, shift: int = 0) -> list[str]:
    """The table's entries that our Monte Carlo (n other sequences, the table's D and K, noise σ², the table's pool
    s compared with our pool s + shift) puts more than 4 standard errors of the difference away (4: 31 entries
    compared at once)."""
    out = []
    g = bayes_gap.bayes_gaps(4, 8, sigma2, 0, [], n=n, mc_seed=7)
    ridge, se_ridge = g["ridge"]
    sd_ridge = se_ridge * math.sqrt(n)
    if abs(ridge - 0.412) > 4 * sd_ridge * math.sqrt(1 / n + 1 / TABLE_N):
        out.append(f"ridge {ridge:.3f}")
    for s, row in POOL_GAPS.items():
        g = bayes_gap.bayes_gaps(4, 8, sigma2, (s + shift) % len(POOL_GAPS), POOL_GAPS_MS, n=n, mc_seed=7)
        for M, table in zip(POOL_GAPS_MS, row):
            sd = g[M]["se"] * math.sqrt(n)  # per-sequence spread; the table's error is sd/√4096
            if abs(g[M]["dmmse"] - table) > 4 * sd * math.sqrt(1 / n + 1 / TABLE_N) + 5e-4:  # + the table's rounding
                out.append(f"pool {s}, M = {M}: {g[M]['dmmse']:.3f} vs {table}")
    return out


def test_bayes_gap_matches_the_pool_gaps_table_within_monte_carlo_error():
    assert _misses(0.125, 8192) == []


def test_the_table_check_fails_other_pools_and_another_noise_level():
    assert len(_misses(0.125, 8192, shift=1)) >= 6  # each pool against its neighbour's row: the small M differ
    assert "ridge" in _misses(0.25, 8192)[0]  # twice σ² (dMMSE_M's loss barely moves at these M: the mismatch rules)


def _fake(monkeypatch, curves: dict, noise: dict | None = None) -> None:
    """Stand-ins for the Monte Carlo: ridge's loss is 1 on each of 4 sequences, dMMSE_M's is r(M) = curves[pool][M],
    plus ±noise[(pool, M)] alternating over the sequences (mean 0)."""
    import torch

    monkeypatch.setattr(bayes_gap, "eval_set", lambda *a: (None, None, torch.ones(4, dtype=torch.float64)))

    def seq(D, K, sigma2, pool_seed, M, n, mc_seed):
        z = torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
        return curves[pool_seed][int(M)] + (noise or {}).get((pool_seed, int(M)), 0.0) * z
    monkeypatch.setattr(bayes_gap, "_seq_losses", seq)


def test_rule_picks_the_window_m_nearest_the_anchor_ratio(monkeypatch):
    rule = bayes_gap.GapRule("cpu", 4, 8, 0.125, anchor_pool=0, anchor_M=13, low=8, high=16, grid_base=(1, 4, 8, 16))
    curves = {0: {m: 3.0 - 0.1 * m for m in range(1, 20)},  # r(13) = 1.7 is the target
              7: {m: 3.3 - 0.1 * m for m in range(1, 20)},  # r = 1.7 at M = 16
              8: {**{m: 9.0 for m in range(1, 20)}, 10: 1.65, 11: 1.8},  # the nearest r, though farther from 13
              9: {m: 5.0 - 0.1 * m for m in range(1, 40)}}  # r = 1.7 only at M = 33, outside the window: the edge
    _fake(monkeypatch, curves)
    pick = bayes_gap.m_transient.__wrapped__
    assert pick(0, rule, n=4)["M"] == 13 and pick(0, rule, n=4)["grid"] == [1, 4, 8, 13, 16]
    assert pick(7, rule, n=4)["M"] == 16 and pick(7, rule, n=4)["grid"] == [1, 4, 8, 16]
    assert pick(8, rule, n=4)["M"] == 10
    out = pick(9, rule, n=4)
    assert out["M"] == 16 and out["miss"] == pytest.approx(1.7)


def test_rule_breaks_ties_within_monte_carlo_error_toward_the_anchors_m(monkeypatch):
    rule = bayes_gap.GapRule("cpu", 4, 8, 0.125, anchor_pool=0, anchor_M=13, low=8, high=16, grid_base=(1, 4, 8, 16))
    flat = {**{m: 9.0 for m in range(1, 20)}, 9: 1.70, 15: 1.72}
    curves = {0: {**{m: 9.0 for m in range(1, 20)}, 13: 1.7}, 5: flat}
    _fake(monkeypatch, curves)  # no Monte Carlo error: the nearest ratio wins
    assert bayes_gap.m_transient.__wrapped__(5, rule, n=4)["M"] == 9
    _fake(monkeypatch, curves, noise={(5, 9): 0.05, (5, 15): 0.05})  # se of each difference 0.025: a tie
    out = bayes_gap.m_transient.__wrapped__(5, rule, n=4)
    assert out["tied"] == [9, 15] and out["M"] == 15  # |log(15/13)| < |log(9/13)|


def test_rule_is_refused_where_it_has_no_anchor():
    assert bayes_gap.rule_for("cpu", 4, 8, 0.125) is bayes_gap.RULE
    for args in (("gpu", 8, 16, 0.125), ("cpu", 8, 8, 0.125), ("ci", 4, 8, 0.125)):
        with pytest.raises(ValueError, match="anchored"):
            bayes_gap.rule_for(*args)


# -- claims: each fails on a synthetic case where it is false and holds where it is true ------------------------------
def test_claims_1a_1b_1d():
    assert tc.claim_1a({"d_dmmse": 0.01, "d_ridge": 0.5}).holds
    assert not tc.claim_1a({"d_dmmse": 0.3, "d_ridge": 0.3}).holds  # halfway: not at dMMSE_M
    assert tc.claim_1b({"ood": 1.2}, 0.4, 1.3, "1").holds
    assert not tc.claim_1b({"ood": 0.6}, 0.4, 1.3, "1").holds  # near ridge on fresh tasks
    assert tc.claim_1c(0.01, 0.5, "64").holds and not tc.claim_1c(0.125, 0.5, "64").holds  # 0.25: halfway fails
    assert tc.claim_1d(0.44, 0.41).holds and not tc.claim_1d(0.50, 0.41).holds


def test_claim_1e_needs_a_finite_m_on_the_ridge_side():
    x_of = {"4": 4.0, "16": 16.0, "∞": 32.0}
    all_memorise = {"4": False, "16": False, "∞": True}
    r = tc.claim_1e(all_memorise, ["4", "16"], x_of)
    assert not r.holds and "cannot place a threshold" in r.detail  # today's 1e holds here
    assert tc.claim_1e({"4": False, "16": True, "∞": True}, ["4", "16"], x_of).holds
    assert not tc.claim_1e({"4": True, "16": False, "∞": True}, ["4", "16"], x_of).holds  # interleaved
    assert not tc.claim_1e({"4": False, "16": True, "∞": False}, ["4", "16"], x_of).holds  # ∞ on the dMMSE side


def _curves(rise: bool, steps: int = 2000, n: int = 41):
    """OOD loss and Δs over checkpoints: toward ridge until step 600, then (rise) back toward dMMSE_M, or on."""
    s = np.linspace(0, steps, n)
    fall = 1.0 - 0.5 * (1 - np.exp(-s / 200))  # 1.0 → 0.5
    late = np.clip((s - 600) / (steps - 600), 0, 1)
    ood = fall + (0.35 * late if rise else -0.05 * late)
    d_ridge = 0.1 + 0.4 * np.exp(-s / 200) + (0.5 * late if rise else 0.0)
    d_dmmse = 0.5 - 0.2 * (1 - np.exp(-s / 200)) - (0.25 * late if rise else -0.1 * late)
    return s.astype(int), {"ood": ood, "d_ridge": d_ridge, "d_dmmse": d_dmmse}


def test_claims_2a_2b_2c_hold_on_a_transient_and_fail_on_a_straight_path():
    steps, ev = _curves(rise=True)
    r = tc.transient_readings(steps, ev, dmmse_loss=1.0, ridge_loss=0.4, label="13")
    assert r["2a"].holds and r["2b"].holds and r["2c"].holds
    steps, ev = _curves(rise=False)
    r = tc.transient_readings(steps, ev, dmmse_loss=1.0, ridge_loss=0.4, label="13")
    assert not r["2a"].holds and not r["2b"].holds and not r["2c"].holds
    steps, ev = _curves(rise=True)  # the same rise, but always on dMMSE_M's side: 2c fails alone
    ev = {**ev, "d_dmmse": ev["d_ridge"] * 0.5}
    r = tc.transient_readings(steps, ev, dmmse_loss=1.0, ridge_loss=0.4, label="13")
    assert r["2a"].holds and r["2b"].holds and not r["2c"].holds


def test_transient_readings_reproduce_the_chapters_inline_code():
    from iclbook.analysis.transient import smoothed_minimum

    steps, ev = _curves(rise=True)
    dmmse, ridge_loss = 0.97, 0.41
    # chapters/02_transient_ridge.py, section 2 (before issue 34), verbatim but for names
    t_c, ood_min, i_c = smoothed_minimum(steps, ev["ood"], half_window=2)
    rise = (ev["ood"][-1] - ood_min) / (dmmse - ridge_loss)
    two_b = ev["d_ridge"][-1] / ev["d_ridge"][i_c]
    two_c = bool(ev["d_ridge"][i_c] < ev["d_dmmse"][i_c] and ev["d_dmmse"][-1] < ev["d_ridge"][-1])
    r = tc.transient_readings(steps, ev, dmmse, ridge_loss, "13")
    assert (r["2a"].value, r["2b"].value, r["2c"].value) == (rise, two_b, two_c)
    assert f"t_crit = {t_c}" in r["2a"].detail


def test_claim_2d_and_the_per_m_transient():
    run = SimpleNamespace(steps=np.arange(0, 1000, 100), evals={"d_ridge": np.full(10, 0.5), "d_dmmse": np.full(10, 0.1)})
    never = on_ridge_side(run, early=100)
    always = ~never
    assert tc.claim_2d(never, always, "1", "64").holds
    assert not tc.claim_2d(always, always, "1", "64").holds  # the small M visits ridge's side
    assert not tc.claim_2d(never, np.array([True] * 8 + [False]), "1", "64").holds  # the large M leaves it
    assert tc.has_transient(np.array([False, True, True, False])) and not tc.has_transient(always)


def _pca_out(low_end, high_end):
    """A joint-PCA output: two M whose trajectories end at the given points; ridge at (1, 0), dMMSE points at 0."""
    curves = {"1": np.array([[0.5, 0.5], low_end]), "64": np.array([[0.5, 0.5], high_end])}
    proj = {"ridge": np.array([1.0, 0.0]), "dmmse 1": np.array([0.0, 0.0]), "dmmse 64": np.array([0.0, 0.1])}
    return None, curves, proj


def test_claim_3c_reads_pca_geometry():
    good = pca_geometry(_pca_out([0.05, 0.0], [0.95, 0.0]), ["1", "64"], ["1", "64"])["end_near"]
    assert tc.claim_3c(good, "1", "64").holds
    bad = pca_geometry(_pca_out([0.9, 0.0], [0.95, 0.0]), ["1", "64"], ["1", "64"])["end_near"]
    assert not tc.claim_3c(bad, "1", "64").holds  # the low M ends near ridge
    assert tc.claim_3b(0.5).holds and not tc.claim_3b(0.1).holds


def _llc(lam: float) -> dict:
    return {"llc": lam, "se": 1.0, "trace": np.zeros((2, 6)), "init": np.zeros((2, 6)), "diverged": False}


def _geometry(lams: dict, transient: dict) -> dict:
    keys, finite = ["1", "4", "8", "16", "∞"], ["1", "4", "8", "16"]
    ridge_side = {"1": False, "4": False, "8": False, "16": True}
    x_of = {"1": 1.0, "4": 4.0, "8": 8.0, "16": 16.0, "∞": 32.0}
    return llc_geometry({k: _llc(lams[k]) for k in keys}, keys, finite, ridge_side, transient, x_of, burn_in=2,
                        nbeta=10.0, draws=4)


def test_claims_4a_4b_4c_read_llc_geometry():
    onset8 = {"1": False, "4": False, "8": True, "16": False}
    g = _geometry({"1": 5.0, "4": 10.0, "8": 20.0, "16": 20.5, "∞": 20.0}, onset8)
    assert tc.claim_4a(g).holds and tc.claim_4b(g).holds and tc.claim_4c(g).holds
    g = _geometry({"1": 5.0, "4": 30.0, "8": 10.0, "16": 40.0, "∞": 20.0}, {**onset8, "8": False, "16": True})
    assert not tc.claim_4a(g).holds  # λ̂(4) above λ̂(8): τ = 1/3
    assert not tc.claim_4b(g).holds  # the ridge side's λ̂ differ by a factor 2
    assert not tc.claim_4c(g).holds  # crossing at M = 4, onset at 16: two octaves apart
    assert tc.finite_or(math.inf, 6.0) == 6.0 and math.isnan(tc.finite_or(math.nan, 6.0))


# -- the studies' criteria --------------------------------------------------------------------------------------------
def _record(rows: dict) -> dict:
    """A study record: point → list of member value dicts."""
    return {"points": [{"point": dict(p), "members": {str(i): m for i, m in enumerate(ms)}} for p, ms in rows.items()]}


def test_pooled_rate_and_every_point():
    from iclbook.experiments.transient_ridge_criteria import every_point, pooled_rate

    hit, miss = {"transient": True}, {"transient": False}
    rec = _record({(("pool_seed", 0),): [hit, hit, miss], (("pool_seed", 1000),): [hit, miss, miss],
                   (("pool_seed", 1001),): [miss, miss, hit]})
    assert not pooled_rate("transient", 0.5, 8)(rec)[1]  # 4 of 9
    assert not pooled_rate("transient", 0.3, 12)(rec)[1]  # too few members
    assert pooled_rate("transient", 0.3, 8)(rec)[1] and every_point("transient", 3)(rec)[1]
    assert pooled_rate("transient", 0.3, 6, (1000, 1001))(rec)[0].startswith("2/6")
    rec["points"][2]["members"]["2"] = miss
    assert not every_point("transient", 3)(rec)[1]


def _ladder(values: dict) -> dict:
    from iclbook.experiments.transient_ridge_studies import RUNGS

    return _record({tuple(r.items()): [{"v": v} for v in values[r["rung"]]] for r in RUNGS})


def test_step_and_width_trends_read_toward_flat_and_away():
    from iclbook.experiments.transient_ridge_criteria import step_trend, width_trend

    rising = _ladder({"steps ½×": [0.0, 0.05, 0.02], "steps 1×": [0.1, 0.12, 0.09], "steps 2×": [0.2, 0.22, 0.21],
                      "width 2×": [0.0, 0.01, 0.02]})
    assert step_trend("v", +1)(rising)[1] and step_trend("v", +1)(rising)[0].startswith("toward")
    assert step_trend("v", -1)(rising)[0].startswith("away") and not step_trend("v", -1)(rising)[1]
    assert width_trend("v", -1)(rising)[0].startswith("toward") and width_trend("v", +1)(rising)[0].startswith("away")
    noisy = _ladder({"steps ½×": [0.0, 0.3, 0.1], "steps 1×": [0.2, 0.0, 0.1], "steps 2×": [0.1, 0.25, 0.0],
                     "width 2×": [0.3, 0.0, 0.1]})
    assert step_trend("v", +1)(noisy)[0].startswith("flat") and width_trend("v", +1)(noisy)[0].startswith("flat")
    same = _ladder({r: [1.7, math.inf, 1.7] for r in ("steps ½×", "steps 1×", "steps 2×", "width 2×")})
    assert step_trend("v", -1)(same)[0].startswith("flat")  # an infinite 4c gap counts as the grid's span, not nan
    short = _ladder({"steps ½×": [0.0], "steps 1×": [0.1, 0.2, 0.1], "steps 2×": [0.3, 0.2, 0.3], "width 2×": []})
    assert not step_trend("v", +1)(short)[1] and not width_trend("v", +1)(short)[1]


# -- members ----------------------------------------------------------------------------------------------------------
TINY = {"steps": 12, "n_embd": 16, "n_eval": 32, "n_probe": 4, "n_linear": 3, "n_log": 2}
PICK = {"M": 8, "target": 2.2, "ratio": 2.3, "miss": 0.1, "grid": [1, 4, 8, 16, 64],
        "gaps": {"ridge": (0.41, 0.005), 8: {"dmmse": 0.95, "se": 0.005, "ratio": 2.3}}}


def test_members_return_every_kept_value(tmp_path, monkeypatch):
    from iclbook.experiments import transient_ridge_members as tm
    from iclbook.experiments.transient_ridge_studies import KEEP, LADDER_KEEP

    monkeypatch.setenv("ICLBOOK_STORE", str(tmp_path / "store"))
    monkeypatch.setattr(tm, "m_transient", lambda pool_seed, rule: PICK)  # the rule has its own tests
    out = tm.member({"pool_seed": 1000, **TINY}, 1000, "cpu")
    assert set(KEEP) <= set(out) and out["M_transient"] == 8 and out["pool_seed"] == 1000
    assert all(isinstance(out[k], bool) for k in ("t2a_holds", "t2b_holds", "t2c_holds", "transient"))
    assert out["transient"] == (out["t2a_holds"] and out["t2b_holds"] and out["t2c_holds"])
    llc = {"llc_chains": 1, "llc_burn_in": 2, "llc_draws": 4, "llc_n": 64, "llc_batch": 8}
    lad = tm.ladder_member({"rung": "tiny", **TINY, **llc}, 1100, "cpu")
    assert set(LADDER_KEEP) <= set(lad) and lad["steps"] == 12 and lad["n_embd"] == 16
    with pytest.raises(ValueError, match="anchored"):
        tm.member({"pool_seed": 3, "D": 8, **TINY}, 1000, "cpu")


def test_the_gpu_recipe_rehearsal_fails_when_the_gpu_recipe_does_not_learn():
    from iclbook.experiments.transient_ridge_studies import GPU_RECIPE, STUDIES, _rehearsal_claim

    def rec(gpu_far, gpu_k, cpu_k):
        def pt(extra, far, k):
            members = {str(s): {"d_ridge_end": 0.5, "d_dmmse_end": 0.5 if s < far else 0.02} for s in range(2)}
            return {"point": {"pool_seed": 0, "M_transient": 13, **extra}, "members": members, "k": k, "n": 2}
        return {"points": [pt({}, 0, cpu_k), pt(GPU_RECIPE, gpu_far, gpu_k)]}

    assert _rehearsal_claim(rec(0, 1, 1))[1]
    assert not _rehearsal_claim(rec(1, 1, 1))[1]  # a member stuck on a plateau, far from both predictors
    assert not _rehearsal_claim(rec(0, 0, 1))[1]  # fewer transients than the cpu recipe
    assert STUDIES["gpu-recipe"].points[1]["tokens"] == "interleaved"
