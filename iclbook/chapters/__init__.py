"""The book's chapters: id, notebook, title and parameters. Each chapter's parameters live in its own module."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from ..paths import repo_root
from ..profiles import ParamSpec


@dataclass(frozen=True)
class Chapter:
    id: str  # "01"
    name: str  # module name in iclbook.chapters, e.g. "task_complexity"
    title: str

    @property
    def slug(self) -> str:
        """The notebook's file stem, e.g. ``01_task_complexity``."""
        return f"{self.id}_{self.name}"

    @property
    def source(self) -> Path:
        return repo_root() / "chapters" / f"{self.slug}.py"

    @property
    def params(self) -> ParamSpec:
        return importlib.import_module(f"{__name__}.{self.name}").PARAMS


CHAPTERS: tuple[Chapter, ...] = (
    Chapter("01", "task_complexity", "How many pretraining tasks does in-context regression need?"),
    Chapter("02", "transient_ridge", "Task diversity and the transient ridge"),
    Chapter("03", "layer_causality", "Is in-context learning gradient descent? Layer-causal fine-tuning"),
    Chapter("04", "modular_arithmetic", "Learning to grok: in-context modular arithmetic"),
    Chapter("05", "multi_concept", "Multi-concept word semantics: in-context classification, exponentially fast"),
)


def get(key: str) -> Chapter:
    """A chapter by id (``01`` or ``1``), name or slug."""
    for ch in CHAPTERS:
        if key in (ch.id, ch.id.lstrip("0"), ch.name, ch.slug):
            return ch
    known = ", ".join(f"{c.id} ({c.name})" for c in CHAPTERS)
    raise KeyError(f"unknown chapter {key!r}; known chapters: {known}")
