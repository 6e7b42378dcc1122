"""Measurements for in-context modular arithmetic (He et al. 2024): z-token loss and accuracy, the four phases, and
the ratio-matching oracle.

Tokens carry a leading ensemble axis E, as the decoder does: (E, B, 3n). The z token of example i is predicted at the
position of its y token, so "k shots" means the accuracy on example k + 1, after k complete examples.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..tasks.modular import z_logits_targets

PHASES = ("none", "id_memorisation", "id_generalisation", "ood_memorisation", "ood_generalisation")


def z_loss(model, tokens: Tensor) -> Tensor:
    """Cross-entropy on the z tokens only, one mean per ensemble member: (E,)."""
    logits, target = z_logits_targets(model(tokens), tokens)
    E, p = logits.shape[0], logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, p), target.reshape(-1), reduction="none").view(E, -1).mean(1)


@torch.no_grad()
def accuracy_by_shot(model, tokens: Tensor, chunk: int = 1024) -> Tensor:
    """Argmax accuracy of every z token, (E, n): column k is the accuracy after k in-context examples."""
    parts = []
    for i in range(0, tokens.shape[1], chunk):
        part = tokens[:, i:i + chunk]
        logits, target = z_logits_targets(model(part), part)
        parts.append((logits.argmax(-1) == target).float())
    return torch.cat(parts, dim=1).mean(1)


def phase(acc: dict[str, float], tau: float) -> str:
    """The most general of the paper's four phases whose last-shot accuracy reaches ``tau``.

    o.o.d. generalisation (unseen tasks on unseen inputs) ⊃ o.o.d. memorisation (unseen tasks, train inputs only)
    ⊃ i.d. generalisation (training tasks on unseen inputs) ⊃ i.d. memorisation (training tasks and inputs).
    """
    for name, key in (("ood_generalisation", "ood_test"), ("ood_memorisation", "ood_train"),
                      ("id_generalisation", "id_test"), ("id_memorisation", "id_train")):
        if acc[key] >= tau:
            return name
    return "none"


def ratio_matching(tokens: Tensor, p: int, k: int) -> tuple[Tensor, Tensor]:
    """The ratio-matching oracle for example k + 1 (0-based index k) of each sequence, using the k before it.

    If the query (x, y) equals c·(x_i, y_i) mod p for an earlier example i with (x_i, y_i) ≠ 0, then z = c·z_i by
    linearity, whatever the task. Returns (applies (…,) bool, prediction (…,) long; −1 where it does not apply).
    """
    xyz = tokens.reshape(*tokens.shape[:-1], -1, 3)
    ctx, q = xyz[..., :k, :], xyz[..., k, :]
    c = torch.arange(p, device=tokens.device)
    # scaled[..., i, c, :] = c·(x_i, y_i, z_i) mod p
    scaled = (ctx[..., :, None, :] * c[:, None]) % p
    hit = (scaled[..., :2] == q[..., None, None, :2]).all(-1) & (ctx[..., :, None, :2] != 0).any(-1)
    applies = hit.flatten(-2).any(-1)
    first = hit.flatten(-2).float().argmax(-1)
    pred = scaled[..., 2].flatten(-2).gather(-1, first[..., None])[..., 0]
    return applies, torch.where(applies, pred, torch.full_like(pred, -1))


def context_determines_task(tokens: Tensor, k: int, p: int) -> Tensor:
    """Whether the first k examples' inputs span Z_p² (two with x_i·y_j − x_j·y_i ≢ 0 mod p), so that exactly one task
    (a, b) fits them and every query's answer follows. With fewer, the answer off their span is undetermined."""
    xy = tokens.reshape(*tokens.shape[:-1], -1, 3)[..., :k, :2]
    det = (xy[..., :, None, 0] * xy[..., None, :, 1] - xy[..., None, :, 0] * xy[..., :, None, 1]) % p
    return (det != 0).flatten(-2).any(-1)


def exact_inference(tokens: Tensor, p: int) -> tuple[Tensor, Tensor]:
    """The exact learner ("modular regression" as far as the context allows) for every example of ``tokens`` (B, 3n):
    the tasks that fit the examples before it, and the answer if they all agree on the query.

    Returns (determined (B, n) bool, prediction (B, n) long: the answer of the first fitting task, a guess where not
    determined). A learner that infers the task as well as the context allows; no ratio matching is built in."""
    xyz = tokens.reshape(tokens.shape[0], -1, 3)
    tasks = torch.cartesian_prod(torch.arange(p, device=tokens.device), torch.arange(p, device=tokens.device))
    z_all = (xyz[..., 0, None] * tasks[:, 0] + xyz[..., 1, None] * tasks[:, 1]) % p  # (B, n, p²)
    fits = (z_all == xyz[..., 2, None]).long()
    before = torch.cumprod(torch.cat([torch.ones_like(fits[:, :1]), fits[:, :-1]], 1), 1).bool()  # fits all before
    first = before.long().argmax(-1, keepdim=True)
    guess = z_all.gather(-1, first)[..., 0]
    determined = ((z_all == guess[..., None]) | ~before).all(-1)
    return determined, guess


def one_example_accuracy(tasks: Tensor, pairs: Tensor, p: int, max_pairs: int = 64) -> float:
    """The best accuracy on ``tasks`` (uniform) of a learner that reads one context example and the query (distinct
    pairs from ``pairs``) and knows the task list: the majority answer of the tasks that fit the example, ties split.

    Why: a one-block decoder whose heads fetch single tokens by position can read one whole example (x, y, z) and the
    query's x with four heads; this is the accuracy that buys on the pretraining tasks. Over the first ``max_pairs``
    pairs only (an estimate when there are more; the train pairs come shuffled), to bound the memory at large p."""
    Z = (pairs[:max_pairs].cpu() @ tasks.cpu().T) % p  # (m, n): the answer of task s on pair e
    oh = torch.nn.functional.one_hot(Z, p).double()  # (m, n, p)
    count = torch.einsum("esu,qsv->equv", oh, oh)  # tasks with answer u on e and v on q
    best = count.max(-1, keepdim=True).values
    share = (count == best).double() / (count == best).sum(-1, keepdim=True)  # P(pick v | e, q, u)
    m, n = Z.shape
    e, q, t = torch.meshgrid(torch.arange(m), torch.arange(m), torch.arange(n), indexing="ij")
    right = share[e, q, Z[e, t], Z[q, t]]  # (m, m, n)
    off = (e != q).double()
    return float((right * off).sum() / (off.sum()))
