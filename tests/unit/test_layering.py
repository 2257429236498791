"""Import contracts import-linter cannot see: operator/ and api/ are namespace folders (no
__init__.py, so `operator` never shadows the standard library), which its graph skips."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imports(folder: str) -> set[str]:
    out: set[str] = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                out |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                out.add(("." * node.level) + mod)
    return out


@pytest.mark.parametrize(("folder", "other"), [("operator", "api"), ("api", "operator")])
def test_api_and_operator_never_import_each_other(folder: str, other: str) -> None:
    bad = {m for m in _imports(folder) if m.startswith((f"kubetask.{other}", f"..{other}"))}
    assert bad == set()


def test_core_never_imports_the_adapters() -> None:
    # kubetask.testing starts the operator and the API as processes for tests: not product core.
    adapters = [ROOT / "kubetask" / d for d in ("operator", "api", "testing")]
    core = [p for p in (ROOT / "kubetask").rglob("*.py") if not any(p.is_relative_to(a) for a in adapters)]
    for path in core:
        src = path.read_text()
        assert "kubetask.operator" not in src and "kubetask.api" not in src, path


@pytest.mark.parametrize("folder", ["kubetask", "operator", "api"])
def test_product_code_never_imports_the_test_helpers(folder: str) -> None:
    testing = ROOT / "kubetask/testing"
    bad = {
        str(p.relative_to(ROOT))
        for p in (ROOT / folder).rglob("*.py")
        if not p.is_relative_to(testing) and "kubetask.testing" in p.read_text()
    }
    assert bad == set()
