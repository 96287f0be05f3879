"""Command-line pieces for running a netx ``.net`` file on a Loihi simulator.

``hardware/cli_deploy.py`` (``ckd-deploy``) calls :func:`add_netx_run_arguments` on its parser and
:func:`run_netx_from_args` when its input ends in ``.net``::

    ckd-deploy --target loihi-sim NET.net --steps N [--input-spikes X.npy | --input-bias B.npy]
               [--reset-interval R] --record u,v,s --sim fast|lava --out DIR

writes ``DIR/layer-<i>-<s|u|v>.npy`` (block i of ``netx.hdf5.Network.layers``, arrays
``[(B,) *shape(x, y, f), T]`` as returned by :func:`ckd_toolchain.simulators.loihi.run_netx`) and
``DIR/netx-run.json`` (what was run, layer shapes, wall time). :func:`main` is the same command
stand-alone (used by the tests while ``ckd-deploy`` is being wired).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from ckd_toolchain.atomic_io import save_numpy, write_json
from ckd_toolchain.errors import InputError, OneLineArgumentParser, cli_entry


def _add(parser: argparse.ArgumentParser, *flags, **kw) -> None:
    """Add an option unless the caller's parser already defines one of its flags."""
    if any(f in parser._option_string_actions for f in flags):
        return
    parser.add_argument(*flags, **kw)


def add_netx_run_arguments(parser: argparse.ArgumentParser, include_io: bool = False) -> None:
    """Options of a netx simulator run. ``include_io`` also adds ``--target``, ``NET`` and ``--out``
    (the stand-alone command; ``ckd-deploy`` has its own)."""
    if include_io:
        _add(parser, "--target", default="loihi-sim", choices=["loihi-sim"],
             help="deployment target (only loihi-sim runs a .net file)")
        parser.add_argument("input", metavar="NET.net", help="lava-dl netx HDF5 network")
        _add(parser, "--out", required=True, help="output directory")
    _add(parser, "--steps", type=int, default=None, help="number of Lava time steps to run")
    _add(parser, "--input-spikes", default=None, metavar="X.npy",
         help="input spikes [(B,) x, y, f, T] (Lava order; see --input-order)")
    _add(parser, "--input-bias", default=None, metavar="B.npy",
         help="input-layer bias mantissas [(B,) x, y, f] (files with an input neuron layer)")
    _add(parser, "--input-order", default="lava", choices=["lava", "torch"],
         help="layout of --input-spikes: lava [(B,) x, y, f, T] or torch [(B,) T, C, H, W]")
    _add(parser, "--reset-interval", type=int, default=None,
         help="netx Network reset_interval: block k zeroes u, v at steps t %% R == (k+1) %% R")
    _add(parser, "--record", default="s,u,v", help="variables to save, subset of s,u,v")
    _add(parser, "--sim", default="fast", choices=["fast", "lava"],
         help="fast: bit-exact batched torch re-implementation; lava: genuine Lava (slow)")
    _add(parser, "--device", default=None, help="torch device for --sim fast (cpu, cuda, ...)")
    _add(parser, "--lava-timeout", type=float, default=None,
         help="seconds before the Lava worker is killed (default grows with the work)")


def _load_npy(path: str, what: str) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise InputError(p, f"{what}: no such file")
    try:
        return np.load(p, allow_pickle=False)
    except Exception as exc:
        raise InputError(p, f"{what}: not a readable .npy array ({type(exc).__name__})")


def run_netx_from_args(args: argparse.Namespace, net_path: str | os.PathLike | None = None,
                       out_dir: str | os.PathLike | None = None,
                       timings: dict | None = None) -> list[dict[str, np.ndarray]]:
    """Run what :func:`add_netx_run_arguments` parsed; save ``layer-<i>-<var>.npy`` files.

    ``timings`` (optional) receives the wall times in seconds: ``load_s`` (reading the input
    ``.npy`` files and checking the ``.net``), ``run_s`` (:func:`ckd_toolchain.simulators.loihi.run_netx`:
    parsing the ``.net`` and simulating; for ``--sim lava`` also the worker's start, with Lava's
    own ``build_s``/``run_s``/``readback_s`` as ``lava_<phase>_s``) and ``write_s`` (the
    ``layer-<i>-<var>.npy`` files and ``netx-run.json``)."""
    from ckd_toolchain.simulators.loihi.api import run_netx, torch_order_to_lava

    net_path = net_path or getattr(args, "input", None) or getattr(args, "net", None)
    out_dir = out_dir or getattr(args, "out", None)
    if not net_path:
        raise InputError(None, "no .net file given")
    if not out_dir:
        raise InputError(None, "--out DIR is required")
    if args.steps is None:
        raise InputError(None, "--steps N is required to run a .net file")
    t_load = time.perf_counter()
    spikes = _load_npy(args.input_spikes, "--input-spikes") if args.input_spikes else None
    if spikes is not None and getattr(args, "input_order", "lava") == "torch":
        try:
            spikes = torch_order_to_lava(spikes)
        except ValueError as exc:
            raise InputError(args.input_spikes, str(exc))
    bias = _load_npy(args.input_bias, "--input-bias") if args.input_bias else None
    from ckd_toolchain.netx.reader import check_stored_weights, load_netx

    load_netx(net_path)                # structure (one line on any problem), then what netx would alter
    check_stored_weights(net_path)
    t0 = time.perf_counter()
    lava_timings: dict = {}
    out = run_netx(net_path, args.steps, input_spikes=spikes, input_bias=bias,
                   reset_interval=args.reset_interval, record=args.record, sim=args.sim,
                   device=getattr(args, "device", None), timeout=getattr(args, "lava_timeout", None),
                   timings=lava_timings)
    wall = time.perf_counter() - t0
    t_write = time.perf_counter()
    out_dir = Path(out_dir)
    summary = {"net": str(net_path), "sim": args.sim, "steps": int(args.steps),
               "reset_interval": args.reset_interval, "wall_s": wall, "layers": []}
    for i, layer in enumerate(out):
        entry = {}
        for var, arr in layer.items():
            save_numpy(out_dir / f"layer-{i}-{var}.npy", arr)
            entry[var] = list(arr.shape)
        summary["layers"].append(entry)
    write_json(out_dir / "netx-run.json", summary)
    if timings is not None:
        timings.update({"load_s": t0 - t_load, "run_s": wall, "write_s": time.perf_counter() - t_write,
                        **{f"lava_{k}": v for k, v in lava_timings.items()}})
    spikes = sum(int(np.asarray(layer["s"]).sum()) for layer in out if "s" in layer)
    rec = args.record if isinstance(args.record, str) else ",".join(args.record)
    print(f"ckd-deploy: ran {net_path} for {int(args.steps)} steps on --sim {args.sim} ({len(out)} layers"
          + (f", {spikes} spikes in all layers" if any("s" in layer for layer in out) else "")
          + f", {wall:.1f} s); wrote {out_dir}/layer-<i>-<{rec}>.npy and netx-run.json", file=sys.stderr)
    return out


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(prog="ckd-deploy", description="run a lava-dl netx .net file "
                                   "on the fast bit-exact Loihi simulator or on genuine Lava")
    add_netx_run_arguments(parser, include_io=True)
    return parser


@cli_entry("ckd-deploy")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run_netx_from_args(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
