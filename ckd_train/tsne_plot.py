"""The t-SNE figure of :mod:`ckd_toolchain.ckd_train.feature_tsne`: one panel per run, points
coloured by class, the silhouette scores and the accuracy in each panel's title (matplotlib, Agg)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ckd_toolchain.atomic_io import atomic_path  # noqa: E402


def tsne_figure(panels, classes: list[str], target: Path, split: str) -> Path:
    """``panels``: ``(result dict, xy [N, 2], labels [N])`` per run → PNG at ``target``."""
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 4.9), squeeze=False)
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for ax, (r, xy, y) in zip(axes[0], panels):
        for k, name in enumerate(classes):
            sel = y == k
            ax.scatter(xy[sel, 0], xy[sel, 1], s=12, color=cmap(k % cmap.N), label=name, alpha=0.85,
                       edgecolors="none")
        ax.set_title(f"{r['label']}  (DVS {split} acc {100 * r['accuracy']:.1f} %)", fontsize=10)
        ax.text(0.02, 0.02, f"silhouette {r['silhouette_features']:.3f} (features)\n"
                            f"silhouette {r['silhouette_tsne']:.3f} (t-SNE 2-D)",
                transform=ax.transAxes, fontsize=9, va="bottom",
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "0.7"})
        ax.set_xticks([])
        ax.set_yticks([])
    if len(classes) <= 20:
        axes[0][-1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, markerscale=1.5, frameon=False)
    fig.suptitle(f"t-SNE of the DVS-head input features ({panels[0][0]['samples']} DVS {split} samples)", fontsize=11)
    fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return target
