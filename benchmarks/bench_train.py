"""Train-step throughput: multi-step engine vs a plain per-step snnTorch loop (same network, batch).

Both sides train the same VGGSNN (same initial weights, TET loss, AdamW) on the same random binary
DVS batch ``[T, B, 2, 48, 48]``:

* ``multistep``: ``ckd_train`` student — conv/BN/pool run once over all ``T*B`` frames, only
  :class:`MultiStepLIF` loops over T;
* ``per_step``: the classic snnTorch loop — ``for t in range(T)`` the whole network runs on
  ``x[t]`` with ``snntorch.Leaky(beta=0.5, threshold=1, reset_mechanism="zero",
  init_hidden=True)`` neurons (``utils.reset`` before each sample batch).

Prints samples/s for both and their ratio; writes JSON to ``runs/bench/bench_train.json``.
On CUDA (if present) it also records VGGSNN T=10 48x48 batch 120 throughput and peak memory.

    python benchmarks/bench_train.py [--width 0.125] [--T 6] [--batch 16] [--steps 8] [--threads 2]
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ckd_train.atomic_io import write_json  # noqa: E402
from ckd_train.losses import tet_loss  # noqa: E402
from ckd_train.models import build_student  # noqa: E402
from ckd_train.models.lif import MultiStepLIF  # noqa: E402
from ckd_train.models.surrogate import Triangle  # noqa: E402


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


def bench_pair(width, T, B, steps, device, classes=10):
    torch.manual_seed(0)
    student = build_student({"arch": "vgg", "width": width, "num_classes": classes, "T": T}).to(device)
    ref = per_step_copy(student).to(device)
    x = (torch.rand(T, B, 2, 48, 48, device=device) < 0.15).float()
    y = torch.randint(0, classes, (B,), device=device)
    opt_a = torch.optim.AdamW(student.parameters(), lr=1e-3)
    opt_b = torch.optim.AdamW(ref.parameters(), lr=1e-3)

    def step_multi():
        opt_a.zero_grad(set_to_none=True)
        tet_loss(student(x), y).backward()
        opt_a.step()

    def step_ref():
        opt_b.zero_grad(set_to_none=True)
        tet_loss(per_step_forward(ref, x), y).backward()
        opt_b.step()

    # interleave repetitions so both see the same machine load
    ta, tb = [], []
    for _ in range(3):
        ta.append(time_steps(step_multi, 1, steps))
        tb.append(time_steps(step_ref, 1, steps))
    a, b = min(ta), min(tb)
    return {"width": width, "T": T, "batch": B, "steps": steps, "device": str(device),
            "multistep_samples_per_s": B / a, "per_step_samples_per_s": B / b, "ratio": b / a}


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
    ap.add_argument("--width", type=float, default=0.125)
    ap.add_argument("--T", type=int, default=6)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(REPO / "runs" / "bench" / "bench_train.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    res = {"benchmark": "train-step throughput, multi-step engine vs per-step snnTorch loop",
           "torch": torch.__version__, "machine": platform.machine(), "threads": args.threads,
           "cpu": bench_pair(args.width, args.T, args.batch, args.steps, torch.device("cpu"))}
    c = res["cpu"]
    print(f"CPU VGGSNN width {c['width']} T={c['T']} batch {c['batch']}: multi-step "
          f"{c['multistep_samples_per_s']:.1f} samples/s, per-step snnTorch {c['per_step_samples_per_s']:.1f} "
          f"samples/s, ratio {c['ratio']:.2f}x (target >= 3x)")
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
