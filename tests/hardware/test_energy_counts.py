"""Op counts of small hand-made layers and networks against hand-computed numbers (budget < 5 s)."""
from __future__ import annotations

import numpy as np
import pytest

from ckd_toolchain.errors import InputError
from ckd_toolchain.hardware.energy.layer_counts import count_layers, totals
from ckd_toolchain.hardware.energy.op_counts import (dense_macs, fanout, geometry, mean_tile_distance, synapse_count,
                                       synaptic_ops)

pytestmark = pytest.mark.timeout(30)


def conv(in_shape, out_shape, k=3, s=1, p=1, **kw):
    return dict(name="c", kind="conv", in_shape=in_shape, out_shape=out_shape, kernel=[k, k], stride=[s, s],
                padding=[p, p], **kw)


def test_padded_3x3_conv_border_fanout():
    # 3x3 input, 3x3 kernel, padding 1, 2 output channels: a corner pixel reaches the 2x2 outputs
    # whose window covers it (4 per channel), an edge pixel 2x3 = 6, the centre 9.
    g = geometry(conv([1, 3, 3], [2, 3, 3]))
    assert fanout(g)[0].tolist() == [[8, 12, 8], [12, 18, 12], [8, 12, 8]]
    assert synapse_count(g) == 2 * (4 * 4 + 4 * 6 + 9)  # 98
    assert dense_macs(g) == 2 * 9 * 1 * 9  # padding taps are computed densely: 162


def test_synaptic_ops_from_a_spike_map():
    g = geometry(conv([1, 3, 3], [2, 3, 3]))
    spikes = np.zeros((1, 3, 3))
    spikes[0, 0, 0] = 2  # a corner: 2 spikes x 8 targets
    spikes[0, 1, 1] = 1  # the centre: 1 x 18
    spikes[0, 0, 1] = 3  # an edge: 3 x 12
    assert synaptic_ops(g, spikes) == 2 * 8 + 18 + 3 * 12


def test_strided_conv_and_pool_fanout():
    g = geometry(conv([1, 5, 5], [1, 2, 2], k=3, s=2, p=0))
    # rows 0..4: outputs at 0 (rows 0-2) and 1 (rows 2-4): row 2 is read twice
    assert fanout(g)[0].tolist() == [[1, 1, 2, 1, 1], [1, 1, 2, 1, 1], [2, 2, 4, 2, 2], [1, 1, 2, 1, 1], [1, 1, 2, 1, 1]]
    pool = geometry(dict(name="p", kind="pool", in_shape=[3, 4, 4], out_shape=[3, 2, 2], kernel=[2, 2], stride=[2, 2]))
    assert pool.groups == 3 and (fanout(pool) == 1).all()
    assert dense_macs(pool) == 3 * 2 * 2 * 4


def test_grouped_conv_and_lava_order():
    g = geometry(conv([4, 6, 6], [8, 6, 6], groups=2))
    assert dense_macs(g) == 8 * 36 * 2 * 9
    assert fanout(g)[0, 2, 2] == 4 * 9  # 8 outputs / 2 groups reach every interior pixel 9 times
    xyf = geometry(conv([6, 5, 2], [6, 5, 4]))  # Lava (x, y, f) order: C=2 -> 4 on a 5x6 image
    assert (xyf.c_in, xyf.h_in, xyf.w_in, xyf.c_out) == (2, 5, 6, 4)


def test_shapes_that_do_not_fit_the_kernel_raise():
    with pytest.raises(InputError, match="do not fit"):
        geometry(conv([1, 8, 8], [1, 5, 5]))
    with pytest.raises(InputError, match="unknown kind"):
        geometry(dict(name="x", kind="lstm", in_shape=[3], out_shape=[3]))


def test_two_layer_dense_network_counts():
    # 6 inputs -> 4 -> 3 neurons, T = 5; known spikes per inference
    layers = [
        dict(name="fc1", kind="dense", in_shape=[6], out_shape=[4], spikes_per_inference=7.0,
             input_spikes_per_inference=10.0, synaptic_ops_per_inference=40.0, cores=1),
        dict(name="fc2", kind="dense", in_shape=[4], out_shape=[3], spikes_per_inference=2.0, cores=2),
    ]
    c = count_layers(layers, steps=5, input_spikes=10.0, cores_per_tile=1)
    assert c[0].synaptic_ops == 10 * 4 and c[0].kinds.get("synaptic_ops") is None  # given: counted
    assert c[1].input_spikes == 7.0  # defaults to the previous layer's spikes
    assert c[1].synaptic_ops == 7 * 3 and c[1].kinds["synaptic_ops"] == "estimated"  # mean fan-out 3 (exact for dense)
    assert [x.neuron_updates for x in c] == [4 * 5, 3 * 5]
    assert [x.active_updates for x in c] == [7.0, 2.0]
    assert [x.spike_messages for x in c] == [10 * 1, 7 * 2]  # one message per destination core
    assert [x.dense_macs for x in c] == [24, 12]
    # placement: input on core 0, fc1 on core 1, fc2 on cores 2,3; one core per tile:
    # fc1 hops per spike = |0-1| = 1; fc2 = |1-2| + |1-3| = 3
    assert [x.tile_hops for x in c] == [10 * 1, 7 * 3]
    t = totals(c)
    assert t["synaptic_ops"] == 61 and t["neuron_updates"] == 35 and t["input_spikes"] == 10
    assert c[0].spike_rate == pytest.approx(7 / 20)


def test_mean_tile_distance():
    assert mean_tile_distance([0], [1, 2, 3, 4], 4) == 1.0  # cores 1-3 share tile 0, core 4 is tile 1
    assert mean_tile_distance([0, 4], [8], 4) == pytest.approx((2 + 1) / 2)


def test_missing_spike_counts_raise():
    with pytest.raises(InputError, match="spikes_per_inference"):
        count_layers([dict(name="fc", kind="dense", in_shape=[2], out_shape=[2])], 4, 1.0)
    with pytest.raises(InputError, match="non-negative"):
        count_layers([dict(name="fc", kind="dense", in_shape=[2], out_shape=[2], spikes_per_inference=-1)], 4, 1.0)
