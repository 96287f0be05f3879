"""The N-Digits DVS emulator's physics on hand-made scenes (no files). Budget: < 10 s."""
from __future__ import annotations

import numpy as np
import pytest

from ckd_toolchain.ckd_train.data.ndigits_synth import SynthParams, emulate_batch, saccade_path, sensor_thresholds

pytestmark = pytest.mark.timeout(60)


def test_saccade_triangle():
    p = SynthParams(saccade_px=4.0)
    t, dx, dy = saccade_path(p)
    assert t[0] == 0 and t[-1] == 300_000 and t.size == 301
    for ms, want in ((0, (0, 0)), (100, (2, 4)), (200, (4, 0)), (300, (0, 0)), (50, (1, 2))):
        assert (dx[ms], dy[ms]) == pytest.approx(want)


def test_static_uniform_scene_gives_only_noise():
    p = SynthParams(size=16, noise_hz=0.0)
    ev = emulate_batch(np.full((1, 16, 16), 0.9262823529411764), p, [np.random.default_rng(0)], sensor_thresholds(p))
    assert ev[0].shape == (0, 4)
    p = SynthParams(size=16, noise_hz=50.0)
    ev = emulate_batch(np.full((1, 16, 16), 0.9262823529411764), p, [np.random.default_rng(0)], sensor_thresholds(p))
    expected = 50.0 * p.sensor ** 2 * 0.3
    assert abs(len(ev[0]) - expected) < 5 * np.sqrt(expected)


def test_moving_dark_edge_polarity():
    """Dark left half: on the first leg the image moves right, so pixels right of the edge darken
    (OFF events); on the last leg it moves back left and they brighten again (ON events)."""
    p = SynthParams(size=16, noise_hz=0.0, mismatch=0.0)
    img = np.full((1, 16, 16), 0.93)
    img[0, :, :8] = 0.2
    e = emulate_batch(img, p, [np.random.default_rng(1)], sensor_thresholds(p))[0]
    x, y, t, pol = e.T
    edge = (x >= p.margin + 8) & (x <= p.margin + 8 + 4) & (y >= p.margin + 4) & (y < p.margin + 12)
    first, last = edge & (t < 100_000), edge & (t >= 200_000)
    assert first.sum() > 20 and last.sum() > 20
    assert pol[first].mean() < 0.05 and pol[last].mean() > 0.95
    assert np.all(np.diff(t) >= 0) and t.min() >= 0 and t.max() <= 300_000
    # log-contrast ln(0.94/0.21) ≈ 1.5 per edge crossing, threshold 0.25 -> about 6 events per pixel
    per_pixel = np.bincount((y[first] * 64 + x[first]).astype(np.int64))
    assert 3 <= per_pixel[per_pixel > 0].max() <= 8


def test_refractory_limits_rate():
    p = SynthParams(size=16, noise_hz=0.0, mismatch=0.0, refractory_us=20_000)
    img = np.full((1, 16, 16), 0.93)
    img[0, :, :8] = 0.2
    e = emulate_batch(img, p, [np.random.default_rng(1)], sensor_thresholds(p))[0]
    for (xx, yy) in {(int(a), int(b)) for a, b in e[:, :2]}:
        ts = np.sort(e[(e[:, 0] == xx) & (e[:, 1] == yy), 2])
        assert np.all(np.diff(ts) >= 20_000)
