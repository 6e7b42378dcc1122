"""The executor seam: a sweep trains the same members inline, on local worker processes, after a worker is killed;
a bad or unreachable executor fails naming it."""
import os
import threading
import time

import numpy as np
import pytest
import torch

from iclbook import executor as ex
from iclbook.store import Store
from iclbook.tasks.modular import ModularTask
from iclbook.train import OptimConfig


def test_parse_accepts_the_three_forms():
    assert ex.parse("inline") == ex.Executor("inline")
    assert ex.parse("local:2") == ex.Executor("local", workers=2)
    assert ex.parse("dask:tcp://10.0.0.1:8786") == ex.Executor("dask", address="tcp://10.0.0.1:8786")
    assert str(ex.parse("local:3")) == "local:3" and str(ex.parse(" inline ")) == "inline"


@pytest.mark.parametrize("bad", ["", "local", "local:0", "local:x", "dask:", "slurm:4", "Inline"])
def test_parse_refuses_with_the_setting_and_the_allowed_forms(bad):
    with pytest.raises(ValueError, match=r"ICLBOOK_EXECUTOR / --executor: got .*allowed: 'inline', 'local:N'"):
        ex.parse(bad)


def test_current_reads_the_environment(monkeypatch):
    monkeypatch.setenv(ex.ENV, "local:4")
    assert ex.current() == ex.Executor("local", workers=4)
    monkeypatch.delenv(ex.ENV)
    monkeypatch.setenv("ICLBOOK_DEVICE", "cpu")
    monkeypatch.setattr(ex, "_chapter", None)
    assert str(ex.current()) == ex.DEFAULT_CPU_EXECUTOR


def test_the_measured_default_is_per_chapter_and_machine(monkeypatch):
    """Chapter 4 measured local:2 faster on two cores (benchmarks/executor.py); one core, a GPU or an unmeasured
    chapter stay inline; the environment still overrides."""
    assert ex.default_for("04", 2, "cpu") == ex.Executor("local", workers=2)
    assert ex.default_for("04", 16, "cpu") == ex.parse(ex.MEASURED_CPU_DEFAULTS["04"])
    assert ex.default_for("04", 1, "cpu") == ex.Executor("inline")
    assert ex.default_for("04", 2, "cuda") == ex.Executor("inline")
    assert ex.default_for("01", 2, "cpu") == ex.Executor("inline")
    assert ex.default_for("03", 2, "cpu") == ex.default_for("05", 2, "cpu") == ex.Executor("local", workers=2)
    monkeypatch.delenv(ex.ENV, raising=False)
    monkeypatch.setenv("ICLBOOK_DEVICE", "cpu")
    monkeypatch.setattr(ex.os, "cpu_count", lambda: 2)
    ex.use_chapter("04")
    try:
        assert ex.current() == ex.Executor("local", workers=2)
        monkeypatch.setenv(ex.ENV, "inline")
        assert ex.current() == ex.Executor("inline")
    finally:
        ex.use_chapter(None)


def test_local_workers_get_gpus_round_robin_or_the_cpu():
    assert [ex.assigned_device(i, 2) for i in range(5)] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0"]
    assert [ex.assigned_device(i, 0) for i in range(3)] == ["cpu"] * 3
    assert ex.assigned_device(7, 8) == "cuda:7"
    with pytest.raises(ValueError, match="worker index"):
        ex.assigned_device(-1, 2)


def test_inline_runs_jobs_here_in_order(tmp_path):
    out = tmp_path / "log"
    jobs = [ex.Job("tests.test_executor:_append", dict(path=str(out), text=c), key=c) for c in "abc"]
    ex.run_jobs(jobs, ex.Executor("inline"))
    assert out.read_text() == "abc"


def _append(path: str, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


def test_an_unreachable_scheduler_is_named(monkeypatch):
    monkeypatch.setattr(ex, "CONNECT_TIMEOUT_S", 1.0)
    with pytest.raises(RuntimeError, match=r"dask:tcp://127\.0\.0\.1:9.*cannot reach the Dask scheduler"):
        ex.run_jobs([ex.Job("os:getpid", {}, key="x")], ex.parse("dask:tcp://127.0.0.1:9"))


# -- a tiny chapter-4 sweep on a two-worker LocalCluster ------------------------------------------------------------
CFG = dict(n_layer=1, n_embd=16, n_head=2, activation="relu", pos="learned", bias=True, tie_embeddings=True)
OPT = OptimConfig("adamw", 1e-2, (0.9, 0.98), 1.0, schedule="warmup_cosine", warmup=0.1, final_lr_frac=0.1)


def _sweep(store: Store, executor: ex.Executor, steps: int = 40):
    from iclbook.experiments.modular_arithmetic import train_sweep

    tasks = [ModularTask(p=7, n_id=8, alpha=0.8, n_ex=4, seed=i, rule="random") for i in range(2)]
    ckpts = list(range(0, steps + 1, max(1, steps // 20)))
    return train_sweep(tasks, CFG, OPT, steps, 8, [5, 6], store, 1, ckpts, 16, "cpu", executor=executor)


def _one_thread(fn):
    """Inline with the workers' thread count, so that the comparison can be bit for bit."""
    keep = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn()
    finally:
        torch.set_num_threads(keep)


def _same(a, b) -> None:
    for ma, mb in zip(a, b, strict=True):
        assert np.array_equal(ma.result.losses, mb.result.losses)
        assert ma.result.evals == mb.result.evals
        for k, v in ma.model.state_dict().items():
            assert torch.equal(v, mb.model.state_dict()[k]), k


@pytest.fixture(scope="module")
def local2():
    yield ex.parse("local:2")
    ex.close_clients()


def test_local_workers_train_what_inline_trains_bit_for_bit(tmp_path, local2):
    inline = _one_thread(lambda: _sweep(Store(tmp_path / "inline"), ex.Executor("inline")))
    pooled = _sweep(Store(tmp_path / "local"), local2)
    assert all(m.result.from_store for m in pooled)  # trained by the workers, read back from the store
    _same(inline, pooled)
    again = _sweep(Store(tmp_path / "local"), local2)  # submitted again: nothing trains
    assert all(m.result.from_store for m in again)


def test_a_killed_worker_is_retried_and_leaves_no_torn_entry(tmp_path, local2, recwarn):
    steps = 3000
    store = Store(tmp_path / "local")
    errors: list[BaseException] = []

    def sweep():
        try:
            _sweep(store, local2, steps)
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    t = threading.Thread(target=sweep)
    t.start()
    deadline = time.time() + 120
    while not list(store.root.glob("ch04-sweep/*/ckpt.pt")):  # a member is mid-job, with a checkpoint
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    client = ex._CLIENTS[str(local2)]
    victim = next(iter(client.run(os.getpid).values()))
    os.kill(victim, 9)
    t.join(timeout=600)
    assert not t.is_alive() and not errors, errors
    assert not [w for w in recwarn if "corrupt" in str(w.message)]
    assert not list(store.root.glob("ch04-sweep/*/ckpt.pt"))  # every member finished
    pooled = _sweep(store, local2, steps)
    inline = _one_thread(lambda: _sweep(Store(tmp_path / "inline"), ex.Executor("inline"), steps))
    _same(inline, pooled)


def test_the_cli_refuses_a_bad_executor_before_any_chapter_runs(monkeypatch, capsys):
    from iclbook.cli import main

    monkeypatch.delenv(ex.ENV, raising=False)
    assert main(["run", "01", "--profile", "ci", "--executor", "local:0"]) == 2
    assert "--executor: got 'local:0', allowed:" in capsys.readouterr().err
    monkeypatch.setenv(ex.ENV, "cluster")
    assert main(["book", "--profile", "ci"]) == 2
    assert "ICLBOOK_EXECUTOR / --executor: got 'cluster'" in capsys.readouterr().err


def test_chapter5_seeds_on_local_workers_equal_inline(tmp_path, local2):
    from iclbook.chapters import get
    from iclbook.experiments.multi_concept import ConceptExperiment

    P = get("05").params.resolve("ci", {"steps": 20, "variant_steps": 10, "n_test": 256, "batch": 16,
                                        "dense_until": 5, "eval_every": 5})
    inline = _one_thread(lambda: ConceptExperiment.from_params(P, Store(tmp_path / "a"), "cpu").run_seeds(
        [1, 2], ex.Executor("inline")))
    pooled = ConceptExperiment.from_params(P, Store(tmp_path / "b"), "cpu").run_seeds([1, 2], local2)
    for s in (1, 2):
        assert pooled[s][1].from_store and pooled[s][1].evals == inline[s][1].evals
        assert all(torch.equal(a, b) for a, b in zip(inline[s][0].parameters(), pooled[s][0].parameters()))


def test_chapter3_pretraining_on_local_workers_equals_inline(tmp_path, local2):
    from iclbook.chapters import get
    from iclbook.experiments.layer_causality import LayerCausality

    P = get("03").params.resolve("ci", {"steps": 4, "n_embd": 16, "n_layer": 2, "n_head": 2})
    inline = _one_thread(lambda: LayerCausality.from_params(P, Store(tmp_path / "a"), "cpu").pretrain_seeds(
        [1, 2], 0, ex.Executor("inline")))
    pooled = LayerCausality.from_params(P, Store(tmp_path / "b"), "cpu").pretrain_seeds([1, 2], 0, local2)
    for s in (1, 2):
        assert pooled[s][1].from_store and pooled[s][1].evals == inline[s][1].evals
        assert all(torch.equal(a, b) for a, b in zip(inline[s][0].parameters(), pooled[s][0].parameters()))
