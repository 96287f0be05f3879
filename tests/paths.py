"""Paths the tests share (module constants, so ``pytest.mark.parametrize`` can use them at collection).

``SHARED_FIXTURES`` are files made by other projects (lava-dl netx networks with ground truth, NIR
graphs by Norse/Rockpool): ``../shared/fixtures`` beside the checkout, see its README.
"""
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"
NETX_FIXTURES = SHARED_FIXTURES / "netx"
NIR_FIXTURES = SHARED_FIXTURES / "nir"
