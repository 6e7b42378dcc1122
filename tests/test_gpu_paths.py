"""Every chapter's `gpu` code path at tiny sizes on the CPU (issue 37, part 2).

No GPU is lent to CI, and the `gpu` profiles are not the `cpu` recipes made larger: chapter 2 switches to a
31-member ensemble over pools of up to 32768 tasks, chapter 3 to six task families and three-token inputs, chapter 4
to every grid point in one stacked ensemble (`group` 0) and the deep model, chapter 5 to three-value sweeps and test
lengths beyond the training length; the documented full-scale overrides switch chapter 2 to the papers' interleaved
tokens and chapter 4 to the paper's rotary positions, no biases and rectangle rule. Each test resolves the chapter's
`gpu` profile, shrinks only sizes (steps, width, batch, evaluation sets; the overrides' recipes where named) and calls
the experiment module's own functions, so that a shape, indexing or ensemble bug on these paths shows here and not
on a reader's GPU. Chapter 4's whole notebook at `gpu` runs in tests/test_chapters.py.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from iclbook import rng
from iclbook.chapters import get
from iclbook.models.gpt import GPT, GPTConfig
from iclbook.store import Store

CPU = torch.device("cpu")


def gpu_params(chapter: str, **shrink):
    """The chapter's `gpu` profile with only sizes overridden; fails if an override changes a non-size choice."""
    P = get(chapter).params.resolve("gpu", shrink)
    assert P.profile == "gpu"
    return P


def differs_beyond_size(chapter: str) -> dict:
    """Parameters whose `gpu` value is a different choice (not a number or a list of numbers) from `cpu`'s."""
    spec = get(chapter).params
    out = {}
    for p in spec.params:
        cpu, gpu = p.per_profile["cpu"], p.per_profile["gpu"]
        if cpu != gpu and p.kind in (str, bool):
            out[p.name] = (cpu, gpu)
    return out


def test_the_non_size_gpu_choices_are_the_ones_these_tests_cover():
    """If a chapter gains a new `gpu`-only choice, this test names it, so that a test for its path is added here."""
    assert {c.id: differs_beyond_size(c.id) for c in map(get, "12345")} == {
        "01": {}, "02": {}, "03": {},
        "04": {}, "05": {}}
    # choices that are numbers but select a code path: chapter 4's group 0 (one ensemble of all grid points) and
    # deep_layers > 0 (claim 5's deep model), chapter 3's n_families > 1 (per-family tables), chapter 2's 30 pools
    assert get("04").params["group"].per_profile["gpu"] == 0 and get("04").params["deep_layers"].per_profile["gpu"] > 0
    assert get("03").params["n_families"].per_profile["gpu"] > 1 == get("03").params["n_families"].per_profile["cpu"]


# ---- chapter 1: the GPT of claim 5 at the gpu depth, and Γ-SGD at the gpu dimension ------------------------------

def test_ch01_gpu_transformer_and_sgd(tmp_path):
    from iclbook.experiments.task_complexity import pretrain_sgd, sgd_reference_loop, train_gpt
    from iclbook.tasks.regression import RegressionTask

    P = gpu_params("01", gpt_steps=3, gpt_batch=4, gpt_width=32, d=16)  # d = 32's ridge baseline alone took 12 s
    assert (P.N, P.gpt_layers, P.gpt_tokens) == (32, 4, "pair")
    model, res, (x_ev, y_ev, ridge_ev) = train_gpt(P, Store(tmp_path), CPU)
    assert res.losses.shape == (3,) and np.isfinite(res.losses).all()
    assert x_ev.shape == (1024, P.N + 1, P.d) and len(res.evals[-1]["mse"]) == P.N + 1
    task = RegressionTask(d=P.d, K=P.N, sigma2=P.sigma2, psi2=P.psi2)
    G, _ = pretrain_sgd(task, 70, [0, 1], 0.01, chunk=64)  # two chunks, the second partial
    assert G.shape == (2, P.d, P.d)
    torch.testing.assert_close(G[1], sgd_reference_loop(task, 70, 1, 0.01), rtol=1e-9, atol=1e-12)


# ---- chapter 2: the 31-member ensemble over the half-power grid, its LLC; the papers' interleaved tokens too ------

@pytest.mark.parametrize("tokens", ["pair", "interleaved"])  # the profile's, and the documented full-scale override's
def test_ch02_gpu_sweep_ensemble_and_llc(tmp_path, tokens):
    from iclbook.analysis.llc import SGLDConfig
    from iclbook.analysis.trajectory_pca import joint_trajectory_pca
    from iclbook.experiments.transient_ridge import (SweepConfig, calibrated_llc, llc_geometry, m_label, make_probes,
                                                     on_ridge_side, pca_geometry, threshold_M, train_sweep)

    P = gpu_params("02", steps=10, batch=4, n_embd=16, n_eval=16, n_probe=4, n_linear=2, n_log=0, tokens=tokens)
    assert len(P.Ms) == 30 and max(P.Ms) == 2**15
    interleaved = tokens == "interleaved"
    cfg = SweepConfig.from_params(P)
    store = Store(tmp_path)
    probes = make_probes(cfg, CPU)
    runs = train_sweep(cfg, store, CPU, probes, batched=True)
    keys = [m_label(M) for M in cfg.Ms]
    assert list(runs) == keys and runs["∞"].model.cfg.n_models == 31
    assert runs["∞"].model.cfg.block_size == (2 if interleaved else 1) * P.K
    assert runs["∞"].model.cfg.d_in == (P.D + 1 if interleaved else 2 * P.D + 1)
    assert runs["1"].evals["probe"].shape == (3, P.n_probe * P.K) and runs["∞"].losses.shape == (10,)
    finite = keys[:-1]
    final = {k: {q: float(runs[k].evals[q][-1]) for q in ("ood", "id", "d_ridge", "d_dmmse")} for k in keys}
    x_of = {**{m_label(M): float(M) for M in P.Ms}, "∞": 2.0 * max(P.Ms)}
    base = {k: probes.baseline_losses(M) for k, M in zip(keys, cfg.Ms)}
    _, ridge_side = threshold_M(final, finite, x_of, base["∞"]["ridge"], base[finite[-1]]["dmmse"])
    assert set(ridge_side) == set(keys)
    pca_out = joint_trajectory_pca({k: runs[k].evals["probe"] for k in keys}, probes.references(finite), k=2,
                                   half_window=1)
    assert set(pca_geometry(pca_out, keys, finite)["end_near"]) == set(finite)
    sgld = SGLDConfig(gamma=P.llc_gamma, nbeta=P.llc_nbeta, chains=2, burn_in=1, draws=2, batch_size=4)
    llc, used = calibrated_llc(cfg, runs, store, sgld, n=32)
    assert set(llc) == set(keys) and used.eps > 0 and llc["∞"]["trace"].shape == (2, 3)
    transient = {k: bool(on_ridge_side(runs[k], 1).any()) for k in finite}
    g = llc_geometry(llc, keys, finite, ridge_side, transient, x_of, 1, P.llc_nbeta, 2)
    assert set(g["drift"]) == set(keys)


def test_ch02_ensemble_member_equals_a_single_model_with_interleaved_tokens():
    """The stacked (E > 1: baddbmm, broadcast LayerNorm) and the single-member (addmm, fused LayerNorm) paths of the
    decoder compute the same function: member e of an ensemble against a one-member copy of it, on interleaved
    tokens with the `gpu` MLP ratio, outputs and gradients."""
    from iclbook.models.regression_tokens import get_format

    make, read, width, length = get_format("interleaved")
    cfg = GPTConfig(n_layer=2, n_embd=16, n_head=2, mlp_ratio=8, block_size=length(16), d_in=width(8), d_out=1,
                    n_models=3)
    ens = GPT(cfg, generator=rng.generator("init", 0))
    x = torch.randn(3, 5, 16, 8, generator=rng.generator("test", 0))
    y = torch.randn(3, 5, 16, generator=rng.generator("test", 1))
    out = read(ens(make(x, y)))
    out.pow(2).sum().backward()
    for e in range(3):
        one = GPT(GPTConfig(**{**cfg.__dict__, "n_models": 1}))
        one.load_state_dict(ens.member_state_dict(e))
        o = read(one(make(x[e:e + 1], y[e:e + 1])))
        o.pow(2).sum().backward()
        torch.testing.assert_close(o[0], out[e], rtol=1e-5, atol=1e-6)
        for (name, p), q in zip(one.named_parameters(), ens.parameters()):
            torch.testing.assert_close(p.grad[0], q.grad[e], rtol=1e-4, atol=1e-6, msg=name)


# ---- chapter 3: six task families, three-token inputs, deep random controls ---------------------------------------

def test_ch03_gpu_families_compare_and_depth_probe(tmp_path):
    from iclbook.experiments.layer_causality import KINDS, Comparisons, LayerCausality, merge

    P = gpu_params("03", n_layer=2, n_embd=16, n_head=8, steps=2, batch=4, K=4, episodes=4, depth_episodes=4,
                   lr_grid=[0.1, 1.0], control_depths=[2, 3], chunk=3)
    assert (P.n_families, P.n_x, P.tokens_per_class) == (6, 3, 16)
    X = LayerCausality.from_params(P, Store(tmp_path), CPU)
    seeds = rng.member_seeds(P.seed, 1)
    trained = {s: m for s, (m, _) in X.pretrain_seeds(seeds, P.seed).items()}
    R = {kind: {s: merge([X.run_compare(kind, s, f, trained[s]) for f in (range(P.n_families) if kind == "trained"
                                                                          else (0, P.n_families - 1))])
                for s in seeds} for kind in KINDS}
    C = Comparisons(R, seeds)
    assert len(C.family_rows(P.n_families)) == 6 and len(C.accuracy_rows()) == 3
    assert R["trained"][seeds[0]]["grad_norm_gd"].shape == (6 * P.episodes, P.K, P.n_layer)
    assert set(R["trained"][seeds[0]]["family"].tolist()) == set(range(6))
    assert C.grad_norms()["g"]["lc"].shape == (P.K, P.n_layer)
    probe = X.depth_control(3, seeds[0])
    assert math.isfinite(float(probe["sim_aou"]))


# ---- chapter 4: every grid point in one ensemble; the paper's rope, no biases and rectangle rule too ---------------

PAPER_04 = {"pos": "rope", "bias": False, "tasks": "rectangle"}  # the documented full-scale override


def _ch04_sweep(tmp_path, group: int, paper: bool = True):
    from iclbook.experiments.modular_arithmetic import train_sweep
    from iclbook.tasks.modular import ModularTask
    from iclbook.train import OptimConfig, checkpoint_steps

    P = gpu_params("04", n_embd=16, steps=10, batch=8, n_eval=16, n_ckpt=2, **(PAPER_04 if paper else {}))
    assert (P.pos, P.bias, P.tasks) == (("rope", False, "rectangle") if paper else ("learned", True, "random"))
    assert (P.group, P.p) == (0, 29)
    grid = [(n, al) for al in P.alphas[:2] for n in P.n_ids[:2]]
    seeds = rng.member_seeds(P.seed, len(grid))
    tasks = [ModularTask(P.p, n, al, P.n_ex, seed=s, device=CPU, rule=P.tasks) for s, (n, al) in zip(seeds, grid)]
    model_cfg = dict(n_layer=P.n_layer, n_embd=P.n_embd, n_head=P.n_head, activation="relu", pos=P.pos, bias=P.bias,
                     tie_embeddings=True)
    optim = OptimConfig("adamw", P.lr, (0.9, 0.98), P.weight_decay, schedule="warmup_cosine", warmup=P.warmup,
                        final_lr_frac=0.1)
    return train_sweep(tasks, model_cfg, optim, P.steps, P.batch, seeds, Store(tmp_path), group or len(tasks),
                       checkpoint_steps(P.steps, n_linear=P.n_ckpt, n_log=0), P.n_eval, CPU)


@pytest.mark.parametrize("paper", [False, True], ids=["profile", "paper-override"])
def test_ch04_stacked_grid_trains_as_the_members_one_by_one(tmp_path, paper):
    """`group` 0 (the `gpu` profile: one ensemble of every grid point) and `group` 1 (the CPU profiles) give the same
    members up to float summation order, as modular_arithmetic.py promises: losses, evaluations and weights; with
    the profile's recipe and with the paper's (the documented override)."""
    stacked, single = _ch04_sweep(tmp_path / "a", 0, paper), _ch04_sweep(tmp_path / "b", 1, paper)
    assert len(stacked) == len(single) == 4
    for a, b in zip(stacked, single):
        assert a.task.spec() == b.task.spec() and a.model.cfg.bias == (not paper)
        assert a.model.cfg.pos == ("rope" if paper else "learned")
        np.testing.assert_allclose(a.result.losses, b.result.losses, rtol=1e-4)
        for ea, eb in zip(a.result.evals, b.result.evals):  # accuracies on 16 sequences: at most one flips
            assert ea["step"] == eb["step"] and all(abs(ea[k] - eb[k]) <= 1 / 16 + 1e-9 for k in ea)
        for (name, p), q in zip(a.model.named_parameters(), b.model.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-3, atol=1e-5, msg=name)


# ---- chapter 5: the gpu sweeps (three |S|, three σ_ξ, two L), long test prompts, controls ------------------------

def test_ch05_gpu_sweeps_and_length_shift(tmp_path):
    from iclbook.experiments.multi_concept import ConceptExperiment, ood_rows, sweep_rows

    P = gpu_params("05", d=256, batch=32, steps=10, variant_steps=10, dense_until=10, n_test=256)
    assert (P.K, P.S, P.S_grid, P.L_grid, max(P.L_test)) == (64, 3, [2, 4, 6], [16, 64], 128)
    X = ConceptExperiment.from_params(P, Store(tmp_path), CPU)
    s0 = rng.member_seeds(P.seed, 1)[0]
    main = {s0: X.run(s0)}
    sweeps = {"|S|": ("S", P.S_grid), "σ_ξ": ("sigma_xi", P.sigma_grid), "L": ("L", P.L_grid)}
    out = X.knob_sweeps(main[s0][1], s0, sweeps)
    assert len(out) == 4 + 4 + 3 and len(sweep_rows(out)) == 11
    ctrl, _, ctrl_dic, _ = X.run(s0, attention="none", probes=False, tag="no-context control")
    lin, _, lin_dic, _ = X.run(s0, attention="linear", tag="linear attention")
    in_dist, ood = X.ood_results(main, (ctrl, ctrl_dic), (lin, lin_dic), P.L_test, P.seed)
    assert "L = 128" in ood and len(ood_rows(in_dist, ood)) == len(P.L_test) + 5
