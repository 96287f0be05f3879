"""Code shape, checked on the source with ``ast``: no function or method of the stage packages is
longer than 120 lines (``def`` to its last line), and every package imports only the layers below
it (ARCHITECTURE.md), not even inside a function::

    ckd_toolchain (shared layer: errors, atomic_io, subsets, nir_graph, nir_metadata, geometry, loihi2, netx)
       ^-- simulators      ^-- ckd_train
               ^---- export ----^
                        ^-- hardware

Also: the Loihi 2 decay unit 4096 is spelled in one module only. Budget: < 5 s."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from paths import REPO

ROOT = REPO
STAGES = {"ckd_train": "ckd_toolchain.ckd_train", "export": "ckd_toolchain.export",
          "hardware": "ckd_toolchain.hardware", "simulators": "ckd_toolchain.simulators",
          "ckd_toolchain": "ckd_toolchain"}
# What each folder may import of ours besides the shared layer (the arrows of ARCHITECTURE.md).
ALLOWED = {"ckd_toolchain": (), "simulators": ("simulators",), "ckd_train": ("ckd_train",),
           "export": ("export", "ckd_train", "simulators"),
           "hardware": ("hardware", "export", "ckd_train", "simulators")}
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


@pytest.mark.parametrize("folder", sorted(set(STAGES) - {"ckd_toolchain"}))
def test_no_function_over_120_lines(folder):
    long = []
    for path, tree in _modules(folder):
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, "functions over 120 lines: " + "; ".join(long)


def _stage_of(name: str) -> str | None:
    """The folder an absolute ``ckd_toolchain...`` module name belongs to (None: not ours)."""
    parts = name.split(".")
    if parts[0] != "ckd_toolchain":
        return None
    if len(parts) > 1 and parts[1] in ALLOWED and parts[1] != "ckd_toolchain":
        return parts[1]
    return "ckd_toolchain"


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_imports_point_down_only(folder):
    bad = []
    for path, tree in _modules(folder):
        if folder == "ckd_toolchain" and path.parent == ROOT / "ckd_toolchain" and path.name == "__init__.py":
            continue
        package = _package_of(path, folder)
        for node in ast.walk(tree):
            for name in _imported(node, package):
                if any((path.relative_to(ROOT).as_posix(), m) in TOLERATED for m in (name, name.rpartition(".")[0])):
                    continue
                stage = _stage_of(name)
                if stage is None or stage == "ckd_toolchain" and folder != "ckd_toolchain":
                    continue
                if folder == "ckd_toolchain" and stage != "ckd_toolchain" or \
                        folder != "ckd_toolchain" and stage not in ALLOWED[folder]:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not bad, "; ".join(bad)


def test_training_package_imports_no_later_stage():
    bad = []
    for path, tree in _modules("ckd_train"):
        package = _package_of(path, "ckd_train")
        for node in ast.walk(tree):
            for name in _imported(node, package):
                if any(name == s or name.startswith(s + ".") for s in LATER_STAGES):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not bad, "; ".join(bad)


def test_decay_unit_4096_spelled_in_one_module():
    """The 12-bit decay unit is ``ckd_toolchain.loihi2.constants.DECAY_UNITY`` everywhere: no other
    module has the number as a literal, and the text ``4096`` (docstrings too) is in one module."""
    literal, text = set(), set()
    for folder in STAGES:
        for path, tree in _modules(folder):
            rel = path.relative_to(ROOT).as_posix()
            if any(isinstance(n, ast.Constant) and type(n.value) is int and n.value == 4096
                   for n in ast.walk(tree)):
                literal.add(rel)
            if re.search(r"\b4096\b", path.read_text(encoding="utf8")):
                text.add(rel)
    assert literal <= {"ckd_toolchain/loihi2/constants.py"}, literal
    assert len(text) <= 1, text


def test_the_checks_see_what_they_check():
    tree = ast.parse("def f():\n    from ...hardware import x\n    import ckd_toolchain.export.cli_export\n")
    names = [n for node in ast.walk(tree) for n in _imported(node, "ckd_toolchain.ckd_train.engine")]
    assert "ckd_toolchain.hardware" in names and "ckd_toolchain.export.cli_export" in names
    assert sum(1 for _ in _modules("ckd_train")) > 10
    assert _stage_of("ckd_toolchain.hardware.deploy.pipeline") == "hardware"
    assert _stage_of("ckd_toolchain.loihi2.constants") == "ckd_toolchain"
    assert _stage_of("numpy") is None
