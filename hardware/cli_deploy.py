"""`ckd-deploy` console script: map a NIR graph to Loihi 2 (lava-dl netx) and run it on a simulator.

    ckd-deploy --target loihi-sim model.nir --data n-digits [--sim fast|lava] [--pool-mode conv|thermometer|fold] --out DIR
    ckd-deploy --target cpu|gpu   model.nir --data n-digits --out DIR        (float reference)
    ckd-deploy --target loihi-sim other.nir --input X.npy --out DIR          (no labels → outputs.npy)
    ckd-deploy --target loihi-sim model.net --steps N [--input-spikes S.npy | --input-bias B.npy]
               [--reset-interval R] [--labels Y.npy] --out DIR     (run a .net + report)

Writes ``DIR/model.net`` (loihi-sim), ``DIR/report.json`` (+ report.md and plots) and, for
``--input``, ``DIR/outputs.npy`` ``(samples, T, classes)``. See :mod:`ckd_toolchain.hardware.deploy.pipeline`.
A graph that cannot be mapped, a bad file or bad options: one line on stderr, exit status 2.
"""
from __future__ import annotations

import sys

from ckd_toolchain.errors import InputError, OneLineArgumentParser, cli_entry


def build_parser() -> OneLineArgumentParser:
    from ckd_toolchain.simulators.cli_loihi import add_netx_run_arguments

    p = OneLineArgumentParser(prog="ckd-deploy", description="map a NIR graph to Loihi 2 (lava-dl netx) "
                              "and run it on a simulator, or run the float reference")
    p.add_argument("model", metavar="MODEL", help="model.nir (NIR graph) or model.net (netx file to run)")
    p.add_argument("--target", default="loihi-sim", choices=["loihi-sim", "cpu", "gpu"],
                   help="loihi-sim: map + fixed-point simulation; cpu/gpu: float reference of the graph")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--data", default=None, metavar="NAME", help="dataset whose DVS test split is run (e.g. n-digits)")
    p.add_argument("--data-root", default=None, metavar="DIR", help="dataset folder (default: $CKD_DATA_DIR/NAME)")
    p.add_argument("--input", default=None, metavar="X.npy", dest="input_npy",
                   help="unlabelled inputs (samples, T, C, H, W) instead of --data; writes outputs.npy")
    p.add_argument("--pool-mode", default="thermometer", choices=["conv", "thermometer", "fold"],
                   help="thermometer (default): pooling as a grouped strided conv with kh*kw neurons per window coding the spike count (exact); conv: the same conv with one neuron per window (spikes when >= half "
                        "spiked; lossy); "
                        "fold: fold it exactly into the next synaptic layer")
    p.add_argument("--batch-size", type=int, default=16, help="samples simulated together")
    p.add_argument("--limit", type=int, default=None, help="run N test samples spread evenly over the test split (it is ordered by class)")
    p.add_argument("--dt", type=float, default=None, help="Euler step of the neuron nodes if the graph has no metadata dt")
    p.add_argument("--no-diagnostics", action="store_true",
                   help="skip the float/quantised-float accuracies of the mapped layers")
    p.add_argument("--no-neurobench", action="store_true",
                   help="skip NeuroBench's metrics of the float student (SynapticOperations, ActivationSparsity, "
                        "MembraneUpdates, Footprint; computed by the neurobench package on snnTorch's import of the graph)")
    p.add_argument("--labels", default=None, metavar="Y.npy",
                   help=".net input: one integer class per sample; the report then has an accuracy")
    add_netx_run_arguments(p)   # --sim, --device, --lava-timeout (+ options used for .net inputs)
    return p


@cli_entry("ckd-deploy")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ckd_toolchain.atomic_io import check_output_dir

    check_output_dir(args.out)   # before any work: an unwritable --out is one line
    if args.model.endswith(".net"):
        from ckd_toolchain.hardware.deploy.netx_deploy import deploy_netx
        if args.target != "loihi-sim":
            raise InputError(args.model, "a .net file only runs with --target loihi-sim")
        raw = deploy_netx(args, net_path=args.model, out_dir=args.out)
        acc = raw.get("accuracy")
        print(f"ckd-deploy: {raw['num_samples']} inferences of {raw['steps_per_sample']} steps on {raw['sim']}"
              + ("" if acc is None else f", accuracy {100 * acc:.2f}%") + f"; report in {args.out}", file=sys.stderr)
        return 0
    if args.batch_size < 1 or (args.limit is not None and args.limit < 1):
        raise InputError(None, "--batch-size and --limit must be >= 1")
    from ckd_toolchain.hardware.deploy.pipeline import deploy
    raw = deploy(args.model, args.out, target=args.target, data=args.data, input_npy=args.input_npy,
                 sim=args.sim, pool_mode=args.pool_mode, batch_size=args.batch_size, limit=args.limit,
                 dt=args.dt, data_root=args.data_root, diagnostics=not args.no_diagnostics,
                 lava_timeout=args.lava_timeout, neurobench=not args.no_neurobench)
    acc = raw.get("accuracy")
    ref = raw.get("reference_accuracy")
    msg = f"ckd-deploy: {raw['num_samples']} samples on {raw['target']}"
    if acc is not None:
        msg += f", accuracy {100 * acc:.2f}%"
    if ref is not None:
        msg += f" (float reference {100 * ref:.2f}%)"
    m = raw["mapping"]
    if raw["target"] == "loihi-sim":
        msg += f"; {m['cores']} cores, {m['chips']} chip(s)"
    msg += f"; report in {args.out}"
    print(msg, file=sys.stderr)
    return 0
