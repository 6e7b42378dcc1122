"""Chapter 2's known-case LLC check (issue 34, item 4): the targets are the Bayes predictors, distillation lowers the
distance to them, a tiny member returns every kept value, and the study's criteria fail where the order is wrong."""
import math

import numpy as np
import torch

from iclbook import baselines, rng
from iclbook.experiments import transient_ridge_llc_known as lk
from iclbook.experiments.transient_ridge_criteria import among_known
from iclbook.experiments.transient_ridge_studies import STUDIES
from iclbook.store import Store

TINY = {"n_embd": 16, "n_eval": 32, "llc_chains": 1, "llc_burn_in": 2, "llc_draws": 4, "llc_n": 64, "llc_batch": 8}


def _cfg(steps: int):
    return lk.resolve({"pool_seed": 0, "distil_steps": steps, **TINY}, 7, "cpu")[1]


def test_targets_are_dmmse_on_the_pool_prefix_and_ridge():
    cfg = _cfg(4)
    x, y = lk.distil_data(cfg, 5, rng.generator("test", 0), "cpu")
    t = lk.targets(cfg, x, y, "cpu")
    pool = cfg.task().pool(16)
    assert torch.allclose(t[0], baselines.dmmse_predictions(x[0], y[0], pool[:4], cfg.sigma2))
    assert torch.allclose(t[2], baselines.dmmse_predictions(x[2], y[2], pool, cfg.sigma2))
    assert torch.allclose(t[3], baselines.ridge_predictions(x[3], y[3], cfg.sigma2))
    gaps = lk.target_gaps(cfg, lk.fit_sets(cfg, "cpu"), "cpu")
    assert all(g.shape == (4,) and (g > 0).all() for g in gaps.values())
    own_x, own_y, own_t = lk.fit_sets(cfg, "cpu")["own"]  # dMMSE_4's nearest other target on pool-4 data
    d = [float(((baselines.dmmse_predictions(own_x[0], own_y[0], pool[:M], cfg.sigma2) - own_t[0]) ** 2).mean())
         / cfg.D for M in (8, 16)] + [float(((baselines.ridge_predictions(own_x[0], own_y[0], cfg.sigma2) - own_t[0])
                                            ** 2).mean()) / cfg.D]
    assert math.isclose(gaps["own"][0], min(d), rel_tol=1e-4)


def test_distillation_lowers_the_distance_to_the_targets(tmp_path):
    cfg = _cfg(40)
    sets = lk.fit_sets(cfg, "cpu")
    runs = lk.distil(cfg, Store(tmp_path), "cpu", sets)
    # in 40 steps the dMMSE members learn their pool's mean prediction; ridge (mean 0) has not started yet
    fit = np.array([r.evals["fit_own"] for r in runs.values()])  # (member, checkpoint)
    loss = np.array([r.losses for r in runs.values()]).sum(0)
    assert fit[:, -1].sum() < 0.9 * fit[:, 0].sum() and fit[0, -1] < 0.75 * fit[0, 0]
    assert loss[-5:].mean() < 0.9 * loss[:5].mean()


def test_a_tiny_member_returns_every_kept_value_finite():
    out = lk.llc_known_member({"pool_seed": 0, "distil_steps": 4, **TINY}, 1000, "cpu")
    assert set(lk.KEEP) <= set(out)
    nums = [v for k, v in out.items() if not isinstance(v, bool)]
    assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in nums)
    assert out["eps"] in lk.LLC_EPS_GRID and out["distil_steps"] == 4 and not out["diverged"]
    assert out["order_known"] == (out["known"] and out["order"])


def test_orders_fail_where_the_estimator_reverses_a_pair_or_diverges():
    right = {"dmmse_4": 10.0, "dmmse_8": 20.0, "dmmse_16": 30.0, "ridge": 15.0}
    assert all(lk.orders(right).values())
    chapter = {"dmmse_4": 30.0, "dmmse_8": 20.0, "dmmse_16": 40.0, "ridge": 25.0}  # the chapter's λ̂(4) > λ̂(∞) > λ̂(8)
    o = lk.orders(chapter)
    assert not o["order"] and not o["d4_lt_d8"] and not o["d4_lt_ridge"] and o["ridge_lt_d16"]
    assert not lk.orders({**right, "ridge": 35.0})["order"]  # ridge above dMMSE_16
    nan8 = lk.orders({**right, "dmmse_8": math.nan})  # a diverged chain fails every order it is in
    assert not (nan8["order"] or nan8["mono"] or nan8["d4_lt_d8"]) and nan8["d4_lt_ridge"]


def _record(members: list[dict]) -> dict:
    return {"points": [{"point": {"pool_seed": 0}, "members": {str(i): m for i, m in enumerate(members)}}]}


def _m(known: bool, order: bool) -> dict:
    return {"known": known, "order": order, "d4_lt_d8": order, "d4_lt_ridge": order}


def test_the_order_claim_counts_known_cases_only():
    assert among_known("order")(_record([_m(True, True), _m(True, True), _m(True, False)]))[1]
    assert not among_known("order")(_record([_m(True, True), _m(True, False), _m(True, False)]))[1]  # 1 of 3
    # a failed distillation is no known case: 1 of 1 known is too few, however it came out
    assert not among_known("order")(_record([_m(True, True), _m(False, True), _m(False, True)]))[1]
    value, holds = among_known("order")(_record([_m(True, True), _m(True, True), _m(False, False)]))
    assert holds and value.startswith("2/2") and "1 of 3 members not known" in value


def test_the_study_is_a_check_declared_on_pool_0():
    st = STUDIES["llc-known"]
    assert st.profile == "cpu" and st.points == ({"pool_seed": 0},) and st.members == 3 and st.first_seed == 1000
    assert {c.kind for c in st.claims} == {"check"} and set(st.keep) == set(lk.KEEP)
    m = {**{k: 1.0 for k in lk.KEEP}, **_m(True, True), "order_known": True}
    assert all(c.evaluate(_record([m] * 3))[1] for c in st.claims)
    held = {c.id: c.evaluate(_record([{**m, "order": False}] * 3))[1] for c in st.claims}
    assert held == {"known": True, "order": False, "d4-d8": True, "d4-ridge": True}


def test_the_long_study_repeats_the_check_with_the_chapters_steps_on_fresh_seeds():
    short, long = STUDIES["llc-known"], STUDIES["llc-known-long"]
    assert [c.criterion for c in long.claims] == [c.criterion for c in short.claims]
    assert long.points == ({"pool_seed": 0, "distil_steps": 32000},) and long.member == short.member
    assert not set(long.seeds()) & set(short.seeds())  # seeds nobody used to decide anything
    P, cfg = lk.resolve(long.points[0], 1010, "cpu")
    assert cfg.steps == 32000 == P.steps


def _nbeta_record(ratio_at: dict[float, list[float]], settled: bool = True, fit: float = 0.05) -> dict:
    """A synthetic llc-nbeta record: at each nβ, one member per ratio λ̂(dMMSE_4) / λ̂(ridge) (ridge's λ̂ 100)."""
    rows = []
    for nb, ratios in ratio_at.items():
        ms = {str(1010 + i): {"llc_dmmse_4": 100.0 * r, "llc_ridge": 100.0, "d4_lt_ridge": r < 1, "settled": settled,
                              "diverged": False, "fit_ratio_dmmse_4": fit, "fit_ratio_ridge": fit}
              for i, r in enumerate(ratios)}
        rows.append({"point": {"pool_seed": 0, "distil_steps": 32000, "llc_nbeta": nb}, "members": ms})
    return {"points": rows}


def test_the_nbeta_calibration_reads_the_reversal_at_the_largest_settled_nbeta_and_its_trend():
    """llc-nbeta (issue 34, item 4): its checks hold where λ̂(dMMSE_4) / λ̂(ridge) falls below 1 as nβ rises, and fail
    where the reversal persists, where nothing settles, and where the two networks do not fit."""
    claims = {c.id: c for c in STUDIES["llc-nbeta"].claims}
    ok = lambda rec: {i: c.evaluate(rec)[1] for i, c in claims.items()}  # noqa: E731
    falls = _nbeta_record({60: [1.6, 1.3, 1.5], 180: [1.2, 1.1, 1.3], 540: [0.9, 1.0, 0.8], 909: [0.7, 0.8, 0.9]})
    assert ok(falls) == {"settles": True, "d4-ridge-nbeta": True, "ratio-trend": True}
    stays = _nbeta_record({nb: [1.6, 1.3, 1.5] for nb in (60, 180, 540, 909)})
    assert ok(stays) == {"settles": True, "d4-ridge-nbeta": False, "ratio-trend": False}
    assert ok(_nbeta_record({60: [1.6] * 3, 909: [0.5] * 3}, settled=False)) == \
        {"settles": False, "d4-ridge-nbeta": False, "ratio-trend": True}
    unfit = _nbeta_record({60: [1.6, 1.3, 1.5], 909: [0.7, 0.8, 0.9]}, fit=0.5)  # neither pair is a known case
    assert ok(unfit) == {"settles": True, "d4-ridge-nbeta": False, "ratio-trend": False}


def test_the_nbeta_study_shares_the_long_studys_networks():
    """Its points differ from llc-known-long's only in nβ, with the same seeds, so the distilled networks (whose store
    key holds no SGLD setting) are the same at every point and the comparison across nβ is paired."""
    st, long = STUDIES["llc-nbeta"], STUDIES["llc-known-long"]
    assert st.seeds() == long.seeds() and st.member == long.member and st.points[0]["llc_nbeta"] == 60
    cfgs = [lk.resolve(pt, 1010, "cpu") for pt in st.points]
    assert [P.llc_nbeta for P, _ in cfgs] == [60, 180, 540, 909]
    assert all(cfg.plain() == lk.resolve(long.points[0], 1010, "cpu")[1].plain() for _, cfg in cfgs)
    assert {c.kind for c in st.claims} == {"check"}
