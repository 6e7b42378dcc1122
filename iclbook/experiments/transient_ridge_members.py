"""Members of chapter 2's studies (issue 34): the chapter's own training code on one (seed, pool), reduced to the
models its claims read.

- ``member`` trains only M_transient of the point's pool (the Bayes-gap rule, ``analysis.bayes_gap``): claims 2a–2c
  read that one model and the two Bayes predictors, no other M and not M = ∞. It keeps 2a–2c's values and verdicts
  and the pool's Bayes gap.
- ``ladder_member`` trains the chapter's whole sweep (its grid with the rule's M_transient, plus M = ∞) and
  estimates the LLC as the chapter does, because 1c, 3b, 4a and 4c read the other M too. It keeps the claims that
  only the `gpu` profile was expected to hold (1c, 1d, 2a–2c, 3b, 4a, 4c) and the corrected 1e.

Both train through ``transient_ridge.train_sweep`` and the run store, so a member interrupted mid-training resumes
from its last checkpoint; a member's seed is the chapter's ``seed`` (initialisation, batches, evaluation sets).
"""
from __future__ import annotations

import math
from dataclasses import replace

from .. import runtime
from ..analysis.bayes_gap import m_transient, rule_for
from ..analysis.llc import SGLDConfig
from ..chapters import get
from ..paths import store_root
from ..store import Store
from . import transient_ridge_claims as claims
from .transient_ridge import (LLC_EPS_GRID, SweepConfig, calibrated_llc, detour_toward_ridge, llc_geometry, m_label,
                              make_probes, on_ridge_side, sweep_llc, threshold_M, train_sweep)

LABELS = ("rung",)  # point keys that only name a point (not chapter parameters); the values kept: the studies' KEEP


def resolve(point: dict, seed: int, profile: str):
    """The chapter's parameters at ``profile`` with the point's overrides, the member's seed, and M_transient and the
    grid from the rule for the point's pool (an explicit ``M_transient`` in the point wins). Returns (P, rule pick)."""
    overrides = {k: v for k, v in point.items() if k not in LABELS}
    spec = get("02").params
    P0 = spec.resolve(profile, {**overrides, "seed": seed, "M_transient": None, "Ms": None})
    if "M_transient" in overrides:
        return spec.resolve(profile, {**overrides, "seed": seed}), None
    pick = m_transient(P0.pool_seed, rule_for(profile, P0.D, P0.K, P0.sigma2))
    return spec.resolve(profile, {**overrides, "seed": seed, "M_transient": pick["M"], "Ms": pick["grid"]}), pick


def member(point: dict, seed: int, profile: str) -> dict:
    """One (seed, pool) member of the ``transient`` study: M_transient alone, trained as the chapter trains it; its
    claims 2a–2c (values and verdicts, and ``transient`` = all three) and its pool's Bayes gap."""
    P, pick = resolve(point, seed, profile)
    Mt = P.M_transient
    cfg = replace(SweepConfig.from_params(P), Ms=(Mt,))
    dev = runtime.device()
    probes = make_probes(cfg, dev)
    runs = train_sweep(cfg, Store(store_root()), dev, probes, batched=True,
                       desc=f"study member {seed}: pool {P.pool_seed}, M = {Mt}")
    kt = m_label(Mt)
    run, base = runs[kt], probes.baseline_losses(Mt)
    ridge_loss = base["ridge"]  # ridge's OOD loss on the member's evaluation set (the chapter's ridge_loss)
    r = claims.transient_readings(run.steps, run.evals, base["dmmse"], ridge_loss, kt)
    t_c, ood_min, i_c = claims.t_crit(run.steps, run.evals["ood"])
    side = on_ridge_side(run, early=max(1, P.steps // 50))
    ev = run.evals
    return {"pool_seed": P.pool_seed, "M_transient": Mt,
            "gap_dmmse": pick["gaps"][Mt]["dmmse"] if pick else None,
            "gap_ridge": pick["gaps"]["ridge"][0] if pick else None,
            "gap_ratio": pick["ratio"] if pick else None, "rule_miss": pick["miss"] if pick else None,
            "dmmse_eval": base["dmmse"], "ridge_eval": ridge_loss, "t_crit": t_c, "ood_min": ood_min,
            "ood_end": float(ev["ood"][-1]), "d_ridge_tcrit": float(ev["d_ridge"][i_c]),
            "d_dmmse_tcrit": float(ev["d_dmmse"][i_c]), "d_ridge_end": float(ev["d_ridge"][-1]),
            "d_dmmse_end": float(ev["d_dmmse"][-1]),
            "t2a": float(r["2a"].value), "t2b": float(r["2b"].value), "t2c": bool(r["2c"].value),
            "t2a_holds": r["2a"].holds, "t2b_holds": r["2b"].holds, "t2c_holds": r["2c"].holds,
            "transient": all(r[c].holds for c in ("2a", "2b", "2c")), "transient_side": claims.has_transient(side)}


def ladder_member(point: dict, seed: int, profile: str) -> dict:
    """One member of the ``ladder`` study: the chapter's sweep and LLC at the point's scale (steps, width), and the
    claims formerly expected at `gpu` only, read as the chapter reads them."""
    P, _ = resolve(point, seed, profile)
    cfg = SweepConfig.from_params(P)
    dev = runtime.device()
    store = Store(store_root())
    probes = make_probes(cfg, dev)
    keys = [m_label(M) for M in [*P.Ms, math.inf]]
    finite = keys[:-1]
    base = {k: probes.baseline_losses(M) for k, M in zip(keys, [*P.Ms, math.inf])}
    ridge_loss = base["∞"]["ridge"]
    runs = train_sweep(cfg, store, dev, probes, batched=True, desc=f"ladder member {seed}: steps {P.steps}, "
                       f"width {P.n_embd}")
    x_of = {**{m_label(M): float(M) for M in P.Ms}, "∞": 2.0 * max(P.Ms)}
    final = {k: {q: float(runs[k].evals[q][-1]) for q in ("ood", "id", "d_ridge", "d_dmmse")} for k in keys}
    _, ridge_side = threshold_M(final, finite, x_of, ridge_loss, base[finite[-1]]["dmmse"])
    top, kt, early = finite[-1], m_label(P.M_transient), max(1, P.steps // 50)
    r1c = claims.claim_1c(final["∞"]["d_ridge"], probes.dmmse_to_ridge(top), top)
    r1d = claims.claim_1d(final["∞"]["ood"], ridge_loss)
    r1e = claims.claim_1e(ridge_side, finite, x_of)
    rt = runs[kt]
    r2 = claims.transient_readings(rt.steps, rt.evals, base[kt]["dmmse"], ridge_loss, kt)
    refs = probes.references(finite)
    r3b = claims.claim_3b(detour_toward_ridge(rt.evals["probe"], rt.steps, refs["ridge"], refs[f"dmmse {kt}"], early))
    transient = {k: claims.has_transient(on_ridge_side(runs[k], early)) for k in finite}
    sgld = SGLDConfig(eps=P.llc_eps or LLC_EPS_GRID[0], gamma=P.llc_gamma, nbeta=P.llc_nbeta, chains=P.llc_chains,
                      burn_in=P.llc_burn_in, draws=P.llc_draws, batch_size=P.llc_batch, seed=P.seed)
    llc, sgld = (sweep_llc(cfg, runs, store, sgld, n=P.llc_n, on_divergence="mark"), sgld) if P.llc_eps > 0 else \
        calibrated_llc(cfg, runs, store, sgld, n=P.llc_n, eps_grid=LLC_EPS_GRID)
    g = llc_geometry(llc, keys, finite, ridge_side, transient, x_of, P.llc_burn_in, P.llc_nbeta, P.llc_draws)
    r4a, r4c = claims.claim_4a(g), claims.claim_4c(g)
    return {"steps": P.steps, "n_embd": P.n_embd, "n_params": rt.model.num_params(), "M_transient": P.M_transient,
            "t1c": float(r1c.value), "t1c_holds": r1c.holds, "t1d": float(r1d.value), "t1d_holds": r1d.holds,
            "t1e_holds": r1e.holds, "t2a": float(r2["2a"].value), "t2a_holds": r2["2a"].holds,
            "t2b": float(r2["2b"].value), "t2b_holds": r2["2b"].holds, "t2c": bool(r2["2c"].value),
            "t2c_holds": r2["2c"].holds, "transient": all(r2[c].holds for c in ("2a", "2b", "2c")),
            "t3b": float(r3b.value), "t3b_holds": r3b.holds, "t4a": float(r4a.value), "t4a_holds": r4a.holds,
            "t4c": float(r4c.value), "t4c_holds": r4c.holds, "llc_eps": sgld.eps,
            "llc_diverged": any(llc[k]["diverged"] for k in keys)}
