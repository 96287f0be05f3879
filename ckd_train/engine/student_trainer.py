"""Student training loop (dvs-only | transfer | ckd), single process or torchrun DDP.

Per epoch: a deterministic :mod:`epoch plan <ckd_train.engine.epoch_plan>`, one optimiser step per
global batch (AdamW, per-step cosine schedule with linear warm-up), evaluation of the DVS head on
the DVS validation and test splits, ``last.pt`` every epoch and ``best.pt`` when validation accuracy
improves (both atomic), ``metrics.csv`` and ``summary.json``. ``resume=True`` continues from
``last.pt`` and ends with the same weights as an uninterrupted run (all randomness of an epoch is
seeded from ``(seed, epoch)``).

Fixed-point-aware fine-tuning (``train.fixed_point_epochs = K``): the last ``K`` epochs freeze BN
and run the deployed path on Loihi 2's integer weights (:mod:`ckd_toolchain.ckd_train.models.fixed_point_training`);
validation/test accuracies of those epochs are of that network, ``best.pt`` is chosen among them
only, and their checkpoints carry ``"fixed_point"`` so that :func:`ckd_toolchain.ckd_train.checkpoint.load_student`
returns the baked (grid-valued) student the exporter writes.
"""
from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ckd_toolchain.ckd_train.checkpoint import load_teacher, read_checkpoint
from ckd_toolchain.ckd_train.engine import distributed as ddp
from ckd_toolchain.ckd_train.engine.checkpointing import (make_checkpoint, save_checkpoint, seed_epoch, set_rng_state,
                                            write_metrics_csv, write_summary)
from ckd_toolchain.ckd_train.engine.device import autocast_factory, pick_device
from ckd_toolchain.ckd_train.engine.epoch_plan import make_epoch_plan, shard
from ckd_toolchain.ckd_train.engine.evaluation import evaluate_student, teacher_logits
from ckd_toolchain.ckd_train.engine.glibc_heap import keep_freed_heap
from ckd_toolchain.ckd_train.engine.objective import StudentObjective
from ckd_toolchain.ckd_train.engine.run_config import learning_rate, validate
from ckd_toolchain.errors import InputError
from ckd_toolchain.ckd_train.losses import cosine_warmup_factor, kd_phase_weight, replacement_probability
from ckd_toolchain.ckd_train.models import build_student, student_config
from ckd_toolchain.ckd_train.models.fixed_point_training import GRID_NAME, freeze_batchnorm


class Interrupted(RuntimeError):
    """Raised after a checkpoint when ``train._stop_after_epoch`` is set (tests of --resume)."""


def load_data(cfg: dict):
    from ckd_toolchain.ckd_train.data import DataConfig, build_datasets

    return build_datasets(DataConfig.from_dict(cfg["data"]))


def resolve_student_cfg(cfg: dict, num_classes: int) -> dict:
    s = dict(cfg["student"])
    s.update(num_classes=num_classes, T=int(cfg["data"]["T"]), input_size=int(cfg["data"].get("size", 48)))
    return student_config(s)


def _stack(ds, idx) -> tuple[torch.Tensor, torch.Tensor]:
    items = [ds[int(i)] for i in idx]
    return torch.stack([it[0] for it in items]), torch.tensor([int(it[1]) for it in items])


def _bn_snapshot(model):
    return [b.clone() for b in ddp.bn_buffers(model)]


def _bn_restore(model, snap):
    for b, s in zip(ddp.bn_buffers(model), snap):
        b.copy_(s)


def train_student(cfg: dict, out_dir: str | Path, *, data=None, teacher_path: str | Path | None = None,
                  resume: bool = False, log: Callable[[str], None] = print) -> dict:
    cfg = validate(copy.deepcopy(cfg))
    tr, meth = cfg["train"], cfg["method"]
    stop_after = tr.pop("_stop_after_epoch", None)
    out = Path(out_dir)
    device = pick_device(tr.get("device", "auto"))
    if tr.get("threads"):
        torch.set_num_threads(int(tr["threads"]))
    if device.type == "cpu":
        keep_freed_heap()  # reuse freed T*B activations instead of re-faulting mmap pages (glibc_heap)
    rank, world = ddp.init_distributed(device)
    seed = int(tr["seed"])
    G = int(tr["batch_size"])
    micro = int(tr.get("micro_batches", 1))
    if G % (world * micro):
        raise InputError(None, f"train.batch_size {G} must be divisible by world size {world} x micro_batches {micro}")
    torch.manual_seed(seed)
    data = data if data is not None else load_data(cfg)
    num_classes = len(data.classes)
    cfg["student"] = resolve_student_cfg(cfg, num_classes)
    T = cfg["student"]["T"]
    method = meth["name"]

    student = build_student(cfg["student"]).to(device)
    objective = StudentObjective(student, meth, T).to(device)
    autocast = autocast_factory(device, bool(tr.get("amp", True)))

    # frozen teacher logits on every RGB training image (eval mode: deterministic, computed once)
    t_logits = None
    if method == "ckd":
        if teacher_path is None:
            raise InputError(None, "--method ckd needs --teacher <teacher checkpoint>")
        teacher, tck = load_teacher(teacher_path)
        if list(tck.get("classes", [])) != list(data.classes):
            raise InputError(teacher_path, "teacher classes differ from the dataset's classes")
        t_logits = teacher_logits(teacher.to(device), data.rgb_train, device).to(device)
        cfg["teacher"] = {**cfg["teacher"], **tck["config"]["teacher"], "checkpoint": str(teacher_path)}
        del teacher

    lr = learning_rate(tr, G)
    optimizer = torch.optim.AdamW(objective.parameters(), lr=lr, weight_decay=float(tr["weight_decay"]))
    dvs_labels = list(data.dvs_train.labels)
    n_batches = -(-len(dvs_labels) // G)
    epochs = int(tr["epochs"])
    total_steps = epochs * n_batches
    warm = int(tr["warmup_epochs"]) * n_batches
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: cosine_warmup_factor(s, total_steps, warm))

    fp_start = epochs - int(tr.get("fixed_point_epochs", 0) or 0)
    start_epoch, history, best_val, best_epoch = 0, [], -1.0, -1
    last_path, best_path = out / "last.pt", out / "best.pt"
    if resume and last_path.is_file():
        ck = read_checkpoint(last_path, "student")
        saved = copy.deepcopy(ck["config"])
        for c in (saved, cfg):
            c.get("teacher", {}).pop("checkpoint", None)
        def differs(sec):  # keys only one side has are defaults added by a newer version
            a, b = saved.get(sec, {}), cfg.get(sec, {})
            return any(a[k] != b[k] for k in set(a) & set(b))

        if any(differs(sec) for sec in ("method", "student", "data")):
            raise InputError(last_path, "--resume: the checkpoint was written by a different configuration")
        student.load_state_dict(ck["model"])
        if objective.da is not None:
            objective.da.load_state_dict(ck["domain_alignment"])
        optimizer.load_state_dict(ck["optimizer"])
        scheduler.load_state_dict(ck["scheduler"])
        set_rng_state(ck["rng"])
        start_epoch = ck["epoch"] + 1
        history = list(ck["metrics"].get("history", []))
        best_val, best_epoch = ck["metrics"].get("best_val_acc", -1.0), ck["metrics"].get("best_epoch", -1)
        log(f"ckd-train: resuming {out} at epoch {start_epoch}")

    if start_epoch >= epochs and (out / "summary.json").is_file():
        import json

        log(f"ckd-train: {out} already finished ({epochs} epochs); keeping its summary")
        return json.loads((out / "summary.json").read_text())
    model = objective
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            objective, device_ids=[device.index] if device.type == "cuda" else None,
            broadcast_buffers=False, find_unused_parameters=(method == "dvs-only"))
    if tr.get("compile") and device.type == "cuda":
        model = torch.compile(model)

    pair = data.pair_rgb_for_label if method != "dvs-only" else None
    show = bool(tr.get("progress", True)) and rank == 0
    t_run = time.time()
    samples = 0
    for epoch in range(start_epoch, epochs):
        seed_epoch(seed, epoch, rank)
        plan = make_epoch_plan(seed, epoch, dvs_labels, G, pair)
        gamma = kd_phase_weight(epoch, float(meth["e_th"]), float(meth["k"])) if method == "ckd" else 0.0
        objective.train()
        in_fp = epoch >= fp_start
        student.fixed_point = in_fp
        if in_fp:
            freeze_batchnorm(student)
        sums: dict[str, float] = {}
        correct = seen = 0
        t0 = time.time()
        it = range(plan.n_batches)
        if show:
            from tqdm import tqdm
            it = tqdm(it, desc=f"{method} epoch {epoch + 1}/{epochs}", leave=False, dynamic_ncols=True)
        P = 0.0
        for b in it:
            P = replacement_probability(b, epoch, n_batches, total_steps) if meth.get("replacement", True) else 0.0
            row_d, row_r, row_u = (shard(a[b], rank, world) for a in (plan.dvs_idx, plan.rgb_idx, plan.replace_u))
            optimizer.zero_grad(set_to_none=True)
            snap = _bn_snapshot(objective) if micro > 1 else None
            acc_bufs = None
            for k in range(micro):
                idx_d, idx_r, u = (shard(a, k, micro) for a in (row_d, row_r, row_u))
                x_d, y = _stack(data.dvs_train, idx_d)
                x_d = x_d.transpose(0, 1).to(device, non_blocking=True)
                y = y.to(device)
                kw = {}
                if method != "dvs-only":
                    hsv, _ = _stack(data.rgb_train, idx_r)
                    x_s = data.static_frames(hsv).to(device)
                    mask = torch.from_numpy(u < P).to(device)
                    if mask.any():
                        x_s = torch.where(mask.view(1, -1, 1, 1, 1), x_d, x_s)
                    kw["x_static"] = x_s
                    if t_logits is not None:
                        kw["teacher_logits"] = t_logits[torch.from_numpy(idx_r).to(device)]
                        kw["kd_weight"] = gamma
                if snap is not None:
                    _bn_restore(objective, snap)
                with autocast():
                    loss, stats, logits_d = model(x_d, y, **kw)
                (loss / micro).backward()
                if snap is not None:
                    cur = [b_.clone() for b_ in ddp.bn_buffers(objective)]
                    acc_bufs = cur if acc_bufs is None else [a + c for a, c in zip(acc_bufs, cur)]
                for key, v in stats.items():
                    sums[key] = sums.get(key, 0.0) + float(v) / micro
                correct += (logits_d.float().mean(0).argmax(1) == y).sum().item()
                seen += y.numel()
            if acc_bufs is not None:
                for b_, a in zip(ddp.bn_buffers(objective), acc_bufs):
                    b_.copy_(a / micro)
                for bn in ddp.bn_modules(objective):  # one step = one BN update, as on each DDP rank
                    bn.num_batches_tracked.sub_(micro - 1)
            optimizer.step()
            scheduler.step()
            ddp.average_bn_buffers(objective)
            samples += G
        train_time = time.time() - t0
        val_acc = evaluate_student(student, data.dvs_val, device, int(tr["eval_batch_size"]), autocast)
        # with fixed-point epochs only those compete for best.pt (the first of them always wins)
        improved = val_acc > best_val or (epoch == fp_start and fp_start > 0)
        # the DVS test split is only evaluated for the model that validation picks (and the last one)
        test_acc = (evaluate_student(student, data.dvs_test, device, int(tr["eval_batch_size"]), autocast)
                    if improved or epoch + 1 == epochs or tr.get("eval_test_every_epoch") else None)
        row = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"],
               **{f"train_{k}": ddp.all_mean(v / plan.n_batches, device) for k, v in sums.items()},
               "train_acc": ddp.all_mean(correct / max(1, seen), device), "val_acc": val_acc,
               "test_acc": test_acc, "replace_p": P, "kd_gamma": gamma, "epoch_s": train_time}
        history.append(row)
        if improved:
            best_val, best_epoch = val_acc, epoch + 1
        if rank == 0:
            metrics = {**row, "history": history, "best_val_acc": best_val, "best_epoch": best_epoch}
            extra = {"domain_alignment": objective.da.state_dict() if objective.da is not None else None}
            if in_fp:
                extra["fixed_point"] = {"grid": GRID_NAME, "since_epoch": fp_start + 1}
            ck = make_checkpoint("student", student.state_dict(), cfg, data.classes, epoch, optimizer,
                                 scheduler, metrics, extra)
            save_checkpoint(last_path, ck)
            if improved:
                save_checkpoint(best_path, ck)
            write_metrics_csv(out / "metrics.csv", history)
            log(f"[{method}] epoch {epoch + 1}/{epochs} loss {row.get('train_loss', float('nan')):.4f} "
                f"train {row['train_acc']:.3f} val {val_acc:.3f}"
                + (f" test {test_acc:.3f}" if test_acc is not None else "") + f" ({train_time:.1f}s)")
        if stop_after is not None and epoch + 1 >= int(stop_after) and epoch + 1 < epochs:
            raise Interrupted(f"stopped after epoch {epoch + 1} (train._stop_after_epoch)")
    best_row = next((r for r in history if r["epoch"] == best_epoch), history[-1] if history else {})
    summary = {"kind": "student", "method": method, "kd_loss": meth.get("kd_loss") if method == "ckd" else None,
               "seed": seed, "arch": cfg["student"]["arch"], "width": cfg["student"]["width"], "T": T,
               "epochs": epochs, "fixed_point_epochs": epochs - fp_start, "world_size": world, "global_batch": G, "lr": lr,
               "best_epoch": best_epoch, "best_val_acc": best_val,
               "test_acc_at_best_val": best_row.get("test_acc"),
               "final_val_acc": history[-1]["val_acc"] if history else None,
               "final_test_acc": history[-1]["test_acc"] if history else None,
               "dvs_train_samples": len(dvs_labels), "wall_s": time.time() - t_run,
               "train_samples_per_s": samples / max(1e-9, sum(r["epoch_s"] for r in history[-(epochs - start_epoch):]) if history else 1),
               "device": str(device), "best": str(best_path), "last": str(last_path)}
    if rank == 0:
        write_summary(out / "summary.json", summary)
    ddp.shutdown_distributed()
    return summary
