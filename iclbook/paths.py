"""Where things live: the repository, the build folder, the run store and a chapter's outputs."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def repo_root() -> Path:
    """The checkout that holds ``_toc.yml`` (the package is installed editable), else the working folder."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "_toc.yml").exists() else Path.cwd()


def build_dir() -> Path:
    """``ICLBOOK_BUILD``, default ``<repo>/build``."""
    return Path(os.environ.get("ICLBOOK_BUILD", repo_root() / "build")).resolve()


def store_root() -> Path:
    """The run store's root: ``ICLBOOK_STORE``, default ``<build>/store``."""
    return Path(os.environ.get("ICLBOOK_STORE", build_dir() / "store")).resolve()


def outputs_dir(profile: str, slug: str) -> Path:
    """A chapter run's figures and ``claims.json``: ``<build>/<profile>/outputs/<slug>``."""
    return build_dir() / profile / "outputs" / slug


def book_dir(profile: str) -> Path:
    """The staged book source (executed notebooks, config) for one profile."""
    return build_dir() / profile / "book"


@contextmanager
def using(build: Path, store: Path) -> Iterator[None]:
    """Point ``ICLBOOK_BUILD`` and ``ICLBOOK_STORE`` (inherited by a chapter's kernel) elsewhere for a while."""
    keep = {k: os.environ.get(k) for k in ("ICLBOOK_BUILD", "ICLBOOK_STORE")}
    os.environ["ICLBOOK_BUILD"], os.environ["ICLBOOK_STORE"] = str(build), str(store)
    try:
        yield
    finally:
        for k, v in keep.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
