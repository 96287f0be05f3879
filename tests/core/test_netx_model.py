"""``ckd_toolchain.netx``: one model for the reader and the writer. What the mapper's
``MappedNetwork.to_netx()`` describes is what ``load_netx`` reads back from the written file, and a
file lava-dl wrote survives read -> write -> read. The mapper walks the NIR graph as a DAG in the
float interpreter's order. Budget: < 5 s."""
from __future__ import annotations

import dataclasses

import nir
import numpy as np
import pytest

import mapping_graphs as mg
from ckd_toolchain.errors import InputError
from ckd_toolchain.hardware.lowering.netx_mapping import write_mapped
from ckd_toolchain.hardware.lowering.nir_to_loihi import graph_walk, map_graph
from ckd_toolchain.netx import LayerSpec, NetxNetwork, load_netx, write_netx
from ckd_toolchain.nir_graph import topological_order
from paths import NETX_FIXTURES

pytestmark = pytest.mark.timeout(60)
FIXTURES = NETX_FIXTURES


def _same_layer(a: LayerSpec, b: LayerSpec):
    for f in dataclasses.fields(LayerSpec):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert x is not None and y is not None, f.name
            np.testing.assert_array_equal(x, y, err_msg=f.name)
            assert np.asarray(x).shape == np.asarray(y).shape, f.name
        else:
            assert x == y, f.name


def _same_network(a: NetxNetwork, b: NetxNetwork):
    assert (a.input_neuron, a.input_shape, a.declared_input_shape) == (b.input_neuron, b.input_shape,
                                                                       b.declared_input_shape)
    assert a.attrs == b.attrs and len(a.layers) == len(b.layers)
    for x, y in zip(a.layers, b.layers):
        _same_layer(x, y)


@pytest.mark.parametrize("graph, pool_mode", [("demo_like", "conv"), ("two_pools", "thermometer"),
                                              ("demo_like", "fold"), ("dense_only", "thermometer")])
@pytest.mark.parametrize("input_neuron", [True, False])
def test_mapped_model_is_what_the_reader_reads(tmp_path, graph, pool_mode, input_neuron):
    net = map_graph(getattr(mg, graph)(seed=2), pool_mode=pool_mode)
    model = net.to_netx(source="g.nir", input_neuron=input_neuron)
    path = tmp_path / "m.net"
    write_mapped(net, path, num_steps=9, source="g.nir", input_neuron=input_neuron)
    back = load_netx(path)
    _same_network(model, back)
    assert back.attrs["ckd_format"] == "ckd-netx/1" and back.layers[-1].attrs["name"] == net.layers[-1].name
    blocks = back.layers[1:] if input_neuron else back.layers
    for layer, block in zip(net.layers, blocks):   # the mapper's record holds the file's block
        assert layer.out_shape == tuple(reversed(block.shape)) and layer.vth_mant == block.neuron.vth
        np.testing.assert_array_equal(layer.weight, block.weight)


@pytest.mark.parametrize("name", ["tiny.net", "oxford.net"])
def test_lava_dl_file_survives_read_write_read(tmp_path, name):
    first = load_netx(FIXTURES / name)
    write_netx(first, tmp_path / name)
    again = load_netx(tmp_path / name)
    _same_network(first, dataclasses.replace(again, attrs=first.attrs))


def test_mapper_walks_the_float_interpreter_order():
    """Nodes stored out of chain order: the walk is topological_order's, the mapping unchanged."""
    g = mg.demo_like(seed=4)
    names = list(g.nodes)
    shuffled = nir.NIRGraph(nodes={n: g.nodes[n] for n in reversed(names)}, edges=list(g.edges),
                            metadata=g.metadata)
    order, pred = graph_walk(shuffled)
    assert order == topological_order(shuffled) == names
    assert pred["c2"] == ["p1"] and pred["input"] == []
    a, b = map_graph(g), map_graph(shuffled)
    assert [l.name for l in a.layers] == [l.name for l in b.layers]
    for x, y in zip(a.layers, b.layers):
        np.testing.assert_array_equal(x.weight, y.weight)


def test_a_sum_into_a_node_is_rejected_naming_it():
    g = mg.demo_like()
    g.nodes["x"] = nir.Input(input_type={"input": np.array([4, 4, 4])})
    g.edges.append(("x", "c2"))
    with pytest.raises(InputError, match="exactly one Input"):
        map_graph(g)
    g = mg.demo_like()
    g.nodes["x"] = nir.Scale(scale=np.ones(1))
    g.edges.append(("x", "c2"))          # a second input into c2 that no Input feeds (sums are lowered)
    with pytest.raises(InputError, match="node 'x' \\(Scale\\) is not on a path from the Input") as e:
        map_graph(g)
    assert "\n" not in str(e.value)
