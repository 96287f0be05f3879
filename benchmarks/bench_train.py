"""Train-step throughput: multi-step engine vs a plain per-step snnTorch loop (same network, batch).

Both sides train the same VGGSNN (same initial weights, TET loss, AdamW; one step = zero_grad,
forward, backward, optimizer step) on the same random binary DVS batch ``[T, B, 2, 48, 48]``:

* ``multistep``: exactly what ``ckd-train`` runs — the ``ckd_train`` student in training mode:
  ``channels_last`` ``[T*B, C, H, W]`` frames, conv/BN/pool once over all ``T*B`` frames, only
  :class:`MultiStepLIF` (hand-written BPTT, ``_FusedLIF``) loops over T;
* ``per_step`` (the baseline of the ratio): the classic snnTorch loop — ``for t in range(T)`` the
  whole network (deep copies of the same conv/BN/pool/linear modules) runs on ``x[t]`` (default
  NCHW layout) with ``snntorch.Leaky(beta=0.5, threshold=1, spike_grad=Triangle(2),
  reset_mechanism="zero", init_hidden=True)`` neurons (``utils.reset`` before each batch);
* ``per_step_channels_last`` (information only, not the target's baseline): the same per-step
  loop fed ``channels_last`` frames, to show how much of the gain is the memory layout alone.

The three are interleaved (3 rounds, best round of each), so they see the same machine load; the
1-minute load average before and after is recorded. Prints samples/s and the ratios; writes JSON
to ``runs/bench/bench_train.json`` (``cpu``: the first configuration, ``cpu_grid``: all of them).
``--profile`` also prints a torch.profiler table of the multi-step train step.
Like ``ckd-train`` on CPU, the process first calls
:func:`ckd_toolchain.ckd_train.engine.glibc_heap.keep_freed_heap` (process-wide, so all sides get the same
allocator; ``--no-heap-tuning`` leaves glibc malloc at its defaults).
On CUDA (if present) it also records VGGSNN T=10 48x48 batch 120 throughput and peak memory.

    python benchmarks/bench_train.py [--width 0.125 0.25] [--batch 16 64] [--T 6] [--steps 3]
                                     [--threads 2] [--profile] [--no-heap-tuning]
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ckd_toolchain.atomic_io import write_json  # noqa: E402
from ckd_toolchain.ckd_train.engine.glibc_heap import keep_freed_heap  # noqa: E402
from ckd_toolchain.ckd_train.losses import tet_loss  # noqa: E402
from ckd_toolchain.ckd_train.models import build_student  # noqa: E402
from ckd_toolchain.ckd_train.models.lif import MultiStepLIF  # noqa: E402
from ckd_toolchain.ckd_train.models.surrogate import Triangle  # noqa: E402


def per_step_copy(student):
    """The same network as a plain snnTorch per-step model (shares nothing, same weights)."""
    import snntorch

    feats = []
    for m in student.features:
        if isinstance(m, MultiStepLIF):
            feats.append(snntorch.Leaky(beta=m.beta, threshold=m.threshold, spike_grad=Triangle(m.alpha),
                                        reset_mechanism="zero", init_hidden=True))
        else:
            feats.append(copy.deepcopy(m))
    net = nn.Sequential(*feats, copy.deepcopy(student.head_dvs))
    return net


def per_step_forward(net, x):
    import snntorch.utils

    snntorch.utils.reset(net)
    return torch.stack([net(x[t]) for t in range(x.shape[0])])


def time_steps(step, n_warm, n):
    for _ in range(n_warm):
        step()
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) / n


def bench_pair(width, T, B, steps, device, classes=10, rounds=3, profile=False):
    torch.manual_seed(0)
    student = build_student({"arch": "vgg", "width": width, "num_classes": classes, "T": T}).to(device)
    student.train()
    ref = per_step_copy(student).to(device)
    ref_cl = per_step_copy(student).to(device)
    x = (torch.rand(T, B, 2, 48, 48, device=device) < 0.15).float()
    x_cl = x.reshape(T * B, 2, 48, 48).contiguous(memory_format=torch.channels_last).reshape(x.shape)
    y = torch.randint(0, classes, (B,), device=device)
    opts = [torch.optim.AdamW(m.parameters(), lr=1e-3) for m in (student, ref, ref_cl)]

    def step_multi():
        opts[0].zero_grad(set_to_none=True)
        tet_loss(student(x), y).backward()
        opts[0].step()

    def step_ref():
        opts[1].zero_grad(set_to_none=True)
        tet_loss(per_step_forward(ref, x), y).backward()
        opts[1].step()

    def step_ref_cl():
        opts[2].zero_grad(set_to_none=True)
        tet_loss(per_step_forward(ref_cl, x_cl), y).backward()
        opts[2].step()

    load0 = os.getloadavg()[0]
    # interleave rounds so all sides see the same machine load; best round of each
    times = {"multi": [], "ref": [], "ref_cl": []}
    for _ in range(rounds):
        times["multi"].append(time_steps(step_multi, 1, steps))
        times["ref"].append(time_steps(step_ref, 1, steps))
        times["ref_cl"].append(time_steps(step_ref_cl, 1, steps))
    a, b, c = (min(times[k]) for k in ("multi", "ref", "ref_cl"))
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as prof

        with prof(activities=[ProfilerActivity.CPU]) as p:
            for _ in range(steps):
                step_multi()
        print(f"multi-step train step, width {width} T={T} batch {B}: torch.profiler, {steps} steps")
        print(p.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
    return {"width": width, "T": T, "batch": B, "steps": steps, "rounds": rounds, "device": str(device),
            "multistep_samples_per_s": B / a, "per_step_samples_per_s": B / b,
            "per_step_channels_last_samples_per_s": B / c, "ratio": b / a,
            "ratio_vs_per_step_channels_last": c / a,
            "step_ms": {"multistep": 1e3 * a, "per_step": 1e3 * b, "per_step_channels_last": 1e3 * c},
            "loadavg_1min_before_after": [load0, os.getloadavg()[0]]}


def bench_cuda_full():
    dev = torch.device("cuda")
    torch.manual_seed(0)
    m = build_student({"arch": "vgg", "width": 1.0, "num_classes": 101, "T": 10}).to(dev)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    x = (torch.rand(10, 120, 2, 48, 48, device=dev) < 0.15).float()
    y = torch.randint(0, 101, (120,), device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = tet_loss(m(x), y)
        loss.backward()
        opt.step()
        torch.cuda.synchronize()

    torch.cuda.reset_peak_memory_stats()
    dt = time_steps(step, 2, 10)
    return {"config": "VGGSNN T=10 48x48 batch 120 bf16", "samples_per_s": 120 / dt,
            "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30, "gpu": torch.cuda.get_device_name()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=float, nargs="+", default=[0.125, 0.25])
    ap.add_argument("--T", type=int, default=6)
    ap.add_argument("--batch", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--profile", action="store_true", help="print a torch.profiler table of the multi-step step")
    ap.add_argument("--no-heap-tuning", action="store_true",
                    help="do not call glibc_heap.keep_freed_heap() (ckd-train on CPU does)")
    ap.add_argument("--out", default=str(REPO / "runs" / "bench" / "bench_train.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    heap = False if args.no_heap_tuning else keep_freed_heap()
    grid = []
    for w in args.width:
        for B in args.batch:
            c = bench_pair(w, args.T, B, args.steps, torch.device("cpu"), profile=args.profile)
            grid.append(c)
            print(f"CPU VGGSNN width {c['width']} T={c['T']} batch {c['batch']}: multi-step "
                  f"{c['multistep_samples_per_s']:.1f} samples/s, per-step snnTorch "
                  f"{c['per_step_samples_per_s']:.1f} samples/s, ratio {c['ratio']:.2f}x (target >= 3x); "
                  f"per-step channels_last {c['per_step_channels_last_samples_per_s']:.1f} samples/s "
                  f"(ratio {c['ratio_vs_per_step_channels_last']:.2f}x), load "
                  f"{c['loadavg_1min_before_after'][0]:.2f}->{c['loadavg_1min_before_after'][1]:.2f}",
                  flush=True)
    res = {"benchmark": "train-step throughput, multi-step engine vs per-step snnTorch loop",
           "torch": torch.__version__, "machine": platform.machine(), "cpu_count": os.cpu_count(),
           "threads": args.threads, "glibc_keep_freed_heap": heap, "cpu": grid[0], "cpu_grid": grid}
    if torch.cuda.is_available():
        res["cuda_pair"] = bench_pair(1.0, 10, 120, 10, torch.device("cuda"))
        res["cuda_full"] = bench_cuda_full()
        print(json.dumps(res["cuda_full"]))
    else:
        res["cuda"] = "no CUDA device: GPU throughput/peak memory not measured"
    write_json(args.out, res)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
