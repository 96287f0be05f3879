"""`ckd-export` console script: export a trained student to NIR (and ONNX for the GPU reference).

    ckd-export --to nir  MODEL.pt -o model.nir  [--nir-profile spec|snntorch|norse] [--verify]
                         [--frames X.npy] [--samples N]
    ckd-export --to onnx MODEL.pt -o model.onnx [--verify]
    ckd-export --to onnx --teacher TEACHER.pt -o teacher.onnx [--verify]

``--nir-profile`` (:mod:`ckd_toolchain.export.nir_profiles`): ``spec`` (default) writes the NIR spec
graph; ``snntorch`` / ``norse`` write the same network so that snnTorch's ``import_from_nir`` /
``norse.torch.from_nir`` run the file as written (their dt, Flatten and pooling conventions; the
profile is recorded as metadata ``nir_profile``).

``--verify`` (NIR): the written file is read back with ``nir.read(type_check=True)`` and simulated
by our float interpreter, snnTorch's and Norse's importers on real test frames (the checkpoint's
data config, test split; or ``--frames`` ``[B, T, C, H, W]`` / ``[T, C, H, W]``); spikes of every
LIF layer, the last layer's spike counts, logits and predictions are compared with the snnTorch
student (:mod:`ckd_toolchain.export.verify`: exact in float64, bounded spike flips in float32).
Each line says what ran: the file as written, or (an importer whose profile the file was not
written with) which rewrite of it. ``--verify`` (ONNX):
onnxruntime's logits against PyTorch's to 1e-4 (:mod:`ckd_toolchain.export.onnx_export` for the student's
spike-flip allowance). A failed verification exits 1; bad input (corrupt checkpoint, wrong frame
shape, unsupported layer) is one line on stderr and exit 2; outputs are written atomically.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from ckd_toolchain.errors import InputError, OneLineArgumentParser, cli_entry
from ckd_toolchain.export.nir_profiles import PROFILES

def build_parser() -> OneLineArgumentParser:
    p = OneLineArgumentParser(prog="ckd-export", description="export a trained student to NIR (and ONNX for the GPU reference)")
    p.add_argument("--to", choices=("nir", "onnx"), required=True, help="output format")
    p.add_argument("model", help="ckd-train checkpoint (.pt); with --teacher a teacher checkpoint")
    p.add_argument("-o", "--out", required=True, help="output file (.nir / .onnx)")
    p.add_argument("--teacher", action="store_true", help="export the ANN teacher (ONNX only)")
    p.add_argument("--verify", action="store_true", help="simulate the written file and compare with PyTorch")
    p.add_argument("--frames", help="verification input .npy: [B, T, C, H, W] or [T, C, H, W] (default: test split)")
    p.add_argument("--samples", type=int, default=32, help="test samples used by --verify, spread over the classes (default 32; 0 = the whole test split)")
    p.add_argument("--nir-profile", choices=PROFILES, default=None,
                   help="NIR spelling: spec (default; the NIR spec), snntorch or norse (runs as written in "
                        "snntorch.import_nir.import_from_nir / norse.torch.from_nir)")
    p.add_argument("--no-norse", action="store_true", help="skip the Norse simulation in --verify")
    p.add_argument("--no-snntorch", action="store_true", help="skip the snnTorch importer in --verify")
    p.add_argument("--report", help="write the verification numbers as JSON here")
    return p


def _say(msg: str) -> None:
    print(f"ckd-export: {msg}", flush=True)


def load_frames(path: str, T: int, input_shape) -> torch.Tensor:
    """User frames ``[B, T, C, H, W]`` (or one sample ``[T, C, H, W]``) as float32."""
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(path, f"not a readable .npy array: {exc}") from None
    if arr.ndim == 4:
        arr = arr[None]
    want = (T, *input_shape)
    if arr.ndim != 5 or tuple(arr.shape[1:]) != tuple(want):
        raise InputError(path, f"frames must be [B, {', '.join(map(str, want))}] (T, C, H, W of the model), got {list(arr.shape)}")
    if not np.issubdtype(arr.dtype, np.number) or not np.isfinite(arr).all():
        raise InputError(path, "frames must be finite numbers")
    return torch.from_numpy(arr.astype(np.float32))


def test_frames(ckpt: dict, model_path: str, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``samples`` DVS test frames of the checkpoint's dataset, spread over its classes:
    ``([B, T, C, H, W], labels)``."""
    from ckd_toolchain.ckd_train.data import build_datasets
    from ckd_toolchain.subsets import spread_subset

    data_cfg = (ckpt.get("config") or {}).get("data")
    if not isinstance(data_cfg, dict):
        raise InputError(model_path, "checkpoint config has no 'data' section; pass --frames X.npy")
    data = build_datasets(relocated_data_config(data_cfg))
    ds = data.dvs_test if len(data.dvs_test) else data.dvs_val
    if len(ds) == 0:
        raise InputError(model_path, "the dataset has no test samples; pass --frames X.npy")
    xs, ys = zip(*(ds[int(i)] for i in spread_subset(len(ds), int(samples) or None)))
    return torch.stack([torch.as_tensor(x) for x in xs]).float(), torch.as_tensor(ys)


def relocated_data_config(data_cfg: dict):
    """The checkpoint's data config, its ``root`` re-resolved on this machine: a stored root that
    does not exist here (the checkpoint was trained elsewhere) is replaced by the default root of
    the same dataset (``$CKD_DATA_DIR/<name>`` or ``<repo>/data/<name>``), and its frame cache
    by the default one, when that exists."""
    from ckd_toolchain.ckd_train.data import DataConfig

    cfg = DataConfig.from_dict(data_cfg)
    if cfg.root and not Path(cfg.root).exists():
        moved = cfg.replace(root=None, cache_dir=None,
                            rgb_root=None if cfg.rgb_root and not Path(cfg.rgb_root).exists() else cfg.rgb_root)
        if moved.resolved_root().exists():
            _say(f"data root {cfg.root} does not exist here; using {moved.resolved_root()}")
            return moved
    return cfg


def _student_geometry(ckpt: dict) -> tuple[int, tuple[int, int, int]]:
    s = ckpt["config"].get("student", {})
    size = int(s.get("input_size", 48))
    return int(s.get("T", 8)), (int(s.get("in_channels", 2)), size, size)


def _verification_frames(args, ckpt, T, shape):
    if args.frames:
        return load_frames(args.frames, T, shape), None
    return test_frames(ckpt, args.model, args.samples)


def export_nir(args) -> int:
    import nir

    from ckd_toolchain.atomic_io import atomic_path, write_json
    from ckd_toolchain.ckd_train.checkpoint import load_student
    from ckd_toolchain.export.lif_to_nir import DEFAULT_DT
    from ckd_toolchain.export.nir_from_student import student_to_nir
    from ckd_toolchain.export.nir_profiles import PROFILE_DT, profile_graph
    from ckd_toolchain.nir_metadata import sha256_file, student_metadata

    model, ckpt = load_student(args.model)
    T, shape = _student_geometry(ckpt)
    frames = labels = None
    if args.verify:  # read the frames first: a bad --frames must not leave an output behind
        frames, labels = _verification_frames(args, ckpt, T, shape)
    meta = student_metadata(ckpt, sha256_file(args.model), [], DEFAULT_DT)
    exported = student_to_nir(model, shape, meta, where=args.model, dt=DEFAULT_DT)
    from ckd_toolchain.nir_graph import check_graph_values

    check_graph_values(exported.graph, args.model)   # no NaN/Inf or absurd weights reach a file
    profile = args.nir_profile or "spec"
    written = profile_graph(exported.graph, profile, args.model)
    ok, res = True, None
    with atomic_path(args.out) as tmp:
        nir.write(tmp, written)
        graph = nir.read(tmp, type_check=True)  # the round trip the issue requires, before rename
        if args.verify:  # verified BEFORE the rename: an export killed here leaves no model.nir that looks finished
            ok, res = _verify_nir(args, model, graph, exported, frames, labels, profile)
    _say(f"wrote {args.out}: {len(graph.nodes)} nodes, {len(graph.edges)} edges, T={T}, input {list(shape)}, "
         f"--nir-profile {profile} (dt {PROFILE_DT[profile]:g})" + ("" if res is None else ", verified above"))
    if res is None:
        return 0
    if args.report:
        write_json(args.report, res)
    if not ok:
        sys.stderr.write("ckd-export: error: NIR verification failed (see the numbers above)\n")
        return 1
    return 0


def _verify_nir(args, model, graph, exported, frames, labels, profile) -> tuple[bool, dict]:
    """Simulate the written graph (still under its temporary name) against the student; print one
    line per simulator; ``(all passed, results)``."""
    from ckd_toolchain.export.nir_profiles import PROFILE_DT
    from ckd_toolchain.export.verify import passes, verify_graph

    res = verify_graph(model, graph, exported.lif_modules, frames, exported.order, PROFILE_DT[profile],
                       use_norse=not args.no_norse, use_snntorch=not args.no_snntorch)
    if labels is not None:
        with torch.no_grad():
            pred = model(frames.transpose(0, 1), head="dvs").mean(0).argmax(-1)
        res["student_accuracy"] = float((pred == labels).float().mean())
        _say(f"student accuracy on these {len(labels)} test samples: {res['student_accuracy']:.3f}")
    ok = True
    for sim in ("nir_float64", "nir_float32", "snntorch", "norse"):
        r = res.get(sim)
        if r is None:
            continue
        if "error" in r:
            _say(f"verify {sim}: could not run: {r['error']}")
            ok = False
            continue
        good = passes(sim, r)
        ok &= good
        _say(f"verify {sim} ({r['engine']} on {r['ran']}): "
             f"{r['spike_mismatches']}/{r['neuron_steps']} neuron-steps differ, last-layer spike counts "
             f"{'equal' if r['last_layer_counts_equal'] else 'differ in ' + str(r['last_layer_count_mismatches'])}, "
             f"logits max |diff| {r['logits_max_abs_diff']:.3g}, prediction agreement {r['prediction_agreement']:.3f} "
             f"on {r['samples']} samples: {'OK' if good else 'FAILED'}")
    return ok, res


def export_onnx(args) -> int:
    from ckd_toolchain.ckd_train.checkpoint import load_student, load_teacher
    from ckd_toolchain.export.lif_to_nir import DEFAULT_DT
    from ckd_toolchain.export.onnx_export import (UnrolledStudent, export_student_onnx, export_teacher_onnx,
                                                  onnx_compare, onnx_metadata, onnx_passes, student_onnx_metadata)
    from ckd_toolchain.nir_metadata import sha256_file, student_metadata

    sha = sha256_file(args.model)
    if args.teacher:
        model, ckpt = load_teacher(args.model)
        size = int(((ckpt.get("config") or {}).get("data") or {}).get("size", 48))
        shape = (3, size, size)
        x = _teacher_inputs(args, ckpt, shape) if args.verify else None
        classes = [str(c) for c in ckpt.get("classes") or []]
        export_teacher_onnx(model, shape, args.out, {"classes": classes, "num_classes": len(classes), "source_sha256": sha})
        _say(f"wrote {args.out}: teacher, input hsv[B, {', '.join(map(str, shape))}] -> logits[B, {len(classes)}]; "
             f"{_folding(onnx_metadata(args.out))}")
        if not args.verify:
            return 0
        res, what = onnx_compare(args.out, model, x, batch_axis=0), "teacher"
    else:
        model, ckpt = load_student(args.model)
        T, shape = _student_geometry(ckpt)
        frames = _verification_frames(args, ckpt, T, shape)[0] if args.verify else None
        meta = student_onnx_metadata(student_metadata(ckpt, sha, [], DEFAULT_DT), T, shape)
        export_student_onnx(model, T, shape, args.out, meta)
        _say(f"wrote {args.out}: student unrolled over T={T}, input frames[{T}, B, {', '.join(map(str, shape))}] -> "
             f"logits[{T}, B, {meta.get('num_classes', '?')}]; {_folding(onnx_metadata(args.out))}")
        if not args.verify:
            return 0
        res = onnx_compare(args.out, UnrolledStudent(model, T).eval(), frames.transpose(0, 1).contiguous(), batch_axis=1)
        what = "student"
    ok = onnx_passes(res, student=what == "student")
    _say(f"verify onnxruntime ({what}): logits max |diff| {res['max_abs_diff']:.3g}; "
         f"{res['samples_within_tolerance']}/{res['samples']} samples within {res['tolerance']:g}; "
         f"prediction agreement {res['prediction_agreement']:.3f}: {'OK' if ok else 'FAILED'}")
    if args.report:
        from ckd_toolchain.atomic_io import write_json

        write_json(args.report, {"model": what, **res, "passed": ok})
    if not ok:
        sys.stderr.write("ckd-export: error: ONNX verification failed\n")
        return 1
    return 0


def _folding(meta: dict) -> str:
    f = meta.get("folding") or {}
    a, b = f.get("exported", {}), f.get("folded", {})
    return (f"constant-folded: {sum(a.values())} -> {sum(b.values())} nodes (Constant {a.get('Constant', 0)} -> "
            f"{b.get('Constant', 0)}, Identity {a.get('Identity', 0)} -> {b.get('Identity', 0)})")


def _teacher_inputs(args, ckpt, shape) -> torch.Tensor:
    if args.frames:
        try:
            arr = np.load(args.frames, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputError(args.frames, f"not a readable .npy array: {exc}") from None
        if arr.ndim != 4 or tuple(arr.shape[1:]) != shape:
            raise InputError(args.frames, f"teacher inputs must be [B, {', '.join(map(str, shape))}], got {list(arr.shape)}")
        return torch.from_numpy(arr.astype(np.float32))
    from ckd_toolchain.ckd_train.data import build_datasets

    data_cfg = (ckpt.get("config") or {}).get("data")
    if not isinstance(data_cfg, dict):
        raise InputError(args.model, "checkpoint config has no 'data' section; pass --frames X.npy")
    from ckd_toolchain.subsets import spread_subset

    data = build_datasets(relocated_data_config(data_cfg))
    if len(data.rgb_test) == 0:
        raise InputError(args.model, "the dataset has no RGB test samples; pass --frames X.npy")
    idx = spread_subset(len(data.rgb_test), args.samples or None)
    return torch.stack([torch.as_tensor(data.rgb_test[int(i)][0]) for i in idx]).float()


@cli_entry("ckd-export")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.teacher and args.to != "onnx":
        raise InputError(None, "--teacher is only for --to onnx (the NIR graph is the deployed student)")
    if args.nir_profile is not None and args.to != "nir":
        raise InputError(None, "--nir-profile is only for --to nir")
    if args.samples < 0:
        raise InputError(None, "--samples must be >= 0 (0 = the whole test split)")
    from ckd_toolchain.atomic_io import check_output_file

    for out in (args.out, args.report):  # before any work: an unwritable output is one line
        if out:
            check_output_file(out)
    with torch.no_grad():  # scoped: callers (tests, notebooks) keep their autograd state
        return export_nir(args) if args.to == "nir" else export_onnx(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
