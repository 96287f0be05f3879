"""`ckd-data` console script: make the embedded N-Digits dataset, inspect paired RGB/DVS datasets.

    ckd-data synth [--out DIR] [--size 48] [--seed 0] [--limit-per-class N] [--workers 2] [--force]
    ckd-data show  [--data n-digits|ncaltech101|cepdvs] [--root DIR] [--out runs/data-show] [--T 8] ...
    ckd-data stats [--data ...] [--root DIR] [--skip-bad]

Bad input (a truncated or corrupt .bin/.mat/image, a class on one side only, an empty root)
is one line ``ckd-data: error: <path>: <problem>`` and exit status 2; with ``--skip-bad`` a bad
file is a warning, and the count of skipped files is printed at the end.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ckd_toolchain.errors import OneLineArgumentParser, cli_entry
from ckd_toolchain.ckd_train.data.config import BIN_MODES


def _positive_int(text: str) -> int:
    import argparse

    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _add_data_args(p) -> None:
    from ckd_toolchain.ckd_train.data.config import DATASET_NAMES, FRAME_ENCODINGS

    p.add_argument("--data", default="n-digits", choices=DATASET_NAMES, help="dataset name (default n-digits)")
    p.add_argument("--root", default=None, help="dataset folder (default $CKD_DATA_DIR/<data> or <repo>/data/<data>)")
    p.add_argument("--rgb-root", default=None, help="separate folder holding 101_ObjectCategories/ (default: --root)")
    p.add_argument("--T", type=_positive_int, default=8, help="time bins per DVS sample (default 8)")
    p.add_argument("--size", type=_positive_int, default=48, help="frame/image size (default 48)")
    p.add_argument("--bins", default="count", choices=BIN_MODES, help="equal event-count or equal-time bins; tonic-time/tonic-count: exactly tonic's ToFrame(n_time_bins/n_event_bins)")
    p.add_argument("--encoding", default="binary", choices=FRAME_ENCODINGS, help="frame encoding (default binary)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", default=None, help="frame cache folder (default <root>/.frames-cache)")
    p.add_argument("--skip-bad", action="store_true", help="skip corrupt files with a warning and a count")


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(prog="ckd-data", description="make the embedded N-Digits dataset, inspect paired RGB/DVS datasets")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineArgumentParser)

    s = sub.add_parser("synth", help="write the embedded N-Digits dataset (emulated N-Caltech101 recording of sklearn digits)")
    s.add_argument("--out", default=None, help="output folder (default $CKD_DATA_DIR/n-digits or <repo>/data/n-digits)")
    s.add_argument("--size", type=_positive_int, default=48, help="image size in pixels (default 48)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--limit-per-class", type=_positive_int, default=None, help="only the first N digits of every class")
    s.add_argument("--workers", type=_positive_int, default=min(2, os.cpu_count() or 1))
    s.add_argument("--contrast", type=float, default=0.25, help="mean log-intensity contrast threshold (default 0.25)")
    s.add_argument("--noise-hz", type=float, default=0.2, help="background noise events per pixel per second (default 0.2)")
    s.add_argument("--mismatch", type=float, default=0.05, help="per-pixel threshold std, relative to --contrast (default 0.05)")
    s.add_argument("--refractory-us", type=int, default=1000, help="pixel refractory period in µs (default 1000)")
    s.add_argument("--saccade-px", type=float, default=4.0, help="saccade triangle size in pixels (default 4)")
    s.add_argument("--force", action="store_true", help="rewrite even when the output is complete with the same parameters")

    sh = sub.add_parser("show", help="write PNG grids (RGB, V channel, DVS frames over time) per class")
    _add_data_args(sh)
    sh.add_argument("--out", default="runs/data-show", help="output folder (default runs/data-show)")
    sh.add_argument("--per-class", type=_positive_int, default=3, help="rows (test samples) per class PNG (default 3)")

    st = sub.add_parser("stats", help="print classes, split sizes, events per sample and the ON/OFF ratio")
    _add_data_args(st)
    return parser


def _config(args):
    from ckd_toolchain.ckd_train.data.config import DataConfig

    return DataConfig(name=args.data, root=args.root, rgb_root=args.rgb_root, T=args.T, size=args.size, bins=args.bins,
                      frame_encoding=args.encoding, seed=args.seed, cache_dir=args.cache_dir, skip_bad=args.skip_bad)


def _synth(args) -> int:
    from ckd_toolchain.ckd_train.data.config import default_data_root
    from ckd_toolchain.ckd_train.data.ndigits_synth import SynthParams, format_summary, synthesize

    if not (0.0 < args.contrast < 5.0):
        from ckd_toolchain.errors import InputError

        raise InputError(None, f"--contrast must be in (0, 5), got {args.contrast}")
    for flag, value, ok in (("--noise-hz", args.noise_hz, args.noise_hz >= 0), ("--mismatch", args.mismatch, 0 <= args.mismatch < 1),
                            ("--refractory-us", args.refractory_us, args.refractory_us >= 0),
                            ("--saccade-px", args.saccade_px, 0 < args.saccade_px <= 32)):
        if not ok:
            from ckd_toolchain.errors import InputError

            raise InputError(None, f"{flag}: value {value} out of range")
    out = Path(args.out) if args.out else default_data_root() / "n-digits"
    p = SynthParams(size=args.size, seed=args.seed, limit_per_class=args.limit_per_class, contrast=args.contrast,
                    noise_hz=args.noise_hz, mismatch=args.mismatch, refractory_us=args.refractory_us,
                    saccade_px=args.saccade_px)
    if p.sensor > 240:
        from ckd_toolchain.errors import InputError

        raise InputError(None, f"--size {p.size}: the emulated sensor ({p.sensor} px) must fit the N-Caltech101 "
                               "format's y < 240; use a smaller --size or --saccade-px")
    from ckd_toolchain.atomic_io import check_output_dir

    check_output_dir(out)  # before any work: the workers would otherwise fail one by one
    meta = synthesize(out, p, workers=args.workers, force=args.force)
    print(f"N-Digits at {out}: " + format_summary(meta["stats"]))
    return 0


def _report_skipped(data) -> None:
    if data.skipped:
        print(f"ckd-data: skipped {len(data.skipped)} bad file(s)", file=sys.stderr)


def _show(args) -> int:
    from ckd_toolchain.ckd_train.data.datasets import build_datasets
    from ckd_toolchain.ckd_train.data.show import show
    from ckd_toolchain.atomic_io import check_output_dir

    check_output_dir(args.out)
    data = build_datasets(_config(args))
    paths = show(data, args.out, per_class=args.per_class)
    print(f"wrote {len(paths)} PNG(s) to {args.out}; overview: {paths[0] if paths else 'none'}")
    _report_skipped(data)
    return 0


def _stats(args) -> int:
    import numpy as np

    from ckd_toolchain.ckd_train.data.datasets import build_datasets
    from ckd_toolchain.ckd_train.data.ndigits_synth import format_summary, summarize
    from ckd_toolchain.ckd_train.data.sources import discover

    from tqdm import tqdm

    cfg = _config(args)
    held: list[str] = []

    def log(msg: str) -> None:  # hold back the latest line: build_datasets ends with the split summary,
        for m in held:          # which is this command's result and is printed once, on stdout, below
            print(m, file=sys.stderr, flush=True)
        held[:] = [msg]

    data = build_datasets(cfg, log=log)
    for m in held:
        if m != data.summary():
            print(m, file=sys.stderr)
    source = discover(cfg)
    bad = {s.split(": ", 1)[0] for s in data.skipped}
    files = [f for c in data.classes for f in source.dvs_files[c] if str(f) not in bad]
    stats = []
    for f in tqdm(files, desc="count events", unit="file", file=sys.stderr, disable=None, leave=False):
        ev, _, _ = source.read_events(f)
        stats.append({"events": int(ev.size), "on": int(np.sum(ev["p"]))})
    print(data.summary())
    print("events: " + format_summary(summarize(stats)))
    _report_skipped(data)
    return 0


@cli_entry("ckd-data")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return {"synth": _synth, "show": _show, "stats": _stats}[args.command](args)
