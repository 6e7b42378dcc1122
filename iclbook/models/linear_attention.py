"""Single-layer linear attention in the Γ parameterisation, ŷ = x_qᵀ Γ (Xᵀy / N) (Wu et al. 2023, arXiv 2310.08391).

Its one-pass SGD pretraining is chapter 1's experiment: ``iclbook.experiments.task_complexity``.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


class LinearAttention(nn.Module):
    """ŷ = x_qᵀ Γ (Xᵀy / N); Γ (d×d, or E×d×d for an ensemble) starts at 0."""

    def __init__(self, d: int, n_models: int | None = None):
        super().__init__()
        shape = (d, d) if n_models is None else (n_models, d, d)
        self.Gamma = nn.Parameter(torch.zeros(shape))

    def forward(self, X: Tensor, y: Tensor, xq: Tensor) -> Tensor:
        """X (…,N,d), y (…,N), xq (…,d) → ŷ (…); with an ensemble Γ (E,d,d) the inputs lead with E: (E,…)."""
        h = torch.einsum("...nd,...n->...d", X, y) / X.shape[-2]
        G = self.Gamma
        G = G.reshape(*G.shape[:-2], *(1,) * (xq.ndim - G.ndim + 1), *G.shape[-2:])  # (E,1,…,1,d,d)
        return (xq[..., None, :] @ G @ h[..., :, None])[..., 0, 0]
