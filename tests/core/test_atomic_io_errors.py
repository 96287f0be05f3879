"""Shared contracts: atomic artifact writes and one-line user errors."""
import os

import pytest

from ckd_toolchain.atomic_io import atomic_path, write_json
from ckd_toolchain.errors import InputError, cli_entry


def test_failed_write_leaves_previous_file_and_no_temp(tmp_path):
    target = tmp_path / "report.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("{half")
            raise RuntimeError("crash mid-write")
    assert target.read_text().strip().startswith("{") and '"a": 1' in target.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_atomic_file_gets_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        p = write_json(tmp_path / "x.json", [1])
    finally:
        os.umask(old)
    assert (p.stat().st_mode & 0o777) == 0o644


def test_input_error_is_one_line_and_cli_exits_2(capsys):
    @cli_entry("ckd-x")
    def main(argv=None):
        raise InputError("/d/model.pt", "not a checkpoint:\n truncated")

    with pytest.raises(SystemExit) as ex:
        main([])
    assert ex.value.code == 2
    err = capsys.readouterr().err
    assert err == "ckd-x: error: /d/model.pt: not a checkpoint: truncated\n"
