"""Graph files (``ckd_toolchain/netx/README.md`` "Graph files"): blocks with several incoming
synapse groups. Written and read back; stock lava-dl netx refuses them; the fast simulator is
bit-exact with genuine Lava (s, u, v of every block at every step) on a network with skips into
a conv block (1x1 depthwise, 3x3 from the input), a stride-2 shortcut and two dense groups into
the read-out, with reset phases that are the blocks' depths."""
import numpy as np
import pytest

from netx_builders import residual_graph_model
from ckd_toolchain.errors import InputError
from ckd_toolchain.netx import GRAPH_FORMAT, load_netx, write_netx
from ckd_toolchain.simulators.loihi import run_netx


def _write(tmp_path, seed=0):
    net = residual_graph_model(np.random.default_rng(seed))
    path = tmp_path / "graph.net"
    write_netx(net, path, num_steps=12)
    return net, path


def test_graph_file_round_trip(tmp_path):
    net, path = _write(tmp_path)
    back = load_netx(path)
    assert back.is_graph and back.attrs["ckd_format"] == GRAPH_FORMAT
    assert len(back.layers) == len(net.layers)
    for k, (a, b) in enumerate(zip(net.layers, back.layers)):
        assert (a.kind, a.shape, a.reset_phase(k)) == (b.kind, b.shape, b.reset_phase(k))
        ga, gb = a.synapse_groups(k), b.synapse_groups(k)
        assert [(g.source, g.kind, g.flatten_input, g.stride, g.padding, g.groups) for g in ga] == \
               [(g.source, g.kind, g.flatten_input, g.stride, g.padding, g.groups) for g in gb]
        for g, h in zip(ga, gb):
            np.testing.assert_array_equal(g.weight, h.weight)


def test_graph_file_with_a_forward_source_is_refused(tmp_path):
    import h5py
    _, path = _write(tmp_path)
    bad = tmp_path / "bad.net"
    with h5py.File(path, "r") as src, h5py.File(bad, "w") as dst:
        for key in src:
            src.copy(key, dst)
        del dst["graph/layer/3/synapse/0/source"]
        dst["graph/layer/3/synapse/0/source"] = np.int64(4)
    with pytest.raises(InputError, match=r"graph/layer/3/synapse/0/source: must name an earlier block"):
        load_netx(bad)


def test_fast_simulator_sums_groups_like_a_hand_computation(tmp_path):
    """Block 3's u (iDecay 4096: u = this step's input << 6) equals the sum of its three groups
    computed here with numpy from the recorded spikes of blocks 2, 1 and 0 one step earlier."""
    net, path = _write(tmp_path, seed=1)
    rng = np.random.default_rng(2)
    x = (rng.random((8, 8, 2, 10)) < 0.4).astype(np.int8)
    res = run_netx(path, 10, input_spikes=x)
    import torch
    import torch.nn.functional as F

    def conv(s, spec):   # s Lava (x, y, f, T) -> (x, y, f, T) sums, like the synapse
        t = torch.from_numpy(np.transpose(s, (3, 2, 1, 0)).astype(np.float64))   # T, f, y, x
        o = F.conv2d(t, torch.from_numpy(spec.weight.astype(np.float64)), stride=spec.stride,
                     padding=spec.padding, groups=spec.groups)
        return np.transpose(o.numpy(), (3, 2, 1, 0))
    layer = net.layers[3]
    a = sum(conv(res[g.source]["s"].astype(np.int64), g) for g in layer.synapse_groups(3))
    expected_u = np.zeros_like(res[3]["u"])
    expected_u[..., 1:] = (a[..., :-1] * 64).astype(np.int64)
    np.testing.assert_array_equal(res[3]["u"], expected_u)
    assert res[3]["s"].sum() > 0 and all(r["s"].sum() > 0 for r in res[:5])


@pytest.mark.lava
@pytest.mark.slow
def test_graph_file_bit_exact_with_genuine_lava(tmp_path):
    _, path = _write(tmp_path, seed=3)
    rng = np.random.default_rng(4)
    x = (rng.random((2, 8, 8, 2, 9)) < 0.4).astype(np.int8)
    fast = run_netx(path, 14, input_spikes=x, reset_interval=7)
    lava = run_netx(path, 14, input_spikes=x, reset_interval=7, sim="lava")
    for k, (f, g) in enumerate(zip(fast, lava)):
        for var in "suv":
            diff = np.argwhere(f[var] != g[var])
            assert diff.size == 0, f"block {k} {var}: first differences at {diff[:5].tolist()}"
    assert all(layer["s"].sum() > 0 for layer in fast[:5])


@pytest.mark.lava
def test_stock_netx_refuses_a_graph_file(tmp_path):
    """A graph file has no ``layer`` group: lava-dl's netx fails on it at once (it never builds a
    wrong sequential network from the blocks)."""
    import json
    from pathlib import Path

    from ckd_toolchain.simulators.lava_env import run_in_lava_env

    _, path = _write(tmp_path)
    script = Path(__file__).parent / "lava_scripts" / "stock_netx_load.py"
    out = json.loads(run_in_lava_env([script, str(path)], timeout=300).strip().splitlines()[-1])
    assert out["loaded"] is False
    assert "layer" in out["error"] and "KeyError" in out["error"], out
