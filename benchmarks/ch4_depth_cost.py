"""Chapter 4's depth control: how much faster one layer trains per step than two, at the `cpu` model.

Issue 33 asks that the depth-1 control of claim 2 get at least the wall time of a depth-2 member. The `depth`
study gives it twice the steps on the premise that one layer runs about twice as fast per step; this prints the
measured ratio, so the premise is checked, not assumed. Each depth trains the chapter's model (the `cpu` profile's
width, heads, batch and optimiser) on the chapter's batches and loss for a fixed number of steps, after a warm-up,
alternating depths over several rounds; the median step time per depth is reported.

    .venv/bin/python benchmarks/ch4_depth_cost.py [--steps 60] [--rounds 3] [--threads 1]

Run it on a quiet machine: timings are inflated by whatever else runs (the load average is printed).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from iclbook import rng
from iclbook.analysis.modular import z_loss
from iclbook.chapters import get
from iclbook.models.gpt import GPT, GPTConfig
from iclbook.tasks.modular import ModularTask
from iclbook.train import OptimConfig


def step_seconds(n_layer: int, steps: int, P) -> float:
    """Seconds per training step of the chapter's `cpu` model at ``n_layer`` layers (data drawn inside the step)."""
    task = ModularTask(P.p, 40, P.alphas[-1], P.n_ex, seed=0, device="cpu", rule=P.tasks)
    cfg = GPTConfig(n_layer=n_layer, n_embd=P.n_embd, n_head=P.n_head, activation="relu", pos=P.pos, bias=P.bias,
                    tie_embeddings=True, vocab_size=P.p, block_size=3 * P.n_ex)
    model = GPT(cfg, rng.generator("init", 0))
    opt = OptimConfig("adamw", P.lr, (0.9, 0.98), P.weight_decay).make(model)

    def one(step: int) -> None:
        toks = task.train_batch(P.batch, rng.generator("batch", 0, step))[None]  # the ensemble axis (one member)
        loss = z_loss(model, toks)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for s in range(5):  # warm-up
        one(s)
    t0 = time.perf_counter()
    for s in range(steps):
        one(5 + s)
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    P = get("04").params.resolve("cpu", {"seed": 0})
    times: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(a.rounds):
        for depth in (1, 2):
            times[depth].append(step_seconds(depth, a.steps, P))
    t1, t2 = (statistics.median(times[d]) for d in (1, 2))
    print(f"chapter 4 `cpu` model (width {P.n_embd}, {P.n_head} heads, batch {P.batch}, p = {P.p}), "
          f"{a.threads} thread(s), load average {os.getloadavg()[0]:.2f}")
    print(f"  depth 1: {1e3 * t1:.1f} ms/step   depth 2: {1e3 * t2:.1f} ms/step   ratio depth 2 / depth 1: {t2 / t1:.2f}")
    print(f"  the depth study gives depth 1 twice the steps: {2 * t1 / t2:.2f} x a depth-2 member's training time "
          f"(≥ 1 means at least its wall time)")


if __name__ == "__main__":
    main()
