"""Where a sweep's independent members train: in the notebook's process, in local worker processes, or on a Dask
cluster.

A sweep turns each member into a :class:`Job`: an importable function, plain-data keyword arguments and the member's
run-store key. The executor only runs jobs; results travel through the run store, never back through the executor
(the notebook reads them from the store afterwards). So the executor changes where and when a member trains, never
what it computes, and it is not a chapter parameter: it enters neither the notebook fingerprint nor the ledger.
(A ``local:N`` worker trains with one CPU thread; inline runs with ``ICLBOOK_THREADS=1`` give bit-identical results.)

``ICLBOOK_EXECUTOR`` (or ``iclbook run/book --executor``) chooses, and the notebook's kernel inherits it:

- ``inline``: one member after another in the notebook's process;
- ``local:N``: a Dask ``LocalCluster`` of N worker processes on this machine, one CPU thread each, or one GPU each
  when GPUs are visible (worker i gets ``cuda:i mod #GPUs``);
- ``dask:ADDRESS``: an existing ``dask.distributed`` scheduler (e.g. one started by ``dask-jobqueue`` on SLURM).

"Trains once" rests on the store's ``flock``: a member asked for twice, by two workers or two notebooks, trains in
the first and is read by the second. A worker killed mid-job holds no lock (the kernel drops it with the process);
Dask reschedules its job, which resumes from the member's last checkpoint.
"""
from __future__ import annotations

import atexit
import importlib
import os
from dataclasses import dataclass, field
from typing import Any

ENV = "ICLBOOK_EXECUTOR"
# The default on a CPU machine with at least two cores, per chapter, from the committed benchmarks on the 2-core CI
# machine (quiet, one run each; the benchmark's docstring has the numbers). A chapter not listed, a one-core CPU
# and a GPU machine stay inline. Measured:
# - chapter 4, benchmarks/executor.py (2026-12-02): local:2 trained four grid members 1.25x as fast as inline at
#   two threads (94 s against 118 s, cluster start-up included).
# - chapters 3 and 5, benchmarks/executor_seeds.py (2026-12-06, load average 0.4): two seeds at the `cpu` model,
#   local:2 against inline at two threads, 1.40x for chapter 3 (30.8 s against 43.1 s, 600 steps) and 1.26x for
#   chapter 5 (44.2 s against 55.8 s, 800 steps).
MEASURED_CPU_DEFAULTS: dict[str, str] = {"03": "local:2", "04": "local:2", "05": "local:2"}
DEFAULT_CPU_EXECUTOR = "inline"  # where nothing was measured faster
CONNECT_TIMEOUT_S = 20.0
ALLOWED = "'inline', 'local:N' (N ≥ 1 worker processes) or 'dask:ADDRESS' (a scheduler, e.g. tcp://host:8786)"


@dataclass(frozen=True)
class Job:
    """One member of a sweep: ``fn`` ("package.module:function") is called as ``fn(**kwargs)`` in a worker."""

    fn: str
    kwargs: dict[str, Any]
    key: str  # the member's run-store name/key: Dask's task key, so the same member submitted twice runs once
    label: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Executor:
    kind: str  # "inline" | "local" | "dask"
    workers: int = 1  # local only
    address: str = ""  # dask only

    def __str__(self) -> str:
        return {"inline": "inline", "local": f"local:{self.workers}", "dask": f"dask:{self.address}"}[self.kind]


def parse(spec: str) -> Executor:
    """``inline`` | ``local:N`` | ``dask:ADDRESS``; anything else fails with a message naming the setting."""
    s = spec.strip()
    if s == "inline":
        return Executor("inline")
    kind, _, arg = s.partition(":")
    if kind == "local" and arg.isdigit() and int(arg) >= 1:
        return Executor("local", workers=int(arg))
    if kind == "dask" and arg:
        return Executor("dask", address=arg)
    raise ValueError(f"{ENV} / --executor: got {spec!r}, allowed: {ALLOWED}")


_chapter: str | None = None  # the chapter whose kernel this is (set by the notebook), for its measured default


def use_chapter(chapter_id: str | None) -> None:
    """Tell ``current`` which chapter's sweeps are about to run (its measured default applies)."""
    global _chapter
    _chapter = chapter_id


def default_for(chapter_id: str | None, cores: int, device_type: str) -> Executor:
    """The measured default: the chapter's entry of ``MEASURED_CPU_DEFAULTS`` on a CPU with ≥ 2 cores (no more
    workers than cores), else inline."""
    spec = MEASURED_CPU_DEFAULTS.get(chapter_id or "")
    if device_type != "cpu" or cores < 2 or spec is None:
        return parse(DEFAULT_CPU_EXECUTOR) if device_type == "cpu" else Executor("inline")
    ex = parse(spec)
    return Executor("local", workers=min(ex.workers, cores)) if ex.kind == "local" else ex


def current() -> Executor:
    """The executor chosen by ``ICLBOOK_EXECUTOR``, else the measured default for this chapter and machine."""
    spec = os.environ.get(ENV)
    if spec:
        return parse(spec)
    from .runtime import device

    return default_for(_chapter, os.cpu_count() or 1, device().type)


def assigned_device(worker: int, cuda_count: int) -> str:
    """The device a ``local:N`` worker trains on: GPUs round-robin by worker index, else the CPU."""
    if worker < 0:
        raise ValueError(f"worker index must be >= 0, got {worker}")
    return f"cuda:{worker % cuda_count}" if cuda_count > 0 else "cpu"


def call(fn: str, kwargs: dict[str, Any]) -> Any:
    """Import ``package.module:function`` and call it (in whichever process runs the job)."""
    module, _, name = fn.partition(":")
    return getattr(importlib.import_module(module), name)(**kwargs)


def _in_worker(fn: str, kwargs: dict[str, Any], local: bool) -> Any:
    """A job as a Dask worker runs it: a local worker pins its device (by its index) and one CPU thread."""
    if local:
        import torch
        from distributed import get_worker

        from .runtime import set_threads

        os.environ["ICLBOOK_DEVICE"] = assigned_device(int(get_worker().name), torch.cuda.device_count())
        set_threads(1)
    return call(fn, kwargs)


def run_jobs(jobs: list[Job], executor: Executor | None = None, desc: str = "members") -> None:
    """Run every job to completion (results go to the run store). Inline runs them here, in order."""
    ex = executor or current()
    if ex.kind == "inline":
        for job in jobs:
            call(job.fn, job.kwargs)
        return
    from distributed import as_completed
    from tqdm import tqdm

    from .train import progress_enabled

    client = _client(ex)
    futures = [client.submit(_in_worker, j.fn, j.kwargs, ex.kind == "local", key=f"iclbook-{j.key}", pure=False,
                             retries=2) for j in jobs]
    with tqdm(total=len(jobs), desc=f"{desc} on {ex}", disable=not progress_enabled(), leave=False) as bar:
        for fut in as_completed(futures):
            fut.result()  # re-raises a job's exception here, with its traceback
            bar.update(1)


_CLIENTS: dict[str, Any] = {}


def _client(ex: Executor):
    """One Dask client per executor and process, kept for the chapter's later sweeps and closed at exit."""
    name = str(ex)
    if name in _CLIENTS:
        return _CLIENTS[name]
    import logging

    from distributed import Client, LocalCluster

    if ex.kind == "local":
        import dask

        # Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which made glibc hand every freed tensor
        # back to the kernel: a chapter-4 training step ran at 0.56x its speed in the notebook's process (100 steps:
        # 17.6 s in a worker against 9.9 s inline, one thread each). Keep their one-thread settings, not that one.
        dask.config.set({"distributed.nanny.pre-spawn-environ": {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1,
                                                                 "OPENBLAS_NUM_THREADS": 1}})
        env = {"ICLBOOK_THREADS": "1", "OMP_NUM_THREADS": "1", "ICLBOOK_PROGRESS": "0"}
        cluster = LocalCluster(n_workers=ex.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR, env=env)
        client = Client(cluster)
    else:
        try:
            client = Client(ex.address, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError) as err:
            raise RuntimeError(f"{ENV} = {name}: cannot reach the Dask scheduler at {ex.address!r} ({err}); start "
                               "one (README, 'More than one machine') or choose another executor") from err
    _CLIENTS[name] = client
    return client


@atexit.register
def close_clients() -> None:
    for client in _CLIENTS.values():
        cluster = client.cluster
        client.close()
        if cluster is not None:
            cluster.close()
    _CLIENTS.clear()
