"""The SGLD LLC estimator against models whose learning coefficient λ is known in closed form (Watanabe 2009).

- Regular: linear regression with d parameters, λ = d/2.
- Minimally singular: f(x) = w₁w₂·x at a non-zero truth. The minimum set {w₁w₂ = c} is a smooth curve in R², so only
  one direction is constrained: λ = 1/2 < d/2 = 1 (Lau et al. 2023, minimally singular case).
- Degenerate: f(x) = w²·x at the truth w = 0. K(w) ∝ w⁴, and for K ∝ w^{2k}, λ = 1/(2k): λ = 1/4 < d/2 = 1/2.
Each model is an ensemble of E identical replicas (the estimator handles per-member losses), which buys samples cheaply.
"""
import pytest
import torch

from iclbook import rng
from torch import nn

from iclbook.analysis.llc import SGLDConfig, SGLDDiverged, estimate_llc


class Linear(nn.Module):
    def __init__(self, w0: torch.Tensor, E: int):
        super().__init__()
        self.w = nn.Parameter(w0.expand(E, -1).clone())

    def pred(self, x):
        return x @ self.w.T  # (n, E)


class Product(nn.Module):
    """f(x) = w₁w₂·x (d = 2)."""

    def __init__(self, w0: torch.Tensor, E: int):
        super().__init__()
        self.w = nn.Parameter(w0.expand(E, -1).clone())

    def pred(self, x):
        return x[:, :1] * (self.w[:, 0] * self.w[:, 1])[None]


class Square(nn.Module):
    """f(x) = w²·x (d = 1)."""

    def __init__(self, w0: torch.Tensor, E: int):
        super().__init__()
        self.w = nn.Parameter(w0.expand(E, -1).clone())

    def pred(self, x):
        return x[:, :1] * (self.w[:, 0] ** 2)[None]


def mse_half(model, x, y):
    """ℓ = ½ mean (y − f(x))², per member: the Gaussian negative log-likelihood with σ = 1, up to a constant."""
    return 0.5 * ((y[:, None] - model.pred(x)) ** 2).mean(0)


def test_regular_linear_regression_has_llc_d_over_2():
    g = rng.generator("test", 0)
    d, n, E = 4, 20_000, 16
    x = torch.randn(n, d, dtype=torch.float64, generator=g)
    y = x @ torch.randn(d, dtype=torch.float64, generator=g) + torch.randn(n, dtype=torch.float64, generator=g)
    w_hat = torch.linalg.lstsq(x, y[:, None]).solution[:, 0]  # w*: the empirical minimum
    model = Linear(w_hat, E)
    cfg = SGLDConfig(eps=1e-4, gamma=1.0, nbeta=1000.0, chains=2, burn_in=100, draws=400, batch_size=2048, seed=1)
    res = estimate_llc(model, lambda m, idx: mse_half(m, x[idx], y[idx]), n, cfg)
    assert res.llc_chains.shape == (2, E) and res.loss_trace.shape == (2, 500, E)
    assert torch.equal(model.w.detach()[0], w_hat)  # weights restored
    assert res.llc.mean() == pytest.approx(d / 2, rel=0.1)


def test_minimally_singular_product_has_llc_one_half():
    g = rng.generator("test", 1)
    n, E = 200, 64
    x = torch.randn(n, 1, dtype=torch.float64, generator=g)
    y = 1.0 * x[:, 0] + torch.randn(n, dtype=torch.float64, generator=g)
    c_hat = float((x[:, 0] @ y) / (x[:, 0] @ x[:, 0]))
    model = Product(torch.tensor([c_hat**0.5, c_hat**0.5], dtype=torch.float64), E)
    cfg = SGLDConfig(eps=4e-5, gamma=1.0, nbeta=1000.0, chains=2, burn_in=200, draws=800, batch_size=1, seed=2)
    res = estimate_llc(model, lambda m, idx: mse_half(m, x, y), n, cfg)  # full batch: exact gradients
    assert res.llc.mean() == pytest.approx(0.5, rel=0.12)
    assert res.llc.mean() < 0.75  # clearly below the regular value d/2 = 1


def test_degenerate_square_has_llc_one_quarter():
    g = rng.generator("test", 2)
    n, E = 200, 128
    x = torch.randn(n // 2, 1, dtype=torch.float64, generator=g)
    x = torch.cat([x, -x])  # antithetic pairs: Σ x·y = 0, so w* = 0 is exactly the minimum and ℓ_n − ℓ_n(0) ∝ w⁴
    y = torch.randn(n // 2, dtype=torch.float64, generator=g).repeat(2)
    model = Square(torch.zeros(1, dtype=torch.float64), E)
    cfg = SGLDConfig(eps=1e-4, gamma=0.1, nbeta=10_000.0, chains=2, burn_in=300, draws=1200, batch_size=1, seed=3)
    res = estimate_llc(model, lambda m, idx: mse_half(m, x, y), n, cfg)
    assert res.llc.mean() == pytest.approx(0.25, rel=0.12)
    assert res.llc.mean() < 0.4  # clearly below the regular value d/2 = 1/2


def test_invalid_config_fails():
    with pytest.raises(ValueError):
        SGLDConfig(eps=0.0)
    with pytest.raises(ValueError):
        SGLDConfig(chains=0)


def test_divergence_names_the_member_and_restores_the_weights():
    """A too-large step for member 1 only (its loss is 10⁶× steeper): the error names member 1, and w* is restored."""
    model = Linear(torch.ones(1, 2), E=3)
    scale = torch.tensor([1.0, 1e6, 1.0])
    with pytest.raises(SGLDDiverged, match=r"member\(s\) \[1\]") as err:
        estimate_llc(model, lambda m, idx: 0.5 * scale * (m.w ** 2).sum(1), 100, SGLDConfig(chains=1, draws=50))
    assert err.value.members == [1]
    assert torch.equal(model.w.detach(), torch.ones(3, 2))
