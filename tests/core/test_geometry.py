"""``ckd_toolchain.geometry`` against hand-computed numbers, and one dilated conv counted the same by
the Loihi mapping (core allocation) and the energy report. Budget: < 5 s."""
from __future__ import annotations

import nir
import numpy as np
import pytest
import torch

import mapping_graphs as mg
from ckd_toolchain.geometry import (axis_taps, conv_fan_in, conv_fan_out, conv_output_hw, conv_output_size,
                                    conv_synapses, pair)
from ckd_toolchain.hardware.lowering.core_allocation import allocate, max_fan_in, out_degree, synapse_count
from ckd_toolchain.hardware.energy.layer_counts import count_layers
from ckd_toolchain.hardware.energy.op_counts import fanout, geometry, synaptic_ops
from ckd_toolchain.hardware.energy.op_counts import synapse_count as energy_synapse_count
from ckd_toolchain.hardware.lowering.mapping_report import layer_entries
from ckd_toolchain.hardware.lowering.nir_to_loihi import map_graph

pytestmark = pytest.mark.timeout(60)


def test_pair():
    assert pair(3) == (3, 3)
    assert pair((2, 1)) == (2, 1)
    assert pair([4]) == (4, 4)
    assert pair(np.array([5, 6], dtype=np.int64)) == (5, 6)
    assert pair(np.float64(2.0)) == (2, 2)
    assert pair(None, 1) == (1, 1)
    with pytest.raises(ValueError):
        pair(None)


@pytest.mark.parametrize("n, k, s, p, d, expected", [
    (8, 3, 1, 1, 1, 8),     # (8 + 2 - 2 - 1) // 1 + 1
    (8, 2, 2, 0, 1, 4),     # a 2x2 pool: (8 - 1 - 1) // 2 + 1
    (7, 2, 2, 0, 1, 3),     # floor: the last row is dropped
    (5, 3, 1, 2, 2, 5),     # dilated: (5 + 4 - 4 - 1) // 1 + 1
    (9, 3, 2, 2, 2, 5),     # (9 + 4 - 4 - 1) // 2 + 1 = 4 + 1
    (10, 5, 3, 0, 1, 2),    # (10 - 4 - 1) // 3 + 1
])
def test_conv_output_size_matches_pytorch(n, k, s, p, d, expected):
    assert conv_output_size(n, k, s, p, d) == expected
    y = torch.nn.functional.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d)
    assert y.shape[-1] == expected
    assert conv_output_hw((n, n + 1), k, s, p, d) == (expected, conv_output_size(n + 1, k, s, p, d))


def test_axis_taps_by_hand():
    # 3 taps, padding 1 over 4: output o reads o-1, o, o+1
    taps, readers = axis_taps(4, 4, 3, 1, 1)
    assert taps.tolist() == [2, 3, 3, 2] and readers.tolist() == [2, 3, 3, 2]
    # stride 2, no padding, 5 -> 2: outputs read rows 0-2 and 2-4
    taps, readers = axis_taps(5, 2, 3, 2, 0)
    assert taps.tolist() == [3, 3] and readers.tolist() == [1, 1, 2, 1, 1]
    # dilation 2, padding 2, 5 -> 5: output o reads o-2, o, o+2
    taps, readers = axis_taps(5, 5, 3, 1, 2, 2)
    assert taps.tolist() == [2, 2, 3, 2, 2] and readers.tolist() == [2, 2, 3, 2, 2]


def test_conv_fan_in_fan_out_with_groups_by_hand():
    # 4 -> 6 channels in 2 groups, 3x3 pad 1 on 4x4: each output reads 2 input channels,
    # each input is read by 3 output channels.
    fin = conv_fan_in((4, 4, 4), (6, 4, 4), 3, 1, 1, 1, 2)
    fout = conv_fan_out((4, 4, 4), (6, 4, 4), 3, 1, 1, 1, 2)
    assert fin.shape == (4, 4) and fout.shape == (4, 4, 4)
    assert fin[0, 0] == 2 * 2 * 2 and fin[1, 1] == 2 * 3 * 3
    assert fout[3, 0, 0] == 3 * 2 * 2 and fout[0, 1, 2] == 3 * 3 * 3
    # Σ fan-out = Σ fan-in over all output neurons: (2+3+3+2)^2 = 100 taps per channel pair
    assert conv_synapses((4, 4, 4), (6, 4, 4), 3, 1, 1, 1, 2) == 4 * 3 * 100 == 6 * int(fin.sum())


def _dilated_graph():
    # 1 -> 2 channels, 3x3 kernel, dilation 2, padding 2, on 5x5: output 5x5
    w = np.arange(18, dtype=np.float64).reshape(2, 1, 3, 3) / 20 - 0.4
    conv = nir.Conv2d(input_shape=(5, 5), weight=w, stride=1, padding=2, dilation=2, groups=1, bias=np.zeros(2))
    return mg.chain([("c", conv), ("l", mg.lif((2, 5, 5))),
                     ("f", nir.Flatten(input_type={"input": np.array([2, 5, 5])}, start_dim=0)),
                     ("fc", nir.Linear(weight=np.full((3, 50), 0.1)))], [1, 5, 5], 3)


def test_dilated_conv_mapping_and_energy_report_count_the_same_synapses():
    """Per axis the dilated kernel reads rows {o-2, o, o+2} of 5: taps [2, 2, 3, 2, 2] (sum 11),
    so one output channel has 11 x 11 = 121 connections and the layer 2 x 121 = 242."""
    net = map_graph(_dilated_graph(), pool_mode="fold")
    conv = net.layers[0]
    assert conv.kind == "conv" and conv.dilation == (2, 2) and conv.out_shape == (2, 5, 5)
    assert synapse_count(conv) == 242
    assert max_fan_in(conv) == 9      # the centre output sees the whole dilated kernel
    assert out_degree(conv)[0].tolist() == (2 * np.outer([2, 2, 3, 2, 2], [2, 2, 3, 2, 2])).tolist()
    assert allocate(net.layers)["layers"][0]["synapses"] == 242

    entry = layer_entries(net)[0]          # the record the deploy report reads
    assert entry["dilation"] == [2, 2] and entry["synapses"] == 242
    geom = geometry(entry)
    assert geom.dilation == (2, 2)
    assert energy_synapse_count(geom) == 242
    np.testing.assert_array_equal(fanout(geom), out_degree(conv))
    # every input neuron spiking once: SOPs = Σ fan-out = the mapping's synapse count
    assert synaptic_ops(geom, np.ones((1, 5, 5))) == 242.0
    # the energy counts without the mapper's own number: computed from the geometry
    record = {k: v for k, v in entry.items() if k != "synapses"}
    record.update(spikes_per_inference=0.0, input_spikes_per_inference=25.0)
    counts = count_layers([record], steps=1, input_spikes=None)
    assert counts[0].synapses == 242 and counts[0].synaptic_ops == 242.0
