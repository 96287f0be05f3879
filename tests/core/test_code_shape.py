"""Code shape, checked on the source with ``ast``: no function or method of the stage packages is
longer than 120 lines (``def`` to its last line), and the training package never imports the
later stages (hardware, export, simulators), not even inside a function. Budget: < 5 s."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from paths import REPO

ROOT = REPO
STAGES = {"ckd_train": "ckd_toolchain.ckd_train", "export": "ckd_toolchain.export",
          "hardware": "ckd_toolchain.hardware", "simulators": "ckd_toolchain.simulators"}
MAX_FUNCTION_LINES = 120
LATER_STAGES = ("ckd_toolchain.hardware", "ckd_toolchain.export", "ckd_toolchain.simulators")
TOLERATED: set = set()    # (module path, imported name) pairs allowed despite the rule: none


def _modules(folder: str):
    for path in sorted((ROOT / folder).rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf8"), filename=str(path))


def _package_of(path: Path, folder: str) -> str:
    """The dotted package a module of ``folder`` lives in (for relative imports)."""
    parts = path.relative_to(ROOT / folder).parent.parts
    return ".".join([STAGES[folder], *parts])


def _imported(node: ast.AST, package: str) -> list[str]:
    """Absolute names of the modules an import statement imports."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            pkg = package.split(".")
            anchor = ".".join(pkg[:len(pkg) - node.level + 1])
            base = f"{anchor}.{base}" if base else anchor
        return [base] + [f"{base}.{a.name}" for a in node.names]
    return []


@pytest.mark.parametrize("folder", sorted(STAGES))
def test_no_function_over_120_lines(folder):
    long = []
    for path, tree in _modules(folder):
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, "functions over 120 lines: " + "; ".join(long)


def test_training_package_imports_no_later_stage():
    bad = []
    for path, tree in _modules("ckd_train"):
        package = _package_of(path, "ckd_train")
        for node in ast.walk(tree):
            for name in _imported(node, package):
                if any((path.relative_to(ROOT).as_posix(), m) in TOLERATED for m in (name, name.rpartition(".")[0])):
                    continue
                if any(name == s or name.startswith(s + ".") for s in LATER_STAGES):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not bad, "; ".join(bad)


def test_the_checks_see_what_they_check():
    tree = ast.parse("def f():\n    from ...hardware import x\n    import ckd_toolchain.export.cli_export\n")
    names = [n for node in ast.walk(tree) for n in _imported(node, "ckd_toolchain.ckd_train.engine")]
    assert "ckd_toolchain.hardware" in names and "ckd_toolchain.export.cli_export" in names
    assert sum(1 for _ in _modules("ckd_train")) > 10
