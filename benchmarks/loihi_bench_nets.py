"""The networks and inputs of ``bench_loihi_sim.py`` (reproducible, seeded).

* ``demo_student``: the trained N-Digits demo student (dvs-only, ``configs/ndigits-demo.yaml``),
  mapped by the deploy mapper (``pool_mode="thermometer"``, input neuron) and run as ``ckd-deploy``
  runs it: real DVS test samples (binary frames, spread over the classes), ``T + L`` steps with
  ``reset_interval = T + L`` (``hardware/deploy/loihi_inference.py``). The student comes from
  ``--demo-nir`` or ``runs/demo/dvs-only/model.nir`` (``make demo``) if present, else it is trained
  here once (``ckd-data synth`` + ``ckd-train student --seed 0``, ~2 min on 2 cores; resumed, so a
  second run reuses it) under ``runs/bench/demo-student``.
* ``pilotnet_lif_lava_dl``: lava-dl's trained PilotNet-LIF ``network.net`` with its real frame
  ``image.npy`` as the input layer's bias and ``reset_interval = 16`` (exactly how lava-dl's
  ``tests/lava/lib/dl/netx/test_hdf5_nx.py::test_pilotnet_lif`` drives it), from the lava-dl
  package installed in the Lava env (``tests/lava/lib/dl/netx/gts/pilotnet_lif``).
* ``pilotnet_net``: fallback when those files are missing: the PilotNet topology (input 200x66x3 ->
  conv5x5/2 24 -> 36 -> 48 -> conv3x3 64 -> 64 -> dense 100 -> 50 -> 10 -> 1) with seeded random
  integer weights and random 0/1 input spikes.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from netx_builders import (conv_layer, conv_out, dense_layer, flatten_layer, input_layer,  # noqa: E402
                           lif, write_net)
from ckd_toolchain.loihi2.constants import DECAY_UNITY  # noqa: E402

DEMO_CONFIG = ROOT / "configs" / "ndigits-demo.yaml"


def _cli(name: str, *args: str) -> None:
    exe = Path(sys.executable).with_name(name)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    subprocess.run([str(exe), *args], check=True, cwd=ROOT, env=env)


def demo_student_nir(given: str | None, out_dir: Path) -> Path:
    """The demo student's NIR file: ``given``, the ``make demo`` one, or one trained here."""
    for cand in (given, ROOT / "runs" / "demo" / "dvs-only" / "model.nir"):
        if cand and Path(cand).is_file():
            return Path(cand)
    run = out_dir / "demo-student"
    if not (run / "model.nir").is_file():
        _cli("ckd-data", "synth", "--out", "data/n-digits")
        _cli("ckd-train", "student", "--method", "dvs-only", "--config", str(DEMO_CONFIG), "--out",
             str(run), "--seed", "0", "--resume", "--no-progress")
        _cli("ckd-export", "--to", "nir", str(run / "best.pt"), "-o", str(run / "model.nir"))
    return run / "model.nir"


def demo_student(nir_path: Path, net_path: Path, batch: int):
    """Map the student to ``net_path``; returns ``(path, lava-order input [B, 48, 48, 2, T+L],
    steps, reset_interval)`` with ``batch`` real DVS test samples."""
    from ckd_toolchain.ckd_train.data import DataConfig, build_datasets
    from ckd_toolchain.hardware.lowering.netx_mapping import map_graph, write_mapped
    from ckd_toolchain.nir_graph import load_graph
    from ckd_toolchain.simulators.loihi.api import torch_order_to_lava
    from ckd_toolchain.subsets import spread_subset

    graph = load_graph(nir_path)
    net = map_graph(graph, pool_mode="thermometer", where=nir_path)
    meta = graph.metadata or {}
    T = int(meta.get("T", 6))
    steps = T + len(net.layers)
    write_mapped(net, net_path, num_steps=steps, source=str(nir_path))
    cfg = DataConfig(name="n-digits", T=T, size=int(net.input_shape[1]),
                     frame_encoding=str(meta.get("frame_encoding") or "binary"))
    ds = build_datasets(cfg, log=lambda m: None).dvs_test
    xs = np.zeros((batch, steps) + tuple(net.input_shape), dtype=np.int8)
    for b, i in enumerate(spread_subset(len(ds), batch)):
        xs[b, :T] = np.asarray(ds[int(i)][0]) > 0
    return str(net_path), torch_order_to_lava(xs), steps, steps


def pilotnet_lif_lava_dl():
    """``(network.net path, image bias [200, 66, 3] int, steps per sample 16)`` or None if absent."""
    from ckd_toolchain.simulators.lava_env import lava_python

    try:
        venv = Path(lava_python()).parent.parent  # <env>/bin/python -> <env> (not resolved: a venv)
    except Exception:  # noqa: BLE001 - no Lava env: no lava-dl files either
        return None
    found = sorted(venv.glob("lib/python3*/site-packages/tests/lava/lib/dl/netx/gts/pilotnet_lif"))
    if not found or not (found[0] / "network.net").is_file() or not (found[0] / "image.npy").is_file():
        return None
    return str(found[0] / "network.net"), np.load(found[0] / "image.npy").astype(np.int64), 16


def pilotnet_net(path, rng) -> str:
    """PilotNet-sized CUBA-LIF net (see module docstring); thresholds set by hand so that every
    hidden layer spikes at a moderate rate on 20% random input (rates are printed by the bench)."""
    x, y = 200, 66
    layers = [input_layer((x, y, 3), neuron=lif(vth=0, i_decay=DECAY_UNITY, v_decay=DECAY_UNITY))]
    c_in = 3
    for c_out, k, s, vth in ((24, 5, 2, 60), (36, 5, 2, 300), (48, 5, 2, 600), (64, 3, 1, 500),
                             (64, 3, 1, 500)):
        x, y = conv_out(x, k, s), conv_out(y, k, s)
        w = rng.integers(-12, 16, size=(c_out, c_in, k, k))
        layers.append(conv_layer(w, (x, y, c_out), stride=s, neuron=lif(vth=vth, v_decay=1024)))
        c_in = c_out
    n = x * y * c_in
    layers.append(flatten_layer(n))
    for n_out, vth in ((100, 2000), (50, 400), (10, 200), (1, 40)):
        layers.append(dense_layer(rng.integers(-20, 28, size=(n_out, n)), neuron=lif(vth=vth)))
        n = n_out
    return write_net(path, layers)
