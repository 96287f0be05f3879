"""`ckd-train` console script: train the ANN teacher and the SNN student (dvs-only, transfer, ckd)"""
from __future__ import annotations

from ckd_train.errors import OneLineArgumentParser, cli_entry, fail


def build_parser() -> OneLineArgumentParser:
    return OneLineArgumentParser(prog="ckd-train", description="train the ANN teacher and the SNN student (dvs-only, transfer, ckd)")


@cli_entry("ckd-train")
def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    fail("ckd-train", "this stage is not implemented yet (see the open issue for it)")
