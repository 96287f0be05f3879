"""NIR export of each layer kind: conv+BN fold, LIF, pooling, flatten, affine, residual.

Each exported graph goes through ``nir.write`` → ``nir.read(type_check=True)`` and is simulated
by our float interpreter on the same spikes as the student. Time budget: < 30 s.
"""
import nir
import numpy as np
import pytest
import snntorch
import torch
from torch import nn

from ckd_toolchain.ckd_train.models.bn_fold import fold_conv_bn
from ckd_toolchain.export.lif_to_nir import lif_node, lif_parameters
from ckd_toolchain.export.nir_from_student import student_to_nir
from ckd_toolchain.export.verify import compare_runs, passes, run_float_interpreter, run_student, verify_graph
from ckd_toolchain.ckd_train.models.resnet import SpikingBasicBlock
from export_helpers import lif, small_student, spikes, tiny

pytestmark = pytest.mark.timeout(120)


def roundtrip(graph, tmp_path):
    path = tmp_path / "g.nir"
    nir.write(path, graph)
    return nir.read(path, type_check=True)


def export_and_compare(model, shape, tmp_path, T=5, B=3, p=0.3):
    ex = student_to_nir(model, shape)
    g = roundtrip(ex.graph, tmp_path)
    x = spikes((B, T, *shape), p)
    ref_logits, ref_spikes = run_student(model, x, ex.lif_modules)
    y, rec = run_float_interpreter(g, x, list(ex.lif_modules))
    res = compare_runs(ref_logits, ref_spikes, y, rec, ex.order)
    assert res["spike_mismatches"] == 0, res
    assert res["logits_max_abs_diff"] <= 1e-5, res
    assert sum(int(s.sum()) for s in ref_spikes.values()) > 0  # the comparison saw spikes
    return ex, g, res


def test_bn_fold_matches_conv_then_bn():
    conv = nn.Conv2d(3, 5, 3, padding=1, bias=False).double()
    bn = nn.BatchNorm2d(5).double()
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.1, 2)
    bn.weight.data.uniform_(-2, 2)
    bn.bias.data.uniform_(-1, 1)
    bn.eval()
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    ref = bn(conv(x))
    w, b = fold_conv_bn(conv, bn)
    # by hand for one output: s = gamma / sqrt(var + eps); b' = beta - s * mean
    s = (bn.weight[2] / torch.sqrt(bn.running_var[2] + bn.eps)).detach()
    assert np.isclose(b[2], float(bn.bias[2].detach() - s * bn.running_mean[2]), rtol=1e-6)
    assert np.allclose(w[2], (conv.weight[2] * s).detach().numpy(), rtol=1e-6)
    got = nn.functional.conv2d(x, torch.from_numpy(w).double(), torch.from_numpy(b).double(), padding=1)
    assert torch.allclose(got, ref, atol=1e-5)  # float32 storage of the folded parameters


def test_conv_bn_lif_flatten_affine(tmp_path):
    m = tiny([nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), lif(), nn.Flatten()], 4 * 6 * 6)
    ex, g, _ = export_and_compare(m, (2, 6, 6), tmp_path)
    types = {k: type(v).__name__ for k, v in g.nodes.items()}
    assert types == {"input": "Input", "features_00_conv": "Conv2d", "features_02_lif": "LIF",
                     "features_03_flatten": "Flatten", "head_dvs": "Affine", "output": "Output"}
    w, b = fold_conv_bn(m.features[0], m.features[1])
    assert np.array_equal(g.nodes["features_00_conv"].weight, w) and np.array_equal(g.nodes["features_00_conv"].bias, b)
    fl = g.nodes["features_03_flatten"]
    assert (int(fl.start_dim), int(fl.end_dim)) == (0, -1)  # no batch axis in NIR
    assert list(fl.input_type["input"]) == [4, 6, 6] and list(fl.output_type["output"]) == [144]
    head = g.nodes["head_dvs"]
    assert np.array_equal(head.weight, m.head_dvs.weight.detach().numpy())
    assert np.array_equal(head.bias, m.head_dvs.bias.detach().numpy())
    assert sorted(g.edges) == sorted([("input", "features_00_conv"), ("features_00_conv", "features_02_lif"),
                                      ("features_02_lif", "features_03_flatten"), ("features_03_flatten", "head_dvs"),
                                      ("head_dvs", "output")])


def test_pools(tmp_path):
    m = tiny([nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), lif(), nn.AvgPool2d(2),
              nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), lif(),
              nn.AdaptiveAvgPool2d(1), nn.Flatten()], 4)
    ex, g, _ = export_and_compare(m, (2, 8, 8), tmp_path)
    p1, p2 = g.nodes["features_03_avgpool"], g.nodes["features_07_avgpool"]
    assert isinstance(p1, nir.AvgPool2d) and list(p1.kernel_size) == [2, 2] and list(p1.stride) == [2, 2]
    assert list(p2.kernel_size) == [4, 4] and list(p2.output_type["output"]) == [4, 1, 1]


@pytest.mark.parametrize("downsample", [False, True])
def test_residual_block(tmp_path, downsample):
    c2 = 6 if downsample else 4
    m = tiny([nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), lif(),
              SpikingBasicBlock(4, c2, 2 if downsample else 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()], c2)
    ex, g, _ = export_and_compare(m, (2, 8, 8), tmp_path)
    into = sorted(s for s, d in g.edges if d == "features_03_lif2")
    if downsample:
        assert into == ["features_03_conv2", "features_03_shortcut"]
        w, b = fold_conv_bn(m.features[3].shortcut[0], m.features[3].shortcut[1])
        assert np.array_equal(g.nodes["features_03_shortcut"].weight, w)
    else:  # identity shortcut: the block's input spikes go straight into lif2, where NIR sums them
        assert into == ["features_02_lif", "features_03_conv2"]


def test_lif_parameters_and_equivalence_with_snntorch():
    p = lif_parameters(0.5, 1.0, dt=1.0)
    assert p == {"tau": 2.0, "r": 2.0, "v_leak": 0.0, "v_threshold": 1.0, "v_reset": 0.0}
    assert lif_parameters(0.9, 1.0, dt=1e-3)["tau"] == pytest.approx(1e-2)
    torch.manual_seed(1)
    for beta in (0.5, 0.9):
        x = torch.rand(3, 40, 7) * 1.2  # [B, T, N]
        leaky = snntorch.Leaky(beta=beta, threshold=1.0, reset_mechanism="zero")
        mem = leaky.init_leaky()
        ref = []
        for t in range(x.shape[1]):
            s, mem = leaky(x[:, t], mem)
            ref.append(s)
        ref = torch.stack(ref, 1)
        node = lif_node(beta, 1.0, (7,), dt=1.0)
        g = nir.NIRGraph.from_list(node)
        g.metadata = {"dt": 1.0}
        from ckd_toolchain.simulators.nir_float import run_nir

        y = run_nir(g, x)
        assert torch.equal(y, ref), beta  # bit-exact spikes
        assert 0.05 < ref.mean() < 0.9


def test_metadata_survives_write_and_read(tmp_path):
    from ckd_toolchain.nir_metadata import read_metadata

    m = tiny([nn.Conv2d(2, 2, 3, padding=1, bias=False), nn.BatchNorm2d(2), lif(), nn.Flatten()], 2 * 4 * 4)
    meta = {"T": 5, "dt": 1.0, "input_shape": [2, 4, 4], "classes": ["a b", "ç", "[x]"], "frame_encoding": "binary",
            "source_sha256": "ab" * 32, "arch": "vgg", "method": "ckd", "beta": 0.5, "threshold": 1.0, "num_classes": 3}
    g = roundtrip(student_to_nir(m, (2, 4, 4), meta).graph, tmp_path)
    got = read_metadata(g)
    for k, v in meta.items():
        assert got[k] == v, k
    assert got["node_order"][0] == "input" and got["node_order"][-1] == "output"
    assert isinstance(got["T"], int) and isinstance(got["input_shape"][0], int)


@pytest.mark.parametrize("arch", ["vgg", "resnet18", "resnet18-post"])
def test_full_students_match_student_in_both_simulators(tmp_path, arch):
    m = small_student(arch, T=4)
    ex = student_to_nir(m, (2, 48, 48))
    g = roundtrip(ex.graph, tmp_path)
    res = verify_graph(m, g, ex.lif_modules, spikes((4, 4, 2, 48, 48), 0.2), ex.order, 1.0)
    assert res["student_spikes"] > 1000
    exact = res["nir_float64"]
    assert exact["spike_mismatches"] == 0 and exact["last_layer_counts_equal"] and exact["logits_max_abs_diff"] == 0
    for sim in ("nir_float64", "nir_float32", "norse"):
        assert "error" not in res[sim], res[sim]
        assert passes(sim, res[sim]), (sim, res[sim])
    if arch != "vgg":
        assert "from_nir_unsupported" in res["norse"]


def test_chunked_verification_merges_to_the_whole():
    from ckd_toolchain.export.verify import merge_results

    torch.manual_seed(3)
    ref = {"a": (torch.rand(6, 3, 5) < 0.5).float()}
    other = {"a": ref["a"].clone()}
    other["a"][1, 0, 2] = 1 - other["a"][1, 0, 2]  # one flip in sample 1
    other["a"][4, 2, 0] = 1 - other["a"][4, 2, 0]  # one in sample 4
    lr, lo = torch.randn(6, 3, 4), torch.randn(6, 3, 4)
    whole = compare_runs(lr, ref, lo, other, ["a"])
    parts = [compare_runs(lr[i:i + 2], {"a": ref["a"][i:i + 2]}, lo[i:i + 2], {"a": other["a"][i:i + 2]}, ["a"])
             for i in (0, 2, 4)]
    merged = merge_results(parts)
    for k in whole:
        assert merged[k] == pytest.approx(whole[k]) if isinstance(whole[k], float) else merged[k] == whole[k], k
    assert whole["spike_mismatches"] == 2 and whole["last_layer_count_mismatches"] == 2
