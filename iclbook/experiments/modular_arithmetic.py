"""Train a grid of decoders on modular-arithmetic tasks from one call, as ensembles of ``group`` members.

One ensemble of all grid points is the fast path on a GPU. On a 2-core CPU the models are compute-bound and a stacked
ensemble is no faster than one model after another (measured: 3.1 vs 3 × 12 / 3 steps/s), so the CPU profiles use
groups of one. A member's batches depend only on its own seed and the step, never on the group it trains in, so the
grouping changes the speed and not the result (up to floating-point summation order).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from ..analysis.modular import accuracy_by_shot, z_loss
from .. import executor as executors
from .. import rng, runtime
from ..executor import Executor, Job, run_jobs
from ..models.gpt import GPT, GPTConfig
from ..store import Store
from ..tasks.modular import EVAL_SETS, ModularTask
from ..train import OptimConfig, TrainResult, train


@dataclass(frozen=True)
class Member:
    """One trained grid point: its task, its model (ensemble of one) and its training record."""

    task: ModularTask
    model: GPT
    result: TrainResult  # losses (steps,), evals: {"step", "id_train", "id_test", "ood_train", "ood_test"}

    def curve(self, key: str):
        """(steps, last-shot accuracies) of one evaluation set across checkpoints."""
        return self.result.eval_series(key)

    def final(self) -> dict[str, float]:
        return {k: float(self.result.evals[-1][k]) for k in EVAL_SETS}


def eval_sets(tasks: list[ModularTask], n: int, device) -> dict[str, torch.Tensor]:
    """Fixed evaluation tokens per set, (E, n, 3·n_ex): set j of a task comes from the stream ("eval", task seed, j),
    which no training batch uses."""
    return {w: torch.stack([t.eval_batch(w, n, rng.generator("eval", t.seed, j, device=device)) for t in tasks])
            for j, w in enumerate(EVAL_SETS)}


def train_sweep(tasks: list[ModularTask], model_cfg: dict, optim: OptimConfig, steps: int, batch: int,
                seeds: list[int], store: Store, group: int, checkpoints: list[int], n_eval: int,
                device, desc: str = "grid", executor: Executor | None = None) -> list[Member]:
    """Train one decoder per task (``seeds[i]`` initialises member i and draws its batches) and return the members.

    ``model_cfg`` holds the GPTConfig fields other than vocab_size, block_size and n_models. Groups train on the
    ``executor`` (default: ``ICLBOOK_EXECUTOR``); the members are then read back from the store.
    """
    if len(tasks) != len(seeds):
        raise ValueError(f"train_sweep: {len(tasks)} tasks but {len(seeds)} seeds")
    if group < 1:
        raise ValueError(f"train_sweep: group must be >= 1, got {group}")
    p, n_ex = tasks[0].p, tasks[0].n_ex
    if any(t.p != p or t.n_ex != n_ex for t in tasks):
        raise ValueError("train_sweep: all tasks of one sweep need the same p and n_ex")
    parts = [(tasks[i:i + group], seeds[i:i + group]) for i in range(0, len(tasks), group)]
    ex = executor or executors.current()
    if ex.kind != "inline":
        jobs = [Job("iclbook.experiments.modular_arithmetic:train_group_job",
                    dict(tasks=[t.spec() for t in part], seeds=list(s), model_cfg=model_cfg, optim=asdict(optim),
                         steps=steps, batch=batch, checkpoints=list(checkpoints), n_eval=n_eval,
                         store_root=str(store.root), desc=desc),
                    key="ch04-sweep-" + store.run("ch04-sweep", _group_config(part, s, model_cfg, optim, steps,
                                                                               batch, n_eval)).key)
                for part, s in parts]
        run_jobs(jobs, ex, desc=desc)
    members: list[Member] = []
    for part, s in parts:
        members += train_group(part, s, model_cfg, optim, steps, batch, store, checkpoints, n_eval, device, desc)
    return members


def train_group_job(tasks: list[dict], seeds: list[int], model_cfg: dict, optim: dict, steps: int, batch: int,
                    checkpoints: list[int], n_eval: int, store_root: str, desc: str) -> None:
    """``train_group`` from plain data, as an executor's worker runs it; the result goes to the store."""
    dev = runtime.device()
    train_group([ModularTask(**t, device=dev) for t in tasks], seeds, model_cfg, OptimConfig(**optim), steps, batch,
                Store(store_root), checkpoints, n_eval, dev, desc)


def _group_config(part: list[ModularTask], seeds: list[int], model_cfg: dict, optim: OptimConfig, steps: int,
                  batch: int, n_eval: int) -> dict:
    """The store config of one group: what its training depends on, and nothing about where it runs."""
    return {"kind": "modular-sweep", "model": model_cfg, "optim": asdict(optim), "steps": steps, "batch": batch,
            "n_eval": n_eval, "seeds": list(seeds), "tasks": [t.spec() for t in part]}


def train_group(part: list[ModularTask], part_seeds: list[int], model_cfg: dict, optim: OptimConfig, steps: int,
                batch: int, store: Store, checkpoints: list[int], n_eval: int, device, desc: str) -> list[Member]:
    """Train one group of members as a stacked ensemble (or read it from the store)."""
    p, n_ex = part[0].p, part[0].n_ex
    E = len(part)
    cfg = GPTConfig(**model_cfg, vocab_size=p, block_size=3 * n_ex, n_models=E)
    model = GPT(cfg).to(device)
    with torch.no_grad():  # member i's init depends on its own seed only
        for i, s in enumerate(part_seeds):
            single = GPT(GPTConfig(**model_cfg, vocab_size=p, block_size=3 * n_ex), rng.generator("init", s))
            model.load_member(i, single.state_dict())
    ev = eval_sets(part, n_eval, device)

    def loss_fn(m, step):
        toks = torch.stack([t.train_batch(batch, rng.generator("batch", s, step, device=device))
                            for t, s in zip(part, part_seeds)])
        return z_loss(m, toks)

    def evaluate(m, step):
        return {w: accuracy_by_shot(m, toks)[:, -1].tolist() for w, toks in ev.items()}

    config = _group_config(part, part_seeds, model_cfg, optim, steps, batch, n_eval)
    label = ", ".join(f"n={t.n_id} α={t.alpha:g}" for t in part) if E <= 2 else f"{E} points"
    res = train(model, loss_fn, steps, optim, run=store.run("ch04-sweep", config), checkpoints=checkpoints,
                evaluate=evaluate, desc=f"{desc}: {label}")
    model.eval()
    members = []
    for i, t in enumerate(part):
        single = GPT(GPTConfig(**model_cfg, vocab_size=p, block_size=3 * n_ex)).to(device)
        single.load_state_dict(model.member_state_dict(i))
        losses = res.losses[:, i] if res.losses.ndim == 2 else res.losses
        evals = [{"step": e["step"], **{w: e[w][i] for w in EVAL_SETS}} for e in res.evals]
        members.append(Member(t, single.eval(), TrainResult(losses, evals, res.resumed_from, res.from_store,
                                                            res.seconds)))
    return members
