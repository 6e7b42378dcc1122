import math

import torch

from iclbook import rng

from iclbook import closed_forms as cf
from iclbook.tasks import RegressionTask

torch.set_num_threads(1)

D, N = 8, 16
H_ID = torch.ones(D)
H_DECAY = 1 / torch.arange(1, D + 1, dtype=torch.float64)
SETTINGS = {  # name: (H, sigma2, psi2, R(Γ*), Bayes ridge (MC reference))
    "identity": (H_ID, 1.0, 1.0, 4.0769, 1.878),
    "decay": (H_DECAY, 1.0, 1.0, 2.0496, 1.576),
    "high_noise": (H_ID, 1.0, 1 / 8, 1.5152, 1.423),
}


def test_optimal_risk_reference_values_and_two_forms_agree():
    for H, s2, p2, ref, _ in SETTINGS.values():
        via_formula = float(cf.risk(cf.gamma_star(H, N, s2, p2), H, N, s2, p2))
        via_eigen = cf.risk_star(H, N, s2, p2)
        assert abs(via_formula - via_eigen) < 1e-10
        assert abs(via_eigen - ref) < 1e-4
    assert abs(float(cf.risk(torch.zeros(D, D), H_ID, N, 1.0, 1 / 8)) - 2.0) < 1e-12


def test_gamma_star_minimises_risk():
    H, s2, p2 = H_DECAY, 1.0, 1.0
    G = cf.gamma_star(H, N, s2, p2)
    g = rng.generator("test", 0)
    pert = 1e-2 * torch.randn(20, D, D, generator=g, dtype=torch.float64)
    assert torch.all(cf.risk(G + pert, H, N, s2, p2) > cf.risk(G, H, N, s2, p2))


def test_risk_batched_over_leading_dims():
    G = torch.randn(3, 2, D, D, dtype=torch.float64, generator=rng.generator("test", 1))
    r = cf.risk(G, H_DECAY, N, 1.0, 1.0)
    assert r.shape == (3, 2)
    assert abs(float(r[1, 0]) - float(cf.risk(G[1, 0], H_DECAY, N, 1.0, 1.0))) < 1e-12


def test_bayes_ridge_reference_values():
    for H, s2, p2, _, ref in SETTINGS.values():
        m, se = cf.bayes_risk(H, N, s2, p2, n_mc=4000, seed=1)
        assert abs(m - ref) < 4 * se + 2e-3, (m, se, ref)
        assert m < cf.risk_star(H, N, s2, p2)  # attention is never better than Bayes


def test_tuned_ridge_is_bayes_ridge():
    H, s2, p2 = H_ID, 1.0, 1 / 8
    r, se, lam = cf.tuned_ridge_risk(H, N, s2, p2, n_mc=2000)
    b, _ = cf.bayes_risk(H, N, s2, p2, n_mc=2000)
    assert abs(r - b) < 1e-3 and abs(math.log(lam / 8.0)) < 0.3
    means, _ = cf.ridge_risks(H, N, s2, p2, [s2 / p2], n_mc=2000)
    assert abs(float(means[0]) - b) < 1e-12


def test_risk_formula_matches_monte_carlo():
    H = torch.tensor([2.0, 1.0, 0.5, 0.25], dtype=torch.float64)
    s2, p2, n = 0.5, 0.7, 6
    G = 0.2 * torch.randn(4, 4, dtype=torch.float64, generator=rng.generator("test", 2))
    task = RegressionTask(d=4, K=n + 1, sigma2=s2, psi2=p2, H=H)
    x, y, _ = task.sample(200_000, rng.generator("test", 3), dtype=torch.float64)
    h = torch.einsum("bkd,bk->bd", x[:, :-1], y[:, :-1]) / n
    err = (torch.einsum("bi,ij,bj->b", x[:, -1], G, h) - y[:, -1]) ** 2
    mc, se = err.mean().item(), err.std().item() / math.sqrt(err.numel())
    assert abs(mc - float(cf.risk(G, H, n, s2, p2))) < 4 * se


def test_h_tilde_is_second_moment_of_h():
    H = torch.tensor([1.5, 0.5, 0.2], dtype=torch.float64)
    task = RegressionTask(d=3, K=5, sigma2=0.3, psi2=2.0, H=H)
    x, y, _ = task.sample(200_000, rng.generator("test", 4), dtype=torch.float64)
    h = torch.einsum("bkd,bk->bd", x, y) / 5
    emp = h.T @ h / h.shape[0]
    Ht = cf.H_tilde(H, 5, 0.3, 2.0)
    assert torch.allclose(emp, Ht, atol=0.05 * float(Ht.max()))


def test_suggested_gamma0():
    g0 = cf.suggested_gamma0(H_ID, N, 1.0, 1 / 8)
    assert abs(g0 - 0.5 / (8 * float(torch.trace(cf.H_tilde(H_ID, N, 1.0, 1 / 8))))) < 1e-15
