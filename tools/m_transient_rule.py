"""Chapter 2's M_transient rule (issue 34) applied to pool seeds: the Bayes gap r(M) = dMMSE_M / ridge (OOD loss / D,
Monte Carlo, no training) over the rule's window, and the M it picks.

Run from the repository root: ``python tools/m_transient_rule.py [POOL_SEED ...]`` (default: 0–5, 1000–1002).
"""
from __future__ import annotations

import sys

from iclbook.analysis.bayes_gap import N_MC, RULE, m_transient


def main(pools: list[int]) -> None:
    head = m_transient(RULE.anchor_pool)
    print(f"rule: anchor pool {RULE.anchor_pool}, M = {RULE.anchor_M} at profile {RULE.profile} (D = {RULE.D}, "
          f"K = {RULE.K}, σ² = {RULE.sigma2:g}); target r = {head['target']:.3f}; window M = {RULE.low}–{RULE.high}; "
          f"{N_MC} fresh-task sequences shared by every pool; ridge OOD/D = {head['gaps']['ridge'][0]:.3f} "
          f"± {head['gaps']['ridge'][1]:.3f}")
    window = range(RULE.low, RULE.high + 1)
    print("pool | M_transient | r(M_t) | miss | tied | dMMSE_M/D over M = " + ", ".join(map(str, window)) + " | grid")
    for s in pools:
        out = m_transient(s)
        curve = ", ".join(f"{out['gaps'][m]['dmmse']:.3f}" for m in window)
        print(f"{s} | {out['M']} | {out['ratio']:.3f} | {out['miss']:.3f} | {out['tied']} | {curve} | {out['grid']}", flush=True)
    print(f"standard error of one dMMSE_M/D near M = 13: ≈ {head['gaps'][RULE.anchor_M]['se']:.3f}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [0, 1, 2, 3, 4, 5, 1000, 1001, 1002])
