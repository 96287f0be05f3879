"""Each clone runs its own code (issue 16, finding 2) and the project declares its dependencies (3).

Two throwaway copies of this checkout get their thin ``.venv`` from ``tools/setup_envs.sh`` on top
of the heavy env this suite runs in (``CKD_MAIN_ENV``: nothing is built or installed into it, which
the test checks); clone B's ``ckd-report`` is edited, and each clone's console script must run its
own code, also after the other clone is deleted.
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from paths import REPO


def _heavy_env() -> Path:
    import torch

    env = Path(torch.__file__).resolve().parents[4]   # <env>/lib/pythonX.Y/site-packages/torch/__init__.py
    if not (env / ".complete").is_file():
        pytest.skip(f"torch does not come from a heavy env built by tools/setup_envs.sh ({env})")
    return env


def _copy_checkout(dst: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True,
                           capture_output=True, text=True).stdout.split("\n")
    for rel in filter(None, files):
        src = REPO / rel
        if rel.startswith((".venv", ".lava-venv")) or not src.is_file():
            continue
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        (dst / rel).write_bytes(src.read_bytes())
    return dst


def _snapshot(env: Path) -> dict[str, float]:
    """Names and mtimes of the heavy env's site-packages entries and scripts."""
    site = next((env / "lib").glob("python3.*/site-packages"))
    return {str(p): p.lstat().st_mtime for d in (site, env / "bin") for p in d.iterdir()}


def _setup(clone: Path, heavy: Path, cache: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(CKD_MAIN_ENV=str(heavy), CKD_SKIP_LAVA="1", CKD_CACHE_DIR=str(cache))
    return subprocess.run(["bash", "tools/setup_envs.sh"], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=120)


def _run(exe: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(exe), *args], cwd="/", env=env, capture_output=True, text=True, timeout=120)


def test_two_clones_each_run_their_own_code(tmp_path):
    heavy = _heavy_env()
    before = _snapshot(heavy)
    a = _copy_checkout(tmp_path / "a")
    b = _copy_checkout(tmp_path / "b")
    cli = b / "hardware" / "cli_report.py"
    cli.write_text(cli.read_text().replace("put deployment reports side by side", "CLONE-B-REPORT"))
    for clone in (a, b):
        t0 = time.time()
        res = _setup(clone, heavy, tmp_path / "cache")
        assert res.returncode == 0, res.stderr
        assert time.time() - t0 < 30, "a clone's setup on a cached heavy env must take seconds"
        assert (clone / ".venv").is_dir() and not (clone / ".venv").is_symlink()
    assert "CLONE-B-REPORT" not in _run(a / ".venv/bin/ckd-report", "--help").stdout
    assert "CLONE-B-REPORT" in _run(b / ".venv/bin/ckd-report", "--help").stdout
    code = "import ckd_toolchain.hardware as h, importlib.metadata as m; print(h.__file__); print(m.version('ckd-toolchain'))"
    for clone in (a, b):
        out = _run(clone / ".venv/bin/python", "-c", code)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split()[0] == str(clone / "hardware" / "__init__.py")
    assert _run(b / ".venv/bin/pytest", "--version").returncode == 0   # the heavy env's tools, re-pointed
    # a second setup is a no-op, and deleting clone A does not break clone B
    again = _setup(a, heavy, tmp_path / "cache")
    assert again.returncode == 0 and "on top of" not in again.stdout
    import shutil

    shutil.rmtree(a)
    assert "CLONE-B-REPORT" in _run(b / ".venv/bin/ckd-report", "--help").stdout
    assert _snapshot(heavy) == before, "setup must not install anything into the shared heavy env"
    assert not list((tmp_path / "cache").glob("main-*")), "CKD_MAIN_ENV given: nothing is built in the cache"


def test_old_symlinked_venv_is_unlinked_not_followed(tmp_path):
    heavy = _heavy_env()
    clone = _copy_checkout(tmp_path / "c")
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    (decoy / "keep.txt").write_text("x")
    (clone / ".venv").symlink_to(decoy)
    res = _setup(clone, heavy, tmp_path / "cache")
    assert res.returncode == 0, res.stderr
    assert (decoy / "keep.txt").is_file() and not (clone / ".venv").is_symlink()


def test_pyproject_dependencies_are_requirements_main():
    """``pip install .`` pulls the pinned stack: the dependencies ARE requirements/main.txt."""
    from setuptools.config.pyprojecttoml import read_configuration

    deps = read_configuration(REPO / "pyproject.toml", expand=True)["project"]["dependencies"]
    pins = [ln.strip() for ln in (REPO / "requirements" / "main.txt").read_text().splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]
    assert deps == pins and "torch==2.13.0" in deps and "numpy==2.4.6" in deps
