"""`ckd-deploy` console script: map a NIR graph to Loihi 2 (lava-dl netx) and run it on a simulator"""
from __future__ import annotations

from ckd_train.errors import OneLineArgumentParser, cli_entry, fail


def build_parser() -> OneLineArgumentParser:
    return OneLineArgumentParser(prog="ckd-deploy", description="map a NIR graph to Loihi 2 (lava-dl netx) and run it on a simulator")


@cli_entry("ckd-deploy")
def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    fail("ckd-deploy", "this stage is not implemented yet (see the open issue for it)")
