"""Ctrl-C during a chapter run: stop the notebook's kernel (and any other child process), then report once.

papermill runs each chapter in a kernel that jupyter_client starts in a session of its own, so the terminal's
SIGINT does not reach it, and the waiting parent does not stop either. ``stopping_children_on_interrupt`` makes
SIGINT (and SIGTERM) end every child of this process and raise ``KeyboardInterrupt`` here; file locks die with
their holders, and the run store keeps every finished model and the last checkpoint.
"""
from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def child_pids(pid: int | None = None) -> list[int]:
    """The direct children of ``pid`` (default: this process), from /proc; empty where there is no /proc."""
    pid = os.getpid() if pid is None else pid
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def stop_children(grace_s: float = 3.0) -> None:
    """SIGTERM every descendant of this process, then SIGKILL whatever is left after ``grace_s``."""
    pids, todo = [], child_pids()
    while todo:  # descendants first collected, so grandchildren are not orphaned to init unseen
        pid = todo.pop()
        pids.append(pid)
        todo.extend(child_pids(pid))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + grace_s
        while time.time() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


@contextmanager
def stopping_children_on_interrupt() -> Iterator[None]:
    """Within the block, SIGINT / SIGTERM stop every child process and raise KeyboardInterrupt here; any error that
    follows from the dead kernel is reported as that interrupt."""
    interrupted = False

    def handler(signum, frame):
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            stop_children()
        raise KeyboardInterrupt

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except BaseException:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        for s, h in old.items():
            signal.signal(s, h)
