"""N-Digits: an N-Caltech101-style recording of scikit-learn's 1,797 handwritten digits, emulated.

N-Caltech101 (Orchard et al., "Converting static image datasets to spiking neuromorphic datasets
using saccades", Front. Neurosci. 9:437, 2015) was recorded by an ATIS camera making three
~100 ms saccades (a triangle) in front of a monitor showing each Caltech101 image. We emulate
exactly that on ``sklearn.datasets.load_digits`` (8 × 8, values 0..16, shipped with scikit-learn,
no download) and write both sides in the real layouts:

* RGB side ``<out>/101_ObjectCategories/digit_<k>/image_XXXX.png``: the digit's ink fraction
  ``a = pixel / 16`` is upscaled to ``size × size`` (bilinear, half-pixel centres: :func:`upscale_bilinear`) and the
  image is ``rgb = (1 - a) · background + a · ink``: a *dark, saturated ink on a light paper*
  (dark-on-light like most Caltech101 objects), background ``(0.93, 0.93, 0.90)``, ink colour
  ``hsv_to_rgb(h, 0.85, 0.45)`` with a per-sample hue ``h ~ U[0, 1)`` -- so H and S carry colour
  that is *not* the class, and the V channel shows the digit. Stored as 8-bit PNG.
* DVS side ``<out>/Caltech101/digit_<k>/image_XXXX.bin`` in the N-Caltech101 40-bit format.

DVS emulation (one "monitor" pixel = one sensor pixel; the grid is ``size + ceil(A) + 2·margin``
square, the image sits at ``(margin, margin)`` plus the saccade displacement):

1. Saccades: displacement ``d(t)`` runs linearly along the triangle ``(0,0) → (A/2, A) →
   (A, 0) → (0,0)`` (x, y in px; each leg ``saccade_ms``), sampled every ``dt_us``; sub-pixel
   shifts are bilinear.
2. Intensity: luminance of the displayed 8-bit image, ``Y = 0.299 R + 0.587 G + 0.114 B``; the
   sensor works on ``L = ln(Y + eps)`` (``eps = 0.01``).
3. Events (the standard DVS pixel model, e.g. Gallego et al., "Event-based vision: a survey",
   TPAMI 2022, eq. 1): each pixel keeps a reference ``L_ref`` (initialised to
   ``L(0) + U(-C/2, C/2)``); when ``L - L_ref >= C_on`` it emits an ON event (p = 1) and
   ``L_ref += C_on``; when ``L - L_ref <= -C_off`` an OFF event (p = 0) and ``L_ref -= C_off``
   -- at most one event per pixel per step, and none within ``refractory_us`` of the pixel's
   last event. The timestamp is interpolated linearly inside the step to where ``L`` crossed
   ``L_ref ± C`` (rounded up to whole µs), and moved to ``t_last + refractory_us`` if earlier.
   ``C_on``, ``C_off`` = ``contrast · (1 + mismatch · N(0, 1))`` per pixel, fixed per sensor
   (seeded by ``seed``), clipped to ``>= contrast / 2``.
4. Background noise: ``Poisson(noise_hz · pixels · duration)`` events per sample, uniform in
   position, time and polarity.

Everything is seeded: the sensor mismatch by ``[seed]``, a sample's hue, initial reference and
noise by ``[seed, sample_index]``, so the output does not depend on the number of workers.
Timestamps are integer µs; a recording lasts ``3 · saccade_ms`` (300 ms < 2**23 µs, so no
overflow markers are needed).
"""
from __future__ import annotations

import colorsys
import dataclasses
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from ckd_toolchain.atomic_io import atomic_path, write_json
from ckd_toolchain.ckd_train.data.atis_format import write_atis_bin

MANIFEST = "n-digits.json"
#: bumped whenever the emulator's output changes for the same parameters (invalidates old outputs)
EMULATOR_VERSION = 2
BACKGROUND = (0.93, 0.93, 0.90)
INK_SATURATION, INK_VALUE = 0.85, 0.45
LOG_EPS = 0.01


@dataclasses.dataclass(frozen=True)
class SynthParams:
    size: int = 48
    seed: int = 0
    limit_per_class: int | None = None
    saccade_px: float = 4.0
    saccade_ms: float = 100.0
    dt_us: int = 1000
    contrast: float = 0.25
    mismatch: float = 0.05
    refractory_us: int = 1000
    noise_hz: float = 0.2
    margin: int = 2

    @property
    def sensor(self) -> int:
        return self.size + int(math.ceil(self.saccade_px)) + 2 * self.margin

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def class_name(digit: int) -> str:
    return f"digit_{digit}"


def load_digit_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits: images float ``[1797, 8, 8]`` in 0..16 and targets ``[1797]``."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images.astype(np.float64), d.target.astype(np.int64)


def select_samples(targets: np.ndarray, limit_per_class: int | None) -> list[tuple[int, int, int]]:
    """``[(global_index, digit, number_within_class starting at 1)]`` in sklearn's order."""
    seen: dict[int, int] = {}
    out = []
    for i, d in enumerate(targets.tolist()):
        k = seen.get(d, 0)
        if limit_per_class is not None and k >= limit_per_class:
            continue
        seen[d] = k + 1
        out.append((i, d, k + 1))
    return out


def upscale_bilinear(a: np.ndarray, size: int) -> np.ndarray:
    """``[h, w]`` → ``[size, size]`` bilinear with half-pixel centres, the rule of
    ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)`` (source coordinate
    ``max(0, (dst + 0.5) · in / out - 0.5)``, clamped at the last pixel). numpy only, so the
    fork()ed synth workers never touch torch's thread pools."""
    a = np.asarray(a, np.float64)

    def axis(n_in: int):
        src = np.maximum((np.arange(size) + 0.5) * (n_in / size) - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, src - i0

    y0, y1, wy = axis(a.shape[0])
    x0, x1, wx = axis(a.shape[1])
    rows = a[y0] * (1 - wy)[:, None] + a[y1] * wy[:, None]
    return rows[:, x0] * (1 - wx)[None, :] + rows[:, x1] * wx[None, :]


def render_rgb(digit8: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 ``[size, size, 3]``: dark saturated ink of a random hue on light paper (module doc)."""
    a = np.clip(upscale_bilinear(np.asarray(digit8, np.float64) / 16.0, size), 0.0, 1.0)
    ink = np.array(colorsys.hsv_to_rgb(float(rng.random()), INK_SATURATION, INK_VALUE))
    bg = np.array(BACKGROUND)
    rgb = (1.0 - a[..., None]) * bg + a[..., None] * ink
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def saccade_path(p: SynthParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample times (µs, step ends) and displacements dx, dy (px) along the triangle."""
    leg_us = p.saccade_ms * 1000.0
    n = int(round(3 * leg_us / p.dt_us))
    t = np.arange(n + 1, dtype=np.float64) * p.dt_us
    a = p.saccade_px
    verts = np.array([[0.0, 0.0], [a / 2, a], [a, 0.0], [0.0, 0.0]])
    s = np.clip(t / leg_us, 0, 3)
    leg = np.minimum(s.astype(np.int64), 2)
    frac = (s - leg)[:, None]
    d = verts[leg] * (1 - frac) + verts[leg + 1] * frac
    return t, d[:, 0], d[:, 1]


def sensor_thresholds(p: SynthParams) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([p.seed])
    shape = (p.sensor, p.sensor)
    c_on = p.contrast * (1.0 + p.mismatch * rng.standard_normal(shape))
    c_off = p.contrast * (1.0 + p.mismatch * rng.standard_normal(shape))
    lo = p.contrast / 2
    return np.maximum(c_on, lo), np.maximum(c_off, lo)


def _shifted(canvas0: np.ndarray, lum: np.ndarray, p: SynthParams, dx: float, dy: float) -> np.ndarray:
    """Batch ``[B, S, S]`` luminance placed at (margin + dx, margin + dy) with bilinear sub-pixel shift."""
    ix, iy = int(math.floor(dx)), int(math.floor(dy))
    fx, fy = dx - ix, dy - iy
    c = canvas0.copy()
    y0, x0 = p.margin + iy, p.margin + ix
    c[:, y0:y0 + p.size, x0:x0 + p.size] = lum
    # value at pixel (y, x) = image at (y - dy, x - dx): mix with the neighbour up/left
    cx = np.roll(c, 1, axis=2)
    c = (1 - fx) * c + fx * cx
    cy = np.roll(c, 1, axis=1)
    return (1 - fy) * c + fy * cy


def emulate_batch(lum: np.ndarray, p: SynthParams, rngs: list[np.random.Generator],
                  thresholds: tuple[np.ndarray, np.ndarray]) -> list[np.ndarray]:
    """Events of a batch of luminance images ``[B, size, size]`` in [0, 1] → per sample ``[N, 4]``
    int64 columns (x, y, t, p), time-sorted. See the module docstring for the model."""
    B, S = lum.shape[0], p.sensor
    c_on, c_off = thresholds
    times, dxs, dys = saccade_path(p)
    bg_lum = 0.299 * BACKGROUND[0] + 0.587 * BACKGROUND[1] + 0.114 * BACKGROUND[2]
    canvas0 = np.full((B, S, S), bg_lum)
    L_prev = np.log(_shifted(canvas0, lum, p, dxs[0], dys[0]) + LOG_EPS)
    L_ref = L_prev + np.stack([(r.random((S, S)) - 0.5) * p.contrast for r in rngs])
    t_last = np.full((B, S, S), -np.inf)
    chunks = []
    for k in range(1, times.size):
        L = np.log(_shifted(canvas0, lum, p, dxs[k], dys[k]) + LOG_EPS)
        diff = L - L_ref
        ready = (times[k] - t_last) >= p.refractory_us  # t_last: time of the pixel's last event
        on = ready & (diff >= c_on)
        off = ready & (diff <= -c_off)
        fire = on | off
        if fire.any():
            b, y, x = np.nonzero(fire)
            pol = on[b, y, x]
            level = L_ref[b, y, x] + np.where(pol, c_on[y, x], -c_off[y, x])
            lp, lc = L_prev[b, y, x], L[b, y, x]
            with np.errstate(divide="ignore", invalid="ignore"):
                tau = np.clip(np.where(lc != lp, (level - lp) / (lc - lp), 1.0), 0.0, 1.0)
            # interpolated crossing time, but never inside the refractory period of the last event
            t_ev = np.ceil(np.maximum(times[k - 1] + tau * p.dt_us, t_last[b, y, x] + p.refractory_us))
            chunks.append(np.stack([b, x, y, t_ev.astype(np.int64), pol.astype(np.int64)], axis=1))
            L_ref = L_ref + np.where(on, c_on, 0.0) - np.where(off, c_off, 0.0)
            t_last[b, y, x] = t_ev
        L_prev = L
    ev = np.concatenate(chunks) if chunks else np.zeros((0, 5), np.int64)
    duration = int(times[-1])
    out = []
    for i, r in enumerate(rngs):
        e = ev[ev[:, 0] == i][:, 1:]
        n_noise = int(r.poisson(p.noise_hz * S * S * duration * 1e-6))
        noise = np.stack([r.integers(0, S, n_noise), r.integers(0, S, n_noise), r.integers(0, duration, n_noise),
                          r.integers(0, 2, n_noise)], axis=1).astype(np.int64)
        e = np.concatenate([e, noise])
        out.append(e[np.argsort(e[:, 2], kind="stable")])
    return out


def _write_png(path: Path, rgb: np.ndarray) -> None:
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(rgb).save(tmp, format="PNG")


def _work(args) -> list[dict]:
    """Worker: emulate and write a batch of samples; returns per-sample statistics."""
    out_dir, p_dict, batch, images = args
    p = SynthParams(**p_dict)
    out_dir = Path(out_dir)
    rngs = [np.random.default_rng([p.seed, gi]) for gi, _, _ in batch]
    rgbs = [render_rgb(images[j], p.size, rngs[j]) for j in range(len(batch))]
    lum = np.stack([(0.299 * r[..., 0] + 0.587 * r[..., 1] + 0.114 * r[..., 2]) / 255.0 for r in rgbs])
    events = emulate_batch(lum, p, rngs, sensor_thresholds(p))
    stats = []
    for (gi, digit, k), rgb, e in zip(batch, rgbs, events):
        name = f"image_{k:04d}"
        _write_png(out_dir / "101_ObjectCategories" / class_name(digit) / f"{name}.png", rgb)
        write_atis_bin(out_dir / "Caltech101" / class_name(digit) / f"{name}.bin", e[:, 0], e[:, 1], e[:, 2], e[:, 3])
        stats.append({"index": gi, "digit": digit, "events": int(e.shape[0]), "on": int(e[:, 3].sum())})
    return stats


def manifest_matches(out_dir: Path, p: SynthParams) -> bool:
    """True when ``out_dir`` holds a complete N-Digits dataset made with the same parameters."""
    m = out_dir / MANIFEST
    if not m.is_file():
        return False
    try:
        meta = json.loads(m.read_text())
    except (OSError, ValueError):
        return False
    if meta.get("params") != p.to_dict() or meta.get("emulator_version") != EMULATOR_VERSION:
        return False
    return all((out_dir / f).is_file() for f in meta.get("files", []))


def summarize(stats: list[dict]) -> dict:
    ev = np.array([s["events"] for s in stats], np.float64)
    on = float(sum(s["on"] for s in stats))
    total = float(ev.sum())
    return {"samples": len(stats), "events_total": int(total), "events_per_sample_mean": float(ev.mean()),
            "events_per_sample_median": float(np.median(ev)), "events_per_sample_min": int(ev.min()),
            "events_per_sample_max": int(ev.max()), "on_fraction": on / total if total else 0.0,
            "on_off_ratio": on / (total - on) if total > on else float("inf")}


def format_summary(s: dict) -> str:
    return (f"{s['samples']} samples; events per sample mean {s['events_per_sample_mean']:.0f}, median "
            f"{s['events_per_sample_median']:.0f}, min {s['events_per_sample_min']}, max {s['events_per_sample_max']}; "
            f"ON/OFF ratio {s['on_off_ratio']:.3f} (ON fraction {s['on_fraction']:.3f})")


def synthesize(out_dir: str | os.PathLike, p: SynthParams, *, workers: int = 2, batch_size: int = 32,
               force: bool = False, log: Callable[[str], None] | None = None) -> dict:
    """Write N-Digits to ``out_dir`` (skipped when already complete with the same parameters).
    Returns the manifest dict (parameters, classes, files, statistics, wall time)."""
    log = log or (lambda m: print(m, file=sys.stderr))
    out_dir = Path(out_dir)
    if not force and manifest_matches(out_dir, p):
        meta = json.loads((out_dir / MANIFEST).read_text())
        log(f"ckd-data synth: {out_dir} is complete with the same parameters; nothing to do")
        return meta
    t0 = time.perf_counter()
    images, targets = load_digit_images()
    samples = select_samples(targets, p.limit_per_class)
    batches = [samples[i:i + batch_size] for i in range(0, len(samples), batch_size)]
    jobs = [(str(out_dir), p.to_dict(), b, images[[gi for gi, _, _ in b]]) for b in batches]
    if (out_dir / MANIFEST).exists():
        (out_dir / MANIFEST).unlink()  # the manifest marks completeness: drop it while rewriting
    stats: list[dict] = []
    from tqdm import tqdm

    bar = tqdm(total=len(samples), desc="synth", unit="sample", file=sys.stderr, disable=None, leave=False)
    if workers > 1 and len(jobs) > 1:
        import multiprocessing as mp

        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as ex:
            for s in ex.map(_work, jobs):
                stats.extend(s)
                bar.update(len(s))
    else:
        for j in jobs:
            stats.extend(_work(j))
            bar.update(len(j[2]))
    bar.close()
    files = []
    for gi, digit, k in samples:
        files.append(f"101_ObjectCategories/{class_name(digit)}/image_{k:04d}.png")
        files.append(f"Caltech101/{class_name(digit)}/image_{k:04d}.bin")
    summary = summarize(stats)
    meta = {"format": "n-digits", "version": 1, "emulator_version": EMULATOR_VERSION, "params": p.to_dict(),
            "classes": [class_name(d) for d in range(10)], "sensor_size": [p.sensor, p.sensor],
            "source": "sklearn.datasets.load_digits", "stats": summary,
            "wall_s": round(time.perf_counter() - t0, 2), "workers": workers, "files": files}
    write_json(out_dir / MANIFEST, meta)
    log(f"ckd-data synth: wrote {len(samples)} samples to {out_dir} in {meta['wall_s']:.1f} s ({workers} workers)")
    return meta
