"""What every chapter notebook does around its science: parameters, run info, outputs, the ledger.

A chapter's first cells are::

    ch = iclbook.notebook.open_chapter("01", globals())   # before the papermill ``parameters`` cell
    # parameters cell: profile = None, d = None, ...      # None means "take the profile's value"
    P = ch.resolve(globals())                              # after papermill's injected cell

``open_chapter`` records which names exist before the parameters, so that ``resolve`` can tell an unknown
papermill parameter (``-p dd 16``) from a declared one and stop with a clear message.
"""
from __future__ import annotations

import time
from typing import Any, Iterable, Sequence

import torch

from . import executor, plotting, records, runtime
from .chapters import get
from .claims import Ledger
from .paths import outputs_dir
from .provenance import code_version, device_name, provenance
from .profiles import ParameterError, Params
from .store import Store


class ChapterRun:
    def __init__(self, chapter_id: str, namespace: dict[str, Any]) -> None:
        self.chapter = get(chapter_id)
        self._before = set(namespace)
        self.t0 = time.time()
        self.P: Params | None = None

    def resolve(self, namespace: dict[str, Any]) -> Params:
        """Validate the parameters cell (plus papermill's injections) against the chapter's declaration."""
        spec = self.chapter.params
        new = {k for k in set(namespace) - self._before if not k.startswith("_") and namespace[k] is not self}
        unknown = sorted(new - set(spec.names) - {"profile", "P"})
        if unknown:
            raise ParameterError(
                f"unknown parameter(s) {', '.join(map(repr, unknown))} for chapter {self.chapter.id}; "
                f"allowed: profile, {', '.join(spec.names)}"
            )
        missing = [n for n in spec.names if n not in namespace]
        if missing:
            raise RuntimeError(f"the notebook's parameters cell lacks {missing}")
        overrides = {n: namespace[n] for n in spec.names}
        self.P = spec.resolve(namespace.get("profile"), overrides)
        executor.use_chapter(self.chapter.id)
        self.threads = runtime.set_threads()
        self.device = runtime.device()
        runtime.fast_matmul(self.device)
        self.out = outputs_dir(self.P.profile, self.chapter.slug)
        self.out.mkdir(parents=True, exist_ok=True)
        self.store = Store()
        self._store_before = self.store.finished()
        self.timings: dict[str, float] = {}
        self.ledger = Ledger(self.chapter.id, self.P.profile)
        plotting.use_style()
        return self.P

    def describe(self) -> str:
        """A one-paragraph account of what produced this page (profile, overrides, hardware)."""
        P = self.P
        over = ", ".join(f"{k} = {getattr(P, k)!r}" for k in P.overridden) or "none"
        if P.derived:
            over += "; following them: " + ", ".join(f"{k} = {getattr(P, k)!r}" for k in P.derived)
        return (
            f"Profile **{P.profile}** (explicit overrides: {over}); seed {P.seed}; device `{self.device}` "
            f"({device_name(self.device)}), {self.threads} CPU thread(s), torch {torch.__version__}; "
            f"sweeps on `{executor.current()}`; code {code_version()}."
        )

    def savefig(self, fig, name: str) -> None:
        plotting.savefig(fig, self.out, name)

    def show(self, fig, name: str) -> None:
        """Save a figure among the chapter's outputs, then draw it in the page."""
        import matplotlib.pyplot as plt

        self.savefig(fig, name)
        plt.show()

    @staticmethod
    def glue(**values: Any) -> None:
        """Glue values for the prose (``{glue:text}`name```) without showing them where they are computed."""
        from myst_nb import glue

        for name, value in values.items():
            glue(name, value, display=False)

    @staticmethod
    def md(text: str) -> None:
        """Show Markdown in the page."""
        from IPython.display import Markdown, display

        display(Markdown(text))

    def table(self, header: Sequence[str], rows: Iterable[Sequence[Any]], note: str = "") -> None:
        """Show a Markdown table (cells already formatted), after an optional note."""
        self.md(markdown_table(header, rows, note))

    def timed(self, part: str, seconds: float) -> None:
        """Record how long one part of the chapter took (e.g. ``training``), for the book's status page."""
        self.timings[part] = self.timings.get(part, 0.0) + seconds

    def finish(self) -> None:
        """Save ``claims.json``, glue the claims and the wall time for the prose, and show the ledger."""
        P = self.P
        trained = len(self.store.finished() - self._store_before)
        files = records.dependencies(self.chapter.source)
        self.ledger.provenance = {
            **provenance(P.as_dict(), P.profile, self.device, self.threads, self.elapsed(),
                         overrides={k: getattr(P, k) for k in P.overridden}, trained=trained, timings=self.timings),
            "fingerprint": records.fingerprint(files), "depends_on": files,
            "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
        self.ledger.save(self.out / "claims.json")
        self.ledger.glue()
        self.glue(wall_time=f"{self.elapsed() / 60:.1f} min", wall_profile=P.profile,
                  wall_where=f"{self.threads} CPU thread(s) of a {device_name(self.device)}" if self.device.type == "cpu"
                  else device_name(self.device),
                  wall_store="every model came from the run store" if trained == 0 else
                  f"{trained} run-store entries were computed in this run")
        self.ledger.show()
        self.md(f"This page took {self.elapsed():.0f} s to compute.")

    def records(self, label: str | None = None, profile: str | None = None) -> None:
        """Show this chapter's recorded results (``results/``), newest first: those with ``label`` (a pilot), or the
        plain per-seed records when ``label`` is None; each with its provenance and whether it is stale."""
        recs = [r for r in records.load_all(self.chapter.slug)
                if (r["label"] == label if label is not None else not r["label"] and not r["overrides"])
                and (profile is None or r["profile"] == profile)]
        if not recs:
            self.md(f"*No record{' labelled ' + repr(label) if label else ''} yet: run "
                    f"`iclbook seeds {self.chapter.id} --profile cpu --seeds 0 1 2 --record`.*")
        for r in recs:
            self.md(records.markdown(r))

    def records_appendix(self) -> None:
        """Every recorded pilot of this chapter (by label), then its plain per-seed records."""
        for label in sorted({r["label"] for r in records.load_all(self.chapter.slug) if r["label"]}):
            self.records(label=label)
        self.records()

    def elapsed(self) -> float:
        return time.time() - self.t0


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]], note: str = "") -> str:
    """A Markdown table; ``note`` (if any) goes before it as its own paragraph."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return (note + "\n\n" if note else "") + "\n".join(lines)


def open_chapter(chapter_id: str, namespace: dict[str, Any]) -> ChapterRun:
    return ChapterRun(chapter_id, namespace)
