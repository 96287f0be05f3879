"""ONNX files: constant-folded (no Constant / Identity node left, every other op kept), the metadata of
``metadata_props``, and a one-line error for a wrong ``T``; onnxruntime runs the folded file.

Measured here (VGG width 0.125, T = 4, ``small_student``): 497 -> 305 nodes (Constant 144 -> 0,
Identity 48 -> 0); before the first-step change of ``UnrolledStudent`` the export had 585 nodes
(Constant 168). Time budget: < 30 s.
"""
import numpy as np
import onnx
import pytest
import torch

from ckd_toolchain.errors import InputError
from ckd_toolchain.export.onnx_export import (UnrolledStudent, export_student_onnx, onnx_metadata, run_onnx,
                                              student_onnx_metadata)
from ckd_toolchain.export.onnx_fold import count_ops, fold_constants
from export_helpers import small_student, spikes

T = 4


@pytest.fixture(scope="module")
def student_file(tmp_path_factory):
    model = small_student("vgg", T=T)
    meta = student_onnx_metadata({"classes": list("abcd"), "num_classes": 4, "frame_encoding": "binary",
                                  "source_sha256": "ab" * 32, "weights": "float", "arch": "vgg"}, T, (2, 48, 48))
    path = export_student_onnx(model, T, (2, 48, 48), tmp_path_factory.mktemp("onnx") / "s.onnx", meta)
    return model, path


def test_student_file_is_folded_and_matches_pytorch(student_file):
    model, path = student_file
    m = onnx.load(str(path))
    ops = count_ops(m)
    assert "Constant" not in ops and "Identity" not in ops
    folding = onnx_metadata(path)["folding"]
    before, after = folding["exported"], folding["folded"]
    assert before["Constant"] > 0 and before["Identity"] > 0 and after == ops
    # folding removes only Constant/Identity here (nothing else is all-constant): every compute op stays
    assert {k: v for k, v in before.items() if k not in ("Constant", "Identity")} == after
    # 8 conv+LIF layers: a spike per step, and from step 2 on the reset term H(U[t-1] - V_th)
    assert ops["Conv"] == 8 * T and ops["Greater"] == 8 * T + 8 * (T - 1)
    x = spikes((T, 3, 2, 48, 48), 0.2)
    with torch.no_grad():
        ref = UnrolledStudent(model, T).eval()(x).numpy()
    assert np.abs(run_onnx(path, x) - ref).max() <= 1e-4


def test_metadata_props(student_file):
    _, path = student_file
    meta = onnx_metadata(path)
    assert meta["format"] == "ckd-onnx/1" and meta["model"] == "student" and meta["T"] == T
    assert meta["classes"] == list("abcd") and meta["frame_encoding"] == "binary" and meta["weights"] == "float"
    assert meta["source_sha256"] == "ab" * 32
    assert meta["input"].startswith("frames[T=4, B, 2, 48, 48]") and meta["output"].startswith("logits[T, B, num_classes]")


def test_wrong_T_is_one_clear_line(student_file):
    _, path = student_file
    with pytest.raises(InputError) as e:
        run_onnx(path, np.zeros((6, 1, 2, 48, 48), np.float32))
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and "unrolled over T = 4" in msg and "cannot run T = 6" in msg
    with pytest.raises(InputError, match=r"got shape \[1, 2, 48, 48\]"):
        run_onnx(path, np.zeros((1, 2, 48, 48), np.float32))


def test_fold_constants_evaluates_constant_subgraphs():
    """A hand-built graph: y = x * (2 + 3) through an Identity; folding leaves one Mul by 5."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("Constant", [], ["a"], value=numpy_helper.from_array(np.array(2.0, np.float32))),
             helper.make_node("Constant", [], ["b"], value=numpy_helper.from_array(np.array(3.0, np.float32))),
             helper.make_node("Add", ["a", "b"], ["c"]),
             helper.make_node("Identity", ["c"], ["d"]),
             helper.make_node("Mul", ["x", "d"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])])
    m = fold_constants(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    assert count_ops(m) == {"Mul": 1}
    (init,) = m.graph.initializer
    assert numpy_helper.to_array(init) == 5.0 and init.name in m.graph.node[0].input
