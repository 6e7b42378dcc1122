"""Does chapter 4's grid train faster on two local worker processes than inline?

Times, in one run, a fixed slice of chapter 4's `cpu` grid (four members at the profile's model and batch, a few
hundred steps each) trained by ``train_sweep`` inline (the notebook's process, the measured default of 2 threads)
and on ``local:2`` (a Dask LocalCluster of two 1-thread workers), each into a fresh store. The cluster's start-up
is timed with it, as a chapter pays it. Prints seconds of each and the ratio inline / local:2.

    .venv/bin/python benchmarks/executor.py [--steps 400] [--members 4]

Run it on a quiet machine. The result fixes ``iclbook.executor.DEFAULT_CPU_EXECUTOR`` (see its comment).

Measured on the 2-core CI machine, quiet, one run (2026-12-02): inline 118.2 s, local:2 94.3 s, speed-up 1.25×.
Before the workers were started without Dask's MALLOC_TRIM_THRESHOLD_=65536 the same run gave 0.76×.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from iclbook import executor as ex  # noqa: E402
from iclbook import rng, runtime  # noqa: E402
from iclbook.chapters import get  # noqa: E402
from iclbook.store import Store  # noqa: E402
from iclbook.experiments.modular_arithmetic import train_sweep  # noqa: E402
from iclbook.tasks.modular import ModularTask  # noqa: E402
from iclbook.train import OptimConfig, checkpoint_steps  # noqa: E402


def sweep_seconds(executor: ex.Executor, steps: int, members: int) -> float:
    P = get("04").params.resolve("cpu", {})
    seeds = rng.member_seeds(P.seed, members)
    n_ids = [P.n_ids[i % len(P.n_ids)] for i in range(members)]
    tasks = [ModularTask(P.p, n, P.alphas[0], P.n_ex, seed=s, rule=P.tasks) for s, n in zip(seeds, n_ids)]
    cfg = dict(n_layer=P.n_layer, n_embd=P.n_embd, n_head=P.n_head, activation="relu", pos=P.pos, bias=P.bias,
               tie_embeddings=True)
    optim = OptimConfig("adamw", P.lr, (0.9, 0.98), P.weight_decay, schedule="warmup_cosine", warmup=P.warmup,
                        final_lr_frac=0.1)
    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        train_sweep(tasks, cfg, optim, steps, P.batch, seeds, Store(root), 1,
                    checkpoint_steps(steps, n_linear=4, n_log=0), 256, "cpu", desc=str(executor), executor=executor)
        seconds = time.perf_counter() - t0
    ex.close_clients()
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--members", type=int, default=4)
    args = ap.parse_args()
    threads = runtime.set_threads()
    print(f"chapter 4 `cpu` model, {args.members} members × {args.steps} steps; inline at {threads} thread(s); "
          f"load average {os.getloadavg()[0]:.1f}")
    inline = sweep_seconds(ex.Executor("inline"), args.steps, args.members)
    pooled = sweep_seconds(ex.parse("local:2"), args.steps, args.members)
    print(f"inline {inline:.1f} s; local:2 {pooled:.1f} s (cluster start-up included); "
          f"local:2 speed-up {inline / pooled:.2f}×")


if __name__ == "__main__":
    main()
