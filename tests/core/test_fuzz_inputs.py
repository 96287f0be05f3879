"""Bounded, seeded fuzz suite (issue 16): corrupt ``.pt``, ``.nir``, ``.net``, ``.bin``, PNG and YAML
files fed to ``ckd-export``, ``ckd-deploy``, ``ckd-data stats`` and ``ckd-train`` in-process.

Every variant must exit 0 or exit 2 with one error line naming the file, no traceback and no
partial output (the contract of :mod:`ckd_toolchain.errors`; harness and counts:
``tests/fuzz_harness.py``, ``COUNTS``: 380 variants, about a minute on 2 cores).
"""
from __future__ import annotations

import pytest

import fuzz_harness as fh

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    return fh.build_seeds(tmp_path_factory.mktemp("fuzz") / "seeds")


@pytest.mark.parametrize("name", list(fh.COUNTS))
def test_corrupt_files_exit_0_or_one_line(name, seeds, tmp_path):
    target = next(t for t in fh.targets(seeds) if t.name == name)
    table = fh.fuzz_target(target, tmp_path, fh.COUNTS[name])
    print(fh.HEADER + "\n" + table.row(name))
    assert table.cases == fh.COUNTS[name]
    assert table.failures == 0, "\n".join(table.examples[:10])


def test_mutations_are_seeded_and_change_the_bytes():
    import random

    data = bytes(range(256)) * 4
    for kind in fh.MUTATIONS:
        a = fh.mutate(data, kind, random.Random(1))
        b = fh.mutate(data, kind, random.Random(1))
        assert a == b and a != data, kind


def test_judge_counts_an_escaped_exception_and_a_two_line_error(tmp_path):
    table = fh.Table()
    case = tmp_path / "x.bin"
    fh.judge(fh.Outcome(None, "", "Traceback\nKeyError: 1"), case, tmp_path / "out", [], table, "a", False)
    fh.judge(fh.Outcome(2, "p: error: x.bin: bad\np: error: again\n"), case, tmp_path / "out", [], table, "b", False)
    fh.judge(fh.Outcome(2, "p: error: other.bin: bad\n"), case, tmp_path / "out", [], table, "c", False)
    fh.judge(fh.Outcome(2, "note\np: error: x.bin: bad\n"), case, tmp_path / "out", [], table, "d", False)
    assert (table.tracebacks, table.bad_errors, table.one_line) == (1, 2, 1)
