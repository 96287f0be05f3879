"""Install smoke test: every console script is installed, has a real --help, and rejects an
unknown option with exactly one line on stderr and exit status 2."""
import subprocess
import sys
from pathlib import Path

import pytest

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
