"""Put several ``ckd-report/1`` reports side by side: ``comparison.md`` and ``comparison.png``."""
from __future__ import annotations

import os
from pathlib import Path

from ckd_toolchain.atomic_io import write_text
from ckd_toolchain.errors import InputError
from ckd_toolchain.hardware.report.markdown import acc_text, big, neurobench_synops, q, table
from ckd_toolchain.hardware.report.schema import load_report


def default_label(report: dict, path: Path) -> str:
    src = report["source"]
    parts = [p for p in (src.get("method"), src.get("arch")) if p]
    parts.append(report["run"]["target"])
    return " / ".join(parts) if parts else path.parent.name or path.stem


def _lat_kind(r: dict) -> str:
    k = r["latency"]["gpu_student"]["per_inference"]["kind"]
    return f"measured on {r['run']['device']}" if k == "measured" else k


def _neurobench_cells(r: dict) -> list[str]:
    """NeuroBench's synaptic ops (effective ACs + MACs) and activation sparsity, or "—"."""
    nb = r.get("neurobench") or {}
    if not nb.get("available"):
        return ["—", "—"]
    return [big(neurobench_synops(nb)), q(nb["metrics"]["activation_sparsity"])]


def comparison_markdown(labels: list[str], reports: list[dict], paths: list[Path]) -> str:
    rows = []
    for label, r in zip(labels, reports):
        e, lat, t = r["energy"], r["latency"], r["totals"]
        rows.append([label, r["run"]["target"], acc_text(r, "reference"), acc_text(r, "deployed"),
                     q(t["spikes"]), f"{t['spike_rate']['value']:.4f}", q(t["synaptic_ops"]),
                     f"{q(e['loihi']['per_inference'])} ({e['loihi']['label']}; estimated)",
                     q(e["snn_45nm"]["per_inference"]),
                     q(e["dense_45nm"]["per_inference"]),
                     f"{q(e['gpu_student']['per_inference'])} ({e['gpu_student']['per_inference']['kind']})",
                     q(lat["loihi"]["per_inference"]),
                     f"{q(lat['gpu_student']['per_inference'])} ({_lat_kind(r)})", *_neurobench_cells(r)])
    out = ["# Deployment comparison", "",
           table(["run", "target", "acc. float", "acc. deployed", "spikes/inf", "rate", "SOPs/inf",
                  "E Loihi", "E SNN 45 nm", "E dense 45 nm", "E GPU", "latency Loihi", "latency GPU",
                  "NeuroBench SynOps/inf", "NeuroBench act. sparsity"], rows),
           "", "Accuracies: value [95 % Wilson interval] (n = test samples; one seed). "
           "Energies and latencies are per inference (steady state, T steps; see each report's step accounting). Loihi figures are estimates from "
           "per-op energies (profile below); GPU numbers say whether they were measured or estimated. NeuroBench "
           "columns: the neurobench package's SynapticOperations (effective ACs + MACs) and ActivationSparsity of "
           "the float student (definitions in each report.md).", "",
           "## Runs", ""]
    for label, r, p in zip(labels, reports, paths):
        out.append(f"- **{label}**: `{p}` — Loihi profile `{r['profiles']['loihi']['profile']}`, "
                   f"GPU profile `{r['profiles']['gpu']['profile']}`, device `{r['run']['device']}`")
    out += ["", "![comparison](comparison.png)"]
    return "\n".join(out) + "\n"


def compare_reports(paths: list[str | os.PathLike], out_dir: str | os.PathLike,
                    labels: list[str] | None = None) -> Path:
    """Validate every report first (InputError naming the bad file), then write the comparison;
    returns the path of ``comparison.md``."""
    from ckd_toolchain.hardware.report.plots import comparison_plot

    if not paths:
        raise InputError(None, "give at least one report.json")
    ps = [Path(p) for p in paths]
    reports = [load_report(p) for p in ps]
    if labels is None:
        labels = [default_label(r, p) for r, p in zip(reports, ps)]
        if len(set(labels)) < len(labels):
            labels = [f"{l} ({p.parent.name or p.stem})" for l, p in zip(labels, ps)]
    elif len(labels) != len(ps):
        raise InputError(None, f"--labels has {len(labels)} labels for {len(ps)} reports")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    comparison_plot(labels, reports, out / "comparison.png")
    return write_text(out / "comparison.md", comparison_markdown(labels, reports, ps))
