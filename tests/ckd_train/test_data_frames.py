"""Events → frames (hand-computed), the resize/binary rule vs PIL, HSV vs colorsys, static
stream, DVS augmentations. Budget: < 10 s."""
from __future__ import annotations

import colorsys

import numpy as np
import pytest
import torch

from ckd_toolchain.ckd_train.data.augment import augment_dvs, random_crop, rotate
from ckd_toolchain.ckd_train.data.frames import bin_indices, encode, event_counts, events_to_frames, resize_counts
from ckd_toolchain.ckd_train.data.hsv import rgb_to_hsv, rgb_uint8_to_hsv_chw, static_frames

pytestmark = pytest.mark.timeout(60)

# hand-made events on a 4 × 4 grid, deliberately not in time order
X = [1, 0, 3, 1, 2]
Y = [0, 0, 3, 0, 1]
T_US = [10, 0, 30, 20, 110]
P = [0, 1, 1, 1, 0]


def test_equal_count_bins_hand_computed():
    c = event_counts(X, Y, T_US, P, T=2, height=4, width=4, bins="count")
    # time order: (0,0,t0,ON) (1,0,t10,OFF) (1,0,t20,ON) (3,3,t30,ON) (2,1,t110,OFF); N=5, bins floor(i*2/5)=0,0,0,1,1
    want = np.zeros((2, 2, 4, 4), np.float32)
    want[0, 1, 0, 0] = 1
    want[0, 0, 0, 1] = 1
    want[0, 1, 0, 1] = 1
    want[1, 1, 3, 3] = 1
    want[1, 0, 1, 2] = 1
    np.testing.assert_array_equal(c, want)


def test_equal_time_bins_hand_computed():
    c = event_counts(X, Y, T_US, P, T=2, height=4, width=4, bins="time")
    # t0=0, D=110: bin = min(1, floor(t*2/110)) -> t=0,10,20,30 -> 0 ; t=110 -> 1
    want = np.zeros((2, 2, 4, 4), np.float32)
    want[0, 1, 0, 0] = 1
    want[0, 0, 0, 1] = 1
    want[0, 1, 0, 1] = 1
    want[0, 1, 3, 3] = 1
    want[1, 0, 1, 2] = 1
    np.testing.assert_array_equal(c, want)


def test_bin_indices_balance_and_edges():
    assert bin_indices(np.arange(10), 3, "count").tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert bin_indices(np.array([5, 5, 5]), 4, "time").tolist() == [0, 0, 0]
    assert bin_indices(np.array([0, 99, 100]), 4, "time").tolist() == [0, 3, 3]
    counts = np.bincount(bin_indices(np.arange(103), 8, "count"), minlength=8)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 103


def test_events_outside_grid_dropped():
    c = event_counts([0, 9], [0, 0], [0, 1], [1, 1], T=1, height=2, width=2, bins="count")
    assert c.sum() == 1


def test_resize_matches_pil_bilinear_and_binary_rule():
    from PIL import Image

    rng = np.random.default_rng(0)
    counts = np.zeros((1, 2, 30, 40), np.float32)
    for _ in range(25):
        counts[0, rng.integers(2), rng.integers(30), rng.integers(40)] += rng.integers(1, 4)
    r = resize_counts(counts, 12).numpy()
    for ch in range(2):
        pil = np.asarray(Image.fromarray(counts[0, ch], mode="F").resize((12, 12), Image.BILINEAR))
        np.testing.assert_allclose(r[0, ch], pil, atol=1e-4)
        # binary: 1 exactly where the resized count is > 0 (any event in the footprint)
        b = encode(torch.from_numpy(r), "binary").numpy()
        np.testing.assert_array_equal(b[0, ch], (pil > 1e-6).astype(np.float32))
    assert encode(torch.from_numpy(r), "normalized-count").max() == 1.0
    assert resize_counts(counts, 12).sum() > 0


def test_events_to_frames_shapes_and_encodings():
    for enc in ("binary", "count", "normalized-count"):
        f = events_to_frames(X, Y, T_US, P, T=3, size=8, height=4, width=4, bins="count", encoding=enc)
        assert f.shape == (3, 2, 8, 8) and f.dtype == torch.float32
    b = events_to_frames(X, Y, T_US, P, T=1, size=4, height=4, width=4, encoding="binary")
    assert b.sum() == 5  # same size: no resize, one pixel per event


def test_hsv_matches_colorsys():
    rng = np.random.default_rng(3)
    rgb = np.concatenate([rng.random((200, 3)), [[0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5], [1, 0, 0], [0, 1, 0],
                                                 [0, 0, 1], [1, 0, 1], [0.2, 0.2, 0.7]]])
    ours = rgb_to_hsv(rgb)
    ref = np.array([colorsys.rgb_to_hsv(*px) for px in rgb])
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_hsv_chw_and_static_frames():
    img = np.zeros((5, 5, 3), np.uint8)
    img[..., 0] = 200
    img[2, 2] = (10, 20, 255)
    hsv = rgb_uint8_to_hsv_chw(img)
    assert hsv.shape == (3, 5, 5) and hsv.dtype == torch.float32
    assert float(hsv[2, 0, 0]) == pytest.approx(200 / 255) and float(hsv[2, 2, 2]) == pytest.approx(1.0)
    s = static_frames(hsv, 4)
    assert s.shape == (4, 2, 5, 5)
    for t in range(4):
        for c in range(2):
            assert torch.equal(s[t, c], hsv[2])
    sb = static_frames(torch.stack([hsv, hsv * 0.5]), 3)
    assert sb.shape == (3, 2, 2, 5, 5) and torch.equal(sb[2, 1, 0], hsv[2] * 0.5)


def test_random_crop_is_a_padded_shift():
    x = torch.arange(2 * 2 * 6 * 6, dtype=torch.float32).reshape(2, 2, 6, 6)
    rng = np.random.default_rng(5)
    dy, dx = np.random.default_rng(5).integers(0, 9, size=2)
    out = random_crop(x, rng)
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    assert torch.equal(out, padded[..., dy:dy + 6, dx:dx + 6])


def test_rotation_keeps_binary_and_direction():
    x = torch.zeros(1, 2, 5, 5)
    x[0, 0, 0, 4] = 1
    x[0, 1, 1, 2] = 1
    assert torch.equal(rotate(x, 90.0), torch.rot90(x, 1, dims=(-2, -1)))  # counter-clockwise
    b = (torch.rand(3, 2, 16, 16) > 0.7).float()
    r = rotate(b, 13.0)
    assert set(r.unique().tolist()) <= {0.0, 1.0}


def test_augment_deterministic_for_a_seed():
    x = (torch.rand(4, 2, 16, 16) > 0.5).float()
    a = augment_dvs(x, np.random.default_rng(7))
    b = augment_dvs(x, np.random.default_rng(7))
    assert torch.equal(a, b) and a.shape == x.shape
    assert set(a.unique().tolist()) <= {0.0, 1.0}


def test_synth_upscale_matches_torch_bilinear():
    from ckd_toolchain.ckd_train.data.ndigits_synth import upscale_bilinear

    a = np.random.default_rng(0).random((8, 8))
    ref = torch.nn.functional.interpolate(torch.from_numpy(a)[None, None], size=(48, 48), mode="bilinear",
                                          align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(upscale_bilinear(a, 48), ref, atol=1e-12)
    ref = torch.nn.functional.interpolate(torch.from_numpy(a)[None, None], size=(20, 20), mode="bilinear",
                                          align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(upscale_bilinear(a, 20), ref, atol=1e-12)


def test_he2024_resize_samples_only_grid_neighbours():
    """Issue 12 item 6: ``F.interpolate(x, size=[48, 48], mode='bilinear', align_corners=True)``
    (He et al. braincog/datasets/datasets.py:959). 180x240 -> 48: output row i samples source row
    i * 179/47 (rows 0, 3.81, 7.62, ...), column j samples j * 239/47 (0, 5.09, ...): a lone event at
    (row 2, col 2) lies on no sample's 2x2 neighbourhood and vanishes; the antialiased filter keeps it."""
    import torch.nn.functional as F

    from ckd_toolchain.ckd_train.data.frames import resize_counts

    c = np.zeros((1, 2, 180, 240), dtype=np.float32)
    c[0, 0, 2, 2] = 1.0
    assert resize_counts(c, 48, "he2024").sum() == 0
    assert resize_counts(c, 48, "antialias").sum() > 0
    c[0, 1, 4, 5] = 3.0  # row 4 neighbours sample 1 (3.81), col 5 neighbours sample 1 (5.09)
    got = resize_counts(c, 48, "he2024")
    ref = F.interpolate(torch.tensor(c), size=[48, 48], mode="bilinear", align_corners=True)
    assert torch.equal(got, ref)
    ry, rx = 179 / 47, 239 / 47
    want = 3.0 * (1 - (4 - ry)) * (1 - (rx - 5))  # bilinear weight of (4, 5) at (ry, rx)
    assert float(got[0, 1, 1, 1]) == pytest.approx(want, rel=1e-5)
