"""Random bytes are not events, an empty class folder is named (issue 16, finding 6)."""
from __future__ import annotations

import numpy as np
import pytest

from ckd_toolchain.ckd_train.cli_data import main
from ckd_toolchain.ckd_train.data.atis_format import read_atis_bin, write_atis_bin
from ckd_toolchain.errors import InputError
from data_fixtures import make_ncaltech_tree


def test_random_bytes_are_not_an_event_file(tmp_path):
    rng = np.random.default_rng(0)
    f = tmp_path / "r.bin"
    for seed in range(20):
        f.write_bytes(np.random.default_rng(seed).bytes(5000))
        with pytest.raises(InputError, match="not an N-Caltech101 event file") as exc:
            read_atis_bin(f)
        assert str(f) in str(exc.value)
    t = np.sort(rng.integers(0, 300_000, 500))
    write_atis_bin(f, rng.integers(0, 240, 500), rng.integers(0, 180, 500), t, rng.integers(0, 2, 500))
    assert read_atis_bin(f)["t"].tolist() == t.tolist()          # a recording still reads


def test_backwards_timestamps_and_impossible_y_are_named(tmp_path):
    f = tmp_path / "b.bin"
    write_atis_bin(f, [1, 2, 3], [1, 2, 3], [10, 30, 20], [0, 1, 0])
    with pytest.raises(InputError, match="timestamps run backwards at event 2"):
        read_atis_bin(f)
    raw = bytearray(f.read_bytes())
    raw[1 + 5] = 250                                              # y byte of event 2
    f.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="y byte is above 240"):
        read_atis_bin(f)


def test_empty_class_folder_is_a_named_error(tmp_path, capsys):
    root = make_ncaltech_tree(tmp_path / "d", ["a", "b"], 3)
    (root / "Caltech101" / "c").mkdir()
    with pytest.raises(SystemExit) as exc:
        main(["stats", "--data", "ncaltech101", "--root", str(root), "--T", "2"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(root / "Caltech101" / "c") in err[0] and "holds no .bin files" in err[0]
