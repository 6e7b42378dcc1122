"""Do chapters 3 and 5 train their seeds faster on two local worker processes than inline?

Chapter 3 pretrains one GPT per seed and chapter 5 trains one concept model per seed, each seed independent: the
sweeps they hand to the executor (``LayerCausality.pretrain_seeds``, ``ConceptExperiment.run_seeds``). This times, in
one run, two seeds of each at the `cpu` profile's model and batch for a fixed number of steps, inline (the notebook's
process at the measured 2 threads) and on ``local:2`` (two 1-thread Dask workers, cluster start-up included), each
into a fresh store, and prints the seconds and the ratio inline / local:2 per chapter.

    .venv/bin/python benchmarks/executor_seeds.py [--steps-03 600] [--steps-05 800]

Run it on a quiet machine; its result fixes the chapters' entries in ``iclbook.executor.MEASURED_CPU_DEFAULTS``.

Measured on the 2-core CI machine (AMD EPYC, 2 cores, no SMT; quiet, load average 0.4; 2026-12-06; 2 min 58 s in
all): chapter 3 inline 43.1 s, local:2 30.8 s (1.40×); chapter 5 inline 55.8 s, local:2 44.2 s (1.26×). Both now
default to ``local:2`` on a CPU with two or more cores.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("ICLBOOK_PROGRESS", "0")

from iclbook import executor as ex  # noqa: E402
from iclbook import rng, runtime  # noqa: E402
from iclbook.chapters import get  # noqa: E402
from iclbook.experiments.layer_causality import LayerCausality  # noqa: E402
from iclbook.experiments.multi_concept import ConceptExperiment  # noqa: E402
from iclbook.store import Store  # noqa: E402


def seconds(chapter: str, steps: int, executor: ex.Executor) -> float:
    """Two seeds of chapter 3's pretraining or chapter 5's main runs, into a fresh store."""
    P = get(chapter).params.resolve("cpu", {"steps": steps})
    seeds = rng.member_seeds(P.seed, 2)
    with tempfile.TemporaryDirectory() as root:
        if chapter == "03":
            X = LayerCausality.from_params(P, Store(root), "cpu")
            t0 = time.perf_counter()
            X.pretrain_seeds(seeds, P.seed, executor=executor)
        else:
            X = ConceptExperiment.from_params(P, Store(root), "cpu")
            t0 = time.perf_counter()
            X.run_seeds(seeds, executor=executor)
        out = time.perf_counter() - t0
    ex.close_clients()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps-03", type=int, default=600)
    ap.add_argument("--steps-05", type=int, default=800)
    args = ap.parse_args()
    threads = runtime.set_threads()
    print(f"two seeds per chapter at the `cpu` profile; inline at {threads} thread(s); "
          f"load average {os.getloadavg()[0]:.1f}")
    for chapter, steps in (("03", args.steps_03), ("05", args.steps_05)):
        inline = seconds(chapter, steps, ex.Executor("inline"))
        pooled = seconds(chapter, steps, ex.parse("local:2"))
        print(f"chapter {chapter} ({steps} steps): inline {inline:.1f} s; local:2 {pooled:.1f} s; "
              f"local:2 speed-up {inline / pooled:.2f}×")


if __name__ == "__main__":
    main()
