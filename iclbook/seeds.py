"""How often does a claim hold? Rerun one chapter per seed and tabulate each claim's value and verdict per seed.

``iclbook seeds 04 --profile cpu --seeds 0 1 2`` runs the chapter once per seed, each into its own build folder
(``<build>/seeds/<slug>/<profile>-<variant>/seed-<s>``, the variant naming the overrides) while sharing the run
store, and writes a claim × seed table (``iclbook.evidence.tables``) as JSON and Markdown to
``<build>/seeds/<slug>-<profile>-<variant>.{json,md}``.
``--record`` also keeps it in the repository's ``results/`` (``iclbook.evidence.records``). The book's robustness
page (``iclbook.evidence.pages``) shows every record and the tables of the current build folder.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from . import claims as claims_mod
from .atomic import atomic_write_text
from .chapters import Chapter
from .evidence import records
from .evidence.tables import markdown, seed_table
from .paths import build_dir, outputs_dir, store_root, using


def seed_build_dir(chapter: Chapter, profile: str, seed: int, params: dict | None = None) -> Path:
    return build_dir() / "seeds" / chapter.slug / f"{profile}-{records.variant(params or {})}" / f"seed-{seed}"


def table_path(chapter: Chapter, profile: str, suffix: str = ".json", params: dict | None = None) -> Path:
    return build_dir() / "seeds" / f"{chapter.slug}-{profile}-{records.variant(params or {})}{suffix}"


def _build_folder(path: Path):
    """Point ``ICLBOOK_BUILD`` (inherited by the kernel) at ``path`` while the store stays where it was."""
    return using(path, store_root())


def run_seeds(chapter: Chapter, profile: str, seeds: list[int], params: dict[str, Any] | None = None, *,
              force: bool = False, log_output: bool = False, collect: bool = False, record: bool = False,
              label: str = "", parallel: int = 1) -> dict:
    """Execute ``chapter`` once per seed and write the claim × seed table; a seed whose run fails is recorded as
    failed (with its error) and the others still run.

    ``parallel`` > 1 runs that many seeds at once, each in a Dask worker process with one CPU thread, its chapter's
    sweeps inline, so that no core idles while a chapter waits for its last member. What it gains depends on the
    chapter: one-thread members beat two-thread ones by 1.25-1.40x in the executor benchmarks (chapters 3-5), while
    chapter 2's batched ensemble gained nothing (two `cpu` seeds took 37 min together, as two 19-min runs do).
    ``collect`` executes nothing: it tabulates each seed's last finished run in its folder (for seeds run apart,
    e.g. in separate processes). ``record`` keeps the table in ``results/`` (refused up front from a tree with
    uncommitted changes)."""
    from .provenance import code_version

    if record and code_version().endswith("+dirty"):
        raise records.RecordError("--record needs a clean tree (commit or stash your changes first): a record names "
                                  "the commit that produced it")
    from .pipeline import execute

    params = dict(params or {})
    if "seed" in params:
        raise ValueError("iclbook seeds: give the seeds with --seeds, not -p seed")
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"iclbook seeds: --seeds must be distinct integers, got {seeds}")
    if not isinstance(parallel, int) or parallel < 1:
        raise ValueError(f"iclbook seeds: --parallel must be an integer >= 1, got {parallel!r}")
    for s in seeds:  # every seed's parameters are checked before the first run starts
        chapter.params.resolve(profile, {**params, "seed": s})
    runs: dict[int, dict] = {}
    if parallel > 1 and not collect:
        _run_in_workers(chapter, profile, seeds, params, force, min(parallel, len(seeds)))
        collect = True  # the workers ran them: read each seed's ledger (or error) below
    for s in seeds:
        folder = seed_build_dir(chapter, profile, s, params)
        t0 = time.time()
        with _build_folder(folder):
            try:
                if collect and (folder / ERROR_FILE).exists():  # the seed failed in a worker
                    runs[s] = {"error": (folder / ERROR_FILE).read_text()}
                    continue
                if not collect:
                    (folder / ERROR_FILE).unlink(missing_ok=True)
                    execute(chapter, profile, {**params, "seed": s}, force=force, log_output=log_output)
                runs[s] = claims_mod.load(outputs_dir(profile, chapter.slug) / "claims.json")
                if runs[s].get("provenance", {}).get("params", {}).get("seed", s) != s:
                    raise RuntimeError(f"the ledger in {folder} is not seed {s}'s")
            except Exception as err:  # noqa: BLE001 - a failed seed is a result of its own
                runs[s] = {"error": _one_line(err)}
        runs[s]["seconds"] = round(time.time() - t0, 1) if not collect else \
            runs[s].get("provenance", {}).get("wall_seconds")
    table = seed_table(chapter, profile, params, runs)
    path = table_path(chapter, profile, params=params)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(table, indent=2, default=str))
    atomic_write_text(table_path(chapter, profile, ".md", params), markdown(table))
    if record:
        table["record"] = str(records.write(records.make_record(table, runs, label, code_version())))
    return table


ERROR_FILE = "seed-error.txt"  # a seed run in a worker leaves its error here for the table


def _one_line(err: BaseException) -> str:
    """The error in one line; for a failed notebook cell, the cell's own exception (papermill's message opens
    with a blank line)."""
    if hasattr(err, "ename") and hasattr(err, "evalue"):
        return f"{type(err).__name__}: {err.ename}: {err.evalue}"
    lines = [line for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[0] if lines else ''}"


def _run_in_workers(chapter: Chapter, profile: str, seeds: list[int], params: dict, force: bool, n: int) -> None:
    """Run the seeds on a ``local:n`` Dask cluster (``iclbook.executor``): one job per seed, each writing its ledger,
    or its error, into its own folder."""
    from .executor import Executor, Job, run_jobs

    jobs = [Job("iclbook.seeds:execute_seed", {"chapter": chapter, "profile": profile, "params": {**params, "seed": s},
                                               "folder": str(seed_build_dir(chapter, profile, s, params)),
                                               "store": str(store_root()), "force": force},
                key=f"seed-{chapter.slug}-{profile}-{records.variant(params)}-{s}") for s in seeds]
    run_jobs(jobs, Executor("local", workers=n), desc=f"{chapter.slug} seeds")


def execute_seed(chapter: Chapter, profile: str, params: dict, folder: str, store: str, force: bool) -> None:
    """One seed's run in a worker: the chapter's own sweeps run inline (a cluster per kernel would oversubscribe
    the cores), at the worker's one thread; a failure is kept in the folder, not raised, so the other seeds run."""
    import os

    from .executor import ENV
    from .pipeline import execute

    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    (path / ERROR_FILE).unlink(missing_ok=True)
    os.environ[ENV] = "inline"
    with using(path, Path(store)):
        try:
            execute(chapter, profile, params, force=force)
        except Exception as err:  # noqa: BLE001 - reported in the table
            atomic_write_text(path / ERROR_FILE, _one_line(err))
