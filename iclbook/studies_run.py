"""``iclbook study CHAPTER NAME``: train a study's missing members and keep each one in its record as it finishes.

Studies are declared in ``iclbook/experiments/*_studies.py`` (a ``STUDIES`` dict of ``evidence.studies.Study``).
Members train through the executors (``inline``, ``local:N``, ``dask:ADDRESS``) and the run store, so an
interrupted study resumes: finished members are in the record, the member in training resumes from its last
checkpoint. The record, ``results/<slug>/study-<name>.json``, is rewritten atomically after every member, only from a
clean tree, and only with members whose code fingerprint is the record's. With ``--commit`` each rewrite is also
committed (that file only), so a sitting that ends without warning keeps every finished member in git.
"""
from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import time
from typing import Any

from . import executor as executors
from .atomic import atomic_write_text
from .chapters import get
from .evidence import studies
from .evidence.fingerprint import fingerprint, module_files
from .evidence.records import RecordError, results_dir


def registry() -> dict[tuple[str, str], studies.Study]:
    """Every declared study, keyed (chapter id, name), from the ``*_studies`` modules of ``iclbook.experiments``."""
    from . import experiments

    out: dict[tuple[str, str], studies.Study] = {}
    for info in pkgutil.iter_modules(experiments.__path__):
        if info.name.endswith("_studies"):
            mod = importlib.import_module(f"{experiments.__name__}.{info.name}")
            for name, st in mod.STUDIES.items():
                out[(st.chapter, name)] = st
    return out


def find(chapter: str, name: str) -> studies.Study:
    ch = get(chapter)
    known = registry()
    if (ch.id, name) not in known:
        names = sorted(n for c, n in known if c == ch.id)
        raise ValueError(f"iclbook study: chapter {ch.id} has no study {name!r}; declared: {names or 'none'}")
    return known[(ch.id, name)]


def path(study: studies.Study):
    return results_dir() / get(study.chapter).slug / f"study-{study.name}.json"


def code_of(study: studies.Study) -> tuple[str, list[str]]:
    """The fingerprint and files of the code a member runs: the member function's module, every ``iclbook`` module
    it imports (read from the source, so every worker agrees) and the chapter's parameter declaration, which a member
    reads by name (its profile's values, so the declaration counts at that profile only) rather than by an import."""
    declaration = f"iclbook/chapters/{get(study.chapter).name}.py"
    files = sorted({*module_files(study.member.partition(":")[0]), declaration})
    return fingerprint(files, profile=study.profile), files


def member_job(member: str, point: dict, seed: int, profile: str, files: list[str]) -> dict:
    """One member, as a worker runs it: its values and its provenance (code, where, how long, how many run-store
    entries appeared while it ran (its own; with members in parallel, theirs too), and the fingerprint of the
    member's ``files`` as they are on disk when it finishes, which the record must share)."""
    import torch

    from .provenance import code_version, device_name, machine, versions
    from .runtime import device

    from .paths import store_root
    from .store import Store

    before = Store(store_root()).finished()
    t0 = time.time()
    values = executors.call(member, {"point": point, "seed": seed, "profile": profile})
    trained = len(Store(store_root()).finished() - before)
    dev = device()
    return {"values": values,
            "provenance": {"code": code_version(), "device": str(dev), "device_name": device_name(dev),
                           "threads": torch.get_num_threads(), **versions(), **machine(),
                           "cpu_capability": torch.backends.cpu.get_cpu_capability(),  # kernels: rounding differs
                           "wall_seconds": round(time.time() - t0, 1), "trained_entries": trained,
                           "fingerprint": fingerprint(files, profile=profile)}}


def run_study(chapter: str, name: str, members: int | None = None, restart: bool = False,
              executor: executors.Executor | None = None, git_commit: bool = False) -> dict:
    """Train every missing member of the study (``members`` per point, default the declaration's) and return
    the record; each finished member is written to the record (and with ``git_commit``, committed) before the next one
    is awaited."""
    from .provenance import code_version

    study = find(chapter, name)
    commit = code_version()
    if commit.endswith("+dirty") or commit in ("", "unknown"):
        raise RecordError("iclbook study needs a clean tree (commit or stash your changes first): a study names the "
                          "commit its members ran at")
    fp, files = code_of(study)
    out = path(study)
    record = json.loads(out.read_text()) if out.exists() and not restart else None
    if record is not None and record["fingerprint"] != fp:
        raise studies.StudyError(
            f"study {name!r}: {out.name} holds members of other code (fingerprint {record['fingerprint']}, the code "
            f"now {fp}); members of different code are never merged: rerun with --restart to renew it from scratch")
    if record is None:
        ch = get(chapter)
        record = studies.new_record(study, ch.slug, ch.title, fp, files)
    want = study.seeds(members)
    # seed-major: a sitting cut short leaves every point with (nearly) as many members, so a partial study
    # already compares its points on the same seeds
    todo = [(row["point"], s) for s in want for row in record["points"] if str(s) not in row["members"]]
    if not todo:
        return record
    ex = executor or executors.current()
    record["commit"] = commit  # the clean commit this sitting started at; each member keeps its own in provenance
    for point, seed, result in _results(study, todo, ex, files):
        studies.add_member(record, study, point, seed, result["values"], result["provenance"])
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, json.dumps(record, indent=2, default=str) + "\n")
        if git_commit:
            commit_record(out, f"results: {study.name} study of chapter {study.chapter}, "
                               f"{sum(r['n'] for r in record['points'])} of {len(want) * len(record['points'])} "
                               f"members ({command_line(study, members)})")
        print(f"[iclbook] study {name}: member {seed} at {studies.point_key(point)}: "
              f"{study.success} = {result['values'][study.success]} ({result['provenance']['wall_seconds']:.0f} s)",
              flush=True)
    return record


def command_line(study: studies.Study, members: int | None) -> str:
    return f"iclbook study {study.chapter} {study.name}" + (f" --members {members}" if members else "") + " --commit"


def commit_record(out, message: str) -> None:
    """Commit the study record ``out`` alone (whatever else is staged stays staged), so that its members are in
    git the moment they are in the file."""
    from .paths import repo_root

    root = repo_root()
    rel = str(out.resolve().relative_to(root.resolve()))
    git = ["git", "-C", str(root)]
    subprocess.run([*git, "add", "--", rel], check=True)
    done = subprocess.run([*git, "commit", "-q", "-m", message, "--", rel], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"git commit of {rel} failed: {done.stderr.strip() or done.stdout.strip()}")


def _results(study: studies.Study, todo: list[tuple[dict, int]], ex: executors.Executor, files: list[str]):
    """(point, seed, member_job's result) as members finish: in order inline, else as the workers finish them."""
    if ex.kind == "inline":
        for point, seed in todo:
            yield point, seed, member_job(study.member, point, seed, study.profile, files)
        return
    from distributed import as_completed

    client = executors._client(ex)
    futures: dict[Any, tuple[dict, int]] = {}
    for point, seed in todo:
        key = f"iclbook-study-{study.chapter}-{study.name}-{studies.point_key(point)}-{seed}".replace(" ", "")
        fut = client.submit(executors._in_worker, "iclbook.studies_run:member_job",
                            {"member": study.member, "point": point, "seed": seed, "profile": study.profile,
                             "files": files},
                            ex.kind == "local", key=key, pure=False, retries=2)
        futures[fut] = (point, seed)
    for fut in as_completed(futures):
        point, seed = futures[fut]
        yield point, seed, fut.result()
