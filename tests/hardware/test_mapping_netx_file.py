"""The `.net` we write has lava-dl's own schema (compared with the fixtures lava-dl wrote) and is
read back by our netx reader with the values we mapped. Budget: < 5 s."""
from __future__ import annotations


import h5py
import numpy as np
import pytest

import mapping_graphs as mg
from ckd_toolchain.hardware.lowering.netx_mapping import write_mapped as write_netx
from ckd_toolchain.hardware.lowering.nir_to_loihi import map_graph

pytestmark = pytest.mark.timeout(60)


def _schema(group: h5py.Group) -> dict:
    out = {}
    group.visititems(lambda n, o: out.__setitem__(n, o.dtype.kind) if isinstance(o, h5py.Dataset) else None)
    return out


def test_schema_matches_lava_dl_exporter(tmp_path, netx_fixtures):
    net = map_graph(mg.demo_like(), pool_mode="conv")
    path = tmp_path / "m.net"
    write_netx(net, path, num_steps=10)
    with h5py.File(path) as f, h5py.File(netx_fixtures / "tiny.net") as tiny, h5py.File(netx_fixtures / "oxford.net") as ox:
        conv_ref = _schema(tiny["layer/1"])
        dense_ref = _schema(ox["layer/0"])
        ours_conv, ours_dense = _schema(f["layer/1"]), _schema(f["layer/5"])
        skip = {"neuron/scaleRho", "neuron/tauRho", "neuron/theta", "neuron/wgtExp"}   # LOIHI-only extras
        for k, kind in conv_ref.items():
            if k not in skip:
                assert ours_conv.get(k) == kind, k
        for k, kind in dense_ref.items():
            assert ours_dense.get(k) == kind, k
        assert f["layer/0/type"][0] == b"input" and list(f["layer/0/shape"]) == [2, 8, 8]
        assert f["layer/4/type"][0] == b"flatten"
        assert f["layer/2/type"][0] == b"conv" and int(f["layer/2/groups"][()]) == 4
        assert f["layer/1/weight"].shape == (4, 2, 3, 3, 1)
        assert f["layer/5/weight"].shape == (5, 96)
        assert f["layer/5/neuron/vThMant"][()] == 2**17 - 1
        assert f["simulation/tSample"][()] == 10


def test_reader_sees_the_mapped_values(tmp_path):
    from ckd_toolchain.netx import load_netx

    net = map_graph(mg.demo_like(), pool_mode="conv")
    path = tmp_path / "m.net"
    write_netx(net, path)
    back = load_netx(path)
    assert back is not None
    with h5py.File(path) as f:
        for i, layer in zip([1, 2, 3, 5], net.layers):
            g = f[f"layer/{i}"]
            w = g["weight"][()]
            np.testing.assert_array_equal(w.reshape(layer.weight.shape), layer.weight)
            assert np.all(w == np.round(w))
            assert g["neuron/vThMant"][()] == layer.vth_mant
            assert g["neuron/vDecay"][()] == layer.v_decay and g["neuron/iDecay"][()] == layer.i_decay
            if layer.bias is not None:
                np.testing.assert_array_equal(g["bias"][()], layer.bias)


def test_failed_write_leaves_nothing(tmp_path):
    net = map_graph(mg.demo_like(), pool_mode="conv")
    net.layers[0].netx.stride = None      # breaks the writer half-way (the file layer the mapper holds)
    with pytest.raises(TypeError):
        write_netx(net, tmp_path / "m.net")
    assert list(tmp_path.iterdir()) == []
