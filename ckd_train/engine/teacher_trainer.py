"""ANN teacher fine-tuning on HSV images (CKD Sec. III: the teacher sees HSV-converted RGB; paper:
20 epochs). AdamW + cosine with warm-up, random horizontal flip, ``best.pt`` by RGB validation
accuracy, ``last.pt`` every epoch (``kind: "teacher"`` checkpoints, :mod:`ckd_toolchain.ckd_train.checkpoint`).

``teacher.weights``: a torchvision ImageNet ``.pth`` for the same arch (width 1) is loaded with
``strict=True`` into the 1000-class network, then ``fc`` is replaced by a freshly initialised
``Linear(in, classes)`` (the ImageNet classifier is dropped).
"""
from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from ckd_toolchain.ckd_train.engine.checkpointing import (make_checkpoint, save_checkpoint, seed_epoch, set_rng_state,
                                            write_metrics_csv, write_summary)
from ckd_toolchain.ckd_train.engine.device import autocast_factory, pick_device
from ckd_toolchain.ckd_train.checkpoint import read_checkpoint
from ckd_toolchain.ckd_train.engine.finite_guard import check_step
from ckd_toolchain.ckd_train.engine.run_config import check_resume_config
from ckd_toolchain.ckd_train.engine.evaluation import evaluate_teacher
from ckd_toolchain.ckd_train.losses import cosine_warmup_factor
from ckd_toolchain.ckd_train.models import build_teacher
from ckd_toolchain.ckd_train.models.teacher_resnet import load_torchvision_weights


def train_teacher(cfg: dict, out_dir: str | Path, *, data=None, resume: bool = False,
                  allow_changed_config: bool = False, log: Callable[[str], None] = print) -> dict:
    cfg = copy.deepcopy(cfg)
    tc, tr = cfg["teacher"], cfg["train"]
    out = Path(out_dir)
    device = pick_device(tr.get("device", "auto"))
    if tr.get("threads"):
        torch.set_num_threads(int(tr["threads"]))
    seed = int(tr["seed"])
    torch.manual_seed(seed)
    if data is None:
        from ckd_toolchain.ckd_train.engine.student_trainer import load_data
        data = load_data(cfg)
    model, arch_cfg = _build_model(tc, len(data.classes), device)
    cfg["teacher"] = {**tc, **arch_cfg}
    B = int(tc.get("batch_size", 64))
    epochs = int(tc.get("epochs", 20))
    n = len(data.rgb_train)
    n_batches = -(-n // B)
    opt = torch.optim.AdamW(model.parameters(), lr=float(tc.get("lr", 1e-3)), weight_decay=float(tc.get("weight_decay", 0.01)))
    total, warm = epochs * n_batches, int(tc.get("warmup_epochs", 1)) * n_batches
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine_warmup_factor(s, total, warm))
    autocast = autocast_factory(device, bool(tr.get("amp", True)))
    labels = torch.tensor([int(l) for l in data.rgb_train.labels])
    start, history, best_val, best_epoch = 0, [], -1.0, -1
    if resume and (out / "last.pt").is_file():
        start, history, best_val, best_epoch = _resume(out / "last.pt", model, opt, sched, cfg,
                                                       allow_changed_config, log)
    images = torch.stack([data.rgb_train[i][0] for i in range(n)])
    t_run = time.time()
    for epoch in range(start, epochs):
        seed_epoch(seed, epoch)
        t0 = time.time()
        tot_loss, correct = _train_epoch(model, images, labels, B, opt, sched, autocast, device, out, epoch)
        val = evaluate_teacher(model, data.rgb_val, device)
        test = evaluate_teacher(model, data.rgb_test, device)
        row = {"epoch": epoch + 1, "lr": opt.param_groups[0]["lr"], "train_loss": tot_loss / n,
               "train_acc": correct / n, "val_acc": val, "test_acc": test, "epoch_s": time.time() - t0}
        history.append(row)
        improved = val > best_val
        if improved:
            best_val, best_epoch = val, epoch + 1
        ck = make_checkpoint("teacher", model.state_dict(), cfg, data.classes, epoch, opt, sched,
                             {**row, "history": history, "best_val_acc": best_val, "best_epoch": best_epoch})
        _write_epoch(out, ck, improved, history)
        log(f"[teacher] epoch {epoch + 1}/{epochs} loss {row['train_loss']:.4f} train {row['train_acc']:.3f} "
            f"val {val:.3f} test(rgb) {test:.3f} ({row['epoch_s']:.1f}s)")
    best_row = next((r for r in history if r["epoch"] == best_epoch), {})
    summary = {"kind": "teacher", "arch": arch_cfg["arch"], "width": arch_cfg["width"], "seed": seed,
               "epochs": epochs, "best_epoch": best_epoch, "best_val_acc": best_val,
               "rgb_test_acc_at_best_val": best_row.get("test_acc"), "wall_s": time.time() - t_run,
               "pretrained": tc.get("weights"), "best": str(out / "best.pt")}
    write_summary(out / "summary.json", summary)
    return summary


def _build_model(tc: dict, num_classes: int, device: torch.device):
    """``(teacher on device, its arch config)``; ``teacher.weights``: torchvision weights, new ``fc``."""
    arch_cfg = {"arch": tc.get("arch", "resnet18"), "width": float(tc.get("width", 1.0)), "num_classes": num_classes}
    if tc.get("weights"):
        model = build_teacher({**arch_cfg, "num_classes": 1000})
        model = load_torchvision_weights(model, tc["weights"], num_classes)
    else:
        model = build_teacher(arch_cfg)
    return model.to(device), arch_cfg


def _resume(path: Path, model, opt, sched, cfg: dict, allow_changed: bool, log) -> tuple[int, list, float, int]:
    """Load ``last.pt`` into model/optimiser/schedule/RNG: ``(start epoch, history, best val, best epoch)``;
    refuses changed teacher/data settings or seed unless ``allow_changed``."""
    ck = read_checkpoint(path, "teacher")
    saved = ck["config"]
    check_resume_config(path, saved, cfg, allow_changed, log, sections=("teacher", "data"))
    check_resume_config(path, {"train": {"seed": saved.get("train", {}).get("seed")}},
                        {"train": {"seed": cfg["train"]["seed"]}}, allow_changed, log, sections=("train",))
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    sched.load_state_dict(ck["scheduler"])
    set_rng_state(ck["rng"])
    m = ck["metrics"]
    return ck["epoch"] + 1, m.get("history", []), m.get("best_val_acc", -1.0), m.get("best_epoch", -1)


def _train_epoch(model, images: torch.Tensor, labels: torch.Tensor, B: int, opt, sched, autocast,
                 device, out=None, epoch: int = 0) -> tuple[float, int]:
    """One pass over a random permutation (random horizontal flips): ``(summed loss, correct)``."""
    model.train()
    n = images.shape[0]
    perm = torch.randperm(n)
    tot_loss, correct = 0.0, 0
    for b in range(-(-n // B)):
        idx = perm[b * B:(b + 1) * B]
        x, y = images[idx].clone(), labels[idx]
        flip = torch.rand(len(idx)) < 0.5
        x[flip] = x[flip].flip(-1)
        x, y = x.to(device), y.to(device)
        with autocast():
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        check_step(out, epoch, b, loss.item(), model.parameters(), f"teacher.lr {opt.param_groups[0]['lr']:g}")
        tot_loss += loss.item() * len(idx)
        correct += (logits.argmax(1) == y).sum().item()
    return tot_loss, correct


def _write_epoch(out: Path, ck: dict, improved: bool, history: list[dict]) -> None:
    save_checkpoint(out / "last.pt", ck)
    if improved:
        save_checkpoint(out / "best.pt", ck)
    write_metrics_csv(out / "metrics.csv", history)
