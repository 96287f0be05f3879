"""PNG plots of a report (matplotlib, Agg backend): per-layer spike rate, energy per inference on
a log scale (Loihi vs 45 nm views vs GPU), accuracy float vs fixed point; and the comparison bars."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ckd_toolchain.atomic_io import atomic_path  # noqa: E402
from ckd_toolchain.hardware.report.intervals import report_interval  # noqa: E402
from ckd_toolchain.hardware.report.markdown import si  # noqa: E402

KIND_HATCH = {"measured": "", "estimated": "//", "counted": ""}


def _save(fig, target: Path) -> Path:
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return target


def spike_rate_plot(report: dict, target: Path) -> Path:
    layers = report["layers"]
    names = [l["name"] for l in layers]
    rates = [l["counts"]["spike_rate"]["value"] for l in layers]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(names) + 2), 3.2))
    ax.bar(range(len(names)), rates, color="#4477aa")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("spikes / neuron / step")
    ax.set_title(f"Per-layer spike rate ({report['run']['spike_source']})", fontsize=10)
    return _save(fig, target)


def energy_plot(report: dict, target: Path) -> Path:
    views = report["energy"]
    labels = [v["label"] for v in views.values()]
    vals = [v["per_inference"]["value"] for v in views.values()]
    kinds = [v["per_inference"]["kind"] for v in views.values()]
    fig, ax = plt.subplots(figsize=(7.0, 0.45 * len(labels) + 1.5))
    colors = ["#228833" if k == "measured" else "#aa3377" if "GPU" in l else "#ee7733" if "Loihi" in l else "#4477aa"
              for k, l in zip(kinds, labels)]
    bars = ax.barh(range(len(labels)), [max(v, 1e-18) for v in vals], color=colors)
    for b, k in zip(bars, kinds):
        b.set_hatch(KIND_HATCH.get(k, ""))
    ax.set_yticks(range(len(labels)), [f"{l} [{k}]" for l, k in zip(labels, kinds)], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("energy per inference (J, log scale)")
    ax.set_title("Energy per inference: Loihi vs GPU", fontsize=10)
    for i, v in enumerate(vals):
        ax.text(max(v, 1e-18), i, " " + si(v, "J"), va="center", fontsize=7)
    return _save(fig, target)


def _acc_bars(report: dict, keys) -> tuple[list[float], list[list[float]]]:
    """Accuracy (%) per key and its asymmetric 95 % error bars ``[[below...], [above...]]``."""
    vals, err = [], [[], []]
    for key in keys:
        iv = report_interval(report, key)
        v = 100.0 * report["accuracy"][key]["value"] if iv else 0.0
        vals.append(v)
        err[0].append(v - 100.0 * iv[0] if iv else 0.0)
        err[1].append(100.0 * iv[1] - v if iv else 0.0)
    return vals, err


def accuracy_plot(report: dict, target: Path) -> Path:
    acc = report["accuracy"]
    keys = [k for k in ("reference", "deployed") if acc.get(k) is not None]
    labels = ["float reference" if k == "reference" else f"deployed ({report['run']['target']})" for k in keys]
    vals, err = _acc_bars(report, keys)
    fig, ax = plt.subplots(figsize=(4.0, 3.0))
    if vals:
        ax.bar(range(len(vals)), vals, yerr=err, capsize=4, color=["#999999", "#4477aa"][: len(vals)])
        ax.set_xticks(range(len(vals)), labels, fontsize=8)
        for i, v in enumerate(vals):
            ax.text(i + 0.05, v, f"{v:.1f}%", ha="left", va="bottom", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no accuracy recorded", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(0, 105)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"Accuracy, 95% Wilson interval (n = {report['run']['num_samples']})", fontsize=10)
    return _save(fig, target)


def write_report_plots(out_dir: Path, report: dict) -> dict[str, Path]:
    out_dir = Path(out_dir)
    return {
        "spike_rate": spike_rate_plot(report, out_dir / "spike_rate.png"),
        "energy": energy_plot(report, out_dir / "energy.png"),
        "accuracy": accuracy_plot(report, out_dir / "accuracy.png"),
    }


def _view_legend(reports: list[dict], key: str, name: str) -> str:
    """``"Loihi [<profile label>; estimated]"``: the view's profile labels and kinds over the runs."""
    labels = sorted({r["energy"][key]["label"] for r in reports})
    kinds = sorted({r["energy"][key]["per_inference"]["kind"] for r in reports})
    text = labels[0] if len(labels) == 1 else f"{name} (several profiles)"
    return f"{text} [{'/'.join(kinds)}]"


def comparison_plot(labels: list[str], reports: list[dict], target: Path) -> Path:
    """Grouped bars per run: energy per inference (log) for Loihi / 45 nm SNN / GPU, each labelled
    with its profile and measured/estimated kind (estimated bars hatched); accuracy with 95 %
    Wilson intervals."""
    import numpy as np

    views = [("loihi", "Loihi"), ("snn_45nm", "SNN 45 nm"), ("dense_45nm", "dense 45 nm"), ("gpu_student", "GPU")]
    views += [(k, k) for k in ("loihi2",) if all(k in r["energy"] for r in reports)]
    x = np.arange(len(reports))
    w = 0.8 / len(views)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(max(10.0, 1.6 * len(reports) + 7), 4.2),
                                   gridspec_kw={"width_ratios": [2, 1]})
    for j, (key, name) in enumerate(views):
        vals = [r["energy"][key]["per_inference"]["value"] for r in reports]
        bars = ax1.bar(x + (j - (len(views) - 1) / 2) * w, [max(v, 1e-18) for v in vals], w,
                       label=_view_legend(reports, key, name))
        for b, r in zip(bars, reports):
            b.set_hatch(KIND_HATCH.get(r["energy"][key]["per_inference"]["kind"], ""))
    ax1.set_yscale("log")
    ax1.set_xticks(x, labels, rotation=20, ha="right", fontsize=8)
    ax1.set_ylabel("energy per inference (J, log)")
    ax1.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=1)
    ax1.set_title("Energy per inference (hatched: estimated)", fontsize=10)
    for j, (key, name) in enumerate((("reference", "float"), ("deployed", "deployed"))):
        vals, err = [], [[], []]
        for r in reports:
            v, e = _acc_bars(r, [key])
            vals.append(v[0])
            err[0].append(e[0][0])
            err[1].append(e[1][0])
        ax2.bar(x + (j - 0.5) * 0.4, vals, 0.4, yerr=err, capsize=3, label=name)
    ax2.set_xticks(x, [f"{l}\n(n = {r['run']['num_samples']})" for l, r in zip(labels, reports)],
                   rotation=20, ha="right", fontsize=8)
    ax2.set_ylim(0, 105)
    ax2.set_ylabel("accuracy (%)")
    ax2.legend(fontsize=7)
    ax2.set_title("Accuracy, 95% Wilson interval", fontsize=10)
    fig.tight_layout()
    return _save(fig, target)
