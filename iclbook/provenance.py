"""What a ledger was computed with: parameters, seed, device, threads, versions, commit, executor and wall time.

Written into ``claims.json`` beside the claims, so that any ledger can be traced back to the run that made it.
"""
from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from typing import Any

import torch

from . import executor
from .paths import repo_root


SOURCE_FOLDERS = ("iclbook", "chapters", "tests", "benchmarks", "tools")  # an untracked file here can change a run


def code_version() -> str:
    """The git commit of the checkout (``+dirty`` when tracked files changed or an untracked file lies under the
    source folders), else the installed package version."""
    root = repo_root()
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=all", "--",
                                *[f for f in SOURCE_FOLDERS if (root / f).exists()]],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = dirty or subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                        capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        try:
            return "iclbook " + metadata.version("iclbook")
        except metadata.PackageNotFoundError:
            return "unknown"


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (``platform.processor()`` says only "x86_64" or "" on Linux)."""
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def device_name(dev: torch.device) -> str:
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else cpu_model()


def versions() -> dict[str, str]:
    """The versions a reader needs to rerun the book as it was built."""
    out = {"python": platform.python_version(), "torch": torch.__version__}
    for pkg in ("numpy", "jupyter-book", "papermill", "matplotlib"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def machine() -> dict[str, Any]:
    """The hardware: CPU model and logical cores, and the GPU where there is one."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu_model": cpu_model(), "cpu_cores": os.cpu_count(), "gpu": gpu}


def provenance(params: dict[str, Any], profile: str, dev: torch.device, threads: int, seconds: float,
               overrides: dict[str, Any] | None = None, trained: int | None = None,
               timings: dict[str, float] | None = None) -> dict:
    """The record saved with a chapter's claims: what it computed with, where, and how long it took.

    ``trained`` counts the run-store entries this run made (0: every model came from the store); ``timings`` are
    the parts of the wall time a chapter measured itself (e.g. training)."""
    return {"profile": profile, "params": params, "seed": params.get("seed"), "overrides": overrides or {},
            "device": str(dev), "device_name": device_name(dev), "threads": threads, **versions(), **machine(),
            "code": code_version(), "executor": str(executor.current()), "trained_entries": trained,
            "timings": {k: round(v, 1) for k, v in (timings or {}).items()}, "wall_seconds": round(seconds, 1)}
