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
    if is_graph_file(net_path):
        net = GraphNetwork(net_path, reset_interval if reset_interval > 0 else None)
    else:
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


def _int(group, key) -> int:
    """A scalar dataset of a ``NetDict`` group (keys netx does not know come back as groups)."""
    return int(group.f[key][()])


def is_graph_file(path) -> bool:
    import h5py

    with h5py.File(path, "r") as fh:
        return "graph" in fh and "layer" not in fh


class GraphNetwork:
    """A graph file (``ckd_toolchain/netx/README.md``, "Graph files") as a Lava process graph.

    Every block is built by lava-dl's own ``netx.hdf5.Network.create_input/create_conv/
    create_dense`` from its ``graph/layer/<i>`` group (the same fields as a netx ``layer/<i>``),
    with ``reset_offset = phase + 1`` (netx's ``reset_offset`` of block i is ``i + 1``). The block's
    own synapse reads the block named by ``source``; each extra group ``synapse/<g>`` is one more
    synapse process built as netx's blocks build theirs (``lava.proc.conv.process.Conv`` with the
    kernel flipped and reordered as ``create_conv`` does; ``lava.proc.dense.process.Dense`` with
    ``netx.utils.optimize_weight_bits``), connected from its source block's output to the block
    neuron's ``a_in``: Lava adds every connection into that one port.
    Same surface as ``netx.hdf5.Network`` for this worker: ``layers``, ``in_layer``, ``run``, ``stop``."""

    def __init__(self, path, reset_interval):
        import numpy as np
        from lava.lib.dl.netx.hdf5 import Network
        from lava.lib.dl.netx.utils import NetDict, optimize_weight_bits
        from lava.proc.conv.process import Conv as ConvSynapse
        from lava.proc.dense.process import Dense as DenseSynapse

        self._config = NetDict(path)   # netx's own reader of the groups (as netx.hdf5.Network)
        groups = self._config["graph"]["layer"]
        self.layers = []
        for i in range(len(groups)):
            g = groups[str(i)]
            kind = g["type"]
            offset = _int(g, "phase") + 1
            if kind == "input":
                block, _ = Network.create_input(g, reset_interval=reset_interval, reset_offset=offset)
            else:
                src = self.layers[_int(g, "source")]
                if kind == "conv":
                    block, _ = Network.create_conv(g, input_shape=src.shape, reset_interval=reset_interval,
                                                   reset_offset=offset)
                else:
                    block, _ = Network.create_dense(g, reset_interval=reset_interval, reset_offset=offset)
                self._connect(src, block.inp, g)
                extra = g["synapse"] if "synapse" in g.keys() else {}
                for j in range(len(extra)):
                    sg = extra[str(j)]
                    ssrc = self.layers[_int(sg, "source")]
                    w = np.asarray(sg["weight"])
                    if sg["type"] == "conv":   # as Network.create_conv and blocks.process.Conv
                        w = w[:, :, ::-1, ::-1]
                        w = w.reshape(w.shape[:4]).transpose((0, 3, 2, 1))
                        hw = {key: np.asarray(sg[key])[::-1] for key in ("stride", "padding", "dilation")}
                        syn = ConvSynapse(input_shape=ssrc.shape, weight=w, groups=sg["groups"],
                                          num_message_bits=0, **hw)
                    else:                      # as Network.create_dense and blocks.process.Dense
                        w, bits, exp, _ = optimize_weight_bits(w)
                        syn = DenseSynapse(weights=w, weight_exp=exp, num_weight_bits=bits, num_message_bits=0)
                    self._connect(ssrc, syn.s_in, sg)
                    syn.a_out.connect(block.neuron.a_in)
            self.layers.append(block)
        self.in_layer = self.layers[0]

    @staticmethod
    def _connect(src, port, g):
        if "inputFlatten" in g.keys() and _int(g, "inputFlatten"):
            src.out.transpose([2, 1, 0]).flatten().connect(port)
        else:
            src.out.connect(port)

    def run(self, **kwargs):
        self.layers[0].run(**kwargs)

    def stop(self):
        self.layers[0].stop()


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
