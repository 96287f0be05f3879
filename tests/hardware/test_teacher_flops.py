"""The report counts the ANN teacher's MACs/FLOPs from its architecture description
(hardware.energy.flops.resnet_cost), without building the training model: the numbers equal the
forward-hook count of the built teacher (ckd_train.models.build_teacher). Budget: < 20 s."""
from __future__ import annotations

import ast

import pytest
import yaml

from ckd_toolchain.ckd_train.models import build_teacher
from ckd_toolchain.ckd_train.models.teacher_resnet import TEACHER_ARCHS, BasicBlock
from ckd_toolchain.hardware.energy.flops import RESNET_ARCHS, count_module, resnet_cost, total_flops, total_macs
from ckd_toolchain.hardware.report import build_report
from paths import REPO

ROOT = REPO


def _hooked(arch: str, num_classes: int, width: float, shape) -> tuple[float, float]:
    rec = count_module(build_teacher({"arch": arch, "num_classes": num_classes, "width": width}), tuple(shape))
    return total_macs(rec), total_flops(rec)


def _demo_teacher() -> dict:
    cfg = yaml.safe_load((ROOT / "configs" / "ndigits-demo.yaml").read_text())
    return {"arch": cfg["teacher"]["arch"], "width": cfg["teacher"]["width"], "num_classes": 10,
            "input_shape": [3, cfg["data"]["size"], cfg["data"]["size"]]}


def test_architecture_table_is_the_teachers():
    assert set(RESNET_ARCHS) == set(TEACHER_ARCHS)
    for arch, (block, layers, wpg) in TEACHER_ARCHS.items():
        assert RESNET_ARCHS[arch] == ("basic" if block is BasicBlock else "bottleneck", tuple(layers), wpg)


def test_demo_teacher_equals_the_hooked_count():
    t = _demo_teacher()
    expected = _hooked(t["arch"], t["num_classes"], t["width"], t["input_shape"])
    assert resnet_cost(t["arch"], t["num_classes"], t["width"], tuple(t["input_shape"])) == expected
    assert expected == (7139584.0, 14384906.0)   # ResNet-18 at width 1/4 on 3x48x48, 10 classes


@pytest.mark.parametrize("arch,width,classes,shape", [
    ("resnet18", 1.0, 1000, (3, 224, 224)), ("resnet34", 0.5, 3, (3, 37, 53)),
    ("resnet50", 0.125, 7, (3, 40, 40)), ("wide_resnet50_2", 0.0625, 5, (3, 17, 9)),
    ("wide_resnet101_2", 0.03, 2, (3, 1, 1)), ("resnet18", 0.001, 4, (3, 2, 5))])
def test_every_arch_equals_the_hooked_count(arch, width, classes, shape):
    assert resnet_cost(arch, classes, width, shape) == _hooked(arch, classes, width, shape)


def test_report_teacher_block_for_the_demo_teacher():
    from test_report_build import raw_results

    t = _demo_teacher()
    raw = raw_results()
    raw["teacher"] = {"arch": t["arch"], "width": t["width"], "num_classes": t["num_classes"]}
    raw["source"]["input_shape"] = [2, 48, 48]
    rep = build_report(raw, created_utc="2026-01-01T00:00:00Z")
    macs, flops = _hooked(t["arch"], t["num_classes"], t["width"], t["input_shape"])
    assert rep["teacher"]["input_shape"] == t["input_shape"]
    assert rep["teacher"]["macs"]["value"] == macs and rep["teacher"]["flops"]["value"] == flops
    assert rep["flops"]["teacher"]["value"] == flops
    raw["teacher"]["arch"] = "vgg11"
    rep = build_report(raw, created_utc="2026-01-01T00:00:00Z")
    assert rep["teacher"] is None and rep["notes"][0].startswith("teacher FLOPs not counted: ValueError: unknown teacher arch")


def test_report_package_does_not_import_the_training_package():
    for path in (ROOT / "hardware" / "report").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.startswith("ckd_toolchain.ckd_train") for n in names), path
