"""The run store: training runs keyed by a hash of their full configuration.

A run's folder holds ``config.json``, its latest checkpoint (``ckpt.pt``, loaded with ``weights_only=True``),
its final ``result.pt`` and a ``manifest.json`` of SHA-256 checksums. Every file is written atomically and
its checksum is recorded after it, so an interrupted run or a second process never leaves a half entry that
reads as good. A corrupt file is detected, reported with a warning, and recomputed. A lock serialises two
processes that ask for the same run: the second one waits and then reads the first one's result.
"""
from __future__ import annotations

import fcntl
import hashlib
import io
import json
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from .atomic import atomic_write_bytes, atomic_write_text
from .paths import store_root

# Bump when the training code changes in a way that changes results: old entries are then not reused.
STORE_VERSION = 2  # 2: every random stream from iclbook.rng; weight decay by role


class CorruptEntry(RuntimeError):
    """A store file whose checksum does not match, or that cannot be read."""


def config_key(config: dict[str, Any]) -> str:
    """A stable hash of a JSON-serialisable config (key order does not matter)."""
    blob = json.dumps({"config": config, "store_version": STORE_VERSION}, sort_keys=True, default=_jsonable)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class Run:
    """One entry of the store."""

    def __init__(self, root: Path, name: str, config: dict[str, Any]) -> None:
        self.config = config
        self.key = config_key(config)
        self.dir = root / name / self.key
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / "config.json"
        if not path.exists():
            atomic_write_text(path, json.dumps(config, indent=2, sort_keys=True, default=_jsonable))

    # -- locking -------------------------------------------------------------------------------------------
    @contextmanager
    def lock(self) -> Iterator[None]:
        """An exclusive inter-process lock on this run (blocks while another process holds it)."""
        with open(self.dir / ".lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    # -- tensors files ------------------------------------------------------------------------------------
    def save(self, name: str, obj: dict[str, Any]) -> None:
        """Save a dict of tensors / numbers / strings (no arbitrary objects) atomically, with its checksum."""
        buf = io.BytesIO()
        torch.save(obj, buf)
        data = buf.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        # The manifest accepts the old and the new checksum while the file is replaced, so a process killed between
        # the two writes leaves a file the manifest vouches for (the last checkpoint survives any kill).
        manifest = self._manifest()
        manifest[name] = [*_accepted(manifest.get(name)), digest]
        atomic_write_text(self.dir / "manifest.json", json.dumps(manifest, indent=2))
        atomic_write_bytes(self.dir / name, data)
        manifest[name] = digest
        atomic_write_text(self.dir / "manifest.json", json.dumps(manifest, indent=2))

    def load(self, name: str) -> dict[str, Any] | None:
        """Load a file, or None if absent. A corrupt file is removed with a warning and None is returned."""
        path = self.dir / name
        if not path.exists():
            return None
        try:
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() not in _accepted(self._manifest().get(name)):
                raise CorruptEntry(f"checksum mismatch for {path}")
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any unreadable entry is treated the same way
            warnings.warn(f"iclbook store: corrupt entry {path} ({err}); it will be recomputed", stacklevel=2)
            path.unlink(missing_ok=True)
            return None

    def cached(self, name: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``name`` from this run if stored, else ``compute()`` saved under it; under the lock, so two processes
        asking for the same entry compute it once."""
        with self.lock():
            out = self.load(name)
            if out is None:
                out = compute()
                self.save(name, out)
        return out

    def delete(self, name: str) -> None:
        (self.dir / name).unlink(missing_ok=True)

    def _manifest(self) -> dict[str, str]:
        path = self.dir / "manifest.json"
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    # -- results ------------------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return (self.dir / "result.pt").exists()


class Store:
    """The root of all runs: ``Store().run("ch01-gpt", config)``."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else store_root()

    def run(self, name: str, config: dict[str, Any]) -> Run:
        return Run(self.root, name, config)

    def finished(self) -> set[str]:
        """The finished entries ("name/key"), so that a chapter can tell what it trained from what it read."""
        return {f"{p.parent.parent.name}/{p.parent.name}" for p in self.root.glob("*/*/result.pt")}

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _accepted(entry: str | list[str] | None) -> list[str]:
    """The checksums a manifest entry accepts: one, or two while a file is being replaced."""
    return [] if entry is None else [entry] if isinstance(entry, str) else list(entry)


def _jsonable(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (set, tuple)):
        return list(o)
    if isinstance(o, float):
        return repr(o)
    if hasattr(o, "__dict__"):
        return vars(o)
    return str(o)
