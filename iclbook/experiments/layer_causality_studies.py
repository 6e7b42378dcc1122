"""Chapter 3's studies (issue 35): the paper's comparison on the paper's unit, as a rate over pretrained models, and a
CPU scale ladder for the claims that the chapter expects only at `gpu`.

Bar Natan et al.'s ± is over demonstration seeds of one fixed model, and LCGD beats GD in 5 of 6 datasets. The
chapter's t over pretraining seeds mixes model-to-model spread (SD ≈ 0.12) into an effect of ≈ 0.065. So each member
here is one pretrained model with its own paired test over 200 episodes × 3 demonstration orders
(``layer_causality_members``), and the claim is how many models show the effect. Member seeds start at 1000 and
2000; no chapter run or pilot used them (the chapter's pretraining seeds are ``rng.member_seeds`` keys, all
above 10⁶ for base seeds 0–9).

Every criterion below was committed before any member of its study ran.

``per-model`` (`cpu`, 12 models). A rate claim holds when the 95 % Wilson interval of k of n lies above 1/2 (most
models, beyond the luck of which models were drawn), with n ≥ 12. At n = 12 that is k ≥ 10, i.e. a rate of at
least 5/6, the paper's 5 of 6 datasets; a per-model test at one-sided 5 % passes by chance in 5 % of models, so
under no effect k ≥ 10 of 12 has probability below 10⁻¹¹. The 5a control must hold in no model (k = 0).

``per-model-aux-exit`` (`cpu`, the same 12 seeds): the labelled variant of issue 35, item 2, to run if ``per-model``'s
lens check fails: the same models pretrained with an auxiliary early-exit loss (``pretrain_aux``), same claims and
criteria. The same seeds pair each variant model with its plain twin (same initialisation and batches).

``ladder`` (3 scales × 4 models). The scales move the chapter's `cpu` model toward its `gpu` one (8 layers, width 256,
20 000 steps) in depth, width and pretraining steps together: (2 layers, width 32, 1 500 steps), the `cpu` model
(3, 64, 3 000) and (4, 128, 6 000); the depth probe of each scale compares random models of its width at its depth
and at 4× its depth. The expected direction of every trend is fixed here, before any run: each value moves toward
the paper's claim as the scale grows, which is what "expected at `gpu`" presumes.
- 3a ``ctrl_minus_trained`` (best untrained control's SimAOU − the trained model's) **rises** (controls catch up);
- 3c ``depth_rise`` (random models' SimAOU at 4× depth − at 1× depth) **rises**;
- 4a ``d_aou`` and 4b ``d_am`` (LCGD − GD, per model) **rise**.
A trend's reading is that of an ordinary least-squares line of the members' values against log₂ width
(scipy.stats.linregress): "rises" when its slope is positive with one-sided p < 0.05, "falls" when negative with
one-sided p < 0.05, else "flat". A claim holds when the reading is the expected one, with ≥ 4 members at each of the 3
scales. "flat" says the CPU ladder gives no support to "expected at `gpu`"; "falls" says it contradicts it.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from ..evidence.studies import RateClaim, Study, wilson

MEMBER = "iclbook.experiments.layer_causality_members:member"
PER_MODEL_KEEP = (
    "d_aou", "t_aou", "p_aou", "lcgd_more_icl_aou", "d_am", "t_am", "p_am", "lcgd_more_icl_am",
    "d_aou_matched", "p_aou_matched", "lcgd_more_icl_aou_matched", "d_am_matched", "p_am_matched",
    "lcgd_more_icl_am_matched", "dw_ratio", "dw_ratio_matched", "sim_aou_gd", "sim_aou_lc", "sim_am_delta_gd",
    "sim_am_delta_lc", "acc_zs", "acc_icl", "acc_ft", "acc_lc", "lr", "heldout_acc", "lens_acc", "lens_acc_zs",
    "lens_min_below_top", "lower_layers_readable", "ratio_5a", "ratio_5a_layers", "holds_5a", "ratio_5a_norm",
    "ratio_5a_norm_layers", "holds_5a_norm", "ratio_5a_loss", "control_5a", "holds_control_5a", "exit_loss",
    "check_5b", "holds_5b_check", "n_scored")
LADDER_KEEP = PER_MODEL_KEEP + ("sim_aou_random", "sim_aou_emb", "ctrl_minus_trained", "best_control", "holds_3a",
                                "ctrl_icl_gain", "depth_rise", "depth_gain")
RATE_LEVEL, MIN_MODELS = 0.5, 12
LADDER_MEMBERS, LADDER_P = 4, 0.05
SCALES = ({"n_layer": 2, "n_embd": 32, "n_head": 4, "steps": 1500, "control_depths": [2, 8]},
          {"n_layer": 3, "n_embd": 64, "n_head": 4, "steps": 3000, "control_depths": [3, 12]},
          {"n_layer": 4, "n_embd": 128, "n_head": 4, "steps": 6000, "control_depths": [4, 16]})


def _members(record: dict) -> list[dict]:
    return [m for row in record["points"] for m in row["members"].values()]


def rate_above(key: str, level: float = RATE_LEVEL, min_n: int = MIN_MODELS):
    """Over every member: the 95 % Wilson interval of the share with boolean ``key`` lies above ``level``, n ≥ min_n."""
    def evaluate(record: dict) -> tuple[str, bool]:
        hits = [bool(m[key]) for m in _members(record)]
        k, n = sum(hits), len(hits)
        lo, hi = wilson(k, n)
        return f"{k}/{n} [{lo:.2f}, {hi:.2f}]", n >= min_n and lo > level
    return evaluate


def never(key: str, min_n: int = MIN_MODELS):
    """Over every member: boolean ``key`` holds in none of at least ``min_n`` members (a control that must fail)."""
    def evaluate(record: dict) -> tuple[str, bool]:
        hits = [bool(m[key]) for m in _members(record)]
        return f"{sum(hits)}/{len(hits)}", len(hits) >= min_n and not any(hits)
    return evaluate


def trend_reading(x: np.ndarray, y: np.ndarray, p: float = LADDER_P) -> tuple[str, float, float]:
    """"rises", "falls" or "flat": the least-squares slope of y on log₂ x (scipy.stats.linregress) and its one-sided
    p-value in the slope's own direction; (reading, slope, one-sided p)."""
    ok = np.isfinite(y)
    x, y = np.log2(np.asarray(x, dtype=float)[ok]), np.asarray(y, dtype=float)[ok]
    if len(set(x)) < 2 or len(y) < 3:
        return "flat", float("nan"), float("nan")
    res = stats.linregress(x, y)
    one = float(res.pvalue) / 2 if np.isfinite(res.pvalue) else float("nan")
    reading = ("rises" if res.slope > 0 else "falls") if one < p else "flat"
    return reading, float(res.slope), one


def trend(key: str, expected: str, x: str = "n_embd", min_members: int = LADDER_MEMBERS, min_points: int = 3):
    """A ladder claim: the reading of ``key`` against the points' ``x`` is ``expected``, with ≥ min_members members
    at each of ≥ min_points points."""
    def evaluate(record: dict) -> tuple[str, bool]:
        xs, ys = [], []
        for row in record["points"]:
            for m in row["members"].values():
                xs.append(row["point"][x])
                ys.append(np.nan if m[key] is None else float(m[key]))
        reading, slope, p = trend_reading(np.array(xs), np.array(ys))
        means = ", ".join(f"{row['point'][x]}: {np.nanmean([float(m[key]) for m in row['members'].values()]):+.3f}"
                          if row["members"] else f"{row['point'][x]}: –" for row in record["points"])
        enough = len(record["points"]) >= min_points and all(r["n"] >= min_members for r in record["points"])
        return f"{reading} (slope {slope:+.3f} per doubling, one-sided p {p:.3f}; means {means})", \
            enough and reading == expected
    return evaluate


def _rate(cid: str, kind: str, statement: str, key: str) -> RateClaim:
    return RateClaim(cid, kind, statement, f"≥ {MIN_MODELS} models; the 95 % Wilson interval of the share with "
                     f"{key} lies above {RATE_LEVEL:g} (at n = 12: k ≥ 10, the paper's 5 of 6)", rate_above(key))


def _trend(cid: str, statement: str, key: str) -> RateClaim:
    return RateClaim(cid, "paper" if cid != "3c-ladder" else "extension", statement,
                     f"{key} against log₂ width over 3 scales × ≥ {LADDER_MEMBERS} models: least-squares slope > 0 "
                     f"with one-sided p < {LADDER_P:g} (expected direction: rises, fixed before the runs)",
                     trend(key, "rises"))


PER_MODEL_CLAIMS = (
    _rate("4a-models", "paper", "LCGD's updates are more similar to ICL than GD's (SimAOU), in most models",
          "lcgd_more_icl_aou"),
    _rate("4b-models", "paper", "… and in SimAM_Δ", "lcgd_more_icl_am"),
    _rate("4a-matched", "extension", "… in SimAOU also at matched update size ‖ΔW_K,V‖", "lcgd_more_icl_aou_matched"),
    _rate("4b-matched", "extension", "… in SimAM_Δ also at matched update size", "lcgd_more_icl_am_matched"),
    _rate("lens", "check", "Every layer below the top reads out the label (logit lens ≥ chance + 0.1): LCGD's "
          "per-layer objectives are not noise", "lower_layers_readable"),
    _rate("5a-models", "paper", "Below the top layer, LCGD's gradient norms exceed GD's (first step)", "holds_5a"),
    _rate("5a-norm", "extension", "… beyond what the larger error signal of its early exits explains",
          "holds_5a_norm"),
    RateClaim("5a-control", "check", "5a fails on its control (early exits equal to the output)",
              f"≥ {MIN_MODELS} models; the control ratio exceeds 1 in none", never("holds_control_5a")),
    _rate("5b-check", "check", "LCGD's lowest layer gets at least the top layer's gradient (first step)",
          "holds_5b_check"),
)

STUDIES = {
    "per-model": Study(
        name="per-model", chapter="03", profile="cpu", points=({"variant": "plain"},), members=MIN_MODELS,
        member=MEMBER, keep=PER_MODEL_KEEP, success="lcgd_more_icl_aou", first_seed=1000,
        description="LCGD − GD on one pretrained model per member, paired over 200 episodes × 3 demonstration "
                    "orders, learning rate chosen on held-out episodes (issue 35, item 1).",
        claims=PER_MODEL_CLAIMS),
    "per-model-aux-exit": Study(
        name="per-model-aux-exit", chapter="03", profile="cpu", points=({"variant": "aux-exit"},),
        members=MIN_MODELS, member=MEMBER, keep=PER_MODEL_KEEP, success="lcgd_more_icl_aou", first_seed=1000,
        description="the labelled variant: the same models (seeds, batches) pretrained with an auxiliary early-exit "
                    "loss (weight 0.2 on the mean of the lower layers' exits), so that LCGD's read-outs carry the "
                    "label; to run if the lens check of per-model fails (issue 35, item 2).",
        claims=PER_MODEL_CLAIMS),
    "ladder": Study(
        name="ladder", chapter="03", profile="cpu", points=tuple({**s, "controls": True} for s in SCALES),
        members=LADDER_MEMBERS, member=MEMBER, keep=LADDER_KEEP, success="lcgd_more_icl_aou", first_seed=2000,
        description="the `gpu`-only claims 3a, 3c, 4a, 4b at three CPU scales toward the `gpu` model (issue 35, "
                    "item 5), each trend's direction fixed before the runs.",
        claims=(
            _trend("3a-ladder", "Untrained controls' SimAOU approaches the trained model's as the scale grows",
                   "ctrl_minus_trained"),
            _trend("3c-ladder", "Random models' SimAOU rise with depth grows with the scale", "depth_rise"),
            _trend("4a-ladder", "LCGD − GD in SimAOU grows with the scale", "d_aou"),
            _trend("4b-ladder", "LCGD − GD in SimAM_Δ grows with the scale", "d_am"),
        )),
}
