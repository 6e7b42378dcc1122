"""Gaussian in-context linear regression with nested finite task pools.

x ~ N(0, H) in R^d, task β ~ N(0, ψ² I_d), y = xᵀβ + ε with ε ~ N(0, σ²)  (Wu et al. 2023; Raventós et al. 2023).
A pool of size M is the first M rows of one fixed sequence t₁, t₂, … drawn from ``pool_seed``, so pools are nested
(t₁ is in every pool and pool(4) is a prefix of pool(16)). M = ∞ (or None) means a fresh task for every sequence.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import rng
from torch import Tensor

INF = math.inf


def _is_inf(M: float | int | None) -> bool:
    return M is None or (isinstance(M, float) and math.isinf(M))


@dataclass
class RegressionTask:
    """A Gaussian linear-regression task distribution (optionally restricted to a finite nested pool)."""

    d: int  # D: input dimension
    K: int  # context length: number of (x, y) pairs per sequence
    sigma2: float = 0.25  # σ²: label-noise variance
    psi2: float = 1.0  # ψ²: prior variance of each coordinate of β
    H: Tensor | None = None  # covariance of x: None = I, 1-D = eigenvalues of a diagonal H, 2-D = full d×d matrix
    M: float | int | None = None  # task-pool size; math.inf or None = a fresh task for every sequence
    pool_seed: int = 0  # seed of the fixed sequence t₁, t₂, … that every pool is a prefix of
    _pool_cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.d < 1 or self.K < 1:
            raise ValueError(f"d and K must be >= 1, got d={self.d}, K={self.K}")
        if self.sigma2 < 0 or self.psi2 <= 0:
            raise ValueError(f"need sigma2 >= 0 and psi2 > 0, got sigma2={self.sigma2}, psi2={self.psi2}")
        if not _is_inf(self.M) and (int(self.M) != self.M or self.M < 1):
            raise ValueError(f"M must be a positive integer, math.inf or None, got M={self.M}")
        if self.H is not None:
            H = torch.as_tensor(self.H, dtype=torch.float64)
            if H.shape not in ((self.d,), (self.d, self.d)):
                raise ValueError(f"H must have shape ({self.d},) or ({self.d}, {self.d}), got {tuple(H.shape)}")
            self.H = H

    # ---- the covariance of x -------------------------------------------------------------------------------------
    def H_matrix(self) -> Tensor:
        """H as a dense d×d float64 matrix."""
        if self.H is None:
            return torch.eye(self.d, dtype=torch.float64)
        return torch.diag(self.H) if self.H.ndim == 1 else self.H.clone()

    def _scale_x(self, z: Tensor) -> Tensor:
        """Map z ~ N(0, I) to x ~ N(0, H): x = z·sqrt(h) (diagonal) or x = z Lᵀ with H = L Lᵀ."""
        if self.H is None:
            return z
        if self.H.ndim == 1:
            return z * self.H.sqrt().to(z)
        L = torch.linalg.cholesky(self.H).to(z)
        return z @ L.T

    # ---- the nested pool ----------------------------------------------------------------------------------------
    def pool(self, M: int | None = None, device: torch.device | str = "cpu", dtype=torch.float32) -> Tensor:
        """The first M tasks t₁…t_M of the fixed sequence, (M, d); numpy fills row-major, so pools are prefixes."""
        M = self.M if M is None else M
        if _is_inf(M):
            raise ValueError("pool(M) needs a finite M; this task draws fresh tasks (M = inf)")
        M = int(M)
        key = (M, torch.device(device), dtype)
        if key not in self._pool_cache:
            t = np.random.default_rng(rng.seed_of("tasks", self.pool_seed)).standard_normal((M, self.d)) * math.sqrt(self.psi2)
            self._pool_cache[key] = torch.from_numpy(t).to(device=device, dtype=dtype)
        return self._pool_cache[key]

    # ---- sampling -----------------------------------------------------------------------------------------------
    def sample_ensemble(self, Ms: list, batch: int, generator: torch.Generator, device=None, K: int | None = None,
                        dtype=torch.float32) -> tuple[Tensor, Tensor, Tensor]:
        """x (E,B,K,d), y (E,B,K), β (E,B,d): member e draws its tasks uniformly from pool(Ms[e]) (inf = fresh)."""
        device = torch.device(device) if device is not None else generator.device
        K = self.K if K is None else K
        E, d = len(Ms), self.d
        finite = [int(m) for m in Ms if not _is_inf(m)]
        # draw order is fixed (task index, fresh task, x, noise), so a batch is a pure function of the generator
        u = torch.rand(E, batch, generator=generator, device=device, dtype=torch.float64)
        fresh = torch.randn(E, batch, d, generator=generator, device=device, dtype=dtype) * math.sqrt(self.psi2)
        beta = fresh
        if finite:
            sizes = torch.tensor([float(m) if not _is_inf(m) else 1.0 for m in Ms], device=device, dtype=torch.float64)
            idx = (u * sizes[:, None]).long().clamp_max(sizes.long()[:, None] - 1)  # uniform on {0..M_e−1}
            from_pool = self.pool(max(finite), device=device, dtype=dtype)[idx]
            is_inf = torch.tensor([_is_inf(m) for m in Ms], device=device)
            beta = torch.where(is_inf[:, None, None], fresh, from_pool)
        z = torch.randn(E, batch, K, d, generator=generator, device=device, dtype=dtype)
        x = self._scale_x(z)
        noise = torch.randn(E, batch, K, generator=generator, device=device, dtype=dtype) * math.sqrt(self.sigma2)
        y = torch.einsum("ebkd,ebd->ebk", x, beta) + noise
        return x, y, beta

    def sample(self, batch: int, generator: torch.Generator, device=None, tasks: str = "train",
               K: int | None = None, dtype=torch.float32) -> tuple[Tensor, Tensor, Tensor]:
        """x (B,K,d), y (B,K), β (B,d); tasks = "train" (this task's M), "pool" (finite M only) or "fresh" (M = ∞)."""
        if tasks == "train":
            M = self.M
        elif tasks == "fresh":
            M = INF
        elif tasks == "pool":
            if _is_inf(self.M):
                raise ValueError("tasks='pool' needs a finite M")
            M = self.M
        else:
            raise ValueError(f"tasks must be 'train', 'pool' or 'fresh', got {tasks!r}")
        x, y, beta = self.sample_ensemble([M], batch, generator, device, K=K, dtype=dtype)
        return x[0], y[0], beta[0]

    def sample_fresh(self, batch: int, generator: torch.Generator, device=None, **kw):
        """Sequences from fresh Gaussian tasks, whatever M is: the out-of-distribution evaluation set."""
        return self.sample(batch, generator, device, tasks="fresh", **kw)

    def sample_pool(self, batch: int, generator: torch.Generator, device=None, **kw):
        """Sequences from the pool only: the in-distribution evaluation set."""
        return self.sample(batch, generator, device, tasks="pool", **kw)
