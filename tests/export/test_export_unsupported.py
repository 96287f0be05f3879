"""Unsupported layers and bad inputs: one clear InputError / one line + exit 2, nothing written.

Time budget: < 10 s.
"""
import pytest
import snntorch
from torch import nn

from ckd_toolchain.errors import InputError
from ckd_toolchain.export.cli_export import main
from ckd_toolchain.export.nir_from_student import student_to_nir
from export_helpers import lif, tiny

pytestmark = pytest.mark.timeout(60)


def conv(ci=2, co=2):
    return nn.Conv2d(ci, co, 3, padding=1, bias=False)


def test_maxpool_is_named_with_position_and_advice():
    m = tiny([conv(), nn.BatchNorm2d(2), lif(), nn.MaxPool2d(2), nn.Flatten()], 2 * 4 * 4)
    with pytest.raises(InputError) as e:
        student_to_nir(m, (2, 8, 8), where="model.pt")
    msg = str(e.value)
    assert msg.startswith("model.pt: layer features[3] (MaxPool2d)") and "use nn.AvgPool2d(2)" in msg


@pytest.mark.parametrize("bad, pos, words", [
    (snntorch.RLeaky(beta=0.5, linear_features=2), "features[2]", "recurrent neurons are not exported"),
    (nn.ReLU(), "features[2]", "must be spiking"),
    (nn.Dropout(), "features[2]", "remove it"),
    (nn.Identity(), "features[2]", "use only Conv2d"),
])
def test_other_unsupported_layers(bad, pos, words):
    m = tiny([conv(), nn.BatchNorm2d(2), bad, lif(), nn.Flatten()], 2 * 4 * 4)
    with pytest.raises(InputError, match=r"layer " + pos.replace("[", r"\[").replace("]", r"\]")) as e:
        student_to_nir(m, (2, 4, 4))
    assert words in str(e.value)


def test_unknown_layer_inside_a_residual_shortcut():
    from ckd_toolchain.ckd_train.models.resnet import SpikingBasicBlock

    blk = SpikingBasicBlock(2, 4, 2)
    blk.shortcut = nn.Sequential(nn.Conv2d(2, 4, 1, stride=2, bias=False), nn.MaxPool2d(1))
    m = tiny([conv(), nn.BatchNorm2d(2), lif(), blk, nn.AdaptiveAvgPool2d(1), nn.Flatten()], 4)
    with pytest.raises(InputError, match=r"layer features\[3\]\.shortcut\[1\] \(MaxPool2d\)"):
        student_to_nir(m, (2, 8, 8))


def test_features_must_end_in_the_head_size():
    m = tiny([conv(), nn.BatchNorm2d(2), lif()], 8)
    with pytest.raises(InputError, match="must end with Flatten"):
        student_to_nir(m, (2, 2, 2))


def test_cli_corrupt_checkpoint_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"\x00not a checkpoint")
    out = tmp_path / "out" / "model.nir"
    with pytest.raises(SystemExit) as e:
        main(["--to", "nir", str(bad), "-o", str(out)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ckd-export: error: ") and "model.pt" in err
    assert not out.exists() and not any(tmp_path.rglob("*.nir*"))


def test_cli_usage_errors_exit_2(tmp_path, capsys):
    for argv in (["--to", "nir", "x.pt"], ["--to", "nir", "--teacher", "x.pt", "-o", str(tmp_path / "a.nir")]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
        assert capsys.readouterr().err.count("\n") == 1


def test_cli_unsupported_layer_exits_2_naming_it(tmp_path, capsys, monkeypatch):
    import ckd_toolchain.ckd_train.checkpoint as checkpoint

    m = tiny([conv(), nn.BatchNorm2d(2), lif(), nn.MaxPool2d(2), nn.Flatten()], 2 * 24 * 24)
    ck = {"config": {"student": {"T": 2, "in_channels": 2, "input_size": 48}}, "classes": ["a"] * 4}
    src = tmp_path / "m.pt"
    src.write_bytes(b"x")
    monkeypatch.setattr(checkpoint, "load_student", lambda path: (m, ck))
    out = tmp_path / "m.nir"
    with pytest.raises(SystemExit) as e:
        main(["--to", "nir", str(src), "-o", str(out)])
    assert e.value.code == 2 and not out.exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "layer features[3] (MaxPool2d)" in err and "AvgPool2d" in err
