"""Chapter 3 (Bar Natan et al. 2023): fine-tuning on the demonstrations, and its comparison with in-context learning.

Fine-tuning is as Dai et al. (2023) and Bar Natan et al. (2023) do it: W_K and W_V only.

Plain SGD, batch 1, one pass over the K demonstrations in prompt order, causal-LM loss on every demonstration token.
``mode="gd"`` backpropagates the final loss through the whole network. ``mode="lcgd"`` (layer-causal GD) detaches
each block's input and sums the early-exit losses of all blocks (each read out through the frozen ln_f and
unembedding), so that layer ℓ's update depends only on the layers below it, as in ICL.

Each ensemble member of the GPT is fine-tuned on its own episode (and learning rate) at once: members share no
weights, so summing their losses gives each one its own gradient.

``compare`` is the per-episode protocol of Bar Natan et al. (2023), §3–4: record the zero-shot and in-context states
at the last position, fine-tune a copy of the model per episode on its demonstrations (learning rate picked on a grid
by FT accuracy, as Dai et al. did), record the fine-tuned states on the query alone, and compare the updates.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import rng
from ..analysis import update_similarity as us
from ..models.gpt import GPT, GPTConfig
from ..tasks.label_mapping import Episodes

MODES = ("gd", "lcgd")


def replicate(model: GPT, E: int) -> GPT:
    """A GPT with E members, each a copy of member 0 of ``model`` (on the same device)."""
    cfg = GPTConfig(**{**model.cfg.__dict__, "n_models": E})
    dev = next(model.parameters()).device
    out = GPT(cfg).to(dev)
    with torch.no_grad():
        for name, p in out.state_dict().items():
            p.copy_(model.state_dict()[name][:1].expand_as(p))
    return out.eval()


def kv_params(model: GPT) -> list[Tensor]:
    """The fused q|k|v projection weight of each block, (E, C, 3C); only its K and V columns are trained."""
    return [b.attn.c_attn.weight for b in model.blocks]


def kv_mask(model: GPT) -> Tensor:
    """(C, 3C) mask that keeps the K and V output columns of c_attn and zeroes the Q columns."""
    C = model.cfg.n_embd
    mask = torch.ones(C, 3 * C, device=model.blocks[0].attn.c_attn.weight.device)
    mask[:, :C] = 0
    return mask


def lm_loss(logits: Tensor, tokens: Tensor) -> Tensor:
    """Causal-LM cross-entropy on every next token, per member: logits (E,B,T,V), tokens (E,B,T) → (E,)."""
    E = logits.shape[0]
    ce = F.cross_entropy(logits[:, :, :-1].reshape(-1, logits.shape[-1]), tokens[:, :, 1:].reshape(-1),
                         reduction="none")
    return ce.view(E, -1).mean(1)


def layer_causal_losses(model: GPT, tokens: Tensor) -> Tensor:
    """Early-exit LM losses (E, L): block ℓ's input is detached, its output read out through ln_f and unembedding."""
    h = model.embed(tokens).detach()
    losses = []
    for block in model.blocks:
        h = block(h.detach())
        losses.append(lm_loss(model.readout(model.ln_f(h)), tokens))
    return torch.stack(losses, 1)


def finetune_kv(model: GPT, seqs: Tensor, lr: Tensor | float, mode: str = "gd") -> Tensor:
    """Fine-tune ``model`` in place on seqs (E, K, T), one SGD step per demonstration; returns grad norms (E, K, L).

    The gradient norm of layer ℓ at step k is that of its W_K and W_V (the Q columns are masked out).
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: allowed {MODES}")
    E, K, _ = seqs.shape
    params, mask = kv_params(model), kv_mask(model)
    lr = torch.as_tensor(lr, dtype=params[0].dtype, device=params[0].device).expand(E).reshape(E, 1, 1)
    norms = torch.zeros(E, K, len(params), device=params[0].device)
    was_training = model.training
    model.eval()  # no dropout in the model; eval() keeps internals deterministic
    for k in range(K):
        tokens = seqs[:, k:k + 1]  # (E, 1, T): batch 1 per member
        if mode == "gd":
            loss = lm_loss(model(tokens), tokens)
        else:
            loss = layer_causal_losses(model, tokens).sum(1)
        grads = torch.autograd.grad(loss.sum(), params)
        with torch.no_grad():
            for l, (w, g) in enumerate(zip(params, grads)):
                g = g * mask
                norms[:, k, l] = g.flatten(1).norm(dim=1)
                w.sub_(lr * g)
    model.train(was_training)
    return norms


@torch.no_grad()
def record_last_position(model: GPT, tokens: Tensor, n_query: int, label_tokens: Tensor) -> dict[str, Tensor]:
    """What the paper records at the last position: per-layer attention output h (E,B,L,C), logits to the last
    n_query (query) tokens m (E,B,L,nh,n_query), and the label-token scores (E,B,n_labels)."""
    out, internals = model(tokens, return_internals=True)
    h = torch.stack([a[:, :, -1] for a in internals["attn_out"]], 2)
    m = torch.stack([lg[:, :, :, -1, -n_query:] for lg in internals["attn_logits"]], 2)
    return {"h": h, "m": m, "label_logits": out[:, :, -1, label_tokens.to(out.device)]}


def _states(model: GPT, tokens: Tensor, n_query: int, label_tokens: Tensor, per_member: bool) -> dict[str, Tensor]:
    """Recordings for B episodes: tokens (B, T); per_member: episode b runs on member b (as (E=B, 1, T))."""
    x = tokens[:, None] if per_member else tokens[None]
    rec = record_last_position(model, x, n_query, label_tokens)
    return {k: (v[:, 0] if per_member else v[0]) for k, v in rec.items()}  # (B, …)


def _finetuned(model: GPT, ep: Episodes, lr: float, mode: str, label_tokens: Tensor, chunk: int):
    """Fine-tune one copy of ``model`` per episode (chunks of ``chunk`` members); states on the query alone."""
    states, norms = [], []
    seqs, zs = ep.demo_sequences(), ep.zs_tokens()
    for i in range(0, seqs.shape[0], chunk):
        m = replicate(model, min(chunk, seqs.shape[0] - i))
        norms.append(finetune_kv(m, seqs[i:i + chunk], lr, mode))
        states.append(_states(m, zs[i:i + chunk], zs.shape[1] - 1, label_tokens, per_member=True))
        del m
    return {k: torch.cat([s[k] for s in states]) for k in states[0]}, torch.cat(norms)


def compare(model: GPT, ep: Episodes, lr_grid: list[float], chunk: int = 128,
            rand_gen: torch.Generator | None = None) -> dict:
    """All conditions and metrics for a batch of episodes; per-layer metrics are (N, L), accuracies (N,) bools."""
    label_tokens = ep.task.label_tokens
    n_q = ep.query.shape[1]
    zs = _states(model, ep.zs_tokens(), n_q, label_tokens, per_member=False)
    icl = _states(model, ep.icl_tokens(), n_q, label_tokens, per_member=False)
    ok = lambda s: s["label_logits"].argmax(-1) == ep.target  # noqa: E731
    ft_acc, runs = [], {}
    for lr in lr_grid:  # pick the learning rate by FT accuracy
        runs[lr] = _finetuned(model, ep, lr, "gd", label_tokens, chunk)
        ft_acc.append(ok(runs[lr][0]).float().mean().item())
    best = lr_grid[max(range(len(lr_grid)), key=lambda i: (ft_acc[i], -i))]
    ft, norms_gd = runs[best]
    lc, norms_lc = _finetuned(model, ep, best, "lcgd", label_tokens, chunk)
    gen = rand_gen if rand_gen is not None else rng.generator("noise", 0, 0)
    hz, mz = zs["h"], zs["m"]
    out = {
        "lr": best, "lr_grid": list(lr_grid), "ft_acc_grid": ft_acc,
        "zs_ok": ok(zs), "icl_ok": ok(icl), "ft_ok": ok(ft), "lc_ok": ok(lc),
        "grad_norm_gd": norms_gd, "grad_norm_lc": norms_lc,  # (N, K, L)
        "random_baseline": us.random_baseline(icl["h"].cpu(), hz.cpu(), gen),
        "alpha": us.alpha(lc["m"], mz, ft["m"]),
    }
    for tag, s in (("gd", ft), ("lc", lc)):
        out[f"sim_aou_{tag}"] = us.sim_aou(icl["h"], hz, s["h"])
        out[f"sim_aou_norm_{tag}"] = us.sim_aou_norm(icl["h"], hz, s["h"])
        out[f"sim_am_{tag}"] = us.sim_am(icl["m"], s["m"])
        out[f"sim_am_delta_{tag}"] = us.sim_am_delta(icl["m"], mz, s["m"])
    out["rec2ftp"] = us.rec2ftp(out["zs_ok"], out["icl_ok"], out["ft_ok"])
    return {k: (v.cpu() if isinstance(v, Tensor) else v) for k, v in out.items()}
