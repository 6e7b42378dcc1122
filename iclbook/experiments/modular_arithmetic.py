"""Train a grid of decoders on modular-arithmetic tasks from one call, as ensembles of ``group`` members.

One ensemble of all grid points is the fast path on a GPU. On a 2-core CPU the models are compute-bound and a stacked
ensemble is no faster than one model after another (measured: 3.1 vs 3 × 12 / 3 steps/s), so the CPU profiles use
groups of one. A member's batches depend only on its own seed and the step, never on the group it trains in, so the
grouping changes the speed and not the result (up to floating-point summation order).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..analysis.modular import accuracy_by_shot, context_determines_task, ratio_matching, z_loss
from .. import executor as executors
from .. import rng, runtime
from ..executor import Executor, Job, run_jobs
from ..models.gpt import GPT, GPTConfig
from ..store import Store
from ..tasks.modular import EVAL_SETS, ModularTask, z_logits_targets
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


def shot_sequences(member: Member, which: str, n: int, stream: int, device) -> torch.Tensor:
    """n fresh sequences (1, n, 3·n_ex) of one evaluation set of a member's task, from the stream ("eval", task
    seed, ``stream``); streams 0–3 are the fixed evaluation sets of training, so analyses use 10 and above."""
    return member.task.eval_batch(which, n, rng.generator("eval", member.task.seed, stream, device=device))[None]


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


def ratio_matching_by_shot(model, seqs: torch.Tensor, p: int, determined_only: bool = False) -> np.ndarray:
    """Per shot count k ≥ 1: (k, share of queries where ratio matching applies, the model's accuracy where it
    applies, where it does not), over queries with z ≠ 0 of ``seqs`` (1, B, 3·n_ex).

    ``determined_only`` keeps the contexts whose examples determine the task (span Z_p²): there an exact learner is
    right on every query, so a gap is the model's own reliance on ratio matching. Over all contexts, one example
    or collinear ones leave the answer undetermined off their span, and any learner shows a gap."""
    with torch.no_grad():
        logits, target = z_logits_targets(model(seqs), seqs)
    correct = (logits.argmax(-1) == target)[0]  # (B, n)
    rows = []
    for kk in range(1, seqs.shape[-1] // 3):
        applies, _ = ratio_matching(seqs[0], p, kk)
        # only queries with z ≠ 0: a model that merely favours the answer 0 would otherwise look like a ratio
        # matcher, because a query on the task's kernel line (z = 0) often matches an earlier z = 0 example
        keep = seqs[0].view(seqs.shape[1], -1, 3)[:, kk, 2] != 0
        if determined_only:
            keep &= context_determines_task(seqs[0], kk, p)
        applies, c = applies[keep], correct[keep, kk]
        rows.append((kk, applies.float().mean().item() if keep.any() else np.nan,
                     c[applies].float().mean().item() if applies.any() else np.nan,
                     c[~applies].float().mean().item() if (~applies).any() else np.nan))
    return np.array(rows)


def query_grid(model, task: ModularTask, ctx: torch.Tensor) -> dict:
    """One context ``ctx`` (3k tokens of an unseen task) followed by every query (x, y): where the model is right
    and where ratio matching would be, as (p, p) boolean arrays, with the task and the context."""
    p, k = task.p, ctx.numel() // 3
    qa, qb = next((a, b) for a, b in task.ood_tasks.tolist()
                  if all((a * x + b * y) % p == z for x, y, z in ctx.view(-1, 3).tolist()))
    xs, ys = torch.meshgrid(torch.arange(p, device=ctx.device), torch.arange(p, device=ctx.device), indexing="ij")
    q = torch.stack([xs.flatten(), ys.flatten(), (qa * xs.flatten() + qb * ys.flatten()) % p], 1)
    grid_seqs = torch.cat([ctx.expand(p**2, -1), q], 1)
    with torch.no_grad():
        lg, tg = z_logits_targets(model(grid_seqs[None]), grid_seqs[None])
    model_right = (lg.argmax(-1) == tg)[0, :, -1].view(p, p).cpu().numpy()
    oracle, _ = ratio_matching(grid_seqs, p, k)
    return {"task": (qa, qb), "ctx": ctx.view(-1, 3).tolist(), "k": k, "model_right": model_right,
            "oracle": oracle.view(p, p).cpu().numpy()}
