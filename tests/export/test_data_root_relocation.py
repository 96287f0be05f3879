"""A checkpoint trained on another machine stores that machine's data root (issue 16, finding 10):
``ckd-export --verify`` re-resolves it to this machine's default root of the same dataset."""
from ckd_toolchain.ckd_train.data import DataConfig
from ckd_toolchain.export.cli_export import relocated_data_config


def test_missing_stored_root_falls_back_to_ckd_data_dir(tmp_path, monkeypatch):
    (tmp_path / "here" / "n-digits").mkdir(parents=True)
    monkeypatch.setenv("CKD_DATA_DIR", str(tmp_path / "here"))
    stored = DataConfig(root="/elsewhere/data/n-digits", cache_dir="/elsewhere/cache", T=3).to_dict()
    cfg = relocated_data_config(stored)
    assert cfg.resolved_root() == tmp_path / "here" / "n-digits" and cfg.cache_dir is None and cfg.T == 3
    present = DataConfig(root=str(tmp_path / "here" / "n-digits"), T=3).to_dict()
    assert relocated_data_config(present).root == str(tmp_path / "here" / "n-digits")   # kept when it exists
    monkeypatch.setenv("CKD_DATA_DIR", str(tmp_path / "nowhere"))
    assert relocated_data_config(stored).root == "/elsewhere/data/n-digits"   # nothing better: unchanged
