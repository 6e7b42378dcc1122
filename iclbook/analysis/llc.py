"""The local learning coefficient (LLC) by SGLD (Lau et al. 2023; used by Carroll et al. 2025).

    λ̂ = nβ (E_w[ℓ_n(w)] − ℓ_n(w*)),   w ~ exp(−nβ ℓ_n(w) − γ/2 ‖w − w*‖²),

sampled with SGLD steps  Δw = ε/2 · (−nβ ∇ℓ_batch(w) − γ (w − w*)) + N(0, ε).  ``ℓ_n(w*)`` is estimated on the same
minibatch as ``ℓ_batch(w)`` (a paired difference: unbiased, and far less noisy than a separate estimate).

The model may be an ensemble: ``batch_loss`` returns one loss per member (E,), every coordinate of the update is
independent, so one run estimates E LLCs at once. Chains run one after another from w*, each with its own seed.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from .. import rng



@dataclass(frozen=True)
class SGLDConfig:
    """SGLD hyperparameters; the defaults are the spec's calibration starting point."""

    eps: float = 1e-3  # ε: step size (the noise variance per step)
    gamma: float = 6.0  # γ: strength of the localisation around w*
    nbeta: float = 60.0  # nβ: sample size × inverse temperature
    chains: int = 4  # independent chains from w*
    burn_in: int = 100  # steps dropped from each chain
    draws: int = 200  # steps kept from each chain
    batch_size: int = 64  # minibatch for ℓ_batch
    seed: int = 0  # base seed: chain c uses the stream ("llc", seed, c)

    def __post_init__(self) -> None:
        for name in ("eps", "nbeta"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SGLDConfig.{name} must be > 0, got {getattr(self, name)!r}")
        if self.gamma < 0 or self.chains < 1 or self.draws < 1 or self.burn_in < 0 or self.batch_size < 1:
            raise ValueError(f"invalid SGLDConfig {self}")


class SGLDDiverged(FloatingPointError):
    """A chain's loss went non-finite; ``members`` are the ensemble members whose chains did."""

    def __init__(self, members: list[int], message: str) -> None:
        super().__init__(message)
        self.members = members


@dataclass
class LLCResult:
    """What an LLC estimate leaves: λ̂ per member, per chain, and the loss traces to judge the chains by."""

    llc_chains: np.ndarray  # (C, E): nβ · mean over draws of ℓ_b(w_t) − ℓ_b(w*)
    loss_trace: np.ndarray  # (C, burn_in + draws, E): ℓ_b(w_t) along each chain (burn-in included)
    init_trace: np.ndarray  # (C, burn_in + draws, E): ℓ_b(w*) on the same minibatches
    burn_in: int

    @property
    def llc(self) -> np.ndarray:
        """(E,) λ̂: the mean over chains."""
        return self.llc_chains.mean(0)

    @property
    def llc_se(self) -> np.ndarray:
        """(E,) standard error of λ̂ across chains (0 with one chain)."""
        C = self.llc_chains.shape[0]
        return self.llc_chains.std(0, ddof=1) / math.sqrt(C) if C > 1 else np.zeros(self.llc_chains.shape[1])


def estimate_llc(model: nn.Module, batch_loss: Callable[[nn.Module, Tensor], Tensor], n: int,
                 cfg: SGLDConfig = SGLDConfig(), allow_divergence: bool = False) -> LLCResult:
    """λ̂ at the model's current weights w*. ``batch_loss(model, idx)`` is ℓ on the samples ``idx`` (int64, (b,)) of a
    fixed data set of size ``n``: a scalar, or (E,) for an ensemble. The model's weights are restored afterwards.

    A chain whose loss goes non-finite raises ``SGLDDiverged``; with ``allow_divergence`` the result is returned
    instead, with non-finite traces (and λ̂) for the members that diverged."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    device = params[0].device
    w_star = [p.detach().clone() for p in params]
    ref = copy.deepcopy(model)
    ref.requires_grad_(False)
    steps = cfg.burn_in + cfg.draws
    losses, inits = [], []
    try:
        for c in range(cfg.chains):
            g = rng.generator("llc", cfg.seed, c, device=device)
            with torch.no_grad():
                for p, w0 in zip(params, w_star):
                    p.copy_(w0)
            lc, ic = [], []
            for _ in range(steps):
                idx = torch.randint(n, (cfg.batch_size,), generator=g, device=device)
                loss = torch.atleast_1d(batch_loss(model, idx))
                grads = torch.autograd.grad(loss.sum(), params)
                with torch.no_grad():
                    init = torch.atleast_1d(batch_loss(ref, idx))
                    for p, gr, w0 in zip(params, grads, w_star):
                        drift = -cfg.nbeta * gr - cfg.gamma * (p - w0)
                        noise = torch.randn(p.shape, generator=g, device=device, dtype=p.dtype)
                        p.add_(0.5 * cfg.eps * drift + math.sqrt(cfg.eps) * noise)
                lc.append(loss.detach())
                ic.append(init)
            losses.append(torch.stack(lc))
            inits.append(torch.stack(ic))
    finally:
        with torch.no_grad():
            for p, w0 in zip(params, w_star):
                p.copy_(w0)
    L = torch.stack(losses).double().cpu().numpy()  # (C, steps, E)
    I = torch.stack(inits).double().cpu().numpy()
    if not allow_divergence and not np.isfinite(L).all():
        bad = [int(e) for e in np.flatnonzero(~np.isfinite(L).all(axis=(0, 1)))]
        raise SGLDDiverged(bad, f"an SGLD chain diverged (non-finite loss) for ensemble member(s) {bad} at "
                                f"eps = {cfg.eps:g}: lower eps or raise gamma")
    llc_chains = cfg.nbeta * (L[:, cfg.burn_in:] - I[:, cfg.burn_in:]).mean(1)
    return LLCResult(llc_chains, L, I, cfg.burn_in)


def default_nbeta(n: int) -> float:
    """nβ* = n / log n, the inverse temperature of WBIC (Watanabe 2013)."""
    return n / math.log(n)
