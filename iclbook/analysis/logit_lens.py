"""The logit lens (nostalgebraist 2020; early exit, Din et al. 2023): each layer's residual stream read out through
the model's own final LayerNorm and unembedding, as if the layers above it were not there.

Layer-causal GD (Bar Natan et al. 2023) trains each layer on exactly this read-out, so it presumes that a lower
layer's early exit carries the label at all: where the lens is at chance, that layer's LCGD objective is noise.
Works on any ``models.gpt.GPT`` (ensemble axis E first); nothing here trains.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..models.gpt import GPT


@torch.no_grad()
def exit_logits(model: GPT, tokens: Tensor) -> list[Tensor]:
    """Per layer ℓ = 1 … L, the early-exit logits readout(ln_f(h_ℓ)) of tokens (E,B,T): a list of (E,B,T,V).
    The last one is the model's own output."""
    h = model.embed(tokens)
    out = []
    for block in model.blocks:
        h = block(h)
        out.append(model.readout(model.ln_f(h)))
    return out


@torch.no_grad()
def label_accuracy(model: GPT, tokens: Tensor, target: Tensor, label_tokens: Tensor) -> Tensor:
    """Per layer, how often the early exit at the last position puts the target first among the label tokens
    (argmax over ``label_tokens`` only, as the chapter scores the model): tokens (B,T), target (B,) label indices
    → (L,) accuracies, one model (E = 1)."""
    labels = label_tokens.to(tokens.device)
    return torch.stack([(lg[0, :, -1, labels].argmax(-1) == target).float().mean()
                        for lg in exit_logits(model, tokens[None])])


@torch.no_grad()
def exit_losses(model: GPT, tokens: Tensor) -> tuple[Tensor, Tensor]:
    """Per sequence and layer, the early-exit causal-LM loss (mean over next tokens) and the norm of its gradient
    with respect to that exit's logits, ‖(softmax − one-hot)/(T − 1)‖ over every position: tokens (B,T) → two
    (B, L) tensors, one model (E = 1). The last layer's are the model's own loss and logit gradient."""
    losses, gnorms = [], []
    y = tokens[:, 1:]
    for lg in exit_logits(model, tokens[None]):
        lg = lg[0, :, :-1]  # (B, T-1, V)
        ce = F.cross_entropy(lg.reshape(-1, lg.shape[-1]), y.reshape(-1), reduction="none").view(y.shape)
        g = lg.softmax(-1) - F.one_hot(y, lg.shape[-1]).to(lg.dtype)
        losses.append(ce.mean(1))
        gnorms.append(g.flatten(1).norm(dim=1) / y.shape[1])
    return torch.stack(losses, 1), torch.stack(gnorms, 1)
