"""t-SNE of the DVS features of student runs side by side (the CKD paper's Fig. 3: baseline vs
CKD on N-Caltech101), coloured by class, with the silhouette score printed on each panel.

Features: for every sample of a DVS split (test by default), the input of the DVS head averaged
over the ``T`` time steps (the head is linear, so ``head_dvs`` of it is the time-averaged logits
the prediction is made from; :meth:`SpikingStudent.dvs_head_input`). Embedding: scikit-learn's
``TSNE(n_components=2, init="pca", perplexity=min(30, (N - 1) / 3), random_state=seed)`` per run
(van der Maaten & Hinton, JMLR 2008). Separation measure: the silhouette score (Rousseeuw 1987)
with the class labels as clusters, ``s = mean_i (b_i - a_i) / max(a_i, b_i)`` (``a_i``: mean distance
to the own class, ``b_i``: to the nearest other class; in [-1, 1], higher = better separated),
computed in the feature space (Euclidean; t-SNE distorts distances) and, for reference, in the 2-D
embedding. All runs must have been trained on the same data (same ``data`` config and classes).

Writes ``DIR/tsne.png`` and ``DIR/tsne.json`` (per run: label, checkpoint, samples, accuracy,
both silhouettes). Used by ``ckd-train tsne`` and ``make demo``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ckd_toolchain.errors import InputError


def resolve_checkpoint(run: str | Path) -> Path:
    """A checkpoint path, or ``run/best.pt`` for a run directory; ``InputError`` when missing."""
    p = Path(run)
    if p.is_dir():
        p = p / "best.pt"
    if not p.is_file():
        raise InputError(p, "no student checkpoint here (give best.pt or a run directory holding one)")
    return p


@torch.no_grad()
def dvs_features(model, dataset, batch_size: int = 128) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(features [N, D], labels [N], predictions [N])`` of a student over a DVS dataset (CPU, eval)."""
    model.eval()
    feats, labels, preds = [], [], []
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(len(dataset), start + batch_size))]
        x = torch.stack([it[0] for it in items]).transpose(0, 1)
        f = model.dvs_head_input(x).float().mean(0)
        feats.append(f.numpy())
        preds.append(model.head_dvs(f).argmax(1).numpy())
        labels += [int(it[1]) for it in items]
    return np.concatenate(feats), np.asarray(labels), np.concatenate(preds)


def embed(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D t-SNE of ``features`` (module docstring)."""
    from sklearn.manifold import TSNE

    n = features.shape[0]
    perplexity = float(min(30.0, max(1.0, (n - 1) / 3.0)))
    return TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=int(seed)).fit_transform(features)


def silhouette(x: np.ndarray, labels: np.ndarray) -> float:
    """Silhouette score of ``x`` with the class labels as clusters (NaN with < 2 classes)."""
    from sklearn.metrics import silhouette_score

    if len(set(labels.tolist())) < 2 or len(labels) <= len(set(labels.tolist())):
        return float("nan")
    return float(silhouette_score(x, labels, metric="euclidean"))


def _load_runs(paths: list[Path]):
    from ckd_toolchain.ckd_train.checkpoint import load_student

    loaded = [load_student(p) for p in paths]
    data0, classes0 = loaded[0][1]["config"].get("data"), loaded[0][1].get("classes")
    for p, (_, ck) in zip(paths[1:], loaded[1:]):
        if ck["config"].get("data") != data0 or ck.get("classes") != classes0:
            raise InputError(p, f"trained on other data / classes than {paths[0]}; t-SNE compares runs on one split")
    return loaded


def tsne_compare(runs: list[str | Path], out_dir: str | Path, labels: list[str] | None = None,
                 split: str = "test", seed: int = 0) -> dict:
    """Embed the DVS ``split`` features of each run, write ``tsne.png`` / ``tsne.json`` into ``out_dir``."""
    from ckd_toolchain.atomic_io import write_json
    from ckd_toolchain.ckd_train.data import DataConfig, build_datasets
    from ckd_toolchain.ckd_train.tsne_plot import tsne_figure

    paths = [resolve_checkpoint(r) for r in runs]
    labels = labels if labels is not None else [p.parent.name for p in paths]
    if len(labels) != len(paths):
        raise InputError(None, f"--labels gives {len(labels)} labels for {len(paths)} runs")
    loaded = _load_runs(paths)
    data = build_datasets(DataConfig.from_dict(loaded[0][1]["config"]["data"]))
    dataset = {"test": data.dvs_test, "val": data.dvs_val}[split]
    if len(dataset) < 3:
        raise InputError(None, f"the DVS {split} split has {len(dataset)} samples; t-SNE needs at least 3")
    results, panels = [], []
    for label, path, (model, _) in zip(labels, paths, loaded):
        feats, y, pred = dvs_features(model, dataset)
        xy = embed(feats, seed)
        r = {"label": label, "checkpoint": str(path), "samples": int(len(y)),
             "accuracy": float((pred == y).mean()), "silhouette_features": silhouette(feats, y),
             "silhouette_tsne": silhouette(xy, y)}
        results.append(r)
        panels.append((r, xy, y))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png = tsne_figure(panels, data.classes, out / "tsne.png", split)
    res = {"split": split, "seed": seed, "classes": list(data.classes), "runs": results, "png": str(png)}
    write_json(out / "tsne.json", res)
    return res
