"""Run a 2-layer Dense+LIF network in genuine Lava (fixed point) and print its traces as JSON.

Executed by tests/simulators/test_lava_env.py with the Lava env's Python 3.10 interpreter (never imported by
the main env). Network: RingBuffer source (2 spike inputs) -> Dense(W1) -> LIF(2) -> Dense(W2) ->
LIF(1), run with ``Loihi2SimCfg(select_tag='fixed_pt')`` (PyLifModelBitAcc, PyDenseModelBitAcc).
Parameters come as a JSON argument so the test owns every number it checks.
"""
import json
import sys

import numpy as np
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.dense.process import Dense
from lava.proc.io.sink import RingBuffer as SinkBuffer
from lava.proc.io.source import RingBuffer as SourceBuffer
from lava.proc.lif.process import LIF

p = json.loads(sys.argv[1])
steps = int(p["steps"])
spikes_in = np.array(p["input"], dtype=np.int32)  # (2, steps)

src = SourceBuffer(data=spikes_in)
dense1 = Dense(weights=np.array(p["w1"], dtype=np.int32))
lif1 = LIF(shape=(2,), **p["lif1"])
dense2 = Dense(weights=np.array(p["w2"], dtype=np.int32))
lif2 = LIF(shape=(1,), **p["lif2"])
sink1 = SinkBuffer(shape=(2,), buffer=steps)
sink2 = SinkBuffer(shape=(1,), buffer=steps)
src.s_out.connect(dense1.s_in)
dense1.a_out.connect(lif1.a_in)
lif1.s_out.connect(dense2.s_in)
dense2.a_out.connect(lif2.a_in)
lif1.s_out.connect(sink1.a_in)
lif2.s_out.connect(sink2.a_in)

v1, v2 = [], []
try:
    for _ in range(steps):
        src.run(condition=RunSteps(num_steps=1), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        v1.append(lif1.v.get().astype(int).tolist())
        v2.append(lif2.v.get().astype(int).tolist())
    s1 = sink1.data.get().astype(int).tolist()
    s2 = sink2.data.get().astype(int).tolist()
finally:
    src.stop()
print(json.dumps({"s1": s1, "s2": s2, "v1": v1, "v2": v2}))
