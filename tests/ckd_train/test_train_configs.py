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


def test_paper_recipes_carry_the_papers_values_issue12():
    """Issue 12 item 7 (CKD Sec. IV-A/IV-C text) and the He et al. defaults of items 1, 2, 4-6."""
    nc = validate(load_config(CONFIG_DIR / "ncaltech101-vggsnn.yaml"))
    cep = validate(load_config(CONFIG_DIR / "cepdvs-resnet18.yaml"))
    assert (nc["method"]["e_th"], nc["method"]["k"]) == (149.5, 100)
    assert (cep["method"]["e_th"], cep["method"]["k"]) == (89.5, 0.001)
    for c in (nc, cep):
        assert c["student"]["alpha"] == 1.0  # QGateGrad equivalent (test_models_lif)
        assert c["teacher"]["arch"] == "wide_resnet101_2" and c["teacher"]["epochs"] == 20
        m = c["method"]
        assert (m["dvs_loss"], m["theta_init"], m["beta"], m["alpha"]) == ("he2024", 1.0, None, 1.0)
        assert c["train"]["no_decay_1d"] is True
        assert (c["data"]["bins"], c["data"]["resize"], c["data"]["frame_encoding"]) == ("tonic-time", "he2024", "count")
    assert nc["student"]["cka_membrane"] == "after-reset" and cep["student"]["arch"] == "resnet18"
    assert (nc["data"]["train_fraction"], cep["data"]["train_fraction"]) == (0.9, 0.5)
    # item 3 and the rest of item 6 (test_bn_stats.py, test_he2024_protocol.py)
    for c in (nc, cep):
        assert (c["method"]["bn_stats"], c["method"]["bn_running"]) == ("per-stream-per-step", "both")
        assert (c["data"]["augment"], c["data"]["hflip"], c["data"]["rotate"]) == (True, False, False)
        assert (c["train"]["lr_schedule"], c["train"]["min_lr"], c["train"]["warmup_lr"]) == ("cosine-epoch", 1e-5, 1e-6)
    assert (nc["train"]["sampler"], cep["train"]["sampler"]) == ("class-balanced", "shuffle")
    assert (nc["data"].get("test_fraction"), cep["data"]["test_fraction"]) == (None, 0.2)


def test_ndigits_recipes_keep_the_earlier_bn_and_schedule():
    for name in ("ndigits-demo.yaml", "ndigits-experiment.yaml"):
        c = validate(load_config(CONFIG_DIR / name))
        assert c["method"]["bn_stats"] is None and not c["method"]["separate_bn"]  # = mixed
        assert (c["train"]["lr_schedule"], c["train"]["sampler"]) == ("cosine-step", "shuffle")


@pytest.mark.parametrize("key,value", [("method.bn_stats", "per-step"), ("method.bn_running", "static"),
                                       ("train.lr_schedule", "step"), ("train.sampler", "balanced")])
def test_unknown_option_values_are_one_line(key, value):
    from ckd_toolchain.ckd_train.engine import apply_overrides
    from ckd_toolchain.errors import InputError

    with pytest.raises(InputError, match=key):
        validate(apply_overrides(load_config(None), [f"{key}={value}"]))


def test_ndigits_faithful_is_the_experiment_recipe_trained_as_the_paper_recipes():
    """Issue 12 "Evidence on the embedded default": the experiment recipe's data, student size, length and
    teacher, with every training choice of the N-Caltech101 paper recipe (the phase switch scaled)."""
    from ckd_toolchain.ckd_train.losses import kd_phase_weight

    f = validate(load_config(CONFIG_DIR / "ndigits-faithful.yaml"))
    ex = validate(load_config(CONFIG_DIR / "ndigits-experiment.yaml"))
    nc = validate(load_config(CONFIG_DIR / "ncaltech101-vggsnn.yaml"))
    for key in ("name", "T", "size", "frame_encoding", "bins", "resize", "dvs_train_limit", "val_fraction", "seed"):
        assert f["data"].get(key) == ex["data"].get(key), key
    assert (f["student"]["arch"], f["student"]["width"]) == (ex["student"]["arch"], ex["student"]["width"])
    assert f["teacher"] == ex["teacher"]
    for key in ("epochs", "batch_size", "lr", "weight_decay", "fixed_point_epochs"):
        assert f["train"][key] == ex["train"][key], key
    assert (f["data"]["augment"], f["data"]["hflip"], f["data"]["rotate"]) == (True, False, False)
    assert (f["student"]["alpha"], f["student"]["cka_membrane"]) == (nc["student"]["alpha"], nc["student"]["cka_membrane"])
    for key in ("kd_loss", "tau", "alpha", "beta", "dvs_loss", "theta_init", "tet_lambda", "bn_stats", "bn_running"):
        assert f["method"][key] == nc["method"][key], key
    for key in ("no_decay_1d", "lr_schedule", "warmup_epochs", "warmup_lr", "min_lr"):
        assert f["train"][key] == nc["train"][key], key
    # the paper's switch shape: KD fully on for the first half of the epochs, off for the second (Eq. 10)
    for c in (f, nc):
        e, m = c["train"]["epochs"], c["method"]
        assert m["e_th"] == e / 2 - 0.5 and m["k"] == 100
        g = [kd_phase_weight(ep, m["e_th"], m["k"]) for ep in range(e)]
        assert min(g[: e // 2]) > 1 - 1e-12 and max(g[e // 2:]) < 1e-20
