"""One member of a chapter-4 study: a decoder trained on one (n_i.d., recipe) point with its own seed, and what it
keeps (final accuracies, whether it solves unseen tasks, how accuracy rises with shots, ratio matching, the early
ratio r).

The recipe ``today`` is the chapter's own code path (``train_sweep``, the profile's optimiser and schedule), so a
study at ``today`` measures the chapter's model. The candidates of issue 33's screen change one thing each:
- ``constant-lr``: the learning rate stays at its peak after warm-up (the cosine decay ended while the late solvers
  of seeds 0 and 2 were still rising);
- ``grokfast``: Grokfast-EMA (Lee et al. 2024, arXiv:2405.20233, α 0.98, λ 2), which adds λ × an EMA of past
  gradients to each gradient (it sped up grokking of modular arithmetic about 40×; untested on ICL). Its EMA is not
  checkpointed: a member interrupted mid-training resumes with the EMA restarted;
- ``shared-xy``: the batches of He et al.'s code, where every sequence of a batch shows the same (x, y) pairs in the
  same order and only z differs (ours draws the pairs per sequence).
"""
from __future__ import annotations

from dataclasses import asdict, replace

import torch

from .. import rng, runtime
from ..analysis.modular import accuracy_by_shot, z_loss
from ..chapters import get
from ..executor import Executor
from ..models.gpt import GPT, GPTConfig
from ..paths import store_root
from ..store import Store
from ..tasks.modular import EVAL_SETS, ModularTask, balanced_index
from ..train import OptimConfig, TrainResult, checkpoint_steps, train
from . import modular_arithmetic_claims as claims
from .modular_arithmetic import Member, eval_sets, shot_sequences, train_sweep

RECIPES = ("today", "constant-lr", "grokfast", "shared-xy")
GROKFAST = (0.98, 2.0)  # (α, λ) of Lee et al.'s Grokfast-EMA for modular arithmetic


def member(point: dict, seed: int, profile: str) -> dict:
    """Train (or read from the run store) one model at ``point`` = {"n_id": …, "recipe": …, other chapter parameters
    …} with member ``seed`` (its tasks, input split, initialisation, batches and evaluation sets), at ``profile``'s
    parameters overridden by the point's."""
    recipe = point.get("recipe", "today")
    if recipe not in RECIPES:
        raise ValueError(f"recipe {recipe!r}: allowed {RECIPES}")
    overrides = {k: v for k, v in point.items() if k not in ("n_id", "recipe")}  # e.g. n_layer, steps
    P = get("04").params.resolve(profile, {**overrides, "seed": 0})  # checked like a chapter's parameters
    dev = runtime.device()
    task = ModularTask(P.p, point["n_id"], P.alphas[-1], P.n_ex, seed=seed, device=dev, rule=P.tasks)
    model_cfg = dict(n_layer=P.n_layer, n_embd=P.n_embd, n_head=P.n_head, activation="relu", pos=P.pos, bias=P.bias,
                     tie_embeddings=True)  # as the chapter builds it
    optim = OptimConfig("adamw", P.lr, (0.9, 0.98), P.weight_decay, schedule="warmup_cosine", warmup=P.warmup,
                        final_lr_frac=0.1)
    if recipe == "constant-lr":
        optim = replace(optim, schedule="warmup_constant")
    ckpts = checkpoint_steps(P.steps, n_linear=P.n_ckpt, n_log=0)
    store = Store(store_root())
    desc = f"study member {seed}: n={point['n_id']} {recipe}"
    if recipe in ("today", "constant-lr"):
        m = train_sweep([task], model_cfg, optim, P.steps, P.batch, [seed], store, 1, ckpts, P.n_eval, dev,
                        desc=desc, executor=Executor("inline"))[0]
    else:
        m = train_variant(task, seed, recipe, model_cfg, optim, P.steps, P.batch, store, ckpts, P.n_eval, dev, desc)
    return values(m, P.tau, P.n_eval, dev)


def values(m: Member, tau: float, n_eval: int, dev) -> dict:
    """What a member keeps: final accuracies and phase booleans, the shot rise (claim 3), ratio matching (4a, 4b),
    the first evaluated step at which unseen tasks were solved, and the early ratio r."""
    fin = m.final()
    p = m.task.p
    seqs = shot_sequences(m, "ood_train", 4 * n_eval, 11, dev)  # the chapter's stream for its o.o.d. shot curve
    shots = accuracy_by_shot(m.model, seqs)[0].cpu().numpy()
    rise = claims.claim_3(shots)
    four_a, four_b = claims.claim_4(m.model, seqs, p, tau), claims.claim_4b(m.model, seqs, p, tau)
    steps, ood = m.curve("ood_train")
    _, idt = m.curve("id_train")
    solved_at = next((int(s) for s, a in zip(steps, ood) if a >= tau), None)
    first = next((i for i, a in enumerate(idt) if a >= tau), None)
    r = None if first is None else float((ood[first] - 1 / p) / max(idt[first] - 1 / p, 1e-9))
    return {**{k: float(fin[k]) for k in EVAL_SETS},
            "solved": bool(fin["ood_train"] >= tau), "learned": bool(fin["id_train"] >= tau),
            "memorises": bool(fin["id_train"] >= tau > fin["ood_train"]),
            "generalises": bool(fin["ood_test"] >= tau), "shot_rise": float(rise.value),
            "shots_rise": bool(rise.criterion(rise.value)), "rm_gap": float(four_a.value),
            "ratio_matching": bool(four_a.criterion(four_a.value)), "rm_gives_way": bool(four_b.value),
            "solved_at": solved_at, "r_early": r, "r_at": None if first is None else int(steps[first])}


def shared_xy_batch(task: ModularTask, B: int, generator: torch.Generator) -> torch.Tensor:
    """B sequences that share one draw of n_ex distinct train pairs (x, y), in one order; rows differ in their
    task only, so only z differs (He et al.'s collate), balanced over the pretraining tasks."""
    pairs = task.train_pairs
    order = torch.rand(pairs.shape[0], generator=generator, device=pairs.device).argsort()[: task.n_ex]
    xy = pairs[order][None].expand(B, -1, -1)
    ab = task.id_tasks[balanced_index(task.n_id, B, generator, pairs.device)]
    z = (ab[:, None, 0] * xy[..., 0] + ab[:, None, 1] * xy[..., 1]) % task.p
    return torch.stack([xy[..., 0], xy[..., 1], z], dim=-1).reshape(B, 3 * task.n_ex)


def grokfast_hooks(model: torch.nn.Module, alpha: float, lam: float) -> None:
    """Grokfast-EMA: each gradient g becomes g + λ·ē, with ē ← α·ē + (1 − α)·g (Lee et al. 2024, Algorithm 2)."""
    for prm in model.parameters():
        if not prm.requires_grad:
            continue
        state: dict[str, torch.Tensor] = {}

        def hook(g: torch.Tensor, state=state) -> torch.Tensor:
            ema = state.get("ema")
            state["ema"] = g.detach().clone() if ema is None else ema.mul_(alpha).add_(g.detach(), alpha=1 - alpha)
            return g + lam * state["ema"]
        prm.register_hook(hook)


def train_variant(task: ModularTask, seed: int, recipe: str, model_cfg: dict, optim: OptimConfig, steps: int,
                  batch: int, store: Store, ckpts: list[int], n_eval: int, dev, desc: str) -> Member:
    """One member under a candidate recipe that changes the batches or the gradients: the chapter's group of one
    (``modular_arithmetic.train_group``) with that one change, stored under its own key. With ``today`` it changes
    nothing (the tests check that it then trains exactly as ``train_sweep``)."""
    p, n_ex = task.p, task.n_ex
    model = GPT(GPTConfig(**model_cfg, vocab_size=p, block_size=3 * n_ex), rng.generator("init", seed)).to(dev)
    if recipe == "grokfast":
        grokfast_hooks(model, *GROKFAST)
    ev = eval_sets([task], n_eval, dev)  # (1, n, 3·n_ex) per set

    def loss_fn(m, step):
        g = rng.generator("batch", seed, step, device=dev)
        toks = shared_xy_batch(task, batch, g) if recipe == "shared-xy" else task.train_batch(batch, g)
        return z_loss(m, toks[None])

    def evaluate(m, step):
        return {w: float(accuracy_by_shot(m, toks)[0, -1]) for w, toks in ev.items()}

    config = {"kind": "modular-study-member", "recipe": recipe, "grokfast": GROKFAST if recipe == "grokfast" else None,
              "model": model_cfg, "optim": asdict(optim), "steps": steps, "batch": batch, "n_eval": n_eval,
              "seed": seed, "task": task.spec()}
    res = train(model, loss_fn, steps, optim, run=store.run("ch04-study", config), checkpoints=ckpts,
                evaluate=evaluate, desc=desc)
    losses = res.losses[:, 0] if res.losses.ndim == 2 else res.losses
    return Member(task, model.eval(), TrainResult(losses, res.evals, res.resumed_from, res.from_store, res.seconds))
