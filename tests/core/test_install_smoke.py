"""Install smoke test: every console script is installed, has a real --help, and rejects an
unknown option with exactly one line on stderr and exit status 2."""
import subprocess
import sys
from pathlib import Path

import pytest
from paths import REPO

SCRIPTS = ["ckd-data", "ckd-train", "ckd-export", "ckd-deploy", "ckd-report"]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_exits_zero(script):
    exe = BIN / script
    assert exe.exists(), f"{script} is not installed in {BIN} (run make setup)"
    res = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"usage: {script}")
    assert len(res.stdout.splitlines()) > 3  # a description and options, not just a usage line


@pytest.mark.parametrize("script", SCRIPTS)
def test_unknown_option_is_one_line_exit_2(script):
    res = subprocess.run([str(BIN / script), "--no-such-option"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"{script}: error:") and "--no-such-option" in lines[0]


def test_every_package_is_listed_in_pyproject():
    """An install maps the card's folders under ``ckd_toolchain`` through an explicit package
    list; a new sub-package missing from it would be left out of a wheel silently."""
    import tomllib
    repo = REPO
    cfg = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    dirs = {"ckd_toolchain": "ckd_toolchain", "ckd_toolchain.ckd_train": "ckd_train",
            "ckd_toolchain.export": "export", "ckd_toolchain.hardware": "hardware",
            "ckd_toolchain.simulators": "simulators"}
    assert cfg["package-dir"] == dirs
    found = {"ckd_toolchain"}
    for init in (repo / "ckd_toolchain").rglob("__init__.py"):   # sub-packages of the shared layer
        found.add(".".join(init.parent.relative_to(repo).parts))
    for stage in ("ckd_train", "export", "hardware", "simulators"):
        for init in (repo / stage).rglob("__init__.py"):
            rel = init.parent.relative_to(repo).parts
            found.add(".".join(("ckd_toolchain",) + rel))
    for init in (repo / "ckd_toolchain").rglob("__init__.py"):   # sub-packages of the shared layer
        found.add(".".join(init.parent.relative_to(repo).parts))
    assert found == listed


def test_import_names_cannot_collide_with_pypi_export_hardware_simulators():
    """The stages import as ``ckd_toolchain.<stage>``: nothing of ours is importable as a bare
    top-level ``export``/``hardware``/``simulators`` from an isolated interpreter (-I)."""
    code = ("import importlib.util as u, ckd_toolchain.hardware as h; "
            "print(h.__name__, [n for n in ('export', 'hardware', 'simulators') if u.find_spec(n)])")
    res = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                         timeout=120, cwd="/")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[0] == "ckd_toolchain.hardware"
    assert "[]" in res.stdout, res.stdout
