"""Chapter 2's ladder study: what each rung's training costs relative to the `cpu` rung, on this machine.

The `ladder` study trains the chapter's whole `cpu` sweep (every M as one ensemble) at ½×, 1× and 2× the steps and
at twice the width. Its cost per member is dominated by training, so a rung costs about (steps × time per sweep step
at its width) relative to the `cpu` rung. This prints the time per sweep step at width 64 and 128 (one thread,
alternating widths over rounds so that drifting contention hits both alike) and each rung's relative cost, so the
study's budget is planned from a measurement. The LLC estimates and evaluations come on top of this.

    .venv/bin/python benchmarks/ch2_ladder_cost.py [--steps 30] [--rounds 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics

import torch

from iclbook.chapters import get
from iclbook.experiments.transient_ridge import SweepConfig
from iclbook.experiments.transient_ridge_studies import RUNGS

from sweep_ensemble import ms_per_step  # the same timing loop as the ensemble benchmark


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    base = SweepConfig.from_params(get("02").params.resolve("cpu", {"seed": 0}))
    widths = sorted({r.get("n_embd", base.n_embd) for r in RUNGS})
    ms: dict[int, list[float]] = {w: [] for w in widths}
    for _ in range(a.rounds):
        for w in widths:
            ms[w].append(ms_per_step(dataclasses.replace(base, n_embd=w), list(base.Ms), a.steps))
    per = {w: statistics.median(v) for w, v in ms.items()}
    print(f"chapter 2 `cpu` sweep (M = {list(base.Ms)}, batch {base.batch} per member), {a.threads} thread(s), "
          f"load average {os.getloadavg()[0]:.2f}")
    for w in widths:
        print(f"  width {w}: {per[w]:.1f} ms per sweep step")
    ref = base.steps * per[base.n_embd]
    for r in RUNGS:
        cost = r["steps"] * per[r.get("n_embd", base.n_embd)]
        print(f"  rung {r['rung']}: {cost / ref:.2f} x the cpu rung's training")


if __name__ == "__main__":
    main()
