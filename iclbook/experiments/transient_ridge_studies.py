"""Chapter 2's studies (issue 34): the transient as a rate over seeds and task pools, and a CPU scale ladder for the
claims that only the `gpu` profile was expected to hold.

Every criterion and every expected direction below was committed before any member of its study ran, and so was
the rule that picks M_transient for each pool (``analysis.bayes_gap``).
- ``transient``: claims 2a–2c at the rule's M_transient, over (seed, pool) pairs; points are pool seeds (0, the book's,
  and three that no run or Monte Carlo table had used), members are seeds 1000–1002 (never used by a chapter run or
  pilot). A member trains M_transient only.
- ``ladder``: the chapter's whole `cpu` sweep and LLC on pool 0 at four rungs (½×, 1× and 2× the `cpu` steps, and
  the 1× steps at twice the width), 3 seeds each, with the trend of each claim's value read against training compute
  by a rule fixed here: along the step rungs a least-squares slope on log₂(steps) (``scipy.stats.linregress``), at
  the width rung a Welch t-test against the 1× rung (``scipy.stats.ttest_ind``); "toward" or "away from" the paper's
  side when the one-sided p < 0.05, else "flat".
- ``gpu-recipe``: issue 37's rehearsal of the `gpu` profile's recipe (the papers' interleaved tokens and its learning
  rate 1e-3) at the `cpu` scale, beside the `cpu` recipe, at M = 13 on pool 0 with the same seeds (1000 and up: the
  ``transient`` study's pool-0 members, whose models the `cpu` point shares).
- ``llc-known``: issue 34's item 4, a check of our instrument rather than of a paper's claim. The chapter measures
  λ̂(4) > λ̂(∞) > λ̂(8) in every `cpu` seed; before that order is read as our models', the same estimator (the `cpu`
  SGLD settings, ε rule, n and loss) is run on the chapter's architecture distilled onto dMMSE_4, dMMSE_8, dMMSE_16
  (pool 0) and ridge (``transient_ridge_llc_known``). "Known" means the *function* is known (each network is checked
  to be nearer its target than any other target); the LLC order is the theory's expectation, not a measured fact:
  - λ̂(dMMSE_4) < λ̂(dMMSE_8) < λ̂(dMMSE_16): a network implementing dMMSE_M stores M task vectors, and Carroll et
    al. (2025, Fig. 4) find the LLC of dMMSE-side models rising with M;
  - λ̂(ridge) < λ̂(dMMSE_16): in their account the transient shows where ridge is the simpler solution, and at `cpu`
    on pool 0 it shows at M = 13 (the Bayes-gap rule's M_transient), so ridge lies below dMMSE_13 and, by the first
    order, below dMMSE_16.
  No order of ridge against dMMSE_8 is expected (M = 8 lies within an octave of the transient's onset, where 4c puts
  the crossing). The absence of a transient at M = 4 suggests λ̂(dMMSE_4) < λ̂(ridge), the chapter's other reversed
  pair; it is kept as its own claim and left out of the main order, because the theory compares the two solutions on
  the same (pool-M) data, while the chapter, and so this check, estimates ridge's λ̂ on fresh tasks.
  Reading: if the fits hold and the order holds, the chapter may say λ̂(4) > λ̂(8) is its models'; if the fits hold
  and the order fails, the estimator is to be calibrated (devinterp's ε × nβ sweep) and 4a/4c rerun; if the fits
  fail, the check says nothing (distil longer). 3 members: the order in at least 2 of at least 2 known cases.
- ``llc-known-long``: the same check, criteria and estimator, with the distillation as long as the chapter's `cpu`
  training (32 000 steps instead of 4000), on fresh member seeds (1010 and up): in ``llc-known`` no network was its
  target after 4000 steps (dMMSE_8's fit was about three times its distance to the nearest other target), so that
  record says nothing about the estimator.
- ``llc-nbeta``: what ``llc-known-long`` found next asks for (its networks fitted dMMSE_4 and ridge in every member,
  not dMMSE_8 and dMMSE_16, and the estimator put λ̂(dMMSE_4) above λ̂(ridge) in all three, the chapter's reversal):
  is that the estimator at the chapter's nβ = 60, or does it persist as nβ rises toward n / log n (WBIC's inverse
  temperature, ``analysis.llc.default_nbeta``)? The chapter's earlier pilots showed nβ moves every λ̂ by a factor
  2.5–2.9, so nβ is the knob to sweep; ε follows the chapter's rule at each nβ (the largest of its grid at which no
  chain diverges), so the sweep runs along the ε × nβ frontier where chains stay finite. The members are
  ``llc-known-long``'s (seeds 1010–1012, the same distilled networks, which the run store shares across the points),
  so every comparison across nβ is paired; nothing was chosen on them. Criteria, fixed before any member ran:
  ``settles`` (some nβ above 60 gives settled, finite chains in ≥ 2 of 3 members), ``d4-ridge-nbeta`` (at the
  largest such nβ, λ̂(dMMSE_4) < λ̂(ridge) in ≥ 2/3 of the members whose two networks fit, at least 2) and
  ``ratio-trend`` (λ̂(dMMSE_4) / λ̂(ridge) falls with nβ: Kendall's τ < 0, one-sided p < 0.05). Reading: if
  d4-ridge-nbeta holds, nβ = 60 was too small to rank these networks, and 4a/4c are to be read again at that nβ; if
  it fails with settled chains, the estimator ranks the known dMMSE_4 network above ridge's at every nβ we can
  afford, so the chapter's reversal is what this estimator says of these two functions in this architecture, not a
  sign that our trained models found other solutions.
"""
from __future__ import annotations

from ..evidence.studies import RateClaim, Study, wilson
from . import transient_ridge_llc_known as llc_known
from .transient_ridge_criteria import (CPU_STEPS, P_TREND, among_known, every_point, pooled_rate, step_trend,
                                      width_trend)

MEMBER = "iclbook.experiments.transient_ridge_members:member"
LADDER_MEMBER = "iclbook.experiments.transient_ridge_members:ladder_member"
KEEP = ("pool_seed", "M_transient", "gap_dmmse", "gap_ridge", "gap_ratio", "rule_miss", "dmmse_eval", "ridge_eval",
        "t_crit", "ood_min", "ood_end", "d_ridge_tcrit", "d_dmmse_tcrit", "d_ridge_end", "d_dmmse_end",
        "t2a", "t2b", "t2c", "t2a_holds", "t2b_holds", "t2c_holds", "transient", "transient_side")
LADDER_KEEP = ("steps", "n_embd", "n_params", "M_transient", "t1c", "t1c_holds", "t1d", "t1d_holds", "t1e_holds",
               "t2a", "t2a_holds", "t2b", "t2b_holds", "t2c", "t2c_holds", "transient", "t3b", "t3b_holds", "t4a",
               "t4a_holds", "t4c", "t4c_holds", "llc_eps", "llc_diverged")
BOOK_POOL = 0
LONG_DISTIL = 32000  # llc-known-long: the distillation as long as the chapter's `cpu` training
NEW_POOLS = (1000, 1001, 1002)  # chosen before their Bayes gaps were computed: nobody had used them
RUNGS = ({"rung": "steps ½×", "steps": CPU_STEPS // 2}, {"rung": "steps 1×", "steps": CPU_STEPS},
         {"rung": "steps 2×", "steps": 2 * CPU_STEPS}, {"rung": "width 2×", "steps": CPU_STEPS, "n_embd": 128})


# -- the ladder's claims, each with the direction we expect, written before any member ran --------------------------
# (claim, value key, the paper's side: +1 larger / −1 smaller, expected along steps, expected along width, why)
LADDER_CLAIMS = (
    ("1c", "t1c", -1, "toward", "toward", "M = ∞ is under-trained at 32 000 steps (on ridge's side, 0.14–0.16 where "
     "the criterion asks < 0.1); more steps or width fit it better (the chapter's pilots: every larger model or "
     "batch brought M = ∞ nearer ridge)"),
    ("1d", "t1d", -1, "toward", "toward", "as 1c: the M = ∞ model's loss falls toward ridge's with training"),
    ("2a", "t2a", +1, "toward", "away", "steps: memorisation takes time growing superlinearly in M (Wurgaft et al. "
     "2025), so at a fixed M the rise completes with more steps (the chapter's 16k → 24k → 32k pilots rose more); "
     "width: every extra capacity the chapter tried (3 layers, MLP ratio 8) weakened the rise"),
    ("2b", "t2b", +1, "toward", "away", "as 2a"),
    ("2c", "t2c", +1, "toward", "flat", "steps: as 2a; width: the crossover held in the MLP-ratio-8 and 3-layer pilots, "
     "only the rise weakened"),
    ("3b", "t3b", +1, "flat", "flat", "at `cpu` 3b failed in the seed with the clearest transient and held in the "
     "weakest: nothing says it follows the transient's strength"),
    ("4a", "t4a", +1, "flat", "flat", "λ̂(4) > λ̂(8) survived twice the chains and draws, a third of nβ, two batch "
     "sizes and every pilot: a property of these models, not of the budget"),
    ("4c", "t4c", -1, "flat", "flat", "as 4a: the crossing sits at M = 4 because λ̂(4) is the largest finite-M value"),
)


def _ladder_claims() -> tuple[RateClaim, ...]:
    out = []
    for cid, key, sign, exp_steps, exp_width, why in LADDER_CLAIMS:
        side = "larger" if sign > 0 else "smaller"
        out.append(RateClaim(
            f"{cid}-steps", "paper", f"Claim {cid} moves toward the paper with more training steps (expected: "
            f"{exp_steps}; {why})", f"least-squares slope of {key} on log₂(steps) over the ½×, 1×, 2× rungs, ≥ 3 "
            f"members each; toward = {side} values, one-sided p < {P_TREND:g}; holds when toward",
            step_trend(key, sign)))
        out.append(RateClaim(
            f"{cid}-width", "paper", f"Claim {cid} moves toward the paper at twice the width (expected: {exp_width})",
            f"Welch t-test of {key} at width 128 against width 64 (32 000 steps), ≥ 3 members each; toward = "
            f"{side} values, one-sided p < {P_TREND:g}; holds when toward", width_trend(key, sign)))
    return tuple(out)


GPU_RECIPE = {"tokens": "interleaved", "lr": 1e-3}  # the gpu profile's recipe, without its scale
NEAR = 0.1  # a model has learned when it ends within this distance (/D) of ridge's or dMMSE_M's predictions


def _learned(m: dict) -> bool:
    return min(m["d_ridge_end"], m["d_dmmse_end"]) < NEAR


def _rehearsal_claim(record: dict) -> tuple[str, bool]:
    """The `gpu` recipe learns at the `cpu` scale where the `cpu` recipe does: every gpu-recipe member ends within
    NEAR of a Bayes predictor (ridge or dMMSE_M; a model stuck on a plateau ends far from both), and it shows the
    transient in at least as many members as the `cpu` recipe on the same seeds."""
    cpu, gpu = (next(r for r in record["points"] if ("tokens" in r["point"]) == g) for g in (False, True))
    ms = list(gpu["members"].values())
    learned = sum(_learned(m) for m in ms)
    value = (f"gpu recipe: learned {learned}/{len(ms)}, transient {gpu['k']}/{gpu['n']}; cpu recipe: learned "
             f"{sum(_learned(m) for m in cpu['members'].values())}/{cpu['n']}, transient {cpu['k']}/{cpu['n']}")
    return value, len(ms) >= 2 and gpu["n"] == cpu["n"] and learned == len(ms) and gpu["k"] >= cpu["k"]


LLC_KNOWN = "iclbook.experiments.transient_ridge_llc_known:llc_known_member"


def _llc_known_claims() -> tuple[RateClaim, ...]:
    """The checks of ``llc-known`` and ``llc-known-long`` (the same criteria, committed with the first)."""
    return (
        RateClaim("known", "check", "The distilled networks are their targets (the cases are known)",
                  f"in ≥ 2/3 of ≥ 3 members, every network's MSE/D to its target is below {llc_known.FIT_FRAC:g} "
                  "of its target's Δ to the nearest other target, on held-out sequences of its own distribution "
                  "and of fresh tasks", pooled_rate("known", 2 / 3, 3)),
        RateClaim("order", "check", "The estimator orders the known cases as the theory expects: λ̂(dMMSE_4) < "
                  "λ̂(dMMSE_8) < λ̂(dMMSE_16) and λ̂(ridge) < λ̂(dMMSE_16)",
                  "over the known-case members, ≥ 2/3 of ≥ 2 hold the whole order (point estimates; a "
                  "diverged chain fails it)", among_known("order")),
        RateClaim("d4-d8", "check", "… in particular λ̂(dMMSE_4) < λ̂(dMMSE_8), the pair the chapter measures "
                  "reversed", "over the known-case members, ≥ 2/3 of ≥ 2", among_known("d4_lt_d8")),
        RateClaim("d4-ridge", "check", "λ̂(dMMSE_4) < λ̂(ridge), the chapter's other reversed pair (ridge on fresh "
                  "tasks, as the chapter estimates it)", "over the known-case members, ≥ 2/3 of ≥ 2",
                  among_known("d4_lt_ridge")),
    )

NBETAS = (60.0, 180.0, 540.0, 909.0)  # the chapter's nβ, ×3, ×9, and n / log n at the `cpu` n = 8192 (WBIC)
FIT_BOTH = ("dmmse_4", "ridge")  # the networks llc-known-long fitted in every member


def _pair_known(m: dict) -> bool:
    return all(m[f"fit_ratio_{name}"] < llc_known.FIT_FRAC for name in FIT_BOTH)


def _settled_points(record: dict, min_share: float = 2 / 3, min_n: int = 3) -> list[float]:
    """The nβ values at which ≥ ``min_share`` of ≥ ``min_n`` members settled (claim 4d's test) without divergence."""
    out = []
    for row in record["points"]:
        ms = list(row["members"].values())
        ok = sum(bool(m["settled"]) and not m["diverged"] for m in ms)
        if len(ms) >= min_n and ok >= min_share * len(ms):
            out.append(float(row["point"]["llc_nbeta"]))
    return sorted(out)


def _settles(record: dict) -> tuple[str, bool]:
    pts = _settled_points(record)
    above = [nb for nb in pts if nb > NBETAS[0]]
    return (f"settled at nβ = {', '.join(f'{nb:g}' for nb in pts) or 'none'}", bool(above))


def _d4_ridge_nbeta(record: dict) -> tuple[str, bool]:
    """At the largest nβ where the chains settle (``_settled_points``), λ̂(dMMSE_4) < λ̂(ridge) among the members
    whose two networks fit, in ≥ 2/3 of at least 2."""
    pts = _settled_points(record)
    if not pts:
        return "no nβ at which the chains settle in ≥ 2 of 3 members", False
    row = next(r for r in record["points"] if float(r["point"]["llc_nbeta"]) == pts[-1])
    hits = [bool(m["d4_lt_ridge"]) for m in row["members"].values() if _pair_known(m) and not m["diverged"]]
    k, n = sum(hits), len(hits)
    lo, hi = wilson(k, n)
    return f"at nβ = {pts[-1]:g}: {k}/{n} [{lo:.2f}, {hi:.2f}] members with both networks fitted", \
        n >= 2 and k >= 2 / 3 * n


def _ratio_trend(record: dict) -> tuple[str, bool]:
    """Kendall's τ of λ̂(dMMSE_4) / λ̂(ridge) against nβ over every member with both networks fitted and no diverged
    chain (positive λ̂ only); holds when τ < 0 with one-sided p < P_TREND."""
    from scipy.stats import kendalltau

    xs, ys = [], []
    for row in record["points"]:
        for m in row["members"].values():
            if _pair_known(m) and not m["diverged"] and m["llc_ridge"] > 0 and m["llc_dmmse_4"] > 0:
                xs.append(float(row["point"]["llc_nbeta"]))
                ys.append(m["llc_dmmse_4"] / m["llc_ridge"])
    if len(set(xs)) < 2 or len(ys) < 4:
        return f"too few members ({len(ys)} over {len(set(xs))} nβ values)", False
    res = kendalltau(xs, ys, alternative="less")
    tau, p = float(res.statistic), float(res.pvalue)
    reading = "falls" if p < P_TREND else "no fall"
    return f"{reading}: τ = {tau:+.2f} (one-sided p {p:.2g}, {len(ys)} members)", p < P_TREND


STUDIES = {
    "gpu-recipe": Study(
        name="gpu-recipe", chapter="02", profile="cpu",
        points=({"pool_seed": BOOK_POOL, "M_transient": 13},
                {"pool_seed": BOOK_POOL, "M_transient": 13, **GPU_RECIPE}),
        members=2, member=MEMBER, keep=KEEP, success="transient", first_seed=1000,
        description="the gpu profile's recipe (interleaved tokens, lr 1e-3) at the cpu scale beside the cpu recipe, "
                    "M = 13, pool 0 (issue 37).",
        claims=(RateClaim("rehearsal", "check", "The gpu profile's recipe learns at the cpu scale where the cpu "
                          "recipe does", f"≥ 2 members each, the same seeds; every gpu-recipe member ends within "
                          f"{NEAR:g} (MSE/D) of ridge's or dMMSE_M's predictions, and shows the transient in at least "
                          "as many members as the cpu recipe", _rehearsal_claim),)),
    "transient": Study(
        name="transient", chapter="02", profile="cpu",
        points=tuple({"pool_seed": s} for s in (BOOK_POOL, *NEW_POOLS)),
        members=3, member=MEMBER, keep=KEEP, success="transient", first_seed=1000,
        description="claims 2a–2c at the Bayes-gap rule's M_transient of each task pool, one model per (seed, pool), "
                    "at the `cpu` recipe (issue 34, item 2).",
        claims=(
            RateClaim("2-rate", "paper", "At intermediate M the OOD loss falls toward ridge's, then rises toward "
                      "dMMSE_M's, crossing from ridge's side to dMMSE_M's (2a ∧ 2b ∧ 2c)",
                      "over every (seed, pool) pair, ≥ 1/2 of ≥ 8 members hold 2a, 2b and 2c",
                      pooled_rate("transient", 0.5, 8)),
            RateClaim("2-new-pools", "paper", "… on task pools no run had used", "over the pools other than 0, "
                      "≥ 1/2 of ≥ 6 members hold 2a, 2b and 2c", pooled_rate("transient", 0.5, 6, NEW_POOLS)),
            RateClaim("2-every-pool", "check", "The rule's M_transient shows the transient on every pool",
                      "at every pool seed, ≥ 1 of ≥ 3 members holds 2a, 2b and 2c", every_point("transient", 3)),
            RateClaim("2a-rate", "paper", "The OOD loss rises after t_crit (2a)",
                      "over every pair, ≥ 1/2 of ≥ 8 members hold 2a", pooled_rate("t2a_holds", 0.5, 8)),
            RateClaim("2b-rate", "paper", "Closer to ridge at t_crit than at the end (2b)",
                      "over every pair, ≥ 1/2 of ≥ 8 members hold 2b", pooled_rate("t2b_holds", 0.5, 8)),
            RateClaim("2c-rate", "paper", "The ridge → dMMSE_M crossover (2c)",
                      "over every pair, ≥ 1/2 of ≥ 8 members hold 2c", pooled_rate("t2c_holds", 0.5, 8)),
        )),
    "llc-known": Study(
        name="llc-known", chapter="02", profile="cpu", points=({"pool_seed": BOOK_POOL},), members=3,
        member=LLC_KNOWN, keep=llc_known.KEEP, success="order_known", first_seed=1000,
        description="the chapter's `cpu` LLC estimator on its architecture distilled onto dMMSE_4, dMMSE_8, dMMSE_16 "
                    "(pool 0) and ridge, whose functions are known: does it order them as the theory expects? "
                    "(issue 34, item 4).",
        claims=_llc_known_claims()),
    "llc-known-long": Study(
        name="llc-known-long", chapter="02", profile="cpu",
        points=({"pool_seed": BOOK_POOL, "distil_steps": LONG_DISTIL},), members=3, member=LLC_KNOWN,
        keep=llc_known.KEEP, success="order_known", first_seed=1010,
        description="llc-known with the distillation as long as the chapter's `cpu` training (32 000 steps), on "
                    "fresh member seeds: the 4000-step networks were not their targets, so that check said nothing "
                    "(issue 34, item 4).",
        claims=_llc_known_claims()),
    "llc-nbeta": Study(
        name="llc-nbeta", chapter="02", profile="cpu",
        points=tuple({"pool_seed": BOOK_POOL, "distil_steps": LONG_DISTIL, "llc_nbeta": nb} for nb in NBETAS),
        members=3, member=LLC_KNOWN, keep=llc_known.KEEP, success="d4_lt_ridge", first_seed=1010,
        description="llc-known-long's distilled networks (the same seeds) with the estimator at nβ = 60, 180, 540 and "
                    "n / log n = 909, ε by the chapter's rule at each: does λ̂(dMMSE_4) > λ̂(ridge) persist as nβ "
                    "rises? (issue 34, item 4: the calibration).",
        claims=(RateClaim("settles", "check", "The estimator settles on the known networks at some nβ above the "
                          "chapter's 60", "at some nβ > 60, ≥ 2 of 3 members hold claim 4d's settling test on every "
                          "network with no diverged chain", _settles),
                RateClaim("d4-ridge-nbeta", "check", "At the largest nβ where the chains settle, the estimator "
                          "ranks the known dMMSE_4 network below ridge's", "among members whose dMMSE_4 and ridge "
                          f"networks fit (ratio < {llc_known.FIT_FRAC:g}), ≥ 2/3 of ≥ 2 hold λ̂(dMMSE_4) < λ̂(ridge)",
                          _d4_ridge_nbeta),
                RateClaim("ratio-trend", "check", "λ̂(dMMSE_4) / λ̂(ridge) falls as nβ rises", "Kendall's τ "
                          f"against nβ over fitted, finite members < 0 with one-sided p < {P_TREND:g}",
                          _ratio_trend))),
    "ladder": Study(
        name="ladder", chapter="02", profile="cpu", points=RUNGS, members=3, member=LADDER_MEMBER,
        keep=LADDER_KEEP, success="transient", first_seed=1100,
        description="the chapter's `cpu` sweep and LLC on pool 0 at ½×, 1×, 2× the steps and at twice the width; "
                    "the trend of each formerly gpu-only claim against training compute (issue 34, item 3).",
        claims=_ladder_claims()),
}
