"""Layering rules checked on the source: only the TUI imports textual; nothing runs code from data."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "screener"
MODULES = sorted(PACKAGE.rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_tui_package_imports_textual(path: Path) -> None:
    if PACKAGE / "tui" in path.parents:
        return
    assert "textual" not in _imports(path)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_evaluates_code_or_loads_yaml_unsafely(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = ""
            if isinstance(func, ast.Name):
                name = func.id
            elif isinstance(func, ast.Attribute):
                name = func.attr
            assert name not in {"eval", "exec", "unsafe_load", "full_load"}, f"{path}:{node.lineno}"
            if isinstance(func, ast.Attribute) and name == "load" and getattr(func.value, "id", "") == "yaml":
                pytest.fail(f"{path}:{node.lineno}: yaml.load; use screener.yamlio (safe loader)")
