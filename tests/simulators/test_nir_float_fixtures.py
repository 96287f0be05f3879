"""The float NIR interpreter on NIR graphs made by other projects (../shared/fixtures/nir).

Time budget: < 5 s.
"""

import numpy as np
import pytest
import torch

from ckd_toolchain.nir_graph import load_graph
from ckd_toolchain.simulators.nir_float import NIRFloatModel, run_nir


def lif_trace(x, tau, r, v_leak, v_th, dt, w=1.0):
    """Hand-written forward Euler of NIR's LIF (nir/ir/neuron.py) for one neuron."""
    v, out = 0.0, []
    for i in x:
        v = v + dt / tau * (v_leak - v + r * w * i)
        z = v > v_th
        out.append(1.0 if z else 0.0)
        if z:
            v = 0.0
    return out


def test_all_fixtures_load_and_simulate(nir_fixtures):
    for path in sorted(nir_fixtures.glob("*.nir")):
        g = load_graph(path)
        y = run_nir(g, torch.ones(2, 5, 1), dt=1e-3)
        assert y.shape == (2, 5, 1), path.name
        assert set(torch.unique(y).tolist()) <= {0.0, 1.0}


def test_lif_norse_single_neuron_trace_matches_its_parameters(nir_fixtures):
    g = load_graph(nir_fixtures / "lif_norse.nir")
    lif = g.nodes["1"]
    assert float(lif.tau[0]) == pytest.approx(0.0025) and float(lif.v_threshold[0]) == pytest.approx(0.1)
    x = [0.2, 0.2, 0.0, 1.0, 0.05, 0.05, 0.05, 0.05, 0.3, 0.0]
    # by hand (dt/tau = 0.4): v = 0.08, 0.128 > 0.1 spike → 0; 0; 0.4 spike; 0.02, 0.032, 0.0392, 0.04352; 0.146 spike; 0
    expected = [0, 1, 0, 1, 0, 0, 0, 0, 1, 0]
    assert lif_trace(x, 0.0025, 1.0, 0.0, 0.1, 1e-3) == expected
    y = run_nir(g, torch.tensor(x).reshape(1, -1, 1), dt=1e-3)
    assert y.flatten().tolist() == expected


def test_lif_norse_agrees_with_norse(nir_fixtures):
    import norse.torch as norse_torch

    g = load_graph(nir_fixtures / "lif_norse.nir")
    torch.manual_seed(0)
    x = torch.rand(3, 40, 1) * 0.4
    ours = run_nir(g, x, dt=1e-3)
    m = norse_torch.from_nir(g, dt=1e-3)
    state, outs = None, []
    for t in range(x.shape[1]):
        o, state = m(x[:, t], state)
        outs.append(o)
    assert torch.equal(ours, torch.stack(outs, 1))
    assert ours.sum() > 5


def test_rockpool_graph_uses_r_which_norse_ignores(nir_fixtures):
    g = load_graph(nir_fixtures / "lif_rockpool.nir")  # needs the type_check=False fallback
    w = float(g.nodes["0_LinearTorch"].weight[0, 0])
    lif = g.nodes["1_LIFNeuronTorch"]
    x = [0.5, 0.0, 1.0, 1.0, 0.2, 0.2, 0.2, 0.0]
    expected = lif_trace(x, float(lif.tau[0]), float(lif.r[0]), 0.0, float(lif.v_threshold[0]), 1e-3, w)
    y = run_nir(g, torch.tensor(x).reshape(1, -1, 1), dt=1e-3)
    assert y.flatten().tolist() == expected
    assert sum(expected) >= 2


def test_two_lif_neurons_leak_drives_spikes(nir_fixtures):
    g = load_graph(nir_fixtures / "two_lif_neurons.nir")
    model = NIRFloatModel(g, dt=1e-3)
    y, rec = model(torch.zeros(1, 60, 1), record=["lif1", "lif2"])
    # lif1: v_leak = 1.2 > threshold 1 with zero input: v_n = 1.2 (1 - 0.9^n) first exceeds 1 at n = 18
    v, first = 0.0, None
    for n in range(1, 61):
        v = v + 0.1 * (1.2 - v)
        if v > 1.0:
            first = n
            break
    s1 = rec["lif1"].flatten()
    assert first == 18 and s1[first - 1] == 1 and s1[: first - 1].sum() == 0
    assert int(s1.sum()) == 3  # periodic every 18 steps in 60
    assert y.sum() == 0  # lif2's threshold 20 is never reached by unit spikes decaying with tau = 10 ms
    assert np.array_equal(rec["lif2"].numpy(), y.numpy())
