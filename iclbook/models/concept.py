"""The one-layer attention + ReLU-MLP model of the multi-concept chapter (after Bu et al. 2024, arXiv 2411.02199).

f(prompt) = (1/m) Σ_r s_r ReLU(w_r · o),  o = Σ_l α_l z_l,  α = softmax_l(x_q^T W_KQ z_l),

with z_l the demonstration tokens, x_q the query, s_r = ±1 fixed (half the neurons each) and W_KQ, w_r trained.
The value map is the identity: the attention output o is a mix of the demonstrations, labels included, and the MLP reads
the label off it. Variants: attention="linear" (α_l = x_q^T W_KQ z_l / L, no softmax) and attention="none" (o = x_q, an
MLP that never sees its context: the no-context control).

Initialisation: W_KQ = kq_init·I, small. Why not zero: a task with ±1 labels is solved equally well by attending to the
demonstrations that *share* the query's task-concept sign and copying their label, or by attending to those with the
*opposite* sign and negating it. From W_KQ = 0 nothing but the random MLP breaks that symmetry (in the pilot, with
w_init=1e-3, training then sat on the plateau for 1,500 steps), and from kq_init=-0.3 it learned the anti-copy
solution: Bayes error with the "correct" attention weight at 0.03. A small positive multiple of the identity scores a demonstration by its similarity to the
query, x_q·z_l, which is larger for a shared sign (a^+·a^+ - a^+·a^- = 2|v|²); this tilts the MLP, and then the
attention, towards the copying solution.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import nn


@dataclass
class ConceptModelConfig:
    """Shape and initialisation of the concept model."""

    d: int = 64  # token dimension
    m: int = 32  # MLP width (ReLU neurons)
    attention: str = "softmax"  # "softmax" | "linear" | "none"
    kq_init: float = 0.3  # W_KQ starts at kq_init·I (0 stalls at the saddle; < 0 learns the anti-copy solution)
    w_init: float = 0.001  # std of the MLP first-layer weights at init

    def __post_init__(self) -> None:
        if self.attention not in ("softmax", "linear", "none"):
            raise ValueError(f"attention={self.attention!r}; allowed: 'softmax', 'linear', 'none'")
        if self.m < 2 or self.m % 2:
            raise ValueError(f"m={self.m} must be an even number >= 2 (half the neurons +1/m, half -1/m)")

    @classmethod
    def from_dict(cls, cfg: dict) -> "ConceptModelConfig":
        """Build from a dict; an unknown key is an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(cfg) - known
        if unknown:
            raise KeyError(f"unknown ConceptModelConfig keys {sorted(unknown)}; allowed: {sorted(known)}")
        return cls(**cfg)


class ConceptTransformer(nn.Module):
    """One attention layer (query over demonstrations) followed by a ReLU MLP with a fixed ±1/m read-out."""

    def __init__(self, cfg: ConceptModelConfig, gen: torch.Generator | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        dev = gen.device if gen is not None else None
        self.W_KQ = nn.Parameter(cfg.kq_init * torch.eye(cfg.d, device=dev))
        self.W = nn.Parameter(cfg.w_init * torch.randn(cfg.m, cfg.d, generator=gen, device=dev))
        a = torch.ones(cfg.m, device=dev) / cfg.m
        a[cfg.m // 2 :] *= -1
        self.register_buffer("a", a)  # fixed second layer s_r/m

    def attend(self, demos: torch.Tensor, query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attention output o (B, d) and weights α (B, L); α is None for the no-context control."""
        if self.cfg.attention == "none":
            return query, None
        scores = torch.einsum("bd,de,ble->bl", query, self.W_KQ, demos)
        if self.cfg.attention == "softmax":
            alpha = scores.softmax(dim=-1)
        else:
            alpha = scores / demos.shape[1]
        return torch.einsum("bl,bld->bd", alpha, demos), alpha

    def mlp(self, o: torch.Tensor) -> torch.Tensor:
        """(1/m) Σ_r s_r ReLU(w_r · o): the scalar logit."""
        return torch.relu(o @ self.W.T) @ self.a

    def forward(self, demos: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """The logit f (B,); its sign is the predicted label."""
        o, _ = self.attend(demos, query)
        return self.mlp(o)


def concept_loss(f: torch.Tensor, y: torch.Tensor, kind: str = "logistic") -> torch.Tensor:
    """Mean logistic loss log(1 + e^{-y f}) (the paper's cross-entropy) or squared loss (f - y)² ("mse")."""
    if kind == "logistic":
        return torch.nn.functional.softplus(-y * f).mean()
    if kind == "mse":
        return ((f - y) ** 2).mean()
    raise ValueError(f"loss kind {kind!r}; allowed: 'logistic', 'mse'")
