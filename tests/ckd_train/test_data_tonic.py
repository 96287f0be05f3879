"""tonic interoperability: our ``tonic-time`` / ``tonic-count`` bins equal tonic 1.7's ``ToFrame``
on generated events (bit for bit), our dataset works in a tonic pipeline, and ``ToCkdFrames`` gives
the frames training uses. Time budget: < 15 s."""
import numpy as np
import pytest
import tonic

from ckd_toolchain.ckd_train.data import DataConfig, build_datasets
from ckd_toolchain.ckd_train.data.frames import bin_indices, event_counts
from ckd_toolchain.ckd_train.data.tonic_compat import TONIC_DTYPE, ToCkdFrames, TonicEventDataset
from data_fixtures import make_ncaltech_tree


def events(n, span, W=17, H=13, seed=0, t0=1000):
    rng = np.random.default_rng(seed)
    ev = np.empty(n, TONIC_DTYPE)
    ev["x"], ev["y"] = rng.integers(0, W, n), rng.integers(0, H, n)
    ev["t"] = np.sort(rng.integers(t0, t0 + span + 1, n))
    ev["t"][0], ev["t"][-1] = t0, t0 + span  # the span is exactly `span`
    ev["p"] = rng.integers(0, 2, n)
    return ev


@pytest.mark.parametrize("n,span,T", [(1000, 99_999, 6), (1000, 100_000, 8), (997, 12_345, 5), (50, 7, 8),
                                      (5, 3, 8), (300, 0, 4), (64, 640, 8)])
@pytest.mark.parametrize("mode", ["tonic-time", "tonic-count"])
def test_tonic_bins_equal_tonic_to_frame(n, span, T, mode):
    W, H = 17, 13
    ev = events(n, span, W, H, seed=n + span)
    kw = {"n_time_bins": T} if mode == "tonic-time" else {"n_event_bins": T}
    ref = tonic.transforms.ToFrame(sensor_size=(W, H, 2), **kw)(ev.copy())
    ours = event_counts(ev["x"], ev["y"], ev["t"], ev["p"], T, H, W, mode)
    assert ref.shape == ours.shape == (T, 2, H, W)
    np.testing.assert_array_equal(ours, ref.astype(np.float32))


def test_tonic_bins_by_hand():
    t = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 10])  # span 10, T = 3: w = 3, bins [0,3) [3,6) [6,9); 10 dropped
    assert bin_indices(t, 3, "tonic-time").tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, -1]
    assert bin_indices(t, 3, "tonic-count").tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, -1]  # c = 10 // 3 = 3
    assert bin_indices(t, 3, "time").tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]  # ours keeps every event
    assert bin_indices(t[:2], 3, "tonic-time").tolist() == [-1, -1]  # w = 1 // 3 = 0: tonic gives empty frames


@pytest.fixture(scope="module")
def ncal(tmp_path_factory):
    root = tmp_path_factory.mktemp("tonic")
    return make_ncaltech_tree(root / "ncal", ["ant", "bee"], 3), root


def test_dataset_in_a_tonic_pipeline(ncal):
    root, tmp = ncal
    cfg = DataConfig(name="ncaltech101", root=str(root), T=4, size=16, cache_dir=str(tmp / "cache"))
    ds = TonicEventDataset(cfg, transform=tonic.transforms.Compose([
        tonic.transforms.Denoise(filter_time=10_000), tonic.transforms.ToFrame(sensor_size=None, n_time_bins=4)]))
    assert len(ds) == 6 and ds.classes == ["ant", "bee"] and ds.targets == [0, 0, 0, 1, 1, 1]
    frames, label = ds[4]
    assert label == 1 and frames.shape[:2] == (4, 2) and frames.sum() > 0
    ev, h, w = ds.events(0)
    assert ev.dtype == TONIC_DTYPE and np.all(np.diff(ev["t"]) >= 0) and ev["x"].max() + 1 == w


@pytest.mark.parametrize("bins", ["count", "tonic-time"])
def test_to_ckd_frames_are_the_training_frames(ncal, bins):
    root, tmp = ncal
    cfg = DataConfig(name="ncaltech101", root=str(root), T=4, size=16, bins=bins, cache_dir=str(tmp / f"cache-{bins}"),
                     val_fraction=0.0)
    data = build_datasets(cfg, log=lambda m: None)
    ds = TonicEventDataset(cfg, transform=ToCkdFrames.from_config(cfg))
    split = data.dvs_train  # not augmented (augment is off by default)
    assert not split.augment
    frames, label = ds[ds.files.index(split.files[-1])]
    x, y = split[len(split) - 1]
    assert label == y and frames.dtype == np.float32
    np.testing.assert_array_equal(frames, x.numpy())
