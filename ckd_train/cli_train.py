"""`ckd-train` console script: train the ANN teacher and the SNN student (dvs-only, transfer, ckd).

    ckd-train teacher --config configs/ndigits-demo.yaml --out runs/demo/teacher
    ckd-train student --method ckd --teacher runs/demo/teacher/best.pt \
        --config configs/ndigits-demo.yaml --out runs/demo/ckd --seed 0
    ckd-train experiment --config configs/ndigits-demo.yaml --out runs/experiment --seeds 0 1 2
    ckd-train experiment ... --methods dvs-only transfer ckd:kd ckd:luminet ckd:kd+samd --baseline ckd:kd
    ckd-train tsne runs/demo/{dvs-only,transfer,ckd}/best.pt --out runs/demo/tsne

Multi-GPU / multi-node: ``torchrun --nproc-per-node N -m ckd_toolchain.ckd_train.cli_train student ...``.
"""
from __future__ import annotations

import argparse
import sys

from ckd_toolchain.ckd_train.losses.kd import KD_LOSSES
from ckd_toolchain.errors import InputError, OneLineArgumentParser, cli_entry


def _common(p: argparse.ArgumentParser, out_required: bool = True) -> None:
    p.add_argument("--config", help="YAML run config (configs/*.yaml); defaults otherwise")
    p.add_argument("--out", required=out_required, help="run directory (best.pt, last.pt, metrics.csv, summary.json)")
    p.add_argument("--seed", type=int, help="training seed (train.seed)")
    p.add_argument("--epochs", type=int, help="override train.epochs (teacher: teacher.epochs)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override any config value, e.g. --set train.batch_size=32 --set data.T=6")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:1")
    p.add_argument("--compile", action="store_true", help="torch.compile the training step (CUDA)")
    p.add_argument("--no-amp", action="store_true", help="disable bf16 autocast on CUDA")
    p.add_argument("--resume", action="store_true", help="continue from <out>/last.pt")
    p.add_argument("--allow-changed-config", action="store_true",
                   help="with --resume: continue although the settings differ from the checkpoint's")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")


def build_parser() -> OneLineArgumentParser:
    p = OneLineArgumentParser(prog="ckd-train", description="train the ANN teacher and the SNN student "
                              "(dvs-only, transfer, ckd) of Cross Knowledge Distillation (arXiv 2507.09269)")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=OneLineArgumentParser)
    t = sub.add_parser("teacher", help="fine-tune the ANN teacher on HSV images")
    _common(t)
    t.add_argument("--teacher-weights", help="torchvision ImageNet .pth for teacher.arch (loaded strict, fc replaced)")
    s = sub.add_parser("student", help="train the SNN student")
    _common(s)
    s.add_argument("--method", choices=["dvs-only", "transfer", "ckd"], help="training method (method.name)")
    s.add_argument("--teacher", help="teacher checkpoint (ckd-train teacher .../best.pt), needed by --method ckd")
    s.add_argument("--kd-loss", choices=list(KD_LOSSES), help="logit distillation loss of ckd (method.kd_loss): "
                   "kd, dkd, dist, luminet (CKD Table II), nld (CKDSNN noise-smoothed logits)")
    s.add_argument("--samd-weight", type=float, metavar="W", help="weight of the SAMD activation-map term of ckd "
                   "on the static stream (CKDSNN; method.samd_weight, 0 = off)")
    e = sub.add_parser("experiment", help="teacher + dvs-only/transfer/ckd over several seeds; mean ± std table")
    _common(e)
    e.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    e.add_argument("--methods", nargs="+", default=["dvs-only", "transfer", "ckd"], metavar="ARM",
                   help="arms: dvs-only, transfer, ckd (the config's kd_loss), ckd:LOSS with LOSS one of "
                        f"{', '.join(KD_LOSSES)}, optionally +samd or +samd=W (e.g. ckd:kd+samd)")
    e.add_argument("--baseline", metavar="ARM", help="compare every arm with this one only (default: all pairs)")
    e.add_argument("--teacher", help="reuse this teacher checkpoint instead of training one")
    v = sub.add_parser("tsne", help="t-SNE of the DVS test features (DVS-head input) of student runs side by side")
    v.add_argument("runs", nargs="+", help="student checkpoints (best.pt) or run directories holding best.pt")
    v.add_argument("--out", required=True, help="output directory for tsne.png and tsne.json")
    v.add_argument("--labels", help="comma-separated labels, one per run (default: the run directory names)")
    v.add_argument("--split", choices=["test", "val"], default="test", help="DVS split to embed (default test)")
    v.add_argument("--seed", type=int, default=0, help="t-SNE random state")
    return p


def resolve_config(args) -> dict:
    from ckd_toolchain.ckd_train.engine import apply_overrides, load_config

    cfg = load_config(args.config)
    cfg = apply_overrides(cfg, args.set)
    tr = cfg["train"]
    if args.seed is not None:
        tr["seed"] = args.seed
    if args.device:
        tr["device"] = args.device
    if args.compile:
        tr["compile"] = True
    if args.no_amp:
        tr["amp"] = False
    if args.no_progress or not sys.stderr.isatty():
        tr["progress"] = False
    if getattr(args, "method", None):
        cfg["method"]["name"] = args.method
    if getattr(args, "kd_loss", None):
        cfg["method"]["kd_loss"] = args.kd_loss
    if getattr(args, "samd_weight", None) is not None:
        cfg["method"]["samd_weight"] = args.samd_weight
    if args.epochs is not None:
        if args.cmd == "teacher":
            cfg["teacher"]["epochs"] = args.epochs
        else:
            tr["epochs"] = args.epochs
    if getattr(args, "teacher_weights", None):
        cfg["teacher"]["weights"] = args.teacher_weights
    return cfg


def check_config(cfg: dict, args) -> None:
    """The semantic checks of the resolved config, before any work; an error names the config
    file (or ``--set``/the defaults) when the check itself could not."""
    from ckd_toolchain.ckd_train.data import DataConfig
    from ckd_toolchain.ckd_train.engine.run_config import validate

    try:
        validate(cfg)
        DataConfig.from_dict(cfg["data"])
    except InputError as exc:
        if exc.path is not None:
            raise
        where = args.config or ("--set" if args.set else "the default config")
        raise InputError(where, exc.problem) from None


def _log(msg: str) -> None:
    print(msg, flush=True)


@cli_entry("ckd-train")
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.cmd == "tsne":
        from ckd_toolchain.atomic_io import check_output_dir
        from ckd_toolchain.ckd_train.feature_tsne import tsne_compare

        check_output_dir(args.out)  # before loading and embedding anything
        labels = None if args.labels is None else [x.strip() for x in args.labels.split(",")]
        res = tsne_compare(args.runs, args.out, labels=labels, split=args.split, seed=args.seed)
        for r in res["runs"]:
            _log(f"ckd-train tsne: {r['label']}: silhouette {r['silhouette_features']:.3f} (features), "
                 f"{r['silhouette_tsne']:.3f} (t-SNE 2-D), {r['samples']} {args.split} samples")
        _log(res["png"])
        return 0
    cfg = resolve_config(args)
    check_config(cfg, args)
    from ckd_toolchain.atomic_io import check_output_dir

    check_output_dir(args.out)   # before data loading and the first epoch
    allow = args.allow_changed_config
    if args.cmd == "teacher":
        from ckd_toolchain.ckd_train.engine import train_teacher

        s = train_teacher(cfg, args.out, resume=args.resume, allow_changed_config=allow, log=_log)
        _log(f"ckd-train: teacher best val acc {s['best_val_acc']:.4f} (epoch {s['best_epoch']}) → {s['best']}")
    elif args.cmd == "student":
        from ckd_toolchain.ckd_train.engine import train_student

        if cfg["method"]["name"] == "ckd" and not args.teacher:
            raise InputError(args.config, "method ckd needs --teacher <teacher checkpoint>")
        if cfg["method"]["name"] == "ckd":
            from ckd_toolchain.ckd_train.checkpoint import read_checkpoint

            read_checkpoint(args.teacher, "teacher")  # fail fast, before the data is loaded
        s = train_student(cfg, args.out, teacher_path=args.teacher, resume=args.resume,
                          allow_changed_config=allow, log=_log)
        if s is not None:
            _log(f"ckd-train: {s['method']} best val acc {s['best_val_acc']:.4f} (epoch {s['best_epoch']}), "
                 f"DVS test acc at best val {s['test_acc_at_best_val']:.4f} → {s['best']}")
    else:
        from ckd_toolchain.ckd_train.engine.experiment import run_experiment

        res = run_experiment(cfg, args.out, seeds=args.seeds, methods=args.methods, teacher=args.teacher,
                             resume=args.resume, baseline=args.baseline, log=_log)
        _log(res["table"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
