"""``iclbook run | seeds | study | book | list | clean``: run chapters, rerun them per seed, run studies, build the
book, show parameters, clear outputs."""
from __future__ import annotations

import argparse
import ast
import os
import shutil
import sys

from .chapters import CHAPTERS, get
from .profiles import PROFILES, ParameterError
from .evidence.records import RecordError


def _value(text: str):
    """Parse a ``-p`` value like papermill does: a Python/JSON literal if it is one, else a string. ``8,40`` reads
    as the list [8, 40] (Python would make it a tuple, which a list parameter refuses), as a reader types it."""
    lowered = {"true": True, "false": False, "none": None, "inf": float("inf")}
    if text.lower() in lowered:
        return lowered[text.lower()]
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return list(value) if isinstance(value, tuple) else value


def cmd_run(args) -> int:
    from .pipeline import execute, notebook_path
    from .paths import outputs_dir
    from .runtime import default_profile

    chapter = get(args.chapter)
    profile = args.profile or default_profile()
    params = {name: _value(v) for name, v in args.param}
    execute(chapter, profile, params, force=args.force, log_output=not args.quiet)
    print(f"[iclbook] executed notebook: {notebook_path(chapter, profile)}")
    print(f"[iclbook] figures and claims.json: {outputs_dir(profile, chapter.slug)}")
    return 0


def cmd_seeds(args) -> int:
    from .runtime import default_profile
    from .seeds import run_seeds, table_path

    chapter = get(args.chapter)
    profile = args.profile or default_profile()
    params = {name: _value(v) for name, v in args.param}
    try:
        table = run_seeds(chapter, profile, args.seeds, params, force=args.force, log_output=not args.quiet,
                          collect=args.collect, record=args.record, label=args.label,
                          parallel=args.parallel)
    except ValueError as err:
        raise ParameterError(str(err)) from err
    print(f"[iclbook] claim x seed table: {table_path(chapter, profile, '.md', params)} (and .json)")
    if table.get("record"):
        print(f"[iclbook] recorded: {table['record']} (commit it: it is data the book shows)")
    for row in table["claims"]:
        print(f"  {row['id']}: holds in {row['holds_k']} of {row['n']}  (expected at {', '.join(row['expected_at'])})")
    return 1 if table["errors"] else 0


def cmd_book(args) -> int:
    from .pipeline import book, build
    from .runtime import default_profile

    profile = args.profile or default_profile()
    if args.no_execute:
        print(f"[iclbook] the book is at {build(profile)}")
    else:
        book(profile, force=args.force)
    return 0


def cmd_list(args) -> int:
    for ch in CHAPTERS:
        print(f"{ch.id}  {ch.title}\n    notebook: chapters/{ch.slug}.py    run: iclbook run {ch.id} [--profile P] [-p NAME VALUE]")
        for p in ch.params.params:
            print(f"    {p.name}: {p.doc}")
            print(f"        allowed: {p.allowed()}")
            print("        " + "   ".join(f"{prof}: {p.per_profile[prof]!r}" for prof in PROFILES))
        print()
    return 0


def cmd_clean(args) -> int:
    from .paths import build_dir, store_root

    targets = [store_root()] if args.store_only else [build_dir(), store_root()]
    for t in targets:
        if t.exists():
            shutil.rmtree(t)
            print(f"[iclbook] removed {t}")
    return 0


EXECUTOR_HELP = ("where sweep members train: inline, local:N (N worker processes) or dask:ADDRESS (a Dask "
                 "scheduler); sets ICLBOOK_EXECUTOR for the chapters' kernels (default: that variable, else "
                 "the machine's measured default); results do not depend on it")


def cmd_study(args) -> int:
    from .evidence.studies import StudyError, point_key
    from .studies_run import find, registry, run_study

    chapter = get(args.chapter)
    if not args.name:
        for (cid, name), st in sorted(registry().items()):
            if cid == chapter.id:
                print(f"{name}: {st.description} ({len(st.points)} points x {st.members} members at {st.profile})")
        return 0
    if args.members is not None and args.members < 1:
        raise ParameterError(f"--members: got {args.members}, allowed: an integer >= 1")
    try:
        find(chapter.id, args.name)
        record = run_study(chapter.id, args.name, members=args.members, restart=args.restart,
                           git_commit=args.commit)
    except (ValueError, StudyError) as err:
        raise ParameterError(str(err)) from err
    for row in record["points"]:
        lo, hi = row["interval"]
        print(f"  {point_key(row['point'])}: {row['k']} of {row['n']} [{lo:.2f}, {hi:.2f}]")
    for c in record["claims"]:
        print(f"  claim {c['id']}: {c['value']} -> {'holds' if c['holds'] else 'does not hold'}")
    return 0


def _choose_executor(args) -> None:
    """``--executor`` sets ``ICLBOOK_EXECUTOR`` for the kernels; a bad value (flag or variable) fails here, before
    any chapter starts."""
    from . import executor

    try:
        if getattr(args, "executor", None):
            os.environ[executor.ENV] = str(executor.parse(args.executor))
        if args.command in ("run", "seeds", "book", "study"):
            executor.current()
    except ValueError as err:
        raise ParameterError(str(err)) from err


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="iclbook",
        description="Run the chapters of iclbook, an executable book on in-context learning, and build it.",
        epilog="Profiles: ci (about a minute per chapter on 2 CPU cores), cpu (minutes; the claims an honest CPU-scale run reproduces, "
        "each ledger says which), "
        "gpu (the papers' scale). The default is gpu when CUDA is present, else cpu.",
    )
    sub = ap.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute one chapter with papermill (notebook, figures, claims.json)")
    run.add_argument("chapter", help="chapter id (01), name (task_complexity) or slug")
    run.add_argument("--profile", choices=PROFILES, help="parameter profile (default: gpu with CUDA, else cpu)")
    run.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="override one parameter, e.g. -p d 16 (repeatable; see `iclbook list`)")
    run.add_argument("--force", action="store_true", help="re-execute even if the notebook is up to date")
    run.add_argument("--quiet", action="store_true", help="do not stream the notebook's output")
    run.add_argument("--executor", metavar="SPEC", help=EXECUTOR_HELP)
    run.set_defaults(func=cmd_run)

    sd = sub.add_parser("seeds", help="rerun one chapter per seed and tabulate how often each claim holds")
    sd.add_argument("chapter", help="chapter id (01), name or slug")
    sd.add_argument("--profile", choices=PROFILES, help="parameter profile (default: gpu with CUDA, else cpu)")
    sd.add_argument("--seeds", type=int, nargs="+", required=True, help="the seeds, e.g. --seeds 0 1 2")
    sd.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="override one parameter for every seed (repeatable)")
    sd.add_argument("--force", action="store_true", help="re-execute even if a seed's notebook is up to date")
    sd.add_argument("--quiet", action="store_true", help="do not stream the notebooks' output")
    sd.add_argument("--collect", action="store_true",
                    help="run nothing: tabulate each seed's last finished run (seeds run separately, e.g. in parallel)")
    sd.add_argument("--record", action="store_true",
                    help="also keep the table in results/ with its provenance (needs a clean tree; commit the file)")
    sd.add_argument("--label", default="", help="a name for a recorded pilot, e.g. 'lr 1e-3' (with --record)")
    sd.add_argument("--executor", metavar="SPEC", help=EXECUTOR_HELP)
    sd.add_argument("--parallel", type=int, default=1, metavar="N",
                    help="run N seeds at once, each in a Dask worker with one CPU thread and its chapter's sweeps "
                         "inline (on two cores: --parallel 2)")
    sd.set_defaults(func=cmd_seeds)

    st = sub.add_parser("study", help="train a study's missing members and keep each in results/ as it finishes")
    st.add_argument("chapter", help="chapter id (04), name or slug")
    st.add_argument("name", nargs="?", help="the study (omit to list the chapter's studies)")
    st.add_argument("--members", type=int, metavar="N", help="members per point (default: the declaration's; more "
                    "extends a recorded study)")
    st.add_argument("--restart", action="store_true", help="start the record anew (needed when the code its members "
                    "ran has changed)")
    st.add_argument("--executor", metavar="SPEC", help=EXECUTOR_HELP)
    st.add_argument("--commit", action="store_true", help="commit the record (that file only) after every member, "
                    "so that a sitting cut off without warning keeps its finished members in git")
    st.set_defaults(func=cmd_study)

    bk = sub.add_parser("book", help="execute every chapter and build the HTML book")
    bk.add_argument("--profile", choices=PROFILES, help="parameter profile (default: gpu with CUDA, else cpu)")
    bk.add_argument("--force", action="store_true", help="re-execute chapters even if up to date")
    bk.add_argument("--no-execute", action="store_true", help="only build from already executed notebooks")
    bk.add_argument("--executor", metavar="SPEC", help=EXECUTOR_HELP)
    bk.set_defaults(func=cmd_book)

    ls = sub.add_parser("list", help="list chapters with their parameters, profile values and allowed ranges")
    ls.set_defaults(func=cmd_list)

    cl = sub.add_parser("clean", help="remove the build folder and the run store")
    cl.add_argument("--store-only", action="store_true", help="remove only the run store (trained models)")
    cl.set_defaults(func=cmd_clean)
    return ap


def main(argv: list[str] | None = None) -> int:
    from .interrupt import stopping_children_on_interrupt

    args = parser().parse_args(argv)
    try:
        _choose_executor(args)
        with stopping_children_on_interrupt():
            return args.func(args)
    except (ParameterError, KeyError, RecordError) as err:
        print(f"iclbook: error: {err.args[0] if err.args else err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        from .pipeline import current_chapter

        where = f"chapter {current_chapter}" if current_chapter else "iclbook"
        print(f"\niclbook: interrupted while running {where}. The run store keeps every finished model and the "
              "last checkpoint of the one in training; run the same command again to resume from there.",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
