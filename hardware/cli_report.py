"""`ckd-report` console script: put deployment reports side by side"""
from __future__ import annotations

from ckd_train.errors import OneLineArgumentParser, cli_entry, fail


def build_parser() -> OneLineArgumentParser:
    return OneLineArgumentParser(prog="ckd-report", description="put deployment reports side by side")


@cli_entry("ckd-report")
def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    fail("ckd-report", "this stage is not implemented yet (see the open issue for it)")
