"""The code a result depended on, and its fingerprint: what makes a record or a study *stale*.

A fingerprint hashes the *code* of files (``code_text``: the text without blank lines, full-line comments and
docstrings), so that rewording a chapter's prose (comments in its jupytext source) keeps a 40-minute record fresh,
while any changed statement makes it stale. Modules that only draw, read or render results (``RENDER_ONLY``)
compute no ledger value and are left out: the evidence layer itself, the status page, the seeds runner, the
figure modules (each ``*_figures.py`` function returns a figure and nothing a claim reads) and the plotting style.

A chapter's parameter declaration (``iclbook/chapters/<name>.py``) holds one column per profile. A record or study
made at one profile depends on that profile's column only (``PROFILE_RULE``): with ``profile`` given, the other
profiles' values are blanked before hashing (``declaration_code``), so resizing the `gpu` profile keeps the `ci`
and `cpu` records fresh, while a change to the profile's own value, to a check or to a derived rule makes them stale.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
from fnmatch import fnmatch
from pathlib import Path

from .. import paths
from ..profiles import PROFILES

# Files (glob patterns relative to the repository) that no ledger value passes through.
RENDER_ONLY = ("iclbook/records.py", "iclbook/seeds.py", "iclbook/status.py", "iclbook/studies_run.py",
               "iclbook/evidence/*.py", "iclbook/experiments/*_figures.py", "iclbook/plotting.py")


def render_only(rel: str) -> bool:
    return any(fnmatch(rel, pattern) for pattern in RENDER_ONLY)


def dependencies(chapter_source: Path) -> list[str]:
    """The files a chapter's run depended on, relative to the repository: its notebook and the ``iclbook`` modules
    loaded in this process but the render-only ones (call it in the chapter's kernel, after its last computation)."""
    root = paths.repo_root()
    files = {str(Path(chapter_source).resolve().relative_to(root))}
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if f and (mod.__name__ == "iclbook" or mod.__name__.startswith("iclbook.")):
            try:
                files.add(str(Path(f).resolve().relative_to(root)))
            except ValueError:  # installed elsewhere: not this checkout's code
                continue
    return sorted(f for f in files if not render_only(f))


def module_files(module: str) -> list[str]:
    """The ``iclbook`` files that ``module`` imports, directly or through other ``iclbook`` modules, read from
    the source (``ast``), not from ``sys.modules``: the same list in every process, whatever it imported before.
    Used for a study, whose members train in worker processes."""
    root = paths.repo_root()
    seen: dict[str, str] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen or not (name == "iclbook" or name.startswith("iclbook.")):
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ModuleNotFoundError, ValueError):  # `from m import name` where name is no module
            spec = None
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        seen[name] = str(origin.resolve().relative_to(root))
        package = name if origin.name == "__init__.py" else name.rpartition(".")[0]
        parents = [name.rsplit(".", k)[0] for k in range(1, name.count(".") + 1)]
        todo += parents  # importing a.b.c runs a/__init__ and a/b/__init__
        for node in ast.walk(ast.parse(origin.read_text())):
            if isinstance(node, ast.Import):
                todo += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{up}.{base}" if base else up
                todo.append(base)
                todo += [f"{base}.{a.name}" for a in node.names]  # `from . import x` names a module
    return sorted(f for f in seen.values() if not render_only(f))


# A chapter cell tagged so (``# %% tags=["remove-input", "render-only"]``) only shows recorded evidence: it imports
# from ``iclbook.evidence`` or another render-only module (``RENDER_ONLY``, e.g. a chapter's figures) and calls
# ``ch.md`` / ``ch.show`` / a function it imported, which tests/test_records.py checks for every such cell, so no
# ledger value passes through it and the fingerprint leaves it out.
RENDER_ONLY_TAG = '"render-only"'


def code_text(source: str) -> str:
    """A Python file's code: its lines without blank lines, full-line comments (but jupytext's cell marker of the
    ``parameters`` cell, after which papermill injects a run's parameters), docstrings and a chapter's render-only
    cells (``RENDER_ONLY_TAG``); lines inside other multi-line strings are kept as they are. Line numbers drop out,
    so moving prose never changes it. Source that does not parse is kept whole."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    docstrings: set[int] = set()
    inside_strings: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body and \
                isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and \
                isinstance(body[0].value.value, str):
            docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
        elif isinstance(node, (ast.Constant, ast.JoinedStr)) and node.end_lineno > node.lineno:
            inside_strings.update(range(node.lineno + 1, node.end_lineno + 1))
    kept = []
    in_render_only_cell = False
    for number, line in enumerate(source.splitlines(), start=1):
        if line.startswith("# %%") and number not in inside_strings:
            in_render_only_cell = RENDER_ONLY_TAG in line
        if number in docstrings or in_render_only_cell:
            continue
        bare = line.strip()
        if number not in inside_strings and (not bare or (bare.startswith("#") and not _parameters_marker(bare))):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept)


def _parameters_marker(line: str) -> bool:
    return line.startswith("# %%") and "parameters" in line


# A record's ``fingerprint_of``: "code" hashes every file whole; PROFILE_RULE reads each chapter declaration
# (DECLARATIONS) at the record's profile only.
PROFILE_RULE = "code, declarations at the profile"
DECLARATIONS = "iclbook/chapters/[!_]*.py"
PARAM_CALLS = ("_p", "param")  # profiles.param(name, kind, ci, cpu, gpu, doc, ...)


def declaration_code(source: str, profile: str) -> str:
    """``code_text`` of a chapter's declaration with the values of every profile but ``profile`` blanked: in each
    ``param``/``_p`` call the positional ``ci``, ``cpu`` and ``gpu`` arguments (the third to fifth) other than
    ``profile``'s become ``_``. Source that does not parse is kept whole."""
    if profile not in PROFILES:
        raise ValueError(f"profile: got {profile!r}, allowed: {', '.join(PROFILES)}")
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line.encode()))
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in PARAM_CALLS \
                and len(node.args) >= 5:
            spans += [a for i, a in enumerate(node.args[2:5]) if PROFILES[i] != profile]
    data = source.encode()
    for a in sorted(spans, key=lambda a: (a.lineno, a.col_offset), reverse=True):  # ast offsets count UTF-8 bytes
        start = offsets[a.lineno - 1] + a.col_offset
        end = offsets[a.end_lineno - 1] + a.end_col_offset
        data = data[:start] + b"_" + data[end:]
    return code_text(data.decode())


def file_code(rel: str, data: bytes | None, profile: str | None = None) -> bytes:
    """What the fingerprint hashes of one file: its code (``code_text``) for Python, else its bytes; a chapter
    declaration at ``profile`` only when one is given (``declaration_code``)."""
    if data is None:
        return b"<missing>"
    if profile is not None and fnmatch(rel, DECLARATIONS):
        return declaration_code(data.decode(), profile).encode()
    return code_text(data.decode()).encode() if rel.endswith(".py") else data


def profile_of(meta: dict) -> str | None:
    """The profile a record's (or study's) fingerprint reads declarations at: its profile under ``PROFILE_RULE``,
    else None (every file whole)."""
    return meta.get("profile") if meta.get("fingerprint_of") == PROFILE_RULE else None


def fingerprint(files: list[str], read=None, skip=render_only, profile: str | None = None) -> str:
    """SHA-256 over the files' paths and code (``file_code``; a missing file hashes as missing), leaving out the
    files ``skip`` names (default: the render-only ones). ``read(rel)`` gives a file's bytes or None (default: this
    checkout's files), e.g. to fingerprint an earlier commit; with ``profile`` a chapter declaration counts at that
    profile's values only."""
    root = paths.repo_root()
    if read is None:
        def read(rel: str) -> bytes | None:
            path = root / rel
            return path.read_bytes() if path.exists() else None
    h = hashlib.sha256()
    for rel in sorted(f for f in set(files) if not skip(f)):
        h.update(rel.encode() + b"\0" + file_code(rel, read(rel), profile) + b"\0")
    return h.hexdigest()[:16]
