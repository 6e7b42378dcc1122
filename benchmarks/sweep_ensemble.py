"""Ensemble vs one-after-another training of a task-diversity sweep (chapter 2) on this machine.

Times training steps of the chapter-2 model for all M at once (one GPT with n_models = len(Ms), one bmm per layer)
against the same M trained as separate E = 1 models, at one thread. Prints ms per step of the whole sweep and the
speed-up; chapter 2 trains as one ensemble on every device because it wins (or ties) here and wins by far on a GPU.

    .venv/bin/python benchmarks/sweep_ensemble.py [--steps 100] [--threads 1]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import torch

from iclbook import rng

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from iclbook.models.gpt import GPT  # noqa: E402
from iclbook.experiments.transient_ridge import SweepConfig, make_loss  # noqa: E402


def ms_per_step(cfg: SweepConfig, group: list, steps: int) -> float:
    model = GPT(cfg.gpt(len(group)), generator=rng.generator("test", 0))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    loss_fn = make_loss(cfg, group, torch.device("cpu"))
    for i in range(steps + 10):
        if i == 10:
            t0 = time.perf_counter()
        loss = loss_fn(model, i)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
    return (time.perf_counter() - t0) / steps * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2, help="alternate the two ways this often (contention drifts)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    Ms = [1, 4, 8, 16, 32, math.inf]
    cfg = SweepConfig(Ms=tuple(Ms))
    print(f"chapter-2 model, M = {Ms}, batch {cfg.batch} per member, {args.threads} thread(s), "
          f"load average {os.getloadavg()[0]:.1f}")
    ens, seq = [], []
    for _ in range(args.repeats):
        ens.append(ms_per_step(cfg, Ms, args.steps))
        seq.append(sum(ms_per_step(cfg, [M], args.steps) for M in Ms))
    e, s = min(ens), min(seq)
    print(f"ensemble (E = {len(Ms)}): {e:.1f} ms per sweep step; sequential: {s:.1f} ms; "
          f"ensemble speed-up {s / e:.2f}× (best of {args.repeats}, load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
