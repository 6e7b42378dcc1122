import math

import pytest
import torch

from iclbook import rng

from iclbook.tasks import RegressionTask

torch.set_num_threads(1)


def dist_to_pool(beta, pool):
    return (beta[:, None, :] - pool[None, :, :]).norm(dim=-1).min(-1).values


def gen(seed=0):
    return rng.generator("test", seed)


def test_shapes_and_determinism():
    task = RegressionTask(d=4, K=8, M=16)
    x, y, beta = task.sample(32, gen(1))
    assert x.shape == (32, 8, 4) and y.shape == (32, 8) and beta.shape == (32, 4)
    x2, y2, beta2 = task.sample(32, gen(1))
    assert torch.equal(x, x2) and torch.equal(y, y2) and torch.equal(beta, beta2)
    x3, _, _ = task.sample(32, gen(2))
    assert not torch.equal(x, x3)


def test_nested_pools():
    task = RegressionTask(d=5, K=4, M=16, pool_seed=3)
    assert torch.equal(task.pool(4), task.pool(16)[:4])
    assert torch.equal(task.pool(1)[0], task.pool(1000)[0])  # t1 is in every pool
    assert not torch.equal(task.pool(4), RegressionTask(d=5, K=4, pool_seed=4).pool(4))


def test_pool_tasks_come_from_pool_and_fresh_do_not():
    task = RegressionTask(d=3, K=5, M=4, sigma2=0.0)
    _, y, beta = task.sample(200, gen())
    pool = task.pool()
    assert torch.all(dist_to_pool(beta, pool) < 1e-6)
    assert len({tuple(b.tolist()) for b in beta}) == 4  # all four drawn, with replacement
    _, _, fresh = task.sample_fresh(50, gen())
    assert torch.all(dist_to_pool(fresh, pool) > 1e-3)
    with pytest.raises(ValueError):
        RegressionTask(d=3, K=5).sample_pool(4, gen())


def test_labels_follow_tasks_and_noise_level():
    task = RegressionTask(d=4, K=64, sigma2=0.5)
    x, y, beta = task.sample(256, gen())
    resid = y - torch.einsum("bkd,bd->bk", x, beta)
    assert abs(resid.var().item() - 0.5) < 0.03


@pytest.mark.parametrize("H", [torch.tensor([4.0, 1.0, 0.25]), torch.tensor([[2.0, 0.5, 0], [0.5, 1.0, 0], [0, 0, 0.5]])])
def test_covariance_of_x(H):
    task = RegressionTask(d=3, K=100, H=H)
    x, _, _ = task.sample(400, gen())
    emp = x.reshape(-1, 3).T.cov()
    assert torch.allclose(emp, task.H_matrix().float(), atol=0.05 * float(task.H_matrix().max()))


def test_ensemble_members_use_their_own_pool_size():
    task = RegressionTask(d=3, K=2)
    Ms = [1, 4, math.inf]
    x, y, beta = task.sample_ensemble(Ms, 300, gen())
    assert x.shape == (3, 300, 2, 3) and y.shape == (3, 300, 2) and beta.shape == (3, 300, 3)
    pool = task.pool(4)
    assert torch.allclose(beta[0], pool[0].expand(300, 3))
    assert len({tuple(b.tolist()) for b in beta[1]}) == 4
    assert torch.all(dist_to_pool(beta[1], pool) < 1e-6)
    assert len({tuple(b.tolist()) for b in beta[2]}) == 300
    # a one-member ensemble is the plain sampler
    task16 = RegressionTask(d=3, K=2, M=16)
    a = task16.sample(8, gen(5))
    b = task16.sample_ensemble([16], 8, gen(5))
    assert all(torch.equal(u, v[0]) for u, v in zip(a, b))


def test_bad_arguments():
    with pytest.raises(ValueError, match="M"):
        RegressionTask(d=3, K=2, M=0)
    with pytest.raises(ValueError, match="H"):
        RegressionTask(d=3, K=2, H=torch.ones(4))
    with pytest.raises(ValueError, match="tasks"):
        RegressionTask(d=3, K=2).sample(2, gen(), tasks="ood")
