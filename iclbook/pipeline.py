"""chapters/*.py --jupytext--> notebook --papermill--> <build>/<profile>/book/chapters/*.ipynb --jupyter-book--> HTML.

A chapter counts as executed only when papermill finished without error: the executed notebook is written
under a temporary name and renamed at the end, so a failed or interrupted run never leaves a notebook that
the book would render as good (a failed one is kept as ``*.failed.ipynb`` for reading).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import claims as claims_mod
from .chapters import CHAPTERS, Chapter
from .paths import book_dir, outputs_dir, repo_root
from .evidence import records, studies
from .evidence.pages import robustness_page
from .status import status_page

BOOK_FILES = ("_config.yml", "_toc.yml", "references.bib")
EXECUTION_TIMEOUT_S = 4 * 3600  # per cell; papermill has no limit by default
current_chapter: str | None = None  # the chapter being executed, for the message after a Ctrl-C


def notebook_path(chapter: Chapter, profile: str) -> Path:
    return book_dir(profile) / "chapters" / f"{chapter.slug}.ipynb"


def _fingerprint(chapter: Chapter, profile: str, params: dict[str, Any]) -> str:
    """A hash of everything an executed chapter depends on: its source, the library, the parameters."""
    h = hashlib.sha256()
    h.update(chapter.source.read_bytes())
    for path in sorted((repo_root() / "iclbook").rglob("*.py")):
        h.update(path.read_bytes())
    h.update(json.dumps({"profile": profile, "params": params}, sort_keys=True, default=str).encode())
    return h.hexdigest()


def execute(chapter: Chapter, profile: str, params: dict[str, Any] | None = None, *, force: bool = False,
            log_output: bool = False) -> Path:
    """Execute one chapter with papermill; return the executed notebook's path (skipped if up to date)."""
    import jupytext
    import papermill

    params = dict(params or {})
    chapter.params.resolve(profile, params)  # fail before starting a kernel
    out = notebook_path(chapter, profile)
    stamp = out.with_suffix(".stamp")
    fingerprint = _fingerprint(chapter, profile, params)
    if not force and out.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        print(f"[iclbook] {chapter.slug} ({profile}) is up to date: {out}")
        return out

    out.parent.mkdir(parents=True, exist_ok=True)
    cwd = outputs_dir(profile, chapter.slug)
    cwd.mkdir(parents=True, exist_ok=True)
    nb = jupytext.read(chapter.source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    tmp = out.with_name(f".{out.stem}.running.ipynb")
    failed = out.with_name(f"{out.stem}.failed.ipynb")
    out.unlink(missing_ok=True)
    stamp.unlink(missing_ok=True)
    os.environ.pop("MPLBACKEND", None)  # an inherited Agg backend drops every inline figure
    print(f"[iclbook] executing {chapter.slug} at profile {profile} {params or ''}", flush=True)
    global current_chapter
    current_chapter = f"{chapter.id} ({chapter.slug}, profile {profile})"
    try:
        papermill.execute_notebook(
            nb, str(tmp), parameters={"profile": profile, **params}, kernel_name="python3",
            cwd=str(cwd), progress_bar=False,
            log_output=log_output, execution_timeout=EXECUTION_TIMEOUT_S,
        )
    except BaseException as err:
        if tmp.exists():
            os.replace(tmp, failed)
            if not isinstance(err, KeyboardInterrupt):
                print(f"[iclbook] {chapter.slug} failed; the partial notebook is {failed}", file=sys.stderr)
        raise
    current_chapter = None
    _hide_injected_parameters(tmp)
    os.replace(tmp, out)
    stamp.write_text(fingerprint)
    failed.unlink(missing_ok=True)
    return out


def _hide_injected_parameters(path: Path) -> None:
    """Keep papermill's injected cell in the notebook but out of the rendered page (the run-info line says it)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    nbformat.write(nb, path)


def stage(profile: str) -> Path:
    """Copy the book's configuration and pages next to the executed notebooks; fill in the claims table."""
    root, dest = repo_root(), book_dir(profile)
    dest.mkdir(parents=True, exist_ok=True)
    for name in BOOK_FILES:
        shutil.copy2(root / name, dest / name)
    for page in (root / "chapters").glob("*.md"):
        text = page.read_text()
        if "<!-- CLAIMS-TABLE -->" in text:
            text = text.replace("<!-- CLAIMS-TABLE -->", claims_table(profile))
        if "<!-- SEEDS-TABLE -->" in text:
            text = text.replace("<!-- SEEDS-TABLE -->", robustness_page())
        if "<!-- BUILD-STATUS -->" in text:
            text = text.replace("<!-- BUILD-STATUS -->", status_page(profile))
        (dest / "chapters").mkdir(exist_ok=True)
        (dest / "chapters" / page.name).write_text(text)
    static = dest / "_static"
    static.mkdir(exist_ok=True)
    mathjax = static / "mathjax"
    if not (mathjax / "tex-chtml.js").exists():
        shutil.copytree(vendored_mathjax(), mathjax, dirs_exist_ok=True)
    for item in (root / "_static").glob("*"):
        target = static / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True)
        else:
            shutil.copy2(item, target)
    return dest


def vendored_mathjax() -> Path:
    """MathJax 3 (from the npm registry) so that math renders without internet; installed once per build folder."""
    vendor = repo_root() / "build" / "vendor"  # shared by every build folder, so it is fetched once
    es5 = vendor / "node_modules" / "mathjax" / "es5"
    if not (es5 / "tex-chtml.js").exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is needed once to vendor MathJax for offline math (apt-get install npm)")
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix",
                        str(vendor), "mathjax@3"], check=True)
    return es5


def tally_table(profile: str) -> str:
    """What reproduces, computed from the ledgers: per chapter, the paper claims that hold at ``profile``, those
    expected only at a larger profile and those that fail where they were expected; extensions and checks apart."""
    rows = ["| chapter | paper claims: hold | expected only at a larger profile | fail where expected "
            "| extensions: hold of | checks: hold of |", "|---|---|---|---|---|---|"]
    for ch in CHAPTERS:
        path = outputs_dir(profile, ch.slug) / "claims.json"
        if not path.exists() or not notebook_path(ch, profile).exists():
            rows.append(f"| {ch.id}. {ch.title} | not executed at `{profile}` | | | | |")
            continue
        t = claims_mod.tally(claims_mod.load(path)["claims"], profile)
        n = {k: sum(v.values()) for k, v in t.items()}
        rows.append(f"| {ch.id}. {ch.title} | {t['paper']['holds']} of {n['paper']} | {t['paper']['later']} "
                    f"| {t['paper']['fails']} | {t['extension']['holds']} of {n['extension']} "
                    f"| {t['check']['holds']} of {n['check']} |")
    return "\n".join(rows)


def claims_table(profile: str) -> str:
    """Per chapter, from its last run at ``profile``: each claim's statement, value, criterion and verdict, under a
    line naming the profile, the seed, when the run finished and how long it took."""
    out = [tally_table(profile), ""]
    for ch in CHAPTERS:
        path = outputs_dir(profile, ch.slug) / "claims.json"
        out.append(f"### [{ch.id}. {ch.title}]({ch.slug}.ipynb)\n")
        if not path.exists() or not notebook_path(ch, profile).exists():
            out.append(f"Not executed at `{profile}`.\n")
            continue
        data = claims_mod.load(path)
        prov = data.get("provenance", {})
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(path.stat().st_mtime))
        out.append(f"Run at `{profile}`, seed {prov.get('seed', '?')}, finished {when} after "
                   f"{prov.get('wall_seconds', float('nan')):.0f} s. "
                   + claims_mod.tally_text(claims_mod.tally(data["claims"], profile)) + "\n")
        out.append("| claim | kind | statement | value | criterion | verdict | recorded at `cpu` | recorded studies |\n"
                   "|---|---|---|---|---|---|---|---|")
        for c in data["claims"]:
            verdict = "✓ holds" if c["holds"] else (
                "✗ does not hold" + ("" if profile in c["expected_at"] else f" (expected at {'/'.join(c['expected_at'])})"))
            statement = c["statement"].replace("|", "\\|")
            kind = c.get("kind", "paper")
            k_of_n = records.holds_k_of_n(ch.id, c["id"]) if kind == "paper" else ""
            recorded = f"holds in {k_of_n} recorded seeds" if " of " in k_of_n else k_of_n
            studied = "; ".join(studies.related(ch.slug, c["id"])).replace("|", "\\|")
            out.append(f"| {c['id']} | {kind} | {statement} | {claims_mod.fmt_value(c['value'])} "
                       f"| {c['criterion']} | {verdict} | {recorded} | {studied} |")
        out.append("")
    return "\n".join(out)


def build(profile: str) -> Path:
    """Build the HTML book from the staged folder with ``-W -n`` (any warning fails); return index.html."""
    src = stage(profile)
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(src), "-W", "-n", "--keep-going"]
    subprocess.run(cmd, check=True)
    return src / "_build" / "html" / "index.html"


def book(profile: str, *, force: bool = False) -> Path:
    """Execute every chapter at ``profile`` and build the book."""
    for ch in CHAPTERS:
        execute(ch, profile, force=force, log_output=True)
    index = build(profile)
    print(f"[iclbook] the book is at {index}")
    return index
