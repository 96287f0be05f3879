"""configs/*.yaml load, resolve and build their student. Budget: < 10 s."""
import pytest

from ckd_toolchain.ckd_train.data import DataConfig
from ckd_toolchain.ckd_train.engine import load_config
from ckd_toolchain.ckd_train.engine.run_config import learning_rate, validate
from ckd_toolchain.ckd_train.engine.student_trainer import resolve_student_cfg
from ckd_toolchain.ckd_train.models import build_student
from paths import CONFIGS as CONFIG_DIR

CONFIGS = sorted(CONFIG_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_resolves(path):
    cfg = validate(load_config(path))
    DataConfig.from_dict(cfg["data"])
    s = resolve_student_cfg(cfg, 10)
    assert s["T"] == cfg["data"]["T"] and s["beta"] == 0.5 and s["threshold"] == 1.0
    if s["width"] <= 0.125:
        build_student(s)


def test_paper_recipes():
    root = CONFIG_DIR
    nc = load_config(root / "ncaltech101-vggsnn.yaml")
    cep = load_config(root / "cepdvs-resnet18.yaml")
    assert (nc["student"]["arch"], nc["data"]["T"], nc["train"]["epochs"]) == ("vgg", 10, 300)
    assert (cep["student"]["arch"], cep["data"]["T"], cep["train"]["epochs"]) == ("resnet18", 6, 200)
    for c in (nc, cep):
        assert c["train"]["batch_size"] == 120 and c["train"]["weight_decay"] == 0.01
        assert c["train"]["warmup_epochs"] == 5
        assert learning_rate(c["train"], 120) == pytest.approx(5e-3 * 120 / 1024)
