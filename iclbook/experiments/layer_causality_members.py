"""One member of a chapter-3 study (issue 35): one pretrained model, and on it the paper's comparison on the paper's
statistical unit (one fixed model, ± over episodes and demonstration orders), with the instruments around it.

A member pretrains one model exactly as the chapter does for one pretraining seed (``LayerCausality.pretrain``,
through the run store; the member seed is the pretraining seed) and then keeps:
- (a) LCGD − GD in SimAOU and SimAM_Δ (layer-averaged), per episode averaged over ``orders`` demonstration orders,
  with a paired one-sided t-test over the episodes (``layer_causality_claims.paired_test``);
- (b) the logit lens: the label accuracy of every layer's early exit on the ICL prompts (and on the query alone), and
  whether every layer below the top is readable (LCGD's precondition);
- (c) the fine-tuning learning rate chosen on held-out episodes (see ``choose_lr``);
- (d) the same comparison at matched update size: LCGD's learning rate rescaled per episode so that its total
  ‖ΔW_K,V‖ equals GD's;
- claim 5a at the first fine-tuning step, raw, per unit of error signal, and on its control (where it must fail),
  and 5b restated as a check;
- with ``controls`` in the point: the untrained controls' SimAOU under the same protocol (3a, 3b) and the chapter's
  depth probe at the point's width (3c, ``LayerCausality.depth_control``, the chapter's own protocol and store).

Point keys: the chapter's parameters (overrides of the profile, checked like the chapter's), ``variant``
(``plain``: the chapter's model; ``aux-exit``: the same pretraining plus an auxiliary early-exit loss, the labelled
variant of issue 35 item 2, see ``pretrain_aux``), ``orders``, ``heldout`` (held-out episodes per family) and
``controls``.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import Tensor

from .. import rng, runtime
from ..analysis import logit_lens
from ..analysis import update_similarity as us
from ..chapters import get
from ..models.gpt import GPT
from ..paths import store_root
from ..store import Store
from ..train import OptimConfig, checkpoint_steps, train
from ..tasks.label_mapping import Episodes
from . import layer_causality_claims as claims
from .layer_causality import (LayerCausality, _states, finetune_kv, kv_params, lm_loss, lower_layers_lcgd_over_gd,
                              replicate)

VARIANTS = ("plain", "aux-exit")
AUX_WEIGHT = 0.2  # aux-exit: weight of the mean early-exit loss of the layers below the top (0.1–0.3 is usual)
MEMBER_KEYS = ("variant", "orders", "heldout", "controls")  # point keys that are not chapter parameters
ORDERS = 3  # demonstration orders per episode (the paper's ± is over 3 demonstration seeds)
HELDOUT = 64  # held-out episodes per family that choose the learning rate
MATCH_STEPS = 2  # LCGD runs that match its update size to GD's (one multiplicative step, then a secant step)
N_CONTROL_5A = 32  # episodes for the 5a control (a first-step gradient per layer; exact, so few suffice)
SCORED, HELD_OUT, ORDER = 300, 400, 500  # "eval" stream sets of a member seed (the chapter's use 0, 99, 100 + f)


def member(point: dict, seed: int, profile: str) -> dict:
    """Pretrain (or read from the run store) chapter 3's model for pretraining seed ``seed`` at ``profile``'s
    parameters overridden by the point's, and measure (a)–(d), 5a/5b and, with ``controls``, 3a–3c on it."""
    variant = point.get("variant", "plain")
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r}: allowed {VARIANTS}")
    overrides = {k: v for k, v in point.items() if k not in MEMBER_KEYS}
    P = get("03").params.resolve(profile, {**overrides, "seed": 0})  # checked like a chapter's parameters
    X = LayerCausality.from_params(P, Store(store_root()), runtime.device())
    ev = X.eval_episodes(seed)
    model = X.pretrain(seed, ev)[0] if variant == "plain" else pretrain_aux(X, seed, ev)[0]
    orders, heldout = int(point.get("orders", ORDERS)), int(point.get("heldout", HELDOUT))
    fams = [measure_family(X, model, seed, f, orders, heldout) for f in range(P.n_families)]
    out = {"variant": variant, **summarise(fams, P.n_labels)}
    out.update(gradient_claims(X, model, fams))
    if point.get("controls", False):
        out.update(controls(X, model, seed, fams, heldout, P))
    return out


def pretrain_aux(X: LayerCausality, seed: int, ev, weight: float = AUX_WEIGHT):
    """The chapter's pretraining (``LayerCausality.pretrain``: same initialisation, batches, optimiser, schedule,
    checkpoints and evaluations) with one change: the loss adds ``weight`` × the mean early-exit LM loss of the
    layers below the top (each read out through ln_f and the unembedding, gradients flowing everywhere: deep
    supervision), so that lower layers become readable by the logit lens. Stored under its own run name; with
    weight 0 it trains exactly as the chapter does (the tests check it). Returns (model, TrainResult)."""
    task, dev = X.task, X.dev
    model = GPT(X.cfg, generator=rng.generator("init", seed)).to(dev)

    def loss_fn(m, step):
        x = task.sample(X.batch, rng.generator("batch", seed, step, device=dev)).train_tokens()[None]
        h, exits = m.embed(x), []
        for block in m.blocks:
            h = block(h)
            exits.append(lm_loss(m.readout(m.ln_f(h)), x))
        aux = torch.stack(exits[:-1]).mean(0) if len(exits) > 1 else torch.zeros_like(exits[-1])
        return (exits[-1] + weight * aux).sum()

    opt = OptimConfig("adam", lr=X.lr, schedule="warmup_cosine", warmup=0.05, final_lr_frac=0.1)
    res = train(model, loss_fn, X.steps, opt,
                run=X.store().run("ch03-pretrain-aux", {**X._base_config(seed), "aux_exit": weight}),
                evaluate=lambda m, step: {"acc": X.acc_by_demos(m, ev)},
                checkpoints=checkpoint_steps(X.steps, n_linear=8, n_log=4), desc=f"pretraining (aux-exit), seed {seed}")
    return model.eval(), res


# ---- fine-tuning with the update size kept ------------------------------------------------------------------------
def finetune(model: GPT, ep: Episodes, lr: Tensor | float, mode: str, chunk: int) -> dict:
    """Fine-tune one copy of ``model`` per episode (as the chapter's ``compare`` does), with a learning rate per
    episode if ``lr`` is a tensor (N,): the states on the query alone, the gradient norms (N, K, L) and the total
    update size ‖ΔW_K,V‖ over all layers (N,)."""
    seqs, zs = ep.demo_sequences(), ep.zs_tokens()
    N = seqs.shape[0]
    lr = torch.as_tensor(lr, dtype=torch.float32).expand(N)
    states, norms, dw = [], [], []
    for i in range(0, N, chunk):
        m = replicate(model, min(chunk, N - i))
        before = [w.detach().clone() for w in kv_params(m)]
        norms.append(finetune_kv(m, seqs[i:i + chunk], lr[i:i + chunk].to(seqs.device), mode))
        dw.append(torch.stack([(w.detach() - b).flatten(1).pow(2).sum(1) for w, b in zip(kv_params(m), before)])
                  .sum(0).sqrt())
        states.append(_states(m, zs[i:i + chunk], zs.shape[1] - 1, ep.task.label_tokens, per_member=True))
        del m
    return {"states": {k: torch.cat([s[k] for s in states]) for k in states[0]}, "grad_norm": torch.cat(norms),
            "dw": torch.cat(dw)}


def matched(model: GPT, ep: Episodes, lr: float, target: Tensor, dw0: Tensor, chunk: int,
            steps: int = MATCH_STEPS) -> dict:
    """(d) LCGD with its learning rate rescaled per episode so that its ‖ΔW_K,V‖ matches ``target`` (GD's): from
    the run at ``lr`` (update sizes ``dw0``), a multiplicative step, then secant steps in log-log (‖ΔW‖ ∝ lr^a
    locally; with K SGD steps a is not 1). ``steps`` LCGD runs; the last one is returned (its ``dw`` says how close
    it came)."""
    lr0 = torch.full_like(target, float(lr))
    lr1 = lr0 * target / dw0.clamp_min(1e-12)
    run = finetune(model, ep, lr1.cpu(), "lcgd", chunk)
    for _ in range(steps - 1):
        a = ((run["dw"] / dw0.clamp_min(1e-12)).log() / (lr1 / lr0).log()).nan_to_num(1.0).clamp(0.1, 2.0)
        lr0, dw0 = lr1, run["dw"]
        lr1 = lr1 * (target / dw0.clamp_min(1e-12)) ** (1 / a)
        run = finetune(model, ep, lr1.cpu(), "lcgd", chunk)
    return run


def correct(states: dict, target: Tensor) -> Tensor:
    return states["label_logits"].argmax(-1) == target


def choose_lr(model: GPT, ho: Episodes, lr_grid: list[float], chunk: int) -> tuple[float, list[float]]:
    """(c) The FT learning rate, chosen by GD's FT accuracy on held-out episodes ``ho`` (ties: the smaller rate):
    the chapter's rule (``compare``) on episodes that are never scored. The chapter picks it on the scored
    episodes themselves and uses it for every metric and for LCGD too; here it is likewise one rate per model and
    family, used for both methods and every metric, but chosen on a disjoint set. Also the held-out accuracies."""
    acc = [correct(finetune(model, ho, lr, "gd", chunk)["states"], ho.target).float().mean().item() for lr in lr_grid]
    return lr_grid[max(range(len(lr_grid)), key=lambda i: (acc[i], -i))], acc


def reorder(ep: Episodes, perm: Tensor) -> Episodes:
    """The same episodes with their demonstrations in another order (perm: (N, K)); the query is unchanged."""
    demos = ep.demos.gather(1, perm[..., None].expand_as(ep.demos))
    labels = torch.cat([ep.labels[:, :-1].gather(1, perm), ep.labels[:, -1:]], 1)
    return dataclasses.replace(ep, demos=demos, labels=labels)


def measure_family(X: LayerCausality, model: GPT, seed: int, family: int, orders: int, heldout: int) -> dict:
    """(a)–(d) on one task family: per-episode layer-averaged metrics (mean over orders), accuracies, the lens."""
    task, dev, chunk = X.task, X.dev, X.chunk
    ho = task.sample(heldout, rng.generator("eval", seed, HELD_OUT + family, device=dev), family=family)
    lr, ho_acc = choose_lr(model, ho, list(X.lr_grid), chunk)
    ep = task.sample(X.episodes, rng.generator("eval", seed, SCORED + family, device=dev), family=family)
    labels, n_q = task.label_tokens, ep.query.shape[1]
    zs = _states(model, ep.zs_tokens(), n_q, labels, per_member=False)
    per = {k: [] for k in ("aou_gd", "aou_lc", "aou_lcm", "am_gd", "am_lc", "am_lcm", "dw_ratio", "dw_ratio_m",
                           "icl_ok", "gd_ok", "lc_ok")}
    first = {}
    for o in range(orders):
        e = ep if o == 0 else reorder(ep, torch.rand(ep.demos.shape[:2], device=dev,
                                                     generator=rng.generator("eval", seed, ORDER + o, device=dev))
                                      .argsort(1))
        icl = _states(model, e.icl_tokens(), n_q, labels, per_member=False)
        gd, lc = finetune(model, e, lr, "gd", chunk), finetune(model, e, lr, "lcgd", chunk)
        lcm = matched(model, e, lr, gd["dw"], lc["dw"], chunk)  # (d): LCGD at GD's ‖ΔW‖, episode by episode
        for tag, run in (("gd", gd), ("lc", lc), ("lcm", lcm)):
            s = run["states"]
            per[f"aou_{tag}"].append(us.sim_aou(icl["h"], zs["h"], s["h"]).mean(-1))
            per[f"am_{tag}"].append(us.sim_am_delta(icl["m"], zs["m"], s["m"]).mean(-1))
        per["dw_ratio"].append(lc["dw"] / gd["dw"].clamp_min(1e-12))
        per["dw_ratio_m"].append(lcm["dw"] / gd["dw"].clamp_min(1e-12))
        for tag, s in (("icl", icl), ("gd", gd["states"]), ("lc", lc["states"])):
            per[f"{tag}_ok"].append(correct(s, e.target).float())
        if o == 0:
            first = {"k0_gd": gd["grad_norm"][:, 0], "k0_lc": lc["grad_norm"][:, 0], "seqs": e.demo_sequences()}
    out = {k: torch.stack(v).mean(0).cpu().numpy() for k, v in per.items()}  # (N,): mean over orders
    out["zs_ok"] = correct(zs, ep.target).float().cpu().numpy()
    out["lens"] = logit_lens.label_accuracy(model, ep.icl_tokens(), ep.target, labels).cpu().numpy()
    out["lens_zs"] = logit_lens.label_accuracy(model, ep.zs_tokens(), ep.target, labels).cpu().numpy()
    return {**out, **first, "lr": lr, "heldout_acc": ho_acc}


def summarise(fams: list[dict], n_labels: int) -> dict:
    """The kept values of (a)–(d) over every family's episodes."""
    cat = {k: np.concatenate([f[k] for f in fams]) for k in fams[0] if isinstance(fams[0][k], np.ndarray)
           and fams[0][k].ndim == 1 and k not in ("lens", "lens_zs")}
    out = {}
    for metric, tag in (("aou", "aou"), ("am", "am")):
        for suffix, lc in (("", "lc"), ("_matched", "lcm")):
            t = claims.paired_test(cat[f"{metric}_{lc}"], cat[f"{metric}_gd"])
            out.update({f"d_{tag}{suffix}": t["mean"], f"t_{tag}{suffix}": t["t"], f"p_{tag}{suffix}": t["p"],
                        f"lcgd_more_icl_{tag}{suffix}": t["more"]})
    lens = np.mean([f["lens"] for f in fams], 0)
    out.update({
        "sim_aou_gd": float(cat["aou_gd"].mean()), "sim_aou_lc": float(cat["aou_lc"].mean()),
        "sim_am_delta_gd": float(cat["am_gd"].mean()), "sim_am_delta_lc": float(cat["am_lc"].mean()),
        "dw_ratio": float(np.median(cat["dw_ratio"])), "dw_ratio_matched": float(np.median(cat["dw_ratio_m"])),
        "acc_zs": float(cat["zs_ok"].mean()), "acc_icl": float(cat["icl_ok"].mean()),
        "acc_ft": float(cat["gd_ok"].mean()), "acc_lc": float(cat["lc_ok"].mean()),
        "lens_acc": [float(v) for v in lens], "lens_acc_zs": [float(v) for v in np.mean([f["lens_zs"] for f in fams], 0)],
        "lens_min_below_top": float(lens[:-1].min()) if len(lens) > 1 else float("nan"),
        "lower_layers_readable": claims.lower_layers_readable(lens, n_labels),
        "lr": [f["lr"] for f in fams], "heldout_acc": [f["heldout_acc"] for f in fams],
        "n_scored": int(len(cat["aou_gd"])),
    })
    return out


def gradient_claims(X: LayerCausality, model: GPT, fams: list[dict]) -> dict:
    """Claim 5a at the first fine-tuning step (order 0, every scored episode): raw, per unit of error signal (the
    norm of the loss gradient at each exit's logits) and per unit of loss; its control on ``silence_above``
    networks (must be 1, so 5a fails there); and the 5b check."""
    k0_gd = torch.cat([f["k0_gd"] for f in fams]).mean(0).cpu().numpy()[None]  # (1, L)
    k0_lc = torch.cat([f["k0_lc"] for f in fams]).mean(0).cpu().numpy()[None]
    seqs = torch.cat([f["seqs"] for f in fams])
    loss, gnorm = logit_lens.exit_losses(model, seqs[:, 0])  # (N, L) at the first demonstration, before any step
    raw, raw_layers = lower_layers_lcgd_over_gd(k0_gd, k0_lc)
    norm, norm_layers = claims.normalised_5a(k0_gd, k0_lc, gnorm.mean(0).cpu().numpy()[None])
    by_loss, _ = claims.normalised_5a(k0_gd, k0_lc, loss.mean(0).cpu().numpy()[None])
    ctrl, _ = claims.control_5a(model, seqs[:N_CONTROL_5A])
    check = claims.claim_5b_check(k0_lc)
    return {"ratio_5a": raw, "ratio_5a_layers": [float(v) for v in raw_layers], "holds_5a": bool(raw > 1.0),
            "ratio_5a_norm": norm, "ratio_5a_norm_layers": [float(v) for v in norm_layers],
            "holds_5a_norm": bool(norm > 1.0), "ratio_5a_loss": by_loss, "control_5a": ctrl,
            "holds_control_5a": bool(ctrl > 1.0), "exit_loss": [float(v) for v in loss.mean(0)],
            "check_5b": check, "holds_5b_check": bool(check > 1.0)}


def controls(X: LayerCausality, model: GPT, seed: int, fams: list[dict], heldout: int, P) -> dict:
    """3a and 3b under the member's protocol (GD, learning rate chosen on held-out episodes, order 0): each
    untrained control's layer-averaged SimAOU and ICL − ZS accuracy; 3c from the chapter's depth probe at the
    smallest and largest of ``control_depths`` (its own protocol, cached in the run store)."""
    task, dev, chunk = X.task, X.dev, X.chunk
    aou = {"trained": np.array([float(np.concatenate([f["aou_gd"] for f in fams]).mean())])}
    gain = {}
    for kind in ("random", "emb"):
        ctrl = X.control(kind, seed, model)
        vals, gains = [], []
        for f in range(P.n_families):
            ho = task.sample(heldout, rng.generator("eval", seed, HELD_OUT + f, device=dev), family=f)
            lr, _ = choose_lr(ctrl, ho, list(X.lr_grid), chunk)
            ep = task.sample(X.episodes, rng.generator("eval", seed, SCORED + f, device=dev), family=f)
            n_q, labels = ep.query.shape[1], task.label_tokens
            zs = _states(ctrl, ep.zs_tokens(), n_q, labels, per_member=False)
            icl = _states(ctrl, ep.icl_tokens(), n_q, labels, per_member=False)
            ft = finetune(ctrl, ep, lr, "gd", chunk)["states"]
            vals.append(us.sim_aou(icl["h"], zs["h"], ft["h"]).mean(-1))
            gains.append((correct(icl, ep.target).float() - correct(zs, ep.target).float()))
        aou[kind] = np.array([float(torch.cat(vals).mean())])
        gain[kind] = float(torch.cat(gains).mean())
    value_3a, best = claims.claim_3a(aou)
    depths = sorted(P.control_depths)
    probe = [X.depth_control(d, seed) for d in (depths[0], depths[-1])]
    return {"sim_aou_random": float(aou["random"][0]), "sim_aou_emb": float(aou["emb"][0]),
            "ctrl_minus_trained": value_3a, "best_control": best,
            "holds_3a": bool(value_3a > claims.CLAIM_3A_MIN), "ctrl_icl_gain": max(gain.values(), key=abs),
            "depth_rise": float(probe[1]["sim_aou"]) - float(probe[0]["sim_aou"]),
            "depth_gain": float(max(abs(float(p["icl_gain"])) for p in probe))}
