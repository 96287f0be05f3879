"""`ckd-data` console script: make the embedded N-Digits dataset, inspect paired RGB/DVS datasets"""
from __future__ import annotations

from ckd_train.errors import OneLineArgumentParser, cli_entry, fail


def build_parser() -> OneLineArgumentParser:
    return OneLineArgumentParser(prog="ckd-data", description="make the embedded N-Digits dataset, inspect paired RGB/DVS datasets")


@cli_entry("ckd-data")
def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    fail("ckd-data", "this stage is not implemented yet (see the open issue for it)")
