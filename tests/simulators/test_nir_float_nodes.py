"""Node semantics of the float NIR interpreter (simulators/nir_float.py, nir_nodes.py).

Every node type against a hand-written reference; fan-in sums; clear errors. Time budget: < 5 s.
"""
import nir
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ckd_toolchain.errors import InputError
from ckd_toolchain.nir_graph import topological_order
from ckd_toolchain.simulators.nir_float import NIRFloatModel, run_nir

rng = np.random.default_rng(0)


def chain(*nodes, in_shape, out_shape, metadata=None):
    names = [f"n{i}" for i in range(len(nodes))]
    d = {"input": nir.Input(input_type={"input": np.array(in_shape)})}
    d.update(dict(zip(names, nodes)))
    d["output"] = nir.Output(output_type={"output": np.array(out_shape)})
    keys = list(d)
    return nir.NIRGraph(nodes=d, edges=list(zip(keys[:-1], keys[1:])), metadata=metadata or {}, type_check=False)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def test_conv2d_stride_padding_dilation_groups():
    w, b = f32(6, 2, 3, 3), f32(6)
    node = nir.Conv2d(input_shape=(9, 9), weight=w, stride=2, padding=(1, 2), dilation=(1, 2), groups=2, bias=b)
    g = chain(node, in_shape=(4, 9, 9), out_shape=node.output_type["output"])
    x = torch.randn(2, 3, 4, 9, 9)
    y = run_nir(g, x)
    ref = F.conv2d(x.reshape(6, 4, 9, 9), torch.from_numpy(w), torch.from_numpy(b), 2, (1, 2), (1, 2), 2)
    assert torch.equal(y, ref.reshape(2, 3, *ref.shape[1:]))
    assert tuple(y.shape[2:]) == tuple(node.output_type["output"])


def test_conv1d():
    w, b = f32(3, 2, 3), f32(3)
    node = nir.Conv1d(input_shape=7, weight=w, stride=1, padding=1, dilation=1, groups=1, bias=b)
    g = chain(node, in_shape=(2, 7), out_shape=(3, 7))
    x = torch.randn(1, 2, 2, 7)
    assert torch.allclose(run_nir(g, x)[0], F.conv1d(x[0], torch.from_numpy(w), torch.from_numpy(b), padding=1))


def test_affine_linear_scale_threshold_flatten():
    W, b, s = f32(4, 6), f32(4), f32(4)
    g = chain(nir.Flatten(input_type={"input": np.array([2, 3])}, start_dim=0), nir.Affine(weight=W, bias=b),
              nir.Scale(scale=s), nir.Linear(weight=np.eye(4, dtype=np.float32) * 2),
              nir.Threshold(threshold=np.zeros(4, np.float32)), in_shape=(2, 3), out_shape=(4,))
    x = torch.randn(3, 5, 2, 3)
    y = run_nir(g, x)
    ref = ((x.reshape(3, 5, 6) @ torch.from_numpy(W).T + torch.from_numpy(b)) * torch.from_numpy(s) * 2 > 0).float()
    assert torch.equal(y, ref)


def test_flatten_keeps_leading_dims_without_batch_axis():
    g = chain(nir.Flatten(input_type={"input": np.array([2, 3, 4])}, start_dim=1, end_dim=2),
              in_shape=(2, 3, 4), out_shape=(2, 12))
    y = run_nir(g, torch.arange(48.0).reshape(2, 1, 2, 3, 4))
    assert y.shape == (2, 1, 2, 12) and torch.equal(y[1, 0, 1], torch.arange(36.0, 48.0))


def test_avg_and_sum_pool():
    avg = nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))
    sm = nir.SumPool2d(kernel_size=np.array([3, 3]), stride=np.array([1, 1]), padding=np.array([1, 1]))
    x = torch.randn(2, 2, 3, 6, 6)
    ya = run_nir(chain(avg, in_shape=(3, 6, 6), out_shape=(3, 3, 3)), x)
    ys = run_nir(chain(sm, in_shape=(3, 6, 6), out_shape=(3, 6, 6)), x)
    assert torch.allclose(ya[1, 0, 2, 1, 1], x[1, 0, 2, 2:4, 2:4].mean())
    assert torch.allclose(ys[0, 1, 1, 0, 0], x[0, 1, 1, 0:2, 0:2].sum())  # zero padding adds nothing
    assert torch.allclose(ys[0, 1, 1, 3, 3], x[0, 1, 1, 2:5, 2:5].sum())


def neuron_graph(node, n=3, dt=0.5):
    return chain(node, in_shape=(n,), out_shape=(n,), metadata={"dt": dt})


def test_lif_forward_euler_and_reset():
    tau, r, vl, th, vr = (np.array(a, np.float32) for a in ([2.0, 4.0, 1.0], [1.0, 2.0, 0.5], [0.0, 0.1, 0.0],
                                                           [1.0, 1.0, 0.5], [0.0, -0.5, 0.0]))
    g = neuron_graph(nir.LIF(tau=tau, r=r, v_leak=vl, v_threshold=th, v_reset=vr))
    x = torch.rand(2, 12, 3) * 2
    y = run_nir(g, x.double(), dtype=torch.float64)  # dt from metadata (0.5)
    v = np.zeros((2, 3))
    for t in range(12):
        v = v + 0.5 / tau * (vl - v + r * x[:, t].double().numpy())
        z = v > th
        assert np.array_equal(y[:, t].numpy(), z.astype(float))
        v = np.where(z, vr, v)


def test_li_if_i_cuba():
    n = 2
    x = torch.rand(1, 8, n, dtype=torch.float64)
    xs = x[0].numpy()
    tau, r, vl = np.array([2.0, 3.0]), np.array([1.0, 2.0]), np.array([0.0, 0.2])
    # LI
    y = run_nir(neuron_graph(nir.LI(tau=tau, r=r, v_leak=vl), n, 1.0), x, dtype=torch.float64)[0].numpy()
    v = np.zeros(n)
    for t in range(8):
        v = v + 1.0 / tau * (vl - v + r * xs[t])
        assert np.allclose(y[t], v)
    # I
    y = run_nir(neuron_graph(nir.I(r=r), n, 0.5), x, dtype=torch.float64)[0].numpy()
    assert np.allclose(y, np.cumsum(0.5 * r * xs, axis=0))
    # IF
    th = np.array([0.6, 0.9])
    y = run_nir(neuron_graph(nir.IF(r=r, v_threshold=th), n, 0.5), x, dtype=torch.float64)[0].numpy()
    v = np.zeros(n)
    for t in range(8):
        v = v + 0.5 * r * xs[t]
        z = v > th
        assert np.array_equal(y[t], z.astype(float))
        v = np.where(z, 0.0, v)
    # CubaLIF: synapse first, then membrane driven by the updated current
    ts = np.array([2.0, 1.5])
    node = nir.CubaLIF(tau_syn=ts, tau_mem=tau, r=r, v_leak=vl, v_threshold=np.array([0.3, 0.3]), w_in=np.array([1.0, 2.0]))
    y = run_nir(neuron_graph(node, n, 1.0), x, dtype=torch.float64)[0].numpy()
    i, v = np.zeros(n), np.zeros(n)
    for t in range(8):
        i = i + 1.0 / ts * (-i + node.w_in * xs[t])
        v = v + 1.0 / tau * (vl - v + r * i)
        z = v > 0.3
        assert np.array_equal(y[t], z.astype(float))
        v = np.where(z, 0.0, v)


def test_fan_in_is_summed():
    nodes = {"input": nir.Input(input_type={"input": np.array([3])}),
             "a": nir.Scale(scale=np.full(3, 2.0, np.float32)), "b": nir.Scale(scale=np.full(3, -0.5, np.float32)),
             "sum": nir.Scale(scale=np.ones(3, np.float32)), "output": nir.Output(output_type={"output": np.array([3])})}
    edges = [("input", "a"), ("input", "b"), ("a", "sum"), ("b", "sum"), ("sum", "output"), ("input", "output")]
    g = nir.NIRGraph(nodes=nodes, edges=edges, metadata={}, type_check=True)
    x = torch.randn(2, 4, 3)
    assert torch.allclose(run_nir(g, x), x * 2 - 0.5 * x + x)
    assert topological_order(g)[0] == "input" and topological_order(g)[-1] == "output"


def test_errors_name_the_problem():
    with pytest.raises(InputError, match="'n0'.*Delay.*not supported"):
        NIRFloatModel(chain(nir.Delay(delay=np.ones(2)), in_shape=(2,), out_shape=(2,)))
    lif = nir.LIF(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    with pytest.raises(InputError, match="needs a time step"):
        NIRFloatModel(chain(lif, in_shape=(2,), out_shape=(2,)))
    cyc = chain(nir.Scale(scale=np.ones(2)), nir.Scale(scale=np.ones(2)), in_shape=(2,), out_shape=(2,))
    cyc.edges.append(("n1", "n0"))
    with pytest.raises(InputError, match="cycle"):
        NIRFloatModel(cyc)
    with pytest.raises(InputError, match="does not match the graph's Input shape"):
        run_nir(chain(nir.Scale(scale=np.ones(2)), in_shape=(2,), out_shape=(2,)), torch.zeros(1, 2, 3))


def test_corrupt_and_missing_files(tmp_path):
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(InputError, match="bad.nir"):
        run_nir(bad, torch.zeros(1, 1, 1))
    with pytest.raises(InputError, match="no such NIR file"):
        run_nir(tmp_path / "missing.nir", torch.zeros(1, 1, 1))
