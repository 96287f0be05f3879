"""``ckd_toolchain.netx``: one model for the reader and the writer. What the mapper's
``MappedNetwork.to_netx()`` describes is what ``load_netx`` reads back from the written file, and a
file lava-dl wrote survives read -> write -> read. Budget: < 5 s."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import mapping_graphs as mg
from ckd_toolchain.hardware.netx_mapping import write_mapped
from ckd_toolchain.hardware.nir_to_loihi import map_graph
from ckd_toolchain.netx import LayerSpec, NetxNetwork, load_netx, write_netx

pytestmark = pytest.mark.timeout(60)
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "netx"


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


@pytest.mark.skipif(not (FIXTURES / "tiny.net").exists(), reason="shared fixtures not present")
@pytest.mark.parametrize("name", ["tiny.net", "oxford.net"])
def test_lava_dl_file_survives_read_write_read(tmp_path, name):
    first = load_netx(FIXTURES / name)
    write_netx(first, tmp_path / name)
    again = load_netx(tmp_path / name)
    _same_network(first, dataclasses.replace(again, attrs=first.attrs))
