"""Locating and calling the separate genuine-Lava runtime environment.

lava-nc 0.10 / lava-dl 0.6 need Python 3.10, numpy<2 and torch 2.3, so they cannot share the
main environment. The toolchain never imports lava; it runs a worker script with the Lava env's
interpreter in a subprocess, always with a timeout, because Lava hangs without an error when one of
its process models raises.

Where the interpreter is looked up, in order:

1. ``$CKD_LAVA_PYTHON`` (path to a python executable with lava-dl installed);
2. ``<repo>/.lava-venv/bin/python`` (made by ``make setup``);
3. ``${CKD_CACHE_DIR:-~/.cache/ckd-toolchain}/lava-current/bin/python`` (also made by ``make setup``).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Sequence

from ckd_toolchain.errors import InputError

REPO_ROOT = Path(__file__).resolve().parents[1]
PROGRESS_PREFIX = "lava_worker: "
HOW_TO_CREATE = (
    "the genuine Lava env is missing: run `make setup` (builds it with Python 3.10 and "
    "lava-dl==0.6.0) or point CKD_LAVA_PYTHON at a python that has lava-dl 0.6 installed"
)


class LavaEnvMissing(InputError):
    """The Lava runtime environment cannot be found."""

    def __init__(self, detail: str = ""):
        super().__init__(None, HOW_TO_CREATE + (f" ({detail})" if detail else ""))


class LavaRunFailed(InputError):
    """The Lava worker exited with an error or ran past its timeout."""


def candidate_pythons() -> list[Path]:
    cands: list[Path] = []
    if os.environ.get("CKD_LAVA_PYTHON"):
        cands.append(Path(os.environ["CKD_LAVA_PYTHON"]))
    cands.append(REPO_ROOT / ".lava-venv" / "bin" / "python")
    cache = Path(os.environ.get("CKD_CACHE_DIR", Path.home() / ".cache" / "ckd-toolchain"))
    cands.append(cache / "lava-current" / "bin" / "python")
    return cands


def lava_python() -> Path:
    """Return the Lava env's interpreter or raise :class:`LavaEnvMissing` (one line)."""
    env_value = os.environ.get("CKD_LAVA_PYTHON")
    for cand in candidate_pythons():
        if cand.exists():
            return cand
        if env_value and cand == Path(env_value):
            raise LavaEnvMissing(f"CKD_LAVA_PYTHON={env_value} does not exist")
    raise LavaEnvMissing()


def lava_available() -> bool:
    try:
        lava_python()
    except LavaEnvMissing:
        return False
    return True


def stderr_progress(prefix: str = "genuine Lava") -> Callable[[str], None]:
    """A progress callback printing ``<prefix>: <line> (<elapsed> s)`` to stderr (one line per call)."""
    start = time.monotonic()

    def show(line: str) -> None:
        print(f"{prefix}: {line} ({time.monotonic() - start:.0f} s)", file=sys.stderr, flush=True)
    return show


def run_in_lava_env(args: Sequence[str], timeout: float, cwd: str | os.PathLike | None = None,
                    progress: Callable[[str], None] | None = None) -> str:
    """Run ``<lava python> args...`` with a timeout; return stdout.

    The child runs in its own process group so a timeout kills Lava's runtime processes too.
    Raises :class:`LavaRunFailed` with the last line of stderr on failure or timeout. Stdout is
    read while the child runs: each line starting with ``PROGRESS_PREFIX`` (the worker prints
    ``lava_worker: sample b/B done``) is passed, without the prefix, to ``progress``.
    """
    py = lava_python()
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.setdefault("OMP_NUM_THREADS", "1")
    proc = subprocess.Popen(
        [str(py), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=cwd, env=env, start_new_session=True,
    )
    out_lines: list[str] = []
    err_text: list[str] = []

    def pump_out() -> None:
        for line in proc.stdout:
            out_lines.append(line)
            if progress is not None and line.startswith(PROGRESS_PREFIX):
                progress(line[len(PROGRESS_PREFIX):].strip())

    readers = [threading.Thread(target=pump_out, daemon=True),
               threading.Thread(target=lambda: err_text.append(proc.stderr.read()), daemon=True)]
    for r in readers:
        r.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise LavaRunFailed(None, f"genuine Lava did not finish within {timeout:.0f} s "
                                  "(Lava hangs when a process model raises; it was killed)")
    finally:
        for r in readers:
            r.join(timeout=10)
    out, err = "".join(out_lines), "".join(err_text)
    if proc.returncode != 0:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        raise LavaRunFailed(None, f"genuine Lava run failed: {last}")
    return out
