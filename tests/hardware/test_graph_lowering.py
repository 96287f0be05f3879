"""Graph lowering (``hardware/lowering/dag_lowering.py``, ``linear_maps.py``): NIR graphs with
residual sums map to layers with several synapse groups, relays align the shortcuts, and the
result is the float graph (before rounding) and the fixed-point network (after), exactly."""
import nir
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from export_helpers import small_student, spikes
from mapping_graphs import conv, lif, residual
from ckd_toolchain.errors import InputError
from ckd_toolchain.export.nir_from_student import student_to_nir
from ckd_toolchain.hardware.deploy.loihi_inference import run_loihi_batch
from ckd_toolchain import linear_maps as lm
from ckd_toolchain.hardware.lowering.netx_mapping import write_mapped
from ckd_toolchain.hardware.lowering.nir_to_loihi import map_graph
from ckd_toolchain.netx import load_netx
from ckd_toolchain.simulators.loihi.float_layers import run_layers
from ckd_toolchain.simulators.nir_float import run_nir


def test_conv_composition_equals_the_two_convolutions():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(2, 3, 11, 11)))
    wa, wb = rng.normal(size=(4, 3, 3, 3)), rng.normal(size=(5, 4, 2, 2))
    m = lm.then_conv(lm.identity((3, 11, 11)), wa, (2, 2), (1, 1), (1, 1), (4, 6, 6))
    m = lm.then_conv(m, wb, (2, 2), (0, 0), (1, 1), (5, 3, 3))
    seq = F.conv2d(F.conv2d(x, torch.from_numpy(wa), stride=2, padding=1), torch.from_numpy(wb), stride=2)
    one = F.conv2d(x, torch.from_numpy(m.weight), stride=m.stride, padding=m.padding)
    assert m.weight.shape[2:] == (2 * 1 + 3, 5) and m.stride == (4, 4)   # s_a (k_b - 1) + k_a
    np.testing.assert_allclose(one.numpy(), seq.numpy(), atol=1e-12)
    d = rng.normal(size=(7, 5 * 3 * 3))    # a dense op after the composed conv: its adjoint
    dm = lm.then_dense(m, d)
    np.testing.assert_allclose(x.reshape(2, -1).numpy() @ dm.weight.T, seq.reshape(2, -1).numpy() @ d.T, atol=1e-10)


def test_padded_conv_after_a_spatial_conv_is_refused():
    m = lm.then_conv(lm.identity((2, 8, 8)), np.ones((2, 2, 3, 3)), (1, 1), (1, 1), (1, 1), (2, 8, 8))
    with pytest.raises(ValueError, match="cannot be folded exactly"):
        lm.then_conv(m, np.ones((2, 2, 3, 3)), (1, 1), (1, 1), (1, 1), (2, 8, 8))


@pytest.mark.parametrize("arch", ["resnet18", "resnet18-post"])
def test_resnet_students_map_exactly(arch, tmp_path):
    """Mapped layers in float == the NIR graph (lowering exact); the fast simulator on the graph
    file (relays, phases, resets) == the mapped layers with their integers, exactly."""
    m = small_student(arch, T=4).eval()
    g = student_to_nir(m, (2, 48, 48), metadata={"T": 4}).graph
    net = map_graph(g, pool_mode="thermometer", dt=1.0)
    assert net.is_graph and any(layer.extra for layer in net.layers)
    assert any(layer.name.startswith("relay") for layer in net.layers)
    x = spikes((2, 4, 2, 48, 48), p=0.3, seed=1).numpy().astype(np.float32)
    ref = run_nir(g, torch.as_tensor(x), dt=1.0).double().numpy().reshape(2, 4, -1)
    mapped, counts = run_layers(net, x)
    np.testing.assert_allclose(mapped, ref, atol=1e-5)
    assert all(c.sum() > 0 for c, layer in zip(counts, net.layers) if layer.spiking)
    path = tmp_path / "m.net"
    write_mapped(net, path, num_steps=4 + net.readout_depth)
    assert load_netx(path).is_graph
    logits, _ = run_loihi_batch(str(path), net, x)
    quantized, _ = run_layers(net, x, quantized=True)
    np.testing.assert_array_equal(logits, quantized)


def test_foreign_residual_graph_maps_with_relays_and_shared_scales():
    g = residual()
    net = map_graph(g, pool_mode="thermometer", dt=1.0)
    by_name = {layer.name: layer for layer in net.layers}
    l3, l5 = by_name["l3"], by_name["l5"]
    assert len(l3.extra) == 1 and l3.extra[0].groups == 4      # identity skip: depthwise 1x1
    assert len(l5.extra) == 1 and l5.extra[0].stride == (2, 2)  # 1x1 stride-2 shortcut
    # l3 (depth 3) reads l1 (depth 1) through one relay; l5 (depth 5) reads l3 (depth 3) through one
    assert net.depth_of(net.layers.index(l3)) == 3 and net.depth_of(net.layers.index(l5)) == 5
    assert net.layers[l3.extra[0].source].name == "relay1:l1"
    # one scale per neuron layer: every group's integers are its float weights times that scale
    for layer in (l3, l5):
        for grp in [layer] + layer.extra:
            wf = grp.weight_float
            np.testing.assert_allclose(grp.weight if grp is not layer else layer.netx.weight,
                                       np.rint(wf * layer.quant.scale / 2 ** layer.quant.mant_exp) *
                                       2 ** layer.quant.mant_exp)


def test_join_of_different_shapes_names_the_node():
    g = residual()
    g.nodes["c6"] = conv(np.ones((8, 4, 1, 1)), np.zeros(8), (8, 8), stride=1, padding=0)
    with pytest.raises(InputError, match=r"node 'l5' \(LIF\) joins inputs of different shapes"):
        map_graph(g, dt=1.0)


def test_padded_conv_on_a_real_valued_sum_names_the_node():
    """A padded 3x3 conv directly after another conv (no neuron between) cannot be one synapse."""
    rng = np.random.default_rng(0)
    g = residual()
    g.nodes["c5b"] = conv(rng.normal(size=(8, 8, 3, 3)), np.zeros(8), (4, 4))
    g.edges.remove(("c5", "l5"))
    g.edges += [("c5", "c5b"), ("c5b", "l5")]
    with pytest.raises(InputError, match=r"node 'c5b' \(Conv2d\): a convolution with padding"):
        map_graph(g, dt=1.0)


def test_unsupported_node_on_a_residual_path_names_it():
    g = residual()
    g.nodes["thr"] = nir.Threshold(threshold=np.zeros((4, 8, 8)))
    g.edges.remove(("l1", "l3"))
    g.edges += [("l1", "thr"), ("thr", "l3")]
    with pytest.raises(InputError, match=r"node 'thr' of type Threshold is not supported"):
        map_graph(g, dt=1.0)


def test_node_off_the_input_output_paths_names_it():
    g = residual()
    g.nodes["dangling"] = lif((4, 8, 8))
    g.edges.append(("l1", "dangling"))
    with pytest.raises(InputError, match=r"node 'dangling' \(LIF\) is not on a path from the Input to the Output"):
        map_graph(g, dt=1.0)


def test_cycle_names_the_graph_problem():
    g = residual()
    g.edges.append(("l3", "c2"))   # l3 -> c2 -> l2 -> c3 -> l3: recurrent
    with pytest.raises(InputError, match="cycle"):
        map_graph(g, dt=1.0)
