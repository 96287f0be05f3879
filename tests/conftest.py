"""Shared fixtures and the layout of the suite.

The suite mirrors the packages: ``tests/core`` (the shared layer ``ckd_toolchain/``),
``tests/ckd_train``, ``tests/export``, ``tests/hardware``, ``tests/simulators``. Helpers that build
inputs in real formats live beside this file (``data_fixtures``: event/image trees,
``export_helpers``: tiny students, ``mapping_graphs``: NIR graphs, ``netx_builders``: netx files,
``paths``: repository and shared-fixture paths); pytest puts this folder on ``sys.path`` because
this conftest has no ``__init__.py`` beside it.

Markers: ``slow`` (more than a few seconds), ``lava`` (runs genuine Lava in its own env; executed in
CI, never skipped there). The fast subset is ``pytest -m "not slow and not lava"``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from paths import NETX_FIXTURES, NIR_FIXTURES, REPO


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout under test."""
    return REPO


@pytest.fixture(scope="session")
def netx_fixtures() -> Path:
    """``../shared/fixtures/netx``: netx files (with ground truth) written by lava-dl, not by us."""
    if not NETX_FIXTURES.is_dir():
        pytest.fail(f"shared fixtures missing: {NETX_FIXTURES} (the suite runs beside ../shared)")
    return NETX_FIXTURES


@pytest.fixture(scope="session")
def nir_fixtures() -> Path:
    """``../shared/fixtures/nir``: NIR graphs written by Norse and Rockpool."""
    if not NIR_FIXTURES.is_dir():
        pytest.fail(f"shared fixtures missing: {NIR_FIXTURES} (the suite runs beside ../shared)")
    return NIR_FIXTURES


@pytest.fixture(scope="session")
def lava_env() -> None:
    """Every test marked ``lava`` uses this: a missing Lava env FAILS the test, it is never skipped."""
    from ckd_toolchain.simulators.lava_env import lava_available
    if not lava_available():
        pytest.fail("the genuine Lava env is missing: `make test` builds it (make setup)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("lava") is not None:
            item.fixturenames.insert(0, "lava_env")


@pytest.fixture()
def rng() -> np.random.Generator:
    """A fixed-seed generator, so every test draws the same numbers on every run."""
    return np.random.default_rng(0)


@pytest.fixture()
def demo_files(tmp_path):
    """A small demo-student-like NIR graph ``g.nir`` and 5 spike inputs ``X.npy`` [5, 6, 2, 8, 8] in
    ``tmp_path``: ``(graph, x, tmp_path)`` (the deploy CLI's ``--input`` case)."""
    import nir

    import mapping_graphs as mg

    g = mg.demo_like(seed=3)
    nir.write(tmp_path / "g.nir", g)
    x = mg.spikes((5, 6, 2, 8, 8), seed=7)
    np.save(tmp_path / "X.npy", x)
    return g, x, tmp_path
