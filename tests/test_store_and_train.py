"""The run store and the training loop: resume, corruption, concurrency, schedules, NaN guard."""
import os
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest
import torch

from iclbook import rng
from torch import nn

from iclbook.store import Store, config_key
from iclbook.train import OptimConfig, checkpoint_steps, lr_factor, train

CONFIG = {"task": "toy-regression", "d": 5, "steps": 60, "seed": 3}


def make_model(seed=0) -> nn.Module:
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 1))
    g = rng.generator("test", seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return model


def loss_fn(model, step):
    """A batch is a pure function of (seed, step): resuming at any step sees the same data."""
    g = rng.generator("batch", 0, step)
    x = torch.randn(32, 5, generator=g)
    y = x.sum(-1, keepdim=True).sin()
    return ((model(x) - y) ** 2).mean()


OPT = OptimConfig("adam", lr=1e-2, schedule="warmup_cosine", warmup=0.1)


def test_config_key_is_order_independent_and_sensitive():
    assert config_key({"a": 1, "b": 2}) == config_key({"b": 2, "a": 1})
    assert config_key({"a": 1}) != config_key({"a": 2})


def test_schedules():
    opt = OptimConfig(schedule="triangle", warmup=0.5)
    f = [lr_factor(s, 100, opt) for s in range(100)]
    assert f[49] == pytest.approx(1.0) and f[0] == pytest.approx(0.02) and f[-1] < 0.03
    assert max(f) == pytest.approx(1.0)
    cos = OptimConfig(schedule="warmup_cosine", warmup=0.1, final_lr_frac=0.1)
    g = [lr_factor(s, 100, cos) for s in range(100)]
    assert g[9] == pytest.approx(1.0) and g[-1] == pytest.approx(0.1, abs=1e-3) and all(np.diff(g[10:]) <= 1e-12)
    with pytest.raises(ValueError, match="schedule 'linear'"):
        OptimConfig(schedule="linear")


def test_checkpoint_steps_union_of_linear_and_log():
    s = checkpoint_steps(10000, n_linear=10, n_log=20)
    assert s[0] == 0 and s[-1] == 10000 and s == sorted(set(s))
    assert {1000, 5000} <= set(s) and {1, 2, 3} <= set(s)  # linear and early log-spaced steps


def test_resume_after_interruption_is_bit_identical():
    store = Store()
    full = make_model()
    ref = train(full, loss_fn, 60, OPT, checkpoints=[0, 10, 20, 30, 40, 50])
    run = store.run("toy", CONFIG)
    m1 = make_model()
    part = train(m1, loss_fn, 60, OPT, run=run, checkpoints=[0, 10, 20, 30, 40, 50], stop_after=27)
    assert len(part.losses) == 27 and not run.done and (run.dir / "ckpt.pt").exists()
    m2 = make_model(seed=99)  # a fresh process would start from other weights: the checkpoint must win
    res = train(m2, loss_fn, 60, OPT, run=run, checkpoints=[0, 10, 20, 30, 40, 50])
    assert res.resumed_from == 20
    assert np.array_equal(res.losses, ref.losses)
    for a, b in zip(full.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)
    # a finished run is read back, not retrained
    m3 = make_model(seed=5)
    again = train(m3, loss_fn, 60, OPT, run=run)
    assert again.from_store and torch.equal(next(m3.parameters()), next(full.parameters()))


def test_corrupt_entry_is_detected_and_recomputed():
    run = Store().run("toy", CONFIG)
    m = make_model()
    ref = train(m, loss_fn, 60, OPT, run=run)
    path = run.dir / "result.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="corrupt entry"):
        res = train(make_model(), loss_fn, 60, OPT, run=run)
    assert not res.from_store and np.array_equal(res.losses, ref.losses) and run.done
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert train(make_model(), loss_fn, 60, OPT, run=run).from_store


def test_truncated_checkpoint_falls_back_to_training_from_scratch():
    run = Store().run("toy", CONFIG)
    train(make_model(), loss_fn, 60, OPT, run=run, checkpoints=[0, 30], stop_after=35)
    (run.dir / "ckpt.pt").write_bytes((run.dir / "ckpt.pt").read_bytes()[:100])
    with pytest.warns(UserWarning, match="corrupt entry"):
        res = train(make_model(), loss_fn, 60, OPT, run=run, checkpoints=[0, 30])
    assert res.resumed_from is None
    assert np.array_equal(res.losses, train(make_model(), loss_fn, 60, OPT).losses)


SCRIPT = textwrap.dedent(
    """
    import sys, time, torch
    sys.path.insert(0, {tests!r})
    from test_store_and_train import CONFIG, OPT, make_model, loss_fn
    from iclbook.store import Store
    from iclbook.train import train
    torch.set_num_threads(1)
    slow = float(sys.argv[1])
    def slow_loss(model, step):
        time.sleep(slow)
        return loss_fn(model, step)
    m = make_model()
    res = train(m, slow_loss, 60, OPT, run=Store().run("toy", CONFIG), checkpoints=list(range(0, 61, 5)))
    print("FROM_STORE" if res.from_store else "TRAINED", float(res.losses.sum()))
    """
)


def _spawn(tmp_path, slow):
    script = tmp_path / "train_toy.py"
    script.write_text(SCRIPT.format(tests=os.path.dirname(__file__)))
    return subprocess.Popen([sys.executable, str(script), str(slow)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ})


def test_killed_process_resumes_to_the_same_result(tmp_path):
    ref = train(make_model(), loss_fn, 60, OPT)
    proc = _spawn(tmp_path, 0.05)
    run = Store().run("toy", CONFIG)
    deadline = time.time() + 60
    while not (run.dir / "ckpt.pt").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.kill()  # SIGKILL: no chance to clean up
    proc.wait()
    assert not run.done
    res = train(make_model(), loss_fn, 60, OPT, run=run, checkpoints=list(range(0, 61, 5)))
    assert res.resumed_from is not None and res.resumed_from > 0
    assert np.array_equal(res.losses, ref.losses)


def test_two_processes_on_one_run(tmp_path):
    procs = [_spawn(tmp_path, 0.01) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(o[0] for o in outs) == ["FROM_STORE", "TRAINED"]  # the lock made one wait for the other
    assert outs[0][1] == outs[1][1]
    assert Store().run("toy", CONFIG).load("result.pt") is not None


def test_nan_guard_names_the_step():
    def bad_loss(model, step):
        loss = loss_fn(model, step)
        return loss * float("nan") if step == 7 else loss

    with pytest.raises(FloatingPointError, match="at step 8"):
        train(make_model(), bad_loss, 20, OPT)


def test_ensemble_losses_and_evaluations():
    models = nn.Linear(5, 3)

    def ens_loss(model, step):
        g = rng.generator("test", step)
        x = torch.randn(16, 5, generator=g)
        return ((model(x) - 1.0) ** 2).mean(0)  # one loss per "member"

    res = train(models, ens_loss, 30, OPT, checkpoints=[0, 15, 30], evaluate=lambda m, s: {"w": m.weight.sum()})
    assert res.losses.shape == (30, 3)
    steps, w = res.eval_series("w")
    assert list(steps) == [0, 15, 30] and w.shape == (3,)


def test_savefig_requires_labels_and_a_colorbar_label(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import pytest

    from iclbook.plotting import savefig

    fig, ax = plt.subplots()
    im = ax.imshow(np.eye(3))
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    cb = fig.colorbar(im, ax=ax)
    with pytest.raises(ValueError, match="colorbar"):
        savefig(fig, tmp_path, "nolabel")
    cb.set_label("value")
    assert savefig(fig, tmp_path, "ok").exists()
    ax.set_ylabel("")
    with pytest.raises(ValueError, match="x and y labels"):
        savefig(fig, tmp_path, "noy")
    plt.close(fig)


def test_adam_is_fused_only_where_the_kernel_applies():
    from iclbook.train import fusable

    w = torch.nn.Parameter(torch.zeros(3))
    assert fusable([w]) and fusable([{"params": [w]}])
    assert OptimConfig("adam").make(torch.nn.Linear(2, 2)).defaults["fused"]
    assert not fusable([torch.zeros(3, dtype=torch.long)])
    assert not fusable([])


def test_cached_computes_once_then_reads_the_store(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"x": torch.arange(3)}

    run = Store(tmp_path).run("toy-cached", {"a": 1})
    first = run.cached("out.pt", compute)
    again = Store(tmp_path).run("toy-cached", {"a": 1}).cached("out.pt", compute)
    assert len(calls) == 1 and torch.equal(first["x"], again["x"])
    (run.dir / "out.pt").write_bytes(b"garbage")  # a corrupt entry is recomputed
    with pytest.warns(UserWarning, match="corrupt"):
        assert torch.equal(run.cached("out.pt", compute)["x"], torch.arange(3))
    assert len(calls) == 2


def test_weight_decay_by_role_spares_biases_and_norm_gains():
    """With zero gradients one AdamW step shrinks exactly the decayed tensors, by the factor 1 − lr·wd."""
    from iclbook.models.gpt import GPT, GPTConfig
    from iclbook.train import decay_groups

    cfg = GPTConfig(n_layer=1, n_embd=8, n_head=2, block_size=6, vocab_size=5, n_models=2, bias=True)
    model = GPT(cfg)
    with torch.no_grad():  # non-zero biases and gains, so that decay on them would show
        for name, p in model.named_parameters():
            if name.endswith("bias") or ".ln_" in name or name.startswith("ln_f"):
                p.fill_(0.5)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = OptimConfig("adamw", lr=0.1, weight_decay=1.0).make(model)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for name, p in model.named_parameters():
        spared = name.endswith("bias") or ".ln_" in name or name.startswith("ln_f")
        if spared:
            assert torch.equal(p, before[name]), name
        else:
            assert torch.allclose(p, before[name] * (1 - 0.1 * 1.0)), name
    assert {n for n, _ in model.named_parameters() if not (n.endswith("bias") or "ln" in n)} >= {"wte", "wpe"}
    groups = decay_groups(torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.LayerNorm(3)), 0.5)
    assert [len(g["params"]) for g in groups] == [1, 3] and [g["weight_decay"] for g in groups] == [0.5, 0.0]


@pytest.mark.parametrize("killed_at", ["before_data", "before_final_manifest"])
def test_a_kill_while_replacing_a_file_leaves_a_good_one(tmp_path, monkeypatch, killed_at):
    """A checkpoint is replaced in two writes (data, manifest); a kill between them must not leave a file that the
    manifest rejects, or resuming starts from scratch."""
    import iclbook.store as store_mod

    run = Store(tmp_path).run("toy", {"x": 1})
    run.save("ckpt.pt", {"step": torch.tensor(5)})
    real_bytes, real_text, calls = store_mod.atomic_write_bytes, store_mod.atomic_write_text, []

    def bytes_(path, data):
        if killed_at == "before_data":
            raise KeyboardInterrupt
        real_bytes(path, data)

    def text_(path, text):
        calls.append(path)
        if killed_at == "before_final_manifest" and len(calls) == 2:
            raise KeyboardInterrupt
        real_text(path, text)

    monkeypatch.setattr(store_mod, "atomic_write_bytes", bytes_)
    monkeypatch.setattr(store_mod, "atomic_write_text", text_)
    with pytest.raises(KeyboardInterrupt):
        run.save("ckpt.pt", {"step": torch.tensor(10)})
    monkeypatch.undo()
    expected = 5 if killed_at == "before_data" else 10
    assert int(run.load("ckpt.pt")["step"]) == expected
