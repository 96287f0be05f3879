"""Student training loop (dvs-only | transfer | ckd), single process or torchrun DDP.

Per epoch: a deterministic :mod:`epoch plan <ckd_train.engine.epoch_plan>` (``train.sampler``), one
optimiser step per global batch (AdamW, cosine schedule with linear warm-up, per step or per epoch:
``train.lr_schedule``), evaluation of the DVS head on
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
import gc
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from ckd_toolchain.ckd_train.checkpoint import load_teacher, read_checkpoint
from ckd_toolchain.ckd_train.engine import distributed as ddp
from ckd_toolchain.ckd_train.engine.checkpointing import (make_checkpoint, save_checkpoint, seed_epoch, set_rng_state,
                                            write_metrics_csv, write_summary)
from ckd_toolchain.ckd_train.engine.device import autocast_factory, pick_device
from ckd_toolchain.ckd_train.engine.epoch_plan import make_epoch_plan, shard
from ckd_toolchain.ckd_train.engine.finite_guard import check_step
from ckd_toolchain.ckd_train.engine.evaluation import evaluate_student, teacher_class_maps, teacher_logits
from ckd_toolchain.ckd_train.engine.glibc_heap import keep_freed_heap
from ckd_toolchain.ckd_train.engine.objective import StudentObjective
from ckd_toolchain.ckd_train.engine.param_groups import weight_decay_groups
from ckd_toolchain.ckd_train.engine.run_config import check_resume_config, learning_rate, validate
from ckd_toolchain.errors import InputError
from ckd_toolchain.ckd_train.losses import kd_phase_weight, replacement_probability
from ckd_toolchain.ckd_train.losses.schedules import lr_factor
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
                  resume: bool = False, allow_changed_config: bool = False,
                  log: Callable[[str], None] = print) -> dict:
    """Train a student into ``out_dir`` (see the module docstring); returns the summary dict.
    ``--resume`` refuses a checkpoint written with other settings unless ``allow_changed_config``."""
    run = StudentRun.setup(cfg, out_dir, data=data, teacher_path=teacher_path, log=log)
    if resume and run.last_path.is_file():
        run.resume_from(run.last_path, allow_changed_config)
    if run.start_epoch >= run.epochs and (run.out / "summary.json").is_file():
        import json

        log(f"ckd-train: {run.out} already finished ({run.epochs} epochs); keeping its summary")
        return json.loads((run.out / "summary.json").read_text())
    model = run.parallel_model()
    t_run = time.time()
    for epoch in range(run.start_epoch, run.epochs):
        run.run_epoch(model, epoch)
    summary = run.summary(t_run)
    if run.rank == 0:
        write_summary(run.out / "summary.json", summary)
    del model  # the DDP wrapper's reducer uses the process group: release it before the group goes
    gc.collect()
    ddp.shutdown_distributed()
    return summary


def _runtime(tr: dict) -> tuple[torch.device, int, int]:
    """Pick the device, set threads and the CPU heap policy, join the DDP group: ``(device, rank, world)``."""
    device = pick_device(tr.get("device", "auto"))
    if tr.get("threads"):
        torch.set_num_threads(int(tr["threads"]))
    if device.type == "cpu":
        keep_freed_heap()  # reuse freed T*B activations instead of re-faulting mmap pages (glibc_heap)
    rank, world = ddp.init_distributed(device)
    return device, rank, world


def _frozen_teacher_logits(cfg: dict, teacher_path, data, device: torch.device) -> torch.Tensor:
    """Logits of the frozen teacher on every RGB training image (eval mode: deterministic, computed
    once); records the teacher's config in ``cfg["teacher"]``."""
    if teacher_path is None:
        raise InputError(None, "--method ckd needs --teacher <teacher checkpoint>")
    teacher, tck = load_teacher(teacher_path)
    if list(tck.get("classes", [])) != list(data.classes):
        raise InputError(teacher_path, "teacher classes differ from the dataset's classes")
    t_logits = teacher_logits(teacher.to(device), data.rgb_train, device).to(device)
    cfg["teacher"] = {**cfg["teacher"], **tck["config"]["teacher"], "checkpoint": str(teacher_path)}
    return t_logits


@dataclass
class _EpochTotals:
    """Running sums of one epoch's training batches (this rank)."""

    sums: dict[str, float] = field(default_factory=dict)
    correct: int = 0
    seen: int = 0
    replace_p: float = 0.0   # the replacement probability of the last batch


@dataclass
class StudentRun:
    """One student training run: its configuration, data, model, optimiser and progress."""

    cfg: dict
    out: Path
    log: Callable[[str], None]
    stop_after: int | None
    device: torch.device
    rank: int
    world: int
    data: object
    student: torch.nn.Module
    objective: StudentObjective
    autocast: Callable
    t_logits: torch.Tensor | None
    t_cams: torch.Tensor | None   # [N_rgb_train, h, w] teacher class activation maps (SAMD), else None
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    lr: float
    dvs_labels: list
    n_batches: int
    start_epoch: int = 0
    history: list = field(default_factory=list)
    best_val: float = -1.0
    best_epoch: int = -1
    samples: int = 0

    # -- configuration views
    @property
    def tr(self) -> dict:
        return self.cfg["train"]

    @property
    def meth(self) -> dict:
        return self.cfg["method"]

    @property
    def method(self) -> str:
        return self.meth["name"]

    @property
    def seed(self) -> int:
        return int(self.tr["seed"])

    @property
    def global_batch(self) -> int:
        return int(self.tr["batch_size"])

    @property
    def micro(self) -> int:
        return int(self.tr.get("micro_batches", 1))

    @property
    def epochs(self) -> int:
        return int(self.tr["epochs"])

    @property
    def total_steps(self) -> int:
        return self.epochs * self.n_batches

    @property
    def fp_start(self) -> int:
        """First fixed-point-aware epoch (0-based); ``epochs`` when there is none."""
        return self.epochs - int(self.tr.get("fixed_point_epochs", 0) or 0)

    @property
    def last_path(self) -> Path:
        return self.out / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.out / "best.pt"

    # -- setup
    @classmethod
    def setup(cls, cfg: dict, out_dir, *, data=None, teacher_path=None,
              log: Callable[[str], None] = print) -> "StudentRun":
        """Validate ``cfg``, then data, student, objective, frozen teacher logits, optimiser and
        schedule, in this order (the torch RNG is consumed as an uninterrupted run does)."""
        cfg = validate(copy.deepcopy(cfg))
        tr = cfg["train"]
        stop_after = tr.pop("_stop_after_epoch", None)
        device, rank, world = _runtime(tr)
        G, micro = int(tr["batch_size"]), int(tr.get("micro_batches", 1))
        if G % (world * micro):
            raise InputError(None, f"train.batch_size {G} must be divisible by world size {world} x micro_batches {micro}")
        torch.manual_seed(int(tr["seed"]))
        data = data if data is not None else load_data(cfg)
        cfg["student"] = resolve_student_cfg(cfg, len(data.classes))
        student = build_student(cfg["student"]).to(device)
        objective = StudentObjective(student, cfg["method"], cfg["student"]["T"]).to(device)
        autocast = autocast_factory(device, bool(tr.get("amp", True)))
        t_logits = (_frozen_teacher_logits(cfg, teacher_path, data, device)
                    if cfg["method"]["name"] == "ckd" else None)
        t_cams = (teacher_class_maps(load_teacher(teacher_path)[0].to(device), data.rgb_train, device).to(device)
                  if objective.samd_weight > 0 else None)
        lr = learning_rate(tr, G)
        optimizer = torch.optim.AdamW(weight_decay_groups(objective, float(tr["weight_decay"]),
                                                          bool(tr.get("no_decay_1d", True))), lr=lr)
        dvs_labels = list(data.dvs_train.labels)
        n_batches = -(-len(dvs_labels) // G)
        sched = (str(tr.get("lr_schedule", "cosine-step")), n_batches, int(tr["epochs"]), int(tr["warmup_epochs"]), lr,
                 float(tr.get("min_lr", 1e-5)), float(tr.get("warmup_lr", 1e-6)))
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(sched[0], s, *sched[1:]))
        return cls(cfg=cfg, out=Path(out_dir), log=log, stop_after=stop_after, device=device, rank=rank,
                   world=world, data=data, student=student, objective=objective, autocast=autocast,
                   t_logits=t_logits, t_cams=t_cams, optimizer=optimizer, scheduler=scheduler, lr=lr, dvs_labels=dvs_labels,
                   n_batches=n_batches)

    def resume_from(self, path: Path, allow_changed_config: bool = False) -> None:
        """Continue from ``path`` (``last.pt``): weights, optimiser, schedule, RNG and history."""
        ck = read_checkpoint(path, "student")
        check_resume_config(path, ck["config"], self.cfg, allow_changed_config, self.log)
        self.student.load_state_dict(ck["model"])
        if self.objective.da is not None:
            self.objective.da.load_state_dict(ck["domain_alignment"])
        self.optimizer.load_state_dict(ck["optimizer"])
        self.scheduler.load_state_dict(ck["scheduler"])
        set_rng_state(ck["rng"])
        self.start_epoch = ck["epoch"] + 1
        self.history = list(ck["metrics"].get("history", []))
        self.best_val, self.best_epoch = ck["metrics"].get("best_val_acc", -1.0), ck["metrics"].get("best_epoch", -1)
        self.log(f"ckd-train: resuming {self.out} at epoch {self.start_epoch}")

    def parallel_model(self) -> torch.nn.Module:
        """The objective as trained: wrapped in DDP when world > 1, compiled on CUDA when asked."""
        model = self.objective
        if self.world > 1:
            model = torch.nn.parallel.DistributedDataParallel(
                self.objective, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                broadcast_buffers=False, find_unused_parameters=(self.method == "dvs-only"))
        if self.tr.get("compile") and self.device.type == "cuda":
            model = torch.compile(model)
        return model

    # -- one epoch
    def run_epoch(self, model: torch.nn.Module, epoch: int) -> None:
        """Train one epoch, evaluate, select, write checkpoints; raise :class:`Interrupted` when asked."""
        seed_epoch(self.seed, epoch, self.rank)
        pair = self.data.pair_rgb_for_label if self.method != "dvs-only" else None
        nld = self.method == "ckd" and self.meth.get("kd_loss") == "nld"
        plan = make_epoch_plan(self.seed, epoch, self.dvs_labels, self.global_batch, pair,
                               noise_classes=len(self.data.classes) if nld else 0,
                               sampler=str(self.tr.get("sampler", "shuffle")))
        gamma = (kd_phase_weight(epoch, float(self.meth["e_th"]), float(self.meth["k"]))
                 if self.method == "ckd" else 0.0)
        self.objective.train()
        in_fp = epoch >= self.fp_start
        self.student.fixed_point = in_fp
        if in_fp:
            freeze_batchnorm(self.student)
        t0 = time.time()
        totals = self._train_batches(model, plan, epoch, gamma)
        train_time = time.time() - t0
        row, improved = self._validate(epoch, plan.n_batches, totals, gamma, train_time)
        self.history.append(row)
        if improved:
            self.best_val, self.best_epoch = row["val_acc"], epoch + 1
        if self.rank == 0:
            self._write_epoch(epoch, row, improved, in_fp)
        if self.stop_after is not None and epoch + 1 >= int(self.stop_after) and epoch + 1 < self.epochs:
            raise Interrupted(f"stopped after epoch {epoch + 1} (train._stop_after_epoch)")

    def _train_batches(self, model, plan, epoch: int, gamma: float) -> _EpochTotals:
        totals = _EpochTotals()
        it = range(plan.n_batches)
        if bool(self.tr.get("progress", True)) and self.rank == 0:
            from tqdm import tqdm
            it = tqdm(it, desc=f"{self.method} epoch {epoch + 1}/{self.epochs}", leave=False, dynamic_ncols=True)
        for b in it:
            totals.replace_p = (replacement_probability(b, epoch, self.n_batches, self.total_steps)
                                if self.meth.get("replacement", True) else 0.0)
            loss = self._optimizer_step(model, plan, b, gamma, totals)
            check_step(self.out, epoch, b, loss, self.objective.parameters(), f"lr {self.lr:g}")
        return totals

    def _optimizer_step(self, model, plan, b: int, gamma: float, totals: _EpochTotals) -> float:
        """One global batch: ``micro_batches`` forward/backward passes, then one optimiser step
        (with micro-batches the BN statistics are averaged into one update, as on DDP ranks)."""
        micro, objective = self.micro, self.objective
        row_d, row_r, row_u = (shard(a[b], self.rank, self.world) for a in (plan.dvs_idx, plan.rgb_idx, plan.replace_u))
        row_n = shard(plan.nld_noise[b], self.rank, self.world, axis=0) if plan.nld_noise is not None else None
        self.optimizer.zero_grad(set_to_none=True)
        snap = _bn_snapshot(objective) if micro > 1 else None
        nbt0 = [bn.num_batches_tracked.clone() for bn in ddp.bn_modules(objective)] if snap is not None else None
        acc_bufs = None
        total_loss = 0.0
        for k in range(micro):
            idx_d, idx_r, u = (shard(a, k, micro) for a in (row_d, row_r, row_u))
            x_d, y, kw = self._micro_inputs(idx_d, idx_r, u, totals.replace_p, gamma)
            if row_n is not None:
                kw["nld_noise"] = torch.from_numpy(shard(row_n, k, micro, axis=0)).to(self.device)
            if snap is not None:
                _bn_restore(objective, snap)
            with self.autocast():
                loss, stats, logits_d = model(x_d, y, **kw)
            (loss / micro).backward()
            total_loss += float(loss.detach()) / micro
            if snap is not None:
                cur = [b_.clone() for b_ in ddp.bn_buffers(objective)]
                acc_bufs = cur if acc_bufs is None else [a + c for a, c in zip(acc_bufs, cur)]
            for key, v in stats.items():
                totals.sums[key] = totals.sums.get(key, 0.0) + float(v) / micro
            totals.correct += (logits_d.float().mean(0).argmax(1) == y).sum().item()
            totals.seen += y.numel()
        if acc_bufs is not None:
            for b_, a in zip(ddp.bn_buffers(objective), acc_bufs):
                b_.copy_(a / micro)
            for bn, n0 in zip(ddp.bn_modules(objective), nbt0):  # the updates of one micro pass, as on each DDP rank
                bn.num_batches_tracked.copy_(n0 + (bn.num_batches_tracked - n0) // micro)
        self.optimizer.step()
        self.scheduler.step()
        ddp.average_bn_buffers(objective)
        self.samples += self.global_batch
        return total_loss

    def _micro_inputs(self, idx_d, idx_r, u, replace_p: float, gamma: float):
        """``(x_dvs[T, B, ...], labels, objective kwargs)`` of one micro-batch: the paired static
        frames (each replaced by its DVS sample with probability ``replace_p``), teacher logits and,
        for SAMD, the teacher's class activation maps and which static samples were not replaced."""
        device, data = self.device, self.data
        x_d, y = _stack(data.dvs_train, idx_d)
        x_d = x_d.transpose(0, 1).to(device, non_blocking=True)
        y = y.to(device)
        kw = {}
        if self.method != "dvs-only":
            hsv, _ = _stack(data.rgb_train, idx_r)
            x_s = data.static_frames(hsv).to(device)
            mask = torch.from_numpy(u < replace_p).to(device)
            if mask.any():
                x_s = torch.where(mask.view(1, -1, 1, 1, 1), x_d, x_s)
            kw["x_static"] = x_s
            if self.t_logits is not None:
                kw["teacher_logits"] = self.t_logits[torch.from_numpy(idx_r).to(device)]
                kw["kd_weight"] = gamma
            if self.t_cams is not None:
                kw["teacher_cam"] = self.t_cams[torch.from_numpy(idx_r).to(device)]
                kw["samd_keep"] = ~mask
        return x_d, y, kw

    def _validate(self, epoch: int, n_plan_batches: int, totals: _EpochTotals, gamma: float,
                  train_time: float) -> tuple[dict, bool]:
        """The epoch's metrics row and whether it is the new best (validation accuracy)."""
        device, tr = self.device, self.tr
        val_acc = evaluate_student(self.student, self.data.dvs_val, device, int(tr["eval_batch_size"]), self.autocast)
        # with fixed-point epochs only those compete for best.pt (the first of them always wins)
        improved = val_acc > self.best_val or (epoch == self.fp_start and self.fp_start > 0)
        # the DVS test split is only evaluated for the model that validation picks (and the last one)
        test_acc = (evaluate_student(self.student, self.data.dvs_test, device, int(tr["eval_batch_size"]), self.autocast)
                    if improved or epoch + 1 == self.epochs or tr.get("eval_test_every_epoch") else None)
        row = {"epoch": epoch + 1, "lr": self.optimizer.param_groups[0]["lr"],
               **{f"train_{k}": ddp.all_mean(v / n_plan_batches, device) for k, v in totals.sums.items()},
               "train_acc": ddp.all_mean(totals.correct / max(1, totals.seen), device), "val_acc": val_acc,
               "test_acc": test_acc, "replace_p": totals.replace_p, "kd_gamma": gamma, "epoch_s": train_time}
        return row, improved

    def _write_epoch(self, epoch: int, row: dict, improved: bool, in_fp: bool) -> None:
        """``last.pt`` (and ``best.pt`` when improved), ``metrics.csv`` and the epoch's log line."""
        metrics = {**row, "history": self.history, "best_val_acc": self.best_val, "best_epoch": self.best_epoch}
        da = self.objective.da
        extra = {"domain_alignment": da.state_dict() if da is not None else None}
        if in_fp:
            extra["fixed_point"] = {"grid": GRID_NAME, "since_epoch": self.fp_start + 1}
        ck = make_checkpoint("student", self.student.state_dict(), self.cfg, self.data.classes, epoch,
                             self.optimizer, self.scheduler, metrics, extra)
        save_checkpoint(self.last_path, ck)
        if improved:
            save_checkpoint(self.best_path, ck)
        write_metrics_csv(self.out / "metrics.csv", self.history)
        test_acc = row["test_acc"]
        self.log(f"[{self.method}] epoch {epoch + 1}/{self.epochs} loss {row.get('train_loss', float('nan')):.4f} "
                 f"train {row['train_acc']:.3f} val {row['val_acc']:.3f}"
                 + (f" test {test_acc:.3f}" if test_acc is not None else "") + f" ({row['epoch_s']:.1f}s)")

    # -- end of the run
    def summary(self, t_run: float) -> dict:
        """``summary.json`` of the run (``t_run``: ``time.time()`` when the first epoch started)."""
        history, epochs, cfg = self.history, self.epochs, self.cfg
        best_row = next((r for r in history if r["epoch"] == self.best_epoch), history[-1] if history else {})
        train_s = sum(r["epoch_s"] for r in history[-(epochs - self.start_epoch):])
        return {"kind": "student", "method": self.method,
                "kd_loss": self.meth.get("kd_loss") if self.method == "ckd" else None,
                "samd_weight": self.objective.samd_weight if self.method == "ckd" else None,
                "seed": self.seed, "arch": cfg["student"]["arch"], "width": cfg["student"]["width"],
                "T": cfg["student"]["T"], "epochs": epochs, "fixed_point_epochs": epochs - self.fp_start,
                "world_size": self.world, "global_batch": self.global_batch, "lr": self.lr,
                "best_epoch": self.best_epoch, "best_val_acc": self.best_val,
                "test_acc_at_best_val": best_row.get("test_acc"),
                "final_val_acc": history[-1]["val_acc"] if history else None,
                "final_test_acc": history[-1]["test_acc"] if history else None,
                "dvs_train_samples": len(self.dvs_labels), "wall_s": time.time() - t_run,
                "train_samples_per_s": self.samples / max(1e-9, train_s) if history else 1,
                "device": str(self.device), "best": str(self.best_path), "last": str(self.last_path)}
