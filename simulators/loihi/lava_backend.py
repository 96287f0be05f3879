"""``--sim lava``: genuine Lava (``Loihi2SimCfg(select_tag='fixed_pt')``) through a subprocess.

The main env never imports lava: the request is written to an ``.npz`` in a temporary
directory, ``simulators/lava_worker/run_netx.py`` runs with the Lava env's interpreter
(:func:`ckd_toolchain.simulators.lava_env.run_in_lava_env`, own process group, killed on timeout because
Lava hangs when a process model raises), and its result ``.npz`` is read back.
Samples of a batch are run one after the other in the worker (a fresh network each).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ckd_toolchain.simulators.lava_env import run_in_lava_env, stderr_progress
from ckd_toolchain.netx import NetxNetwork

WORKER = Path(__file__).resolve().parents[1] / "lava_worker" / "run_netx.py"


def default_timeout(net: NetxNetwork, num_steps: int, batch: int) -> float:
    """Generous wall-clock limit: start-up plus ~0.5 s per (sample, step, layer) of Lava time."""
    neurons = sum(layer.num_neurons for layer in net.layers)
    per_step = 0.05 * len(net.layers) + neurons * 2e-6
    return 120.0 + batch * (30.0 + num_steps * per_step * 10.0)


def simulate(net: NetxNetwork, num_steps: int, input_spikes: np.ndarray | None,
             input_bias: np.ndarray | None, batch: int, reset_interval: int | None = None,
             record=("s", "u", "v"), timeout: float | None = None,
             timings: dict | None = None) -> list[dict[str, np.ndarray]]:
    """Same contract as :func:`ckd_toolchain.simulators.loihi.fast_backend.simulate`, run by genuine Lava.

    ``timings``: a dict to receive the worker's wall times summed over samples: ``build_s``,
    ``run_s`` (``net.run``) and ``readback_s`` (``Monitor.get_data``), see the worker's docstring."""
    if timeout is None:
        timeout = default_timeout(net, num_steps, batch)
    with tempfile.TemporaryDirectory(prefix="ckd-lava-") as tmp:
        req = Path(tmp) / "request.npz"
        res = Path(tmp) / "result.npz"
        payload = {
            "net": np.array(str(Path(net.path).resolve())),
            "num_steps": np.array(int(num_steps)),
            "reset_interval": np.array(int(reset_interval or 0)),
            "record": np.array(",".join(record)),
            "input_neuron": np.array(int(net.input_neuron)),
            "batch": np.array(int(batch)),
        }
        if input_spikes is not None:
            payload["input_spikes"] = np.asarray(input_spikes, dtype=np.int32)
        if input_bias is not None:
            payload["input_bias"] = np.asarray(input_bias, dtype=np.int32)
        np.savez(req, **payload)
        run_in_lava_env([WORKER, req, res], timeout=timeout, cwd=tmp, progress=stderr_progress())
        with np.load(res) as data:
            if timings is not None:
                for phase in ("build", "run", "readback"):
                    timings[f"{phase}_s"] = float(np.sum(data[f"timing_{phase}_s"]))
            out = []
            for k in range(len(net.layers)):
                layer = {}
                for var in record:
                    arr = data[f"L{k}_{var}"]
                    layer[var] = arr.astype(np.int8 if var == "s" else np.int32)
                out.append(layer)
    return out
