"""The library's layers run one way: tasks and models import neither the trainer, the store nor the experiments,
and models do not import task samplers (what needs both lives in ``iclbook/experiments/``)."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "iclbook"


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module a file imports (relative imports resolved against its package)."""
    package = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            mod = ".".join(p for p in (base, node.module or "") if p)
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


FORBIDDEN = {
    "tasks": ("iclbook.train", "iclbook.store", "iclbook.experiments", "iclbook.models"),
    "models": ("iclbook.train", "iclbook.store", "iclbook.experiments", "iclbook.tasks"),
}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_one_way(layer):
    bad = {}
    for path in sorted((ROOT / layer).glob("*.py")):
        hits = sorted(m for m in imported_modules(path) if m.startswith(FORBIDDEN[layer]))
        if hits:
            bad[path.name] = hits
    assert not bad, f"iclbook/{layer} imports a higher layer: {bad}"


def test_the_import_scanner_sees_relative_and_lazy_imports(tmp_path):
    mods = imported_modules(ROOT / "experiments" / "multi_concept.py")
    assert "iclbook.train" in mods and "iclbook.models.concept" in mods
