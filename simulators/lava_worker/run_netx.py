"""Run a lava-dl netx ``.net`` file on genuine Lava (``Loihi2SimCfg(select_tag='fixed_pt')``).

Runs INSIDE the Lava env (Python 3.10, lava-nc 0.10, lava-dl 0.6); imports only numpy and lava.
Usage: ``python run_netx.py REQUEST.npz RESULT.npz``.

It deliberately does not use :mod:`ckd_toolchain.netx` (the format's home, whose reader the fast
simulator uses): this run is the independent reference the reader and the fast simulator are
checked against, so the file reaches Lava only through lava-dl's own ``netx.hdf5.Network``, and
block order, reset phase and input handling are lava-dl's. (The project is also not installed
in the Lava env; the worker is started as a script with ``PYTHONPATH`` cleared.) See
``ckd_toolchain/netx/README.md``.

REQUEST.npz: ``net`` (str path), ``num_steps`` (int), ``reset_interval`` (int, 0 = none),
``record`` (str, e.g. "s,u,v"), ``input_neuron`` (0/1: the first block is an input LIF layer),
optional ``input_spikes`` ``[B, *input_shape, T_in]`` and ``input_bias`` ``[B, *shape0]``
(Lava (x, y, f) order), ``batch`` (int B).

Per sample (a fresh ``netx.hdf5.Network`` each time, as Lava cannot reset a network):
input spikes come from ``io.source.RingBuffer``, connected to the input neuron's ``a_in`` when
the file has an input neuron layer (as in lava-dl's PilotNet test) else to ``Network.inp``;
an input bias is written to ``net.in_layer.neuron.bias_mant``; one ``Monitor`` per variable probes
``neuron.u``, ``neuron.v`` and ``neuron.s_out`` of every block.

RESULT.npz: ``L<k>_<var>`` arrays ``[B, *shape_k, T]`` (time last; index k holds the value after
step k + 1) and ``timing_<phase>_s`` ``[B]`` wall times per sample: ``build`` (network and
monitors created), ``run`` (``net.run``: compilation, process start-up and the simulation) and
``readback`` (``Monitor.get_data``: Lava copies probed Vars out one message at a time, which for
large layers takes far longer than simulating them). On any failure: one line ``lava_worker: error: ...`` on stderr, exit status 1.
"""
import sys
import time
import traceback


def run_sample(net_path, num_steps, reset_interval, record, input_neuron, spikes, bias):
    import numpy as np
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc import io
    from lava.proc.monitor.process import Monitor

    t0 = time.perf_counter()
    net = netx.hdf5.Network(net_config=net_path,
                            reset_interval=reset_interval if reset_interval > 0 else None)
    if bias is not None:
        net.in_layer.neuron.bias_mant.init = bias.astype(np.int32)
    if spikes is not None:
        src = io.source.RingBuffer(data=spikes.astype(np.int32))
        if input_neuron:
            src.s_out.connect(net.in_layer.neuron.a_in)
        else:
            src.s_out.connect(net.inp)
    monitors = []  # one Monitor per probed variable (a Monitor with several probes fails)
    for layer in net.layers:
        mons = {}
        for var, target in (("u", layer.neuron.u), ("v", layer.neuron.v),
                            ("s", layer.neuron.s_out)):
            if var in record:
                mons[var] = Monitor()
                mons[var].probe(target, num_steps)
        monitors.append(mons)
    try:
        t1 = time.perf_counter()
        net.run(condition=RunSteps(num_steps=num_steps),
                run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        t2 = time.perf_counter()
        out = {}
        for k, (layer, mons) in enumerate(zip(net.layers, monitors)):
            for var, key in (("u", "u"), ("v", "v"), ("s", "s_out")):
                if var in mons:
                    arr = np.asarray(mons[var].get_data()[layer.neuron.name][key])  # [T, *shape]
                    out[f"L{k}_{var}"] = np.moveaxis(arr, 0, -1)
        out.update(timing_build_s=t1 - t0, timing_run_s=t2 - t1, timing_readback_s=time.perf_counter() - t2)
    finally:
        net.stop()
    return out


def main(argv):
    import numpy as np

    req = np.load(argv[1], allow_pickle=False)
    net_path = str(req["net"])
    num_steps = int(req["num_steps"])
    reset_interval = int(req["reset_interval"])
    record = str(req["record"]).split(",")
    input_neuron = bool(int(req["input_neuron"]))
    batch = int(req["batch"])
    spikes = req["input_spikes"] if "input_spikes" in req.files else None
    bias = req["input_bias"] if "input_bias" in req.files else None
    per_sample = []
    for b in range(batch):
        per_sample.append(run_sample(net_path, num_steps, reset_interval, record, input_neuron,
                                     None if spikes is None else spikes[b],
                                     None if bias is None else bias[b]))
        print(f"lava_worker: sample {b + 1}/{batch} done", flush=True)
    result = {key: np.stack([d[key] for d in per_sample]) for key in per_sample[0]}
    tmp = argv[2] + ".tmp.npz"
    np.savez(tmp, **result)
    import os

    os.replace(tmp, argv[2])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except SystemExit:
        raise
    except BaseException as exc:  # report one line, then exit non-zero
        traceback.print_exc(file=sys.stderr)
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
        sys.stderr.write(f"lava_worker: error: {msg}\n")
        sys.stderr.flush()
        import os

        os._exit(1)  # do not wait for Lava's runtime threads
