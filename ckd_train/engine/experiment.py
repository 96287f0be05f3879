"""The multi-seed experiment: one teacher, then each student method for each seed; the table
reports mean ± std (sample std, n-1) over seeds of the DVS test accuracy of the model picked on
DVS validation accuracy (``test_acc_at_best_val``), then every pair of methods compared on the
same test samples (:mod:`ckd_toolchain.ckd_train.engine.paired_comparison`: difference, bootstrap 95 % interval,
discordant counts; also a paired t-interval over seeds) from the per-sample predictions of each
``best.pt``. The same is reported for the last epoch (``last.pt``, ``final_test_acc``): the model
without any selection, which the validation-picked one should not trail by much. Writes ``results.json``
and ``results.md``. The arms may be methods or ckd variants (``ckd:LOSS[+samd[=W]]``,
:mod:`ckd_toolchain.ckd_train.engine.experiment_arms`); with ``baseline`` only every arm vs the
baseline is compared."""
from __future__ import annotations

import copy
import statistics
from pathlib import Path
from typing import Callable

import torch

from ckd_toolchain.atomic_io import write_json, write_text
from ckd_toolchain.errors import InputError
from ckd_toolchain.ckd_train.engine.evaluation import student_correct
from ckd_toolchain.ckd_train.engine.experiment_arms import arm_dirname, arm_method
from ckd_toolchain.ckd_train.engine.paired_comparison import paired_difference
from ckd_toolchain.ckd_train.engine.student_trainer import load_data, train_student
from ckd_toolchain.ckd_train.engine.teacher_trainer import train_teacher


def _fmt(xs: list[float]) -> str:
    if not xs:
        return "n/a"
    m = statistics.mean(xs)
    s = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{100 * m:.2f} ± {100 * s:.2f}"


def run_experiment(cfg: dict, out_dir: str | Path, seeds=(0, 1, 2), methods=("dvs-only", "transfer", "ckd"),
                   teacher: str | None = None, resume: bool = False, data=None, baseline: str | None = None,
                   log: Callable[[str], None] = print) -> dict:
    out = Path(out_dir)
    methods = tuple(methods)
    arms = {a: arm_method(a, cfg["method"]) for a in methods}  # bad arms fail before any training
    if baseline is not None and baseline not in arms:
        raise InputError(None, f"--baseline {baseline!r} is not one of the arms: {', '.join(methods)}")
    data = data if data is not None else load_data(cfg)
    if teacher is None:
        tdir = out / "teacher"
        if not (resume and (tdir / "summary.json").is_file()):
            train_teacher(cfg, tdir, data=data, log=log)
        teacher = str(tdir / "best.pt")
    runs = []
    for seed in seeds:
        for m in methods:
            c = copy.deepcopy(cfg)
            c["train"]["seed"] = int(seed)
            c["method"] = copy.deepcopy(arms[m])
            rdir = out / f"{arm_dirname(m)}-seed{seed}"
            s = train_student(c, rdir, data=data, teacher_path=teacher if arms[m]["name"] == "ckd" else None,
                              resume=resume, log=log)
            runs.append({"method": m, "seed": seed, "best_val_acc": s["best_val_acc"],
                         "test_acc_at_best_val": s["test_acc_at_best_val"], "best_epoch": s["best_epoch"],
                         "final_test_acc": s.get("final_test_acc"), "wall_s": s["wall_s"],
                         "test_correct": checkpoint_correct(rdir / "best.pt", data.dvs_test),
                         "final_test_correct": checkpoint_correct(rdir / "last.pt", data.dvs_test)})
    pairs = ([(a, baseline) for a in methods if a != baseline] if baseline is not None else
             [(ma, mb) for i, ma in enumerate(methods) for mb in methods[i + 1:]])
    agg, lines = _accuracy_table(runs, methods)
    paired, plines = _paired_table(runs, pairs, "test_correct", "best validation accuracy (best.pt)")
    paired_last, llines = _paired_table(runs, pairs, "final_test_correct", "the last epoch (last.pt)")
    lines += plines + llines
    table = "\n".join(lines)
    result = {"seeds": list(seeds), "methods": list(methods), "arms": arms, "baseline": baseline,
              "teacher": teacher, "runs": runs,
              "aggregate": agg, "paired": paired, "paired_last_epoch": paired_last, "table": table, "config": cfg}
    write_json(out / "results.json", result)
    write_text(out / "results.md", table + "\n")
    return result


def _accuracy_table(runs: list[dict], methods) -> tuple[dict, list[str]]:
    """Mean ± std over seeds per method: test at best validation, last-epoch test, best validation."""
    lines = ["| method | DVS test acc % at best val (mean ± std) | DVS test acc % last epoch | "
             "DVS val acc % (best) | seeds |", "|---|---|---|---|---|"]
    agg = {}
    for m in methods:
        te = [r["test_acc_at_best_val"] for r in runs if r["method"] == m]
        last = [r["final_test_acc"] for r in runs if r["method"] == m and r["final_test_acc"] is not None]
        va = [r["best_val_acc"] for r in runs if r["method"] == m]
        agg[m] = {"test": te, "test_last_epoch": last, "val": va}
        lines.append(f"| {m} | {_fmt(te)} | {_fmt(last)} | {_fmt(va)} | {len(te)} |")
    return agg, lines


def _paired_table(runs: list[dict], pairs, key: str, which: str) -> tuple[dict, list[str]]:
    """Every pair compared on the same DVS test samples from the per-sample correctness ``key``."""
    lines = ["", f"Paired on the same DVS test samples, model of {which} (Δ = accuracy A - B in points, mean "
             "over seeds; 95 % bootstrap interval over test samples; 95 % paired t-interval over seeds; "
             "pairs only A / only B gets right):", "",
             "| A vs B | Δ | 95 % interval (test samples) | 95 % t-interval (seeds) | per seed | only A right | "
             "only B right |", "|---|---|---|---|---|---|---|"]
    paired = {}
    for ma, mb in pairs:
        p = paired_difference([r[key] for r in runs if r["method"] == ma],
                              [r[key] for r in runs if r["method"] == mb])
        paired[f"{ma} vs {mb}"] = p
        t = p["ci95_seeds_t"]
        ts = f"[{100 * t[0]:+.2f}, {100 * t[1]:+.2f}]" if t is not None else "n/a"
        lines.append(f"| {ma} vs {mb} | {100 * p['delta']:+.2f} | [{100 * p['ci95'][0]:+.2f}, "
                     f"{100 * p['ci95'][1]:+.2f}] | {ts} | {', '.join(f'{100 * x:+.1f}' for x in p['per_seed'])} | "
                     f"{p['a_only']} | {p['b_only']} |")
    return paired, lines


def checkpoint_correct(checkpoint, dataset) -> list[int]:
    """Per DVS test sample, 1 if the student of ``checkpoint`` (as exported) is right."""
    from ckd_toolchain.ckd_train.checkpoint import load_student

    model, _ = load_student(checkpoint)
    return student_correct(model, dataset, torch.device("cpu"), 128)
