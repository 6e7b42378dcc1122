"""Would chapter 2's sweep train faster as two 1-thread processes than as one 2-thread ensemble?

Two threads barely speed up the small chapter-2 model, so splitting the ensemble's members over two processes with
one thread each might use the two cores better. This times, in one run, the `cpu` profile's members (E = 7) as one
ensemble at 2 threads against the same members split 4 + 3 and trained at the same time in two 1-thread processes
(the slower half sets the pace). Prints ms per sweep step of each and the split's speed-up, per batch size.

    .venv/bin/python benchmarks/sweep_split.py [--steps 300] [--batch 64 128]

Measured on the 2-core CI machine, quiet, in two runs: 1.13–1.15× at batch 64 and 1.00–1.03× at batch 128, so the
book keeps one ensemble.
"""
from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from sweep_ensemble import ms_per_step  # noqa: E402

from iclbook.experiments.transient_ridge import SweepConfig  # noqa: E402

MS = [1, 4, 8, 13, 16, 64, math.inf]  # chapter 2's `cpu` grid plus M = ∞


def _one_thread() -> None:
    torch.set_num_threads(1)


def _time(args: tuple) -> float:
    group, batch, steps = args
    return ms_per_step(SweepConfig(Ms=tuple(group), batch=batch), group, steps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, nargs="+", default=[64, 128])
    args = ap.parse_args()
    halves = [MS[:4], MS[4:]]
    print(f"chapter-2 model, M = {MS}, load average {os.getloadavg()[0]:.1f}")
    with mp.get_context("spawn").Pool(2, initializer=_one_thread) as pool:
        for b in args.batch:
            torch.set_num_threads(2)
            whole = _time((MS, b, args.steps))
            split = max(pool.map(_time, [(h, b, args.steps) for h in halves]))
            print(f"batch {b}: one ensemble at 2 threads {whole:.1f} ms per sweep step; two 1-thread processes "
                  f"({len(halves[0])} + {len(halves[1])} members) {split:.1f} ms; split speed-up {whole / split:.2f}×")


if __name__ == "__main__":
    main()
