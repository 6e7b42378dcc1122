"""The training-free Bayes gap of a task pool, and chapter 2's rule for M_transient that reads it.

The gap of pool size M is dMMSE_M's out-of-distribution loss (MSE over the K positions / D, on fresh Gaussian tasks)
against ridge's, both Bayes predictors computed by ``baselines`` (Raventós et al. 2023): no training, only Monte
Carlo. Every pool and every M is scored on one fixed evaluation set (common random numbers), so the differences
between M and between pools carry much less noise than each loss (whose standard error is returned with it).

**The rule** (issue 34, fixed before any training that tests it) picks M_transient for a pool as the M of the
window [``RULE.low``, ``RULE.high``] whose gap ratio r(M) = dMMSE_M / ridge comes closest to the ratio of the one
case where the chapter's own `cpu` recipe showed the transient: pool 0 at M = 13. Near-ties are broken toward the
anchor's M: every M whose miss |r(M) − target| lies within two standard errors (of its difference from the anchor,
per sequence) of the best miss counts as tied, and of those the one nearest 13 in log M wins (then the smaller).
Why:
- The transient is a race between learning ridge and memorising the pool (Carroll et al. 2025); how far dMMSE_M lies
  from ridge on fresh tasks is the training-free measure of how different the two solutions are, and at small M it
  moves a lot with the pool (M = 4: 1.02 to 2.74 over pool seeds 0–5, ``../shared/reviews/pool-gaps-2026-12.md``).
- The target comes from the chapter's own recipe (triangle schedule, 32 000 steps, batch 64, 2 layers × 64): on pool
  0 the transient showed at M = 13 (2 of 3 recorded seeds, and the first transient M in all three), never at M = 8.
  The spec pilot's M = 8 (4 of 4 seeds at r = 1.09 / 0.416 = 2.6) used another recipe (5 % warm-up, then a constant
  rate) and another generator for its pool; the pool-gaps note found its dMMSE_8 close to pool 0's, so its success
  came from its recipe, not its pool, and its ratio is not a target for ours.
- The window is where the chapter's recipe can show the transient at all on pool 0 (its pilots: M ≤ 11 stayed on the
  dMMSE side, M = 16 ended on the ridge side): the time to memorise grows superlinearly in M (Wurgaft et al. 2025,
  arXiv 2506.17859), so at a fixed budget a pool's gap can move M_transient only within a factor of about 2. The
  gap near M = 13 varies little across pools (0.90–0.98 at M = 13 for pools 0–5), so the rule mostly picks M near 13;
  a study over pools then measures the transient's spread over pools, at the M that matches the known case.
- The tie-break: over M = 11–16 the gap is nearly flat in most pools (pool 0: 0.914, 0.904, 0.901, 0.907, 0.895,
  0.884), so the nearest r is often decided by less than the Monte Carlo error. Where the gap cannot tell M apart,
  the M the recipe was seen to work at is the better guess, because the time to memorise grows with M.
- The anchor belongs to the `cpu` recipe and its D, K, σ². Another scale (the `gpu` profile, D = 8, K = 16) has no
  case to match, so the rule refuses it rather than transfer a ratio it never saw.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch

from .. import rng
from ..baselines import dmmse_predictions, ridge_predictions
from ..tasks.regression import RegressionTask

N_MC = 2**15  # evaluation sequences of the rule's Monte Carlo: standard error ≈ 0.005 on each loss near M = 13
MC_SEED = 34  # the rule's evaluation set: rng.generator("mc", MC_SEED, 0), the same for every pool (issue 34)


@dataclass(frozen=True)
class GapRule:
    """The anchor (a pool and M where the recipe showed the transient) and the window of M the rule may pick."""

    profile: str  # the recipe the anchor was seen with
    D: int
    K: int
    sigma2: float
    anchor_pool: int
    anchor_M: int
    low: int  # smallest M the rule may pick
    high: int  # largest M the rule may pick
    grid_base: tuple[int, ...]  # the profile's finite grid without its old M_transient; the rule's M is added


RULE = GapRule(profile="cpu", D=4, K=8, sigma2=0.125, anchor_pool=0, anchor_M=13, low=8, high=16,
               grid_base=(1, 4, 8, 16, 64))


def _losses(pred: torch.Tensor, y: torch.Tensor, D: int) -> torch.Tensor:
    """Per-sequence MSE over the K positions / D, in float64."""
    return ((pred.double() - y.double()) ** 2).mean(-1) / D


@lru_cache(maxsize=8)
def eval_set(D: int, K: int, sigma2: float, n: int = N_MC, mc_seed: int = MC_SEED):
    """The fixed fresh-task evaluation set (x, y) and ridge's per-sequence losses on it (shared by every pool)."""
    task = RegressionTask(D, K, sigma2)
    x, y, _ = task.sample_fresh(n, rng.generator("mc", mc_seed, 0), "cpu")
    return x, y, _losses(ridge_predictions(x, y, sigma2), y, D)


@lru_cache(maxsize=64)
def _seq_losses(D: int, K: int, sigma2: float, pool_seed: int, M: int, n: int, mc_seed: int) -> torch.Tensor:
    """dMMSE_M's per-sequence losses on the fixed evaluation set."""
    x, y, _ = eval_set(D, K, sigma2, n, mc_seed)
    return _losses(dmmse_predictions(x, y, RegressionTask(D, K, sigma2, pool_seed=pool_seed).pool(int(M)), sigma2), y, D)


def bayes_gaps(D: int, K: int, sigma2: float, pool_seed: int, Ms, n: int = N_MC, mc_seed: int = MC_SEED) -> dict:
    """OOD loss / D of ridge and of dMMSE_M for each M of pool ``pool_seed``, with standard errors and r = dMMSE/ridge.

    Returns {"ridge": (loss, se), M: {"dmmse": loss, "se": se, "ratio": r}}; pools are
    ``RegressionTask(D, K, sigma2, pool_seed=s).pool(M)``, the chapter's own."""
    ridge = eval_set(D, K, sigma2, n, mc_seed)[2]
    out: dict = {"ridge": (float(ridge.mean()), float(ridge.std() / math.sqrt(n)))}
    for M in Ms:
        loss = _seq_losses(D, K, sigma2, pool_seed, M, n, mc_seed)
        out[int(M)] = {"dmmse": float(loss.mean()), "se": float(loss.std() / math.sqrt(n)),
                       "ratio": float(loss.mean() / ridge.mean())}
    return out


def rule_for(profile: str, D: int, K: int, sigma2: float) -> GapRule:
    """The rule of ``profile`` at (D, K, σ²); refused where no anchor was seen (another profile or scale)."""
    if (profile, D, K, float(sigma2)) != (RULE.profile, RULE.D, RULE.K, float(RULE.sigma2)):
        raise ValueError(f"the M_transient rule is anchored at profile {RULE.profile!r} with D = {RULE.D}, K = {RULE.K}, "
                         f"σ² = {RULE.sigma2:g}; got profile {profile!r}, D = {D}, K = {K}, σ² = {sigma2:g}, where no "
                         "transient has been seen to anchor it: give M_transient explicitly")
    return RULE


@lru_cache(maxsize=64)
def m_transient(pool_seed: int, rule: GapRule = RULE, n: int = N_MC, mc_seed: int = MC_SEED) -> dict:
    """M_transient of pool ``pool_seed``: the M in [rule.low, rule.high] whose ratio r(M) is nearest the anchor's
    r (pool ``rule.anchor_pool`` at M = ``rule.anchor_M``), near-ties (within two standard errors of the best miss)
    going to the M nearest the anchor's in log M, then to the smaller.

    Returns {"M": the pick, "target": the anchor's r, "ratio": r at the pick, "miss": |r − target|, "tied": the M
    counted as tied with the best, "gaps": the window's ``bayes_gaps`` (with "se_diff", the standard error of each
    r(M) − target), "grid": the profile's finite grid with the pick}."""
    window = list(range(rule.low, rule.high + 1))
    args = (rule.D, rule.K, rule.sigma2)
    ridge = eval_set(*args, n, mc_seed)[2].mean()
    anchor = _seq_losses(*args, rule.anchor_pool, rule.anchor_M, n, mc_seed)
    target = float(anchor.mean() / ridge)
    gaps = bayes_gaps(*args, pool_seed, window, n, mc_seed)
    for M in window:
        diff = _seq_losses(*args, pool_seed, M, n, mc_seed) - anchor
        gaps[M]["se_diff"] = float(diff.std() / math.sqrt(n) / ridge)
    miss = {M: abs(gaps[M]["ratio"] - target) for M in window}
    best = min(miss.values())
    tied = [M for M in window if miss[M] <= best + 2 * gaps[M]["se_diff"]]
    M = min(tied, key=lambda m: (abs(math.log(m / rule.anchor_M)), m))
    return {"M": M, "target": target, "ratio": gaps[M]["ratio"], "miss": miss[M], "tied": tied, "gaps": gaps,
            "grid": sorted({*rule.grid_base, M})}
