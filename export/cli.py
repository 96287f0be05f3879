"""`ckd-export` console script: export a trained student to NIR (and ONNX for the GPU reference)"""
from __future__ import annotations

from ckd_train.errors import OneLineArgumentParser, cli_entry, fail


def build_parser() -> OneLineArgumentParser:
    return OneLineArgumentParser(prog="ckd-export", description="export a trained student to NIR (and ONNX for the GPU reference)")


@cli_entry("ckd-export")
def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    fail("ckd-export", "this stage is not implemented yet (see the open issue for it)")
