"""ZS, ICL, FT (GD) and FT_LC (layer-causal GD) on the same episodes, and every update-similarity metric.

This is the per-episode protocol of Bar Natan et al. (2023), §3–4: record the zero-shot and in-context states at the
last position, fine-tune a copy of the model per episode on its demonstrations (learning rate picked on a grid by FT
accuracy, as Dai et al. did), record the fine-tuned states on the query alone, and compare the updates.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .. import rng

from ..finetune import finetune_kv, record_last_position, replicate
from ..models.gpt import GPT
from ..tasks.label_mapping import Episodes
from . import update_similarity as us


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
