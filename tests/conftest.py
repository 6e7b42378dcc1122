import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from iclbook.chapters import Chapter
from iclbook.profiles import Param, ParamSpec

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    """Every test gets its own run store and build folder, so tests never read each other's results."""
    monkeypatch.setenv("ICLBOOK_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("ICLBOOK_PROGRESS", "0")
    yield


def pytest_configure(config):
    os.environ.setdefault("ICLBOOK_DEVICE", "cpu")
    os.environ.setdefault("ICLBOOK_EXECUTOR", "inline")  # sweeps train in the test's process unless a test says so
    # Two pytest-xdist workers share the two cores: a chapter kernel at two threads beside the other worker's tests
    # oversubscribes them, and two-thread torch collapses under that (a `ci` chapter once took 21 min instead of 1).
    os.environ.setdefault("ICLBOOK_THREADS", "1")


@dataclass(frozen=True)
class ToyChapter(Chapter):
    """A chapter whose notebook is any file and whose declaration is given: for pipeline tests."""

    path: str = ""
    spec: ParamSpec = field(default_factory=lambda: ParamSpec(()))

    @property
    def source(self) -> Path:
        return Path(self.path)

    @property
    def params(self) -> ParamSpec:
        return self.spec


@pytest.fixture
def make_toy(tmp_path, monkeypatch):
    """make_toy(notebook_text, *params) -> a ToyChapter "99_toy" building into tmp_path/build."""
    monkeypatch.setenv("ICLBOOK_BUILD", str(tmp_path / "build"))

    def make(text: str, *params: Param) -> ToyChapter:
        src = tmp_path / "99_toy.py"
        src.write_text(text)
        return ToyChapter("99", "toy", "A toy chapter", str(src), ParamSpec(params))
    return make
