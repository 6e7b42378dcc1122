"""What a ledger was computed with: parameters, seed, device, threads, versions, commit, executor and wall time.

Written into ``claims.json`` beside the claims, so that any ledger can be traced back to the run that made it.
"""
from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from typing import Any

import torch

from . import executor
from .paths import repo_root


def code_version() -> str:
    """The git commit of the checkout (``+dirty`` when the tree has changes), else the installed package version."""
    root = repo_root()
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        try:
            return "iclbook " + metadata.version("iclbook")
        except metadata.PackageNotFoundError:
            return "unknown"


def device_name(dev: torch.device) -> str:
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or "CPU"


def provenance(params: dict[str, Any], profile: str, dev: torch.device, threads: int, seconds: float) -> dict:
    """The record saved with a chapter's claims."""
    return {"profile": profile, "params": params, "seed": params.get("seed"), "device": str(dev),
            "device_name": device_name(dev), "threads": threads, "torch": torch.__version__,
            "python": platform.python_version(), "code": code_version(), "executor": str(executor.current()),
            "wall_seconds": round(seconds, 1)}
