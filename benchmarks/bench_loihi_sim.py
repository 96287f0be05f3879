"""Throughput of ``--sim fast`` against genuine Lava on networks that spike, bit-exact.

Networks (``benchmarks/loihi_bench_nets.py``): ``demo-student``, the trained N-Digits demo student
run on real DVS test samples exactly as ``ckd-deploy`` runs it (T + L steps, reset interval
T + L), and ``pilotnet``, the PilotNet topology with seeded random weights and 20% random input
spikes (no trained PilotNet netx file or its real input is available here).

For each network, in the same run:

* fast: ``run_netx(record="s")`` on a batch of B samples and on 1 sample (latency), each
  repeated ``--repeats`` times, medians; throughput = samples x steps / wall seconds;
* Lava: one sample at two step counts; its simulation speed is the marginal cost of ``net.run``
  alone, ``(run(T2) - run(T1)) / (T2 - T1)`` (no start-up, no compilation, no ``Monitor``
  read-back, which for large layers costs far more than the simulation; reported separately);
  both runs probe the spikes of every layer, as the fast runs record them;
* bit-exactness: one more Lava run recording ``s``, ``u`` and ``v`` of every layer, compared
  with the fast simulator's ``s``, ``u``, ``v`` (sample 0), plus ``s`` of the timed Lava runs;
* spike rates per layer (fast, batched run); the benchmark FAILS (exit 1) if a hidden layer
  (neither the input layer nor the read-out) never spikes, or if any comparison differs.

Target (issue 18): >= 60x Lava's steady-state step at 1 thread (``--threads``). The 2-core host
is shared: the load average before and after is recorded with the numbers. Results: stdout and
``runs/bench/loihi_sim-<timestamp>.json``. Takes ~5-10 minutes (Lava start-ups and steps; the
first run also trains the demo student, ~2 min).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import loihi_bench_nets as nets  # noqa: E402


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _first(inp: dict) -> dict:
    """The first sample of a batched input (``{"input_spikes": x}`` or ``{"input_bias": b}``)."""
    return {k: v[:1] for k, v in inp.items()}


def _fast_runs(path, inp, steps, reset, repeats, device):
    from ckd_toolchain.simulators.loihi import run_netx

    run = lambda xx: run_netx(path, steps, **xx, reset_interval=reset, record="s",  # noqa: E731
                              device=device)
    run(_first(inp))  # warm-up (numba kernels are cached on disk after the first run ever)
    batched = [timed(lambda: run(inp)) for _ in range(repeats)]
    single = [timed(lambda: run(_first(inp))) for _ in range(repeats)]
    return statistics.median(t for t, _ in batched), statistics.median(t for t, _ in single), batched[0][1]


def _lava_check(path, inp0, steps, reset, lava_steps, device):
    """Lava timings at two step counts, and the bit-exactness of s, u, v (all layers)."""
    from ckd_toolchain.simulators.loihi import run_netx

    phases, diffs = {}, []
    for n in lava_steps:
        phases[n] = {}
        lava = run_netx(path, n, **inp0, reset_interval=reset, record="s", sim="lava", timings=phases[n])
        fast = run_netx(path, n, **inp0, reset_interval=reset, record="s", device=device)
        diffs += [f"T={n} layer {k} s" for k, (f, g) in enumerate(zip(fast, lava))
                  if not np.array_equal(f["s"], g["s"])]
    n = min(steps, lava_steps[1])  # Monitor read-back of u and v of large layers takes seconds a step
    lava = run_netx(path, n, **inp0, reset_interval=reset, sim="lava", timeout=3600)
    fast = run_netx(path, n, **inp0, reset_interval=reset, device=device)
    diffs += [f"T={n} layer {k} {v}" for k, (f, g) in enumerate(zip(fast, lava)) for v in "suv"
              if not np.array_equal(f[v], g[v])]
    return phases, diffs, len(fast)


def bench_network(name, path, inp, steps, reset, lava_steps, args):
    """``inp``: ``{"input_spikes": [B, ...]}`` or ``{"input_bias": [B, ...]}`` (run_netx's inputs)."""
    t_batch, t_single, out = _fast_runs(path, inp, steps, reset, args.repeats, args.device)
    phases, diffs, n_layers = _lava_check(path, _first(inp), steps, reset, lava_steps, args.device)
    t1, t2 = lava_steps
    marginal = max(phases[t2]["run_s"] - phases[t1]["run_s"], 1e-9) / (t2 - t1)
    readback = (phases[t2]["readback_s"] - phases[t1]["readback_s"]) / (t2 - t1)
    B = next(iter(inp.values())).shape[0]
    tp_batch, tp_single = B * steps / t_batch, steps / t_single
    rates = [float(layer["s"].mean()) for layer in out]
    silent = [k for k in range(1, len(rates) - 1) if rates[k] == 0.0]
    res = {"network": name, "layers": n_layers, "steps": steps, "reset_interval": reset,
           "fast": {"batch": B, "wall_s_median": t_batch, "samples_steps_per_s": tp_batch,
                    "batch1_wall_s_median": t_single, "batch1_steps_per_s": tp_single,
                    "device": str(args.device or "cpu"), "repeats": args.repeats},
           "lava": {"steps": list(lava_steps), "phases_s": [phases[t] for t in lava_steps],
                    "s_per_step_steady_state": marginal, "steps_per_s_steady_state": 1 / marginal,
                    "monitor_readback_s_per_step": readback},
           "speedup_batched": tp_batch * marginal, "speedup_batch1": tp_single * marginal,
           "bit_exact": not diffs, "differences": diffs[:20],
           "spike_rate_per_layer": rates, "silent_hidden_layers": silent}
    print(f"{name:13s} fast B={B}: {tp_batch:8.1f} sample-steps/s, B=1: {tp_single:7.1f} steps/s | "
          f"lava {marginal * 1e3:7.1f} ms/step (+{readback * 1e3:.0f} ms/step read-back) | speed-up "
          f"{res['speedup_batched']:6.1f}x batched, {res['speedup_batch1']:6.1f}x batch-1 | "
          f"bit-exact (s,u,v, {n_layers} layers) {not diffs}", flush=True)
    print(f"{'':13s} spike rates per layer: {' '.join(f'{r:.3f}' for r in rates)}", flush=True)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default=None, help="torch device for the fast simulator")
    ap.add_argument("--quick", action="store_true", help="smaller runs (smoke test)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads for fast (default 1)")
    ap.add_argument("--repeats", type=int, default=3, help="fast runs per measurement (median)")
    ap.add_argument("--demo-nir", default=None, help="a trained student's model.nir (default: the "
                    "make-demo dvs-only student, else one trained under runs/bench)")
    ap.add_argument("--only", choices=("demo-student", "pilotnet"), default=None,
                    help="run one network only")
    ap.add_argument("--out", default=str(ROOT / "runs" / "bench"))
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    q = args.quick
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "demo-student"):
            nir = nets.demo_student_nir(args.demo_nir, Path(args.out))
            path, x, steps, reset = nets.demo_student(nir, Path(tmp) / "demo.net", 8 if q else 64)
            results.append(bench_network("demo-student", path, {"input_spikes": x}, steps, reset,
                                         (steps, 2 * steps), args))
        if args.only in (None, "pilotnet"):
            real = nets.pilotnet_lif_lava_dl()
            B = 4 if q else 16
            if real is not None:  # lava-dl's trained PilotNet-LIF and its real frame (bias-driven input layer)
                pil, image, T = real
                results.append(bench_network("pilotnet-lif", pil, {"input_bias": np.repeat(image[None], B, 0)},
                                             T, T, (4, 10) if not q else (2, 4), args))
            else:
                print("bench_loihi_sim: lava-dl's PilotNet-LIF files not found in the Lava env: "
                      "PilotNet topology with random weights instead", flush=True)
                rng = np.random.default_rng(0)
                pil = nets.pilotnet_net(Path(tmp) / "pilotnet.net", rng)
                T = 8 if q else 16
                xp = (rng.random((B, 200, 66, 3, T)) < 0.2).astype(np.int8)
                results.append(bench_network("pilotnet", pil, {"input_spikes": xp}, T, None,
                                             (2, 4) if q else (4, 10), args))
    report = {"benchmark": "loihi_sim", "target_speedup": 60, "results": results,
              "host": {"platform": platform.platform(), "cpus": os.cpu_count(),
                       "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                       "loadavg_before": load_before, "loadavg_after": os.getloadavg()}}
    out = Path(args.out) / f"loihi_sim-{time.strftime('%Y%m%d-%H%M%S')}.json"
    from ckd_toolchain.atomic_io import write_json

    write_json(out, report)
    print(f"load average before {load_before}, after {os.getloadavg()}; wrote {out}")
    failed = [r["network"] for r in results if r["silent_hidden_layers"] or not r["bit_exact"]]
    if failed:
        print(f"bench_loihi_sim: FAILED for {failed}: silent hidden layer or not bit-exact")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
