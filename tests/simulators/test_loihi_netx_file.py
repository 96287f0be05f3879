"""Validation of netx files and inputs (one-line InputError naming file, layer, field) and the
netx-run CLI (`layer-<i>-<var>.npy`, exit 2 on bad input). Time budget: < 10 s (no Lava)."""
import json

import h5py
import numpy as np
import pytest

from ckd_toolchain.errors import InputError
from netx_builders import (conv_layer, dense_layer, flatten_layer, input_layer, lif, write_net)
from ckd_toolchain.simulators.loihi import load_netx, run_netx
from ckd_toolchain.simulators.cli_loihi import main


def small_net(path, **over):
    rng = np.random.default_rng(0)
    layers = [input_layer((6, 5, 2), neuron=lif(0, 4096, 4096)),
              conv_layer(rng.integers(-20, 40, (4, 2, 3, 3)), (4, 3, 4), neuron=lif(20)),
              flatten_layer(),
              dense_layer(rng.integers(-20, 40, (3, 48)), bias=np.array([1, 2, 3]))]
    return write_net(path, layers)


def edit(path, fn):
    with h5py.File(path, "a") as f:
        fn(f)
    return path


def test_reads_layers_in_lava_order(tmp_path):
    net = load_netx(small_net(tmp_path / "a.net"))
    assert [lay.kind for lay in net.layers] == ["input", "conv", "dense"]
    assert [lay.shape for lay in net.layers] == [(6, 5, 2), (4, 3, 4), (3,)]
    assert net.input_neuron and net.input_shape == (6, 5, 2)
    assert net.layers[2].flatten_input and net.layers[2].bias.tolist() == [1, 2, 3]


CASES = {
    "not_hdf5": (lambda p: p.write_text("hello"), "not an HDF5 file"),
    "no_layer_group": (lambda p: edit(p, lambda f: f.__delitem__("layer")), "missing group 'layer'"),
    "missing_layer": (lambda p: edit(p, lambda f: f.move("layer/1", "layer/7")), "missing layer '1'"),
    "pool": (lambda p: edit(p, lambda f: f["layer/1/type"].__setitem__(0, b"pool")),
             "layer/1/type: layer type 'pool' is not implemented"),
    "sdnn": (lambda p: edit(p, lambda f: (f["layer/1/neuron"].__delitem__("type"),
                                          f["layer/1/neuron"].create_dataset("type", data="SDNN"))),
             "layer/1/neuron/type: neuron type 'SDNN' is not supported"),
    "no_vth": (lambda p: edit(p, lambda f: f["layer/3/neuron"].__delitem__("vThMant")),
               "layer/3/neuron: missing field 'vThMant'"),
    "bad_conv_shape": (lambda p: edit(p, lambda f: f["layer/1/shape"].__setitem__(2, 9)),
                       "layer/1/shape: conv of input"),
    "dense_inputs": (lambda p: edit(p, lambda f: (f["layer/3"].__delitem__("weight"),
                                                  f["layer/3"].create_dataset("weight", data=np.ones((3, 47))))),
                     "layer/3/weight: dense weight has 47 inputs"),
    "delay": (lambda p: edit(p, lambda f: f["layer/3"].create_dataset("delay", data=-np.ones(3))),
              "layer/3/delay: negative delay"),
    "delay_shape": (lambda p: edit(p, lambda f: f["layer/3"].create_dataset("delay", data=np.ones(5))),
                    "layer/3/delay: delay of shape (5,) is incompatible"),
    "zero_weights": (lambda p: edit(p, lambda f: f["layer/3/weight"].__setitem__(slice(None), 0)),
                     "layer/3/weight: all weights are zero"),
    "bias_shape": (lambda p: edit(p, lambda f: (f["layer/3"].__delitem__("bias"),
                                                f["layer/3"].create_dataset("bias", data=np.ones(5)))),
                   "layer/3/bias"),
    "missing_stride": (lambda p: edit(p, lambda f: f["layer/1"].__delitem__("stride")),
                       "layer/1: missing field 'stride'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_files_raise_one_line_input_error(tmp_path, case):
    path = small_net(tmp_path / "m.net")
    make, needle = CASES[case]
    make(tmp_path / "m.net")
    with pytest.raises(InputError) as exc:
        run_netx(path, 3)
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg and needle in msg, msg


def test_bad_inputs(tmp_path):
    path = small_net(tmp_path / "a.net")
    with pytest.raises(InputError, match="input_spikes must have shape"):
        run_netx(path, 3, input_spikes=np.zeros((5, 6, 2, 3)))
    with pytest.raises(InputError, match="-32768..32767"):  # Lava's bias_mant is int16
        run_netx(path, 3, input_bias=np.full((6, 5, 2), 40000))
    with pytest.raises(InputError, match="record"):
        run_netx(path, 3, record="s,w")
    with pytest.raises(InputError, match="unknown simulator"):
        run_netx(path, 3, sim="loihi")
    oxford_like = write_net(tmp_path / "o.net", [dense_layer(np.ones((3, 4), int))])
    with pytest.raises(InputError, match="no input neuron layer"):
        run_netx(oxford_like, 3, input_bias=np.zeros(3))
    assert run_netx(oxford_like, 3, input_spikes=np.ones((4, 2)))[0]["u"].shape == (3, 3)


def test_cli_writes_layer_files_and_exits_2_on_bad_input(tmp_path, capsys):
    path = small_net(tmp_path / "a.net")
    rng = np.random.default_rng(1)
    np.save(tmp_path / "b.npy", rng.integers(0, 30, (2, 6, 5, 2)))
    out = tmp_path / "out"
    rc = main(["--target", "loihi-sim", path, "--steps", "6", "--input-bias", str(tmp_path / "b.npy"),
               "--reset-interval", "4", "--record", "u,v,s", "--sim", "fast", "--out", str(out)])
    assert rc == 0
    ref = run_netx(path, 6, input_bias=np.load(tmp_path / "b.npy"), reset_interval=4)
    for i in range(3):
        for var in "suv":
            np.testing.assert_array_equal(np.load(out / f"layer-{i}-{var}.npy"), ref[i][var])
    assert json.loads((out / "netx-run.json").read_text())["layers"][2]["s"] == [2, 3, 6]
    summary = [l for l in capsys.readouterr().err.splitlines() if l.startswith("ckd-deploy: ran ")]
    spikes = sum(int(ref[i]["s"].sum()) for i in range(3))
    assert len(summary) == 1 and f"for 6 steps on --sim fast (3 layers, {spikes} spikes in all layers" in summary[0]
    (tmp_path / "bad.net").write_text("nope")
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path / "bad.net"), "--steps", "3", "--out", str(tmp_path / "o2")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.net: not an HDF5 file" in err[0]
    with pytest.raises(SystemExit) as exc:
        main([path, "--out", str(tmp_path / "o3")])  # --steps missing
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main([path, "--steps", "2", "--input-spikes", str(tmp_path / "missing.npy"), "--out",
              str(tmp_path / "o4")])
    assert exc.value.code == 2 and not (tmp_path / "o4").exists()
