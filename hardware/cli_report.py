"""`ckd-report` console script: put deployment reports (``report.json``, schema ``ckd-report/1``)
side by side as ``DIR/comparison.md`` (a Markdown table) and ``DIR/comparison.png`` (bar plot).

    ckd-report runs/a/report.json runs/b/report.json ... --out DIR [--labels a,b,...]

A missing file, malformed JSON or a report of the wrong schema is one line on stderr naming the
file, exit status 2. On success the path of ``comparison.md`` is printed.
"""
from __future__ import annotations

from ckd_toolchain.errors import OneLineArgumentParser, cli_entry


def build_parser() -> OneLineArgumentParser:
    p = OneLineArgumentParser(prog="ckd-report", description="put deployment reports side by side")
    p.add_argument("reports", nargs="+", help="report.json files (or directories holding one)")
    p.add_argument("--out", required=True, help="output directory for comparison.md and comparison.png")
    p.add_argument("--labels", default=None, help="comma-separated labels, one per report")
    return p


@cli_entry("ckd-report")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ckd_toolchain.hardware.report.compare import compare_reports

    from ckd_toolchain.atomic_io import check_output_dir

    check_output_dir(args.out)
    labels = None if args.labels is None else [s.strip() for s in args.labels.split(",")]
    path = compare_reports(args.reports, args.out, labels)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
