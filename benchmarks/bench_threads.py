"""Synapse-call time with 1 vs 2 torch threads, by call size (the crossover behind
``simulators/loihi/threads.py``'s ``SMALL_CALL_MACS``). Run on a quiet machine:
``.venv/bin/python benchmarks/bench_threads.py``; prints one line per call shape (MACs, times,
speedup of 2 threads over 1)."""
import time, numpy as np, torch, sys
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from ckd_toolchain.simulators.loihi.synapses import ConvSynapse, DenseSynapse
rng = np.random.default_rng(0)
def bench(fn, reps=5):
    fn(); best = 1e9
    for _ in range(reps):
        t = time.perf_counter(); fn(); best = min(best, time.perf_counter() - t)
    return best
rows = []
for (C, K, H, M) in [(2,8,48,16),(8,8,48,16),(8,16,24,16),(16,32,12,16),(32,64,6,16),(8,8,48,96),(16,16,24,96),(32,32,12,96),(64,64,6,96),(64,64,6,8),(4,4,8,4),(8,16,24,384),(2,8,48,384)]:
    w = (rng.integers(-60, 60, size=(K, C, 3, 3)) * 2).astype(np.int64)
    syn = ConvSynapse(w, (1,1), (1,1), (1,1), 1, 0, torch.device("cpu"))
    x = (torch.rand(M, C, H, H) < 0.2).to(torch.uint8)
    macs = M * K * C * 9 * H * H
    res = {}
    for th in (1, 2):
        torch.set_num_threads(th)
        res[th] = bench(lambda: syn.binary_call(x))
    rows.append((macs, C, K, H, M, res[1]*1e3, res[2]*1e3, res[1]/res[2]))
for r in sorted(rows): print("MACs %.2e C%d K%d H%d M%d  1t %.3f ms  2t %.3f ms  speedup %.2f" % r)
# dense
for (N, O, M) in [(2304, 10, 16), (4608, 100, 96), (800, 10, 4), (9216, 256, 96)]:
    w = rng.integers(-120, 120, size=(O, N)).astype(np.int64)
    syn = DenseSynapse(w, 0, torch.device("cpu"))
    x = (torch.rand(M, N) < 0.2).to(torch.uint8)
    res = {}
    for th in (1, 2):
        torch.set_num_threads(th); res[th] = bench(lambda: syn(x))
    print("dense MACs %.2e N%d O%d M%d 1t %.3f 2t %.3f speedup %.2f" % (M*N*O, N, O, M, res[1]*1e3, res[2]*1e3, res[1]/res[2]))
