"""What the chapters read off their runs, moved out of the notebooks: checked on hand-made inputs whose answers are
known, so that a change in these helpers cannot hide behind a chapter's unchanged verdict."""
import math

import numpy as np
import pytest
import torch

from iclbook.notebook import markdown_table


def test_markdown_table_has_one_separator_per_column_and_the_note_first():
    t = markdown_table(["a", "b", "c"], [[1, "x", 2.5], ["y", 2, 3]], note="η = 0.1")
    lines = t.split("\n")
    assert lines[0] == "η = 0.1" and lines[1] == ""
    assert lines[2] == "| a | b | c |" and lines[3] == "|---|---|---|"
    assert lines[4:] == ["| 1 | x | 2.5 |", "| y | 2 | 3 |"]
    assert markdown_table(["only"], []) == "| only |\n|---|"


def test_claim_1e_holds_when_the_sides_separate_at_a_finite_m():
    from iclbook.experiments.transient_ridge import threshold_M
    from iclbook.experiments.transient_ridge_claims import claim_1e

    x_of = {"4": 4.0, "16": 16.0, "∞": 32.0}
    final = {"4": {"d_ridge": 2.0, "d_dmmse": 1.0}, "16": {"d_ridge": 1.0, "d_dmmse": 2.0}, "∞": {"ood": 0.45}}
    M_star, side = threshold_M(final, ["4", "16"], x_of, ridge_loss=0.4, dmmse_top=1.0)
    assert side == {"4": False, "16": True, "∞": True} and M_star == pytest.approx(8.0)
    assert claim_1e(side, ["4", "16"], x_of).holds


def test_claim_1e_fails_when_every_finite_m_ends_on_the_dmmse_side():
    """Issue 34: until December 2026 1e held here (M* between the largest M and ∞); at `ci` it held in 10 of 10 seeds
    while 1c and 1d held in none. Only ∞ on the ridge side: the grid cannot place the threshold."""
    from iclbook.experiments.transient_ridge import threshold_M
    from iclbook.experiments.transient_ridge_claims import claim_1e

    x_of = {"4": 4.0, "16": 16.0, "∞": 32.0}
    dm = {"d_ridge": 3.0, "d_dmmse": 2.0}
    final = {"4": dm, "16": dm, "∞": {"ood": 0.45}}  # both finite M on the dMMSE side, ∞ on ridge's
    M_star, side = threshold_M(final, ["4", "16"], x_of, ridge_loss=0.4, dmmse_top=1.0)
    assert side == {"4": False, "16": False, "∞": True}
    assert M_star == pytest.approx(math.sqrt(16 * 32))  # the sides still separate, at no M the grid holds
    r = claim_1e(side, ["4", "16"], x_of)
    assert r.value is False and not r.holds and "cannot place a threshold" in r.detail


def test_claim_1e_fails_when_infinity_also_ends_on_the_dmmse_side_or_the_sides_interleave():
    from iclbook.experiments.transient_ridge import threshold_M
    from iclbook.experiments.transient_ridge_claims import claim_1e

    x_of = {"4": 4.0, "16": 16.0, "∞": 32.0}
    dm = {"d_ridge": 3.0, "d_dmmse": 2.0}
    final = {"4": dm, "16": dm, "∞": {"ood": 0.9}}  # ∞ ends nearer dMMSE_16's loss than ridge's: no threshold
    M_star, side = threshold_M(final, ["4", "16"], x_of, ridge_loss=0.4, dmmse_top=1.0)
    assert not side["∞"] and math.isnan(M_star)
    assert not claim_1e(side, ["4", "16"], x_of).holds
    final = {"4": {"d_ridge": 1.0, "d_dmmse": 2.0}, "16": dm, "∞": {"ood": 0.41}}  # ridge, dMMSE, ridge
    M_star, side = threshold_M(final, ["4", "16"], x_of, ridge_loss=0.4, dmmse_top=1.0)
    assert math.isnan(M_star) and not claim_1e(side, ["4", "16"], x_of).holds


def _llc(lam: float, se: float = 1.0, drift: float = 0.0, diverged: bool = False) -> dict:
    """A fake LLC entry: two chains of 4 draws after a burn-in of 2, whose second half sits ``drift`` above the first."""
    trace = np.zeros((2, 6))
    trace[:, 4:] = drift
    return {"llc": lam, "se": se, "trace": trace, "init": np.zeros((2, 6)), "diverged": diverged}


def test_llc_geometry_reads_z_spread_crossing_and_drift():
    from iclbook.experiments.transient_ridge import llc_geometry

    keys, finite = ["1", "4", "16", "∞"], ["1", "4", "16"]
    llc = {"1": _llc(10.0), "4": _llc(14.0), "16": _llc(20.0, drift=0.5), "∞": _llc(20.0)}
    ridge_side = {"1": False, "4": False, "16": True}
    transient = {"1": False, "4": True, "16": False}
    x_of = {"1": 1.0, "4": 4.0, "16": 16.0, "∞": 32.0}
    g = llc_geometry(llc, keys, finite, ridge_side, transient, x_of, burn_in=2, nbeta=10.0, draws=4)
    assert (g["a"], g["b"]) == ("1", "4") and g["z"] == pytest.approx(4 / math.sqrt(2), rel=1e-6)
    assert g["r_side"] == ["16", "∞"] and g["spread"] == pytest.approx(0.0)
    assert g["cross"] == 16.0 and g["onset"] == 4.0 and g["gap"] == pytest.approx(2.0)
    assert g["drift"]["16"] == pytest.approx(5.0) and g["drift"]["1"] == 0.0
    llc["4"] = _llc(math.nan, diverged=True)  # one chain diverged: the crossing is not estimated
    assert math.isnan(llc_geometry(llc, keys, finite, ridge_side, transient, x_of, 2, 10.0, 4)["gap"])


class _Res:
    """A training record with eval_series, as the concept experiment's readers expect."""

    def __init__(self, series: dict):
        self.series = series

    def eval_series(self, key):
        v = np.asarray(self.series[key], dtype=float)
        return np.arange(len(v)) * 10, v


def test_concept_summary_takes_the_worst_seed_and_survives_a_zero_denominator():
    from iclbook.experiments.multi_concept import FINAL_KEYS, ood_summary, ratio, summarise

    base = {k: [1.0, 1.0] for k in FINAL_KEYS}
    a = _Res({**base, "test_err_clean": [0.5, 0.0], "attn_specific": [1, 4.0], "attn_complement": [1, 1.0],
              "mlp_specific": [1.0, 8.0], "test_correct_attn": [0.5, 0.95]})
    b = _Res({**base, "test_err_clean": [0.5, 0.01], "attn_specific": [1, 3.0], "attn_noise": [1, 1.5],
              "mlp_specific": [2.0, 6.0], "test_correct_attn": [0.3, 0.99]})
    sm = summarise({0: (None, a), 1: (None, b)})
    assert sm.max_clean == 0.01 and sm.attn_ratio == pytest.approx(2.0) and sm.growth == pytest.approx(3.0)
    assert sm.median["test_correct_attn"] == pytest.approx(0.97) and sm.attn0 == pytest.approx(0.4)
    assert ratio(1.0, 0.0) == math.inf and math.isnan(ratio(0.0, 0.0))
    ood = {"L = 4": {"model": [{"err": 0.12}, {"err": 0.2}], "control": {"err": 0.5}},
           "skewed": {"model": [{"err": 0.11}], "control": {"err": 0.45}}}
    excess, worst, ctrl = ood_summary({"control": {"err": 0.48}}, ood, bayes=0.1)
    assert excess == pytest.approx(0.1) and worst == "L = 4" and ctrl == 0.45


def test_shot_sequences_are_fresh_and_reproducible():
    from iclbook.experiments.modular_arithmetic import Member, shot_sequences
    from iclbook.tasks.modular import ModularTask

    m = Member(ModularTask(7, 8, 0.8, 6, seed=3), None, None)
    x, y = shot_sequences(m, "ood_train", 5, 10, "cpu"), shot_sequences(m, "ood_train", 5, 10, "cpu")
    assert x.shape == (1, 5, 18) and torch.equal(x, y)
    assert not torch.equal(x, shot_sequences(m, "ood_train", 5, 11, "cpu"))


def test_claim_4a_rank_test_fails_when_a_middle_M_breaks_the_rise():
    from iclbook.experiments.transient_ridge import kendall_tau, llc_geometry

    assert kendall_tau([1, 4, 8, 13], [10, 12, 15, 20]) == 1.0
    keys, finite = ["1", "4", "8", "13", "∞"], ["1", "4", "8", "13"]
    x_of = {"1": 1.0, "4": 4.0, "8": 8.0, "13": 13.0, "∞": 26.0}
    side = {k: False for k in finite}
    rising = {"1": _llc(100.0), "4": _llc(120.0), "8": _llc(140.0), "13": _llc(160.0), "∞": _llc(150.0)}
    assert llc_geometry(rising, keys, finite, side, {k: False for k in finite}, x_of, 2, 10.0, 4)["tau"] >= 0.8
    bent = {**rising, "4": _llc(183.0), "8": _llc(144.0)}  # λ̂(4) above λ̂(8) and λ̂(13): the end points still rise
    g = llc_geometry(bent, keys, finite, side, {k: False for k in finite}, x_of, 2, 10.0, 4)
    assert g["z"] > 2 and g["tau"] < 0.8


def test_claim_3b_detour_holds_on_a_visit_to_ridge_and_fails_on_a_straight_path():
    from iclbook.experiments.transient_ridge import detour_toward_ridge

    ridge, dmmse = np.array([1.0, 0.0]), np.array([1.0, 0.5])
    steps = np.arange(0, 100, 10)
    s = np.linspace(0, 1, 10)[:, None]
    straight = s * dmmse  # from the zero predictor straight to dMMSE_M
    assert detour_toward_ridge(straight, steps, ridge, dmmse, early=2) < 0.3
    visit = np.where(s < 0.5, 2 * s * ridge, ridge + (2 * s - 1) * (dmmse - ridge))  # to ridge, then to dMMSE_M
    assert detour_toward_ridge(visit, steps, ridge, dmmse, early=2) > 0.3
    stays = np.where(s < 0.5, 2 * s * ridge, ridge + 0.1 * (dmmse - ridge))  # reaches ridge, barely leaves
    assert detour_toward_ridge(stays, steps, ridge, dmmse, early=2) < 0.3


def test_claim_1c_scale_fails_a_model_halfway_to_dmmse():
    import torch

    from iclbook.claims import below
    from iclbook.experiments.transient_ridge import ProbeSets

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 8, 4, generator=gen)
    ridge = torch.randn(64, 8, generator=gen)
    dmmse = ridge + 0.5 * torch.randn(64, 8, generator=gen)
    P = ProbeSets(x, x[..., 0], x, x[..., 0], ridge, ridge, dmmse_ood={"64": dmmse})
    halfway = ((0.5 * (dmmse - ridge)) ** 2).mean() / 4
    assert not below(0.1)(float(halfway) / P.dmmse_to_ridge(64))
    close = ((0.2 * (dmmse - ridge)) ** 2).mean() / 4
    assert below(0.1)(float(close) / P.dmmse_to_ridge(64))


def test_trade_off_points_read_history_and_cpu_records(tmp_path, monkeypatch):
    import json

    from iclbook import paths
    from iclbook.experiments.transient_ridge import trade_off_points

    monkeypatch.setattr(paths, "repo_root", lambda: tmp_path)
    hist = tmp_path / "results" / "02_transient_ridge" / "history"
    hist.mkdir(parents=True)
    (hist / "1d-vs-2b.json").write_text(json.dumps({"rows": [{"setting": "a", "claim_1d": 0.2, "claim_2b": 1.3}]}))
    rec = {"profile": "cpu", "label": "lr 1e-3", "seeds": [0], "recorded": "2026-12-06 01:00 UTC",
           "claims": [{"id": "1d", "per_seed": {"0": {"value": 0.1}}}, {"id": "2b", "per_seed": {"0": {"value": 1.25}}}]}
    (hist.parent / "cpu-lr.json").write_text(json.dumps(rec))
    assert trade_off_points("02_transient_ridge") == [("a (history)", 0.2, 1.3), ("lr 1e-3, seed 0", 0.1, 1.25)]


def test_llc_ratio_standard_error_matches_monte_carlo():
    """The delta-method s.e. of λ̂(M)/λ̂(∞) against the spread of the ratio of two independent normal estimates."""
    from iclbook.experiments.transient_ridge import llc_ratio

    lam, se = {"4": 150.0, "∞": 120.0}, {"4": 6.0, "∞": 5.0}
    r = llc_ratio(lam, se, ["4", "∞"])
    g = np.random.default_rng(0)
    mc = g.normal(150, 6, 200_000) / g.normal(120, 5, 200_000)
    assert r["4"][0] == pytest.approx(1.25)
    assert r["4"][1] == pytest.approx(mc.std(), rel=0.03)
    assert r["∞"] == (1.0, 0.0)
