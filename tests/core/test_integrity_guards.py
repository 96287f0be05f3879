"""Integrity and range guards of the shared layer (issue 16): the HDF5 seal of our ``.net`` files,
netx weight ranges, NIR parameter values, output-path checks and stale partial files."""
from __future__ import annotations

import os
import subprocess

import h5py
import nir
import numpy as np
import pytest

from ckd_toolchain.atomic_io import (check_output_dir, check_output_file, remove_stale_partials, write_text)
from ckd_toolchain.errors import InputError
from ckd_toolchain.hdf5_seal import MAGIC, USERBLOCK, verify_seal
from ckd_toolchain.netx import load_netx, write_netx
from ckd_toolchain.netx.reader import check_stored_weights
from ckd_toolchain.nir_graph import MAX_ABS_PARAM, check_graph_values, load_graph
from netx_builders import conv_layer, dense_layer, flatten_layer, input_layer, lif, write_net


def _small_net(path, w_dense=None):
    rng = np.random.default_rng(0)
    w = rng.integers(-8, 8, (4, 2, 3, 3))
    wd = w_dense if w_dense is not None else rng.integers(-20, 20, (3, 4 * 4 * 4)).astype(float)
    return write_net(path, [input_layer((6, 6, 2)), conv_layer(w, (4, 4, 4), neuron=lif()), flatten_layer(64),
                            dense_layer(wd, neuron=lif())])


def test_our_netx_files_are_sealed_and_a_flipped_byte_is_caught(tmp_path):
    net = load_netx(_small_net(tmp_path / "a.net"))
    out = tmp_path / "ours.net"
    write_netx(net, out)
    head = out.read_bytes()[:USERBLOCK]
    assert head.startswith(MAGIC) and verify_seal(out) is True
    with h5py.File(out, "r") as f:       # still a plain HDF5 file for every reader (user block)
        assert "layer" in f
    again = load_netx(out)
    assert [l.weight.tolist() for l in again.layers] == [l.weight.tolist() for l in net.layers]
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0x01          # one bit, anywhere in the payload
    out.write_bytes(bytes(data))
    with pytest.raises(InputError, match="sha256"):
        load_netx(out)
    assert verify_seal(tmp_path / "a.net") is False   # a foreign file has no seal: range checks only


@pytest.mark.parametrize("bad, needle", [(300.0, "must be in -256..255"), (-1000.0, "must be in -256..255"),
                                         (0.5, "must be integers")])
def test_netx_weights_outside_8_bits_or_fractional_are_refused(tmp_path, bad, needle):
    wd = np.random.default_rng(1).integers(-20, 20, (3, 64)).astype(float)
    wd[1, 5] = bad
    path = _small_net(tmp_path / "b.net", wd)
    load_netx(path)                      # the library reads what netx reads (Lava parity) ...
    with pytest.raises(InputError, match=needle) as exc:
        check_stored_weights(path)       # ... ckd-deploy refuses what netx would silently change
    assert "layer/3/weight" in str(exc.value)


def test_structurally_corrupt_hdf5_is_one_input_error(tmp_path):
    path = _small_net(tmp_path / "c.net")
    data = bytearray(open(path, "rb").read())
    seen = set()
    rng = np.random.default_rng(3)
    for _ in range(40):                  # flips in the HDF5 metadata (the first 2 KiB)
        d = bytearray(data)
        for i in rng.integers(0, 2048, 4):
            d[i] ^= int(rng.integers(1, 256))
        (tmp_path / "f.net").write_bytes(bytes(d))
        try:
            load_netx(tmp_path / "f.net")
            seen.add("ok")
        except InputError as exc:
            seen.add("input")
            assert "f.net" in str(exc) and "\n" not in str(exc)
    assert "input" in seen


def _graph(weight):
    return nir.NIRGraph.from_list(nir.Input(np.array([3])), nir.Affine(weight, np.zeros(2)), nir.Output(np.array([2])))


@pytest.mark.parametrize("value, needle", [(np.nan, "NaN/Inf"), (np.inf, "NaN/Inf"), (1e30, "magnitude")])
def test_nir_parameters_must_be_finite_and_sane(tmp_path, value, needle):
    w = np.ones((2, 3))
    check_graph_values(_graph(w), "g.nir")
    w[1, 2] = value
    path = tmp_path / "g.nir"
    nir.write(path, _graph(w))
    with pytest.raises(InputError, match=needle) as exc:
        load_graph(path)
    assert str(path) in str(exc.value) and "'weight'" in str(exc.value)
    assert MAX_ABS_PARAM < 1e30


def test_output_checks_name_the_path_and_create_nothing(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputError, match="existing file"):
        check_output_dir(f)
    with pytest.raises(InputError, match="is a file"):
        check_output_dir(f / "sub" / "dir")
    with pytest.raises(InputError, match="is a directory"):
        check_output_file(tmp_path)
    with pytest.raises(InputError, match="existing file"):
        write_text(f / "x.json", "{}")      # atomic writers report it as one line too
    check_output_dir(tmp_path / "new" / "deep")
    assert not (tmp_path / "new").exists()


def test_stale_partials_of_dead_writers_are_removed(tmp_path):
    p = subprocess.Popen(["true"])   # a pid that has exited
    p.wait()
    stale = [tmp_path / f".model.net.{p.pid}.partial", tmp_path / f".model.net.{p.pid}.abc.tmp"]
    live = tmp_path / f".model.net.{os.getpid()}.xyz.tmp"
    other = tmp_path / f".other.{p.pid}.partial"
    for s in (*stale, live, other):
        s.write_text("x")
    removed = remove_stale_partials(tmp_path / "model.net")
    assert sorted(removed) == sorted(stale)
    assert live.exists() and other.exists()


def test_ckd_deploy_refuses_a_net_with_out_of_range_weights(tmp_path, capsys):
    from ckd_toolchain.hardware.cli_deploy import main

    wd = np.random.default_rng(1).integers(-20, 20, (3, 64)).astype(float)
    wd[0, 0] = 1000.0
    path = _small_net(tmp_path / "w.net", wd)
    with pytest.raises(SystemExit) as exc:
        main([str(path), "--steps", "4", "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and "must be in -256..255" in err[0]
    assert not list((tmp_path / "o").glob("*")) if (tmp_path / "o").exists() else True
