"""Pilot one chapter-4 grid point through the library's own trainer (``train_sweep``), printing its evaluations.

Used to search for a ``cpu`` recipe (the chapter's appendix lists the runs). Several seeds train as one sweep on an
executor, e.g. two at a time on the two cores:
    .venv/bin/python tools/ch04_pilot.py --seeds 0 1 2 --n-id 40 --rule random --executor local:2
"""
from __future__ import annotations

import argparse
import json
import time

from iclbook.executor import parse
from iclbook.runtime import device, set_threads
from iclbook.store import Store
from iclbook.experiments.modular_arithmetic import train_sweep
from iclbook.tasks.modular import ModularTask
from iclbook.train import OptimConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--p", type=int, default=7)
    ap.add_argument("--n-ex", type=int, default=16)
    ap.add_argument("--n-id", type=int, default=40)
    ap.add_argument("--alpha", type=float, default=0.8)
    ap.add_argument("--rule", default="random")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--pos", default="learned")
    ap.add_argument("--bias", type=int, default=1)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=1.0)
    ap.add_argument("--warmup", type=float, default=0.04)
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--n-eval", type=int, default=1024)
    ap.add_argument("--every", type=int, default=500)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--executor", default="inline", help="inline | local:N | dask:ADDRESS")
    ap.add_argument("--store", default="build/pilot-store")
    a = ap.parse_args()
    set_threads()
    dev = device()
    tasks = [ModularTask(a.p, a.n_id, a.alpha, a.n_ex, seed=s, device=dev, rule=a.rule) for s in a.seeds]
    cfg = dict(n_layer=a.layers, n_embd=a.width, n_head=4, activation="relu", pos=a.pos, bias=bool(a.bias),
               tie_embeddings=True)
    optim = OptimConfig("adamw", a.lr, (0.9, 0.98), a.wd, schedule="warmup_cosine", warmup=a.warmup,
                        final_lr_frac=0.1)
    t0 = time.perf_counter()
    members = train_sweep(tasks, cfg, optim, a.steps, a.batch, a.seeds, Store(a.store), 1,
                          list(range(0, a.steps + 1, a.every)), a.n_eval, dev, executor=parse(a.executor))
    for s, m in zip(a.seeds, members):
        for e in m.result.evals:
            print(json.dumps({"seed": s, **{k: round(v, 3) if isinstance(v, float) else v for k, v in e.items()}}))
    print(json.dumps({"args": vars(a), "seconds": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()
