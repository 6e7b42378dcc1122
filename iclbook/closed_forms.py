"""Closed forms for single-layer linear attention on Gaussian-prior regression (Wu et al. 2023, arXiv 2310.08391).

Notation: x ~ N(0, H), β ~ N(0, ψ² I), noise σ², context length n (N at pretraining), c = tr H + σ²/ψ²,
H̃_n = ψ² [(1 + 1/n) H² + c H / n] = E[h hᵀ] for h = Xᵀy / n. Everything is float64.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from . import rng

f64 = torch.float64


def as_H(H: Tensor | None, d: int | None = None) -> Tensor:
    """H as a dense float64 d×d matrix (None = I_d, 1-D = diagonal eigenvalues)."""
    if H is None:
        if d is None:
            raise ValueError("as_H: give d when H is None")
        return torch.eye(d, dtype=f64)
    H = torch.as_tensor(H, dtype=f64)
    return torch.diag(H) if H.ndim == 1 else H


def c_const(H: Tensor, sigma2: float, psi2: float) -> float:
    """c = tr H + σ²/ψ²."""
    return float(torch.trace(as_H(H))) + sigma2 / psi2


def H_tilde(H: Tensor, n: int, sigma2: float, psi2: float) -> Tensor:
    """H̃_n = ψ²[(1 + 1/n) H² + c H / n], the second moment of Xᵀy/n."""
    H = as_H(H)
    c = c_const(H, sigma2, psi2)
    return psi2 * ((1 + 1 / n) * H @ H + c * H / n)


def risk(Gamma: Tensor, H: Tensor, n: int, sigma2: float, psi2: float) -> Tensor:
    """R_n(Γ) = σ² + ψ² tr H − 2ψ² tr(ΓH²) + tr(Γᵀ H Γ H̃_n), batched over leading dims of Γ."""
    H = as_H(H)
    G = torch.as_tensor(Gamma, dtype=f64)
    Ht = H_tilde(H, n, sigma2, psi2)
    cross = torch.einsum("...ij,ji->...", G, H @ H)
    quad = torch.einsum("...ki,kl,...lj,ji->...", G, H, G, Ht)  # tr(Γᵀ H Γ H̃)
    return sigma2 + psi2 * torch.trace(H) - 2 * psi2 * cross + quad


def gamma_star(H: Tensor, N: int, sigma2: float, psi2: float) -> Tensor:
    """Γ*_N = ((N+1)/N · H + c/N · I)⁻¹, the minimiser of R_N."""
    H = as_H(H)
    c = c_const(H, sigma2, psi2)
    return torch.linalg.inv((N + 1) / N * H + c / N * torch.eye(H.shape[0], dtype=f64))


def risk_star(H: Tensor, N: int, sigma2: float, psi2: float) -> float:
    """R_N(Γ*_N) = σ² + ψ² Σ_i λ_i(λ_i + c) / ((N+1)λ_i + c), the eigenvalue-sum form."""
    H = as_H(H)
    c = c_const(H, sigma2, psi2)
    lam = torch.linalg.eigvalsh((H + H.T) / 2)
    return float(sigma2 + psi2 * (lam * (lam + c) / ((N + 1) * lam + c)).sum())


def suggested_gamma0(H: Tensor, N: int, sigma2: float, psi2: float) -> float:
    """γ₀ = 0.5 / (tr H · tr H̃_N), the initial SGD step size found stable."""
    H = as_H(H)
    return 0.5 / (float(torch.trace(H)) * float(torch.trace(H_tilde(H, N, sigma2, psi2))))


def _mc_designs(H: Tensor, n: int, n_mc: int, seed: int) -> Tensor:
    """n_mc context matrices X (n_mc, n, d) with rows ~ N(0, H), from a fixed CPU seed."""
    H = as_H(H)
    g = rng.generator("mc", seed, n)
    z = torch.randn(n_mc, n, H.shape[0], generator=g, dtype=f64)
    return z @ torch.linalg.cholesky(H).T


def ridge_risks(H: Tensor, n: int, sigma2: float, psi2: float, lams, n_mc: int = 20000,
                seed: int = 0) -> tuple[Tensor, Tensor]:
    """Risk of ridge(λ) at context length n for each λ (same X draws): mean and standard error over X.

    Given X, with A = XᵀX + λI: E[(xᵀ(β̂−β))²] = ψ²λ² tr(H A⁻²) + σ² tr(H A⁻¹ XᵀX A⁻¹), plus σ² for the query noise.
    """
    H = as_H(H)
    X = _mc_designs(H, n, n_mc, seed)
    s, U = torch.linalg.eigh(X.transpose(-1, -2) @ X)  # XᵀX = U diag(s) Uᵀ, so A⁻¹ = U diag(1/(s+λ)) Uᵀ
    h = torch.einsum("bji,jk,bki->bi", U, H, U)  # diag(Uᵀ H U)
    lam = torch.as_tensor(lams, dtype=f64).reshape(-1, 1, 1)
    r = sigma2 + (h * (psi2 * lam ** 2 + sigma2 * s) / (s + lam) ** 2).sum(-1)  # (n_lams, n_mc)
    return r.mean(-1), r.std(-1) / math.sqrt(n_mc)


def bayes_risk(H: Tensor, n: int, sigma2: float, psi2: float, n_mc: int = 20000,
               seed: int = 0) -> tuple[float, float]:
    """Bayes risk = ridge with λ = σ²/ψ²: σ² + σ² E_X tr[H (XᵀX + (σ²/ψ²) I)⁻¹]; (MC mean, standard error)."""
    H = as_H(H)
    X = _mc_designs(H, n, n_mc, seed)
    A = X.transpose(-1, -2) @ X + sigma2 / psi2 * torch.eye(H.shape[0], dtype=f64)
    r = sigma2 + sigma2 * torch.einsum("ij,bji->b", H, torch.linalg.inv(A))
    return float(r.mean()), float(r.std() / math.sqrt(n_mc))


def tuned_ridge_risk(H: Tensor, n: int, sigma2: float, psi2: float, lams=None, n_mc: int = 20000,
                     seed: int = 0) -> tuple[float, float, float]:
    """Optimally tuned ridge at context length n: (risk, standard error, λ*) minimised over a log grid of λ.

    Under this isotropic Gaussian prior the optimum is λ = σ²/ψ² (the Bayes predictor); the grid includes it.
    """
    if lams is None:
        lams = torch.cat([torch.logspace(-4, 3, 57, dtype=f64), torch.tensor([sigma2 / psi2], dtype=f64)])
    lams = torch.as_tensor(lams, dtype=f64).reshape(-1)
    m, s = ridge_risks(H, n, sigma2, psi2, lams, n_mc, seed)
    i = int(torch.argmin(m))
    return float(m[i]), float(s[i]), float(lams[i])
