import math

import torch

from iclbook import closed_forms as cf
from iclbook.experiments.task_complexity import pretrain_sgd, pretrain_sgd_sweep, sgd_reference_loop, step_sizes
from iclbook.models.linear_attention import LinearAttention
from iclbook.tasks import RegressionTask

torch.set_num_threads(1)

D, N, S2, P2 = 8, 16, 1.0, 1 / 8  # chapter 1's high-noise setting
H = torch.ones(D)


def test_forward_is_one_preconditioned_gd_step():
    m = LinearAttention(3)
    X, y, xq = torch.randn(5, 4, 3), torch.randn(5, 4), torch.randn(5, 3)
    assert torch.all(m(X, y, xq) == 0)  # Γ₀ = 0
    with torch.no_grad():
        m.Gamma.copy_(torch.randn(3, 3))
    ref = torch.stack([xq[b] @ m.Gamma @ (X[b].T @ y[b] / 4) for b in range(5)])
    assert torch.allclose(m(X, y, xq), ref, atol=1e-6)
    ens = LinearAttention(3, n_models=2)
    with torch.no_grad():
        ens.Gamma[1].copy_(m.Gamma)
    out = ens(X[None].expand(2, -1, -1, -1), y[None].expand(2, -1, -1), xq[None].expand(2, -1, -1))
    assert out.shape == (2, 5) and torch.all(out[0] == 0) and torch.allclose(out[1], ref, atol=1e-6)


def test_step_size_schedule():
    T, g0 = 1000, 0.1
    gam = step_sizes(T, g0)
    L = math.ceil(T / math.log(T))
    assert gam.shape == (T,) and torch.all(gam[:L] == g0) and gam[L] == g0 / 2 and gam[2 * L] == g0 / 4
    assert torch.all(gam[1:] <= gam[:-1])


def test_vectorised_sgd_equals_python_loop_and_is_deterministic():
    task = RegressionTask(d=4, K=6, sigma2=0.5, psi2=0.5, H=torch.tensor([2.0, 1.0, 0.5, 0.1]))
    g0 = cf.suggested_gamma0(task.H, 6, 0.5, 0.5)
    G, ck = pretrain_sgd(task, 1500, [3, 7], g0, checkpoints=[10, 1024, 1300], chunk=48)
    assert G.shape == (2, 4, 4) and sorted(ck) == [10, 1024, 1300, 1500]
    assert torch.equal(ck[1500], G)
    ref = sgd_reference_loop(task, 1500, 7, g0)
    assert torch.allclose(G[1], ref, atol=1e-10, rtol=0)
    G2, _ = pretrain_sgd(task, 1500, [7], g0, chunk=128)  # member = the single run with its seed; chunk is rounding only
    assert torch.allclose(G2[0], G[1], atol=1e-10, rtol=0)
    G3, _ = pretrain_sgd(task, 1500, [3, 7], g0, checkpoints=[10, 1024, 1300], chunk=48)
    assert torch.equal(G, G3)


def test_excess_risk_falls_with_T():
    task = RegressionTask(d=D, K=N, sigma2=S2, psi2=P2, H=H)
    g0 = cf.suggested_gamma0(H, N, S2, P2)
    R_star = cf.risk_star(H, N, S2, P2)
    Gs = pretrain_sgd_sweep(task, [256, 4096], list(range(4)), g0)
    ex = {T: float((cf.risk(G, H, N, S2, P2) - R_star).mean()) for T, G in Gs.items()}
    # chapter-1 reference (mean of 3 seeds): ≈ 0.35 at T = 256 and ≈ 0.051 at T = 4096
    assert 0 < ex[4096] < 0.1 < 0.25 < ex[256] < 0.5, ex
