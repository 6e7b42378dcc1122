import math

import pytest
import torch

from iclbook import rng

from iclbook.baselines import dmmse_predictions, ols_predictions, ridge_predictions
from iclbook.tasks import RegressionTask

torch.set_num_threads(1)


def naive_ridge(x, y, lam):
    B, K, D = x.shape
    out = torch.zeros(B, K, dtype=torch.float64)
    for b in range(B):
        for k in range(1, K):
            X, Y = x[b, :k].double(), y[b, :k].double()
            if lam > 0:
                beta = torch.linalg.solve(X.T @ X + lam * torch.eye(D, dtype=torch.float64), X.T @ Y)
            else:
                beta = torch.linalg.lstsq(X, Y[:, None], driver="gelsd").solution[:, 0]  # min-norm least squares
            out[b, k] = x[b, k].double() @ beta
    return out


def naive_dmmse(x, y, pool, sigma2):
    B, K, _ = x.shape
    out = torch.zeros(B, K, dtype=torch.float64)
    for b in range(B):
        for k in range(K):
            logw = torch.tensor([-sum(float(y[b, j] - t @ x[b, j]) ** 2 for j in range(k)) / (2 * sigma2)
                                 for t in pool], dtype=torch.float64)
            w = torch.exp(logw - logw.max())
            w = w / w.sum()
            out[b, k] = sum(float(w[m]) * float(pool[m] @ x[b, k]) for m in range(len(pool)))
    return out


def data(B=5, K=7, D=3, M=6, sigma2=0.3, seed=0):
    task = RegressionTask(d=D, K=K, sigma2=sigma2, M=M)
    x, y, _ = task.sample(B, rng.generator("test", seed), dtype=torch.float64)
    return task, x, y


@pytest.mark.parametrize("lam", [0.0, 0.3, 2.0])
def test_ridge_matches_naive_loop(lam):
    _, x, y = data()
    fast = ridge_predictions(x, y, lam)
    assert fast.shape == y.shape and torch.all(fast[:, 0] == 0)
    assert torch.allclose(fast, naive_ridge(x, y, lam), atol=1e-8)
    assert torch.equal(ols_predictions(x, y), ridge_predictions(x, y, 0.0))


def test_ridge_leading_dims():
    _, x, y = data(B=6)
    fast = ridge_predictions(x.reshape(2, 3, 7, 3), y.reshape(2, 3, 7), 0.5)
    assert torch.allclose(fast.reshape(6, 7), ridge_predictions(x, y, 0.5))


@pytest.mark.parametrize("chunk", [1, 4, None])
def test_dmmse_matches_naive_loop(chunk):
    task, x, y = data()
    pool = task.pool(dtype=torch.float64)
    fast = dmmse_predictions(x, y, pool, 0.3, chunk=chunk)
    assert torch.allclose(fast, naive_dmmse(x, y, pool, 0.3), atol=1e-9)
    assert torch.allclose(fast[:, 0], x[:, 0] @ pool.mean(0))  # pool mean at k = 1


def test_dmmse_is_stable_for_tiny_noise():
    task, x, y = data(sigma2=1e-4, M=50)
    p = dmmse_predictions(x.float(), y.float(), task.pool(), 1e-4, chunk=7)
    assert torch.isfinite(p).all()


def test_sanity_targets():
    D, K, s2, B = 8, 16, 0.25, 4096
    task = RegressionTask(d=D, K=K, sigma2=s2, M=1)
    x, y, _ = task.sample(B, rng.generator("test", 0))
    loss = ((dmmse_predictions(x, y, task.pool(), s2) - y) ** 2).mean(0)  # M = 1 on its own task: σ² everywhere
    assert torch.all((loss - s2).abs() < 5 * s2 * math.sqrt(2 / B))
    xf, yf, _ = task.sample_fresh(B, rng.generator("test", 1))
    first = ((ridge_predictions(xf, yf, s2)[:, 0] - yf[:, 0]) ** 2)
    assert abs(first.mean().item() - (D + s2)) < 4 * first.std().item() / math.sqrt(B)  # ridge at k = 1: D + σ²


def test_monte_carlo_references():
    """Loss/D on fresh tasks, D = 8, K = 16, σ² = 0.25 (chapter-2 spec): ridge 0.376; dMMSE 1.143 (M = 16) and 0.744
    (M = 256) for the spec's pool draw, and for M = 1 the exact 1 + ‖t₁‖²/D + σ²/D of this pool's t₁ (the spec's
    1.462 was one draw of t₁)."""
    D, K, s2, B = 8, 16, 0.25, 2048
    task = RegressionTask(d=D, K=K, sigma2=s2, pool_seed=0)
    x, y, _ = task.sample_fresh(B, rng.generator("test", 2))

    def check(pred, ref):
        per_seq = ((pred - y) ** 2).mean(-1) / D
        m, se = per_seq.mean().item(), per_seq.std().item() / math.sqrt(B)
        assert abs(m - ref) < 4 * se, (m, se, ref)
        return m

    check(ridge_predictions(x, y, s2), 0.376)
    exact_m1 = 1 + (task.pool(1) ** 2).sum().item() / D + s2 / D
    losses = [check(dmmse_predictions(x, y, task.pool(M), s2), ref)
              for M, ref in [(1, exact_m1), (16, 1.143), (256, 0.744)]]
    assert losses[0] > losses[1] > losses[2]  # Δ(dMMSE, ridge) shrinks as M grows
