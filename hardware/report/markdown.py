"""``report.md``: the report as tables a person reads (numbers with units and how they were obtained)."""
from __future__ import annotations

from pathlib import Path

PREFIXES = [(1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "µ"), (1e-3, "m"), (1.0, "")]


def si(value: float, unit: str) -> str:
    """``3.2e-06, "J"`` -> ``"3.20 µJ"``."""
    if value == 0:
        return f"0 {unit}"
    for scale, prefix in reversed(PREFIXES):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def big(value: float) -> str:
    """Large counts: ``1234567`` -> ``"1.23 M"``."""
    for scale, suffix in ((1e12, " T"), (1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.4g}"


def q(qty: dict | None) -> str:
    if qty is None:
        return "—"
    v, u = qty["value"], qty["unit"]
    if u in ("J", "s", "W"):
        return si(v, u)
    if u == "fraction":
        return f"{100 * v:.2f} %"
    return big(v)


def _row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(header: list[str], rows: list[list]) -> str:
    return "\n".join([_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)])


def acc_text(r: dict, key: str) -> str:
    """``"87.15 % [81.2, 91.3] (n = 179)"``: an accuracy with its 95 % Wilson interval."""
    from ckd_toolchain.hardware.report.intervals import report_interval

    iv = report_interval(r, key)
    if iv is None:
        return "—"
    return f"{q(r['accuracy'][key])} [{100 * iv[0]:.1f}, {100 * iv[1]:.1f}] (n = {r['run']['num_samples']})"


def layer_table(r: dict) -> str:
    """The per-layer table; a ``cores`` column only for ``loihi-sim`` (a float target's layer list is
    a folded mapping of the graph: its Loihi core counts say nothing about a CPU/GPU run)."""
    cores = r["run"]["target"] == "loihi-sim"
    lrows = []
    for l in r["layers"]:
        c = l["counts"]
        lrows.append([l["name"], l["kind"], "×".join(map(str, l["out_shape"])), l["neurons"],
                      *([l["cores"]] if cores else []),
                      q(c["spikes"]), f"{c['spike_rate']['value']:.4f}", q(c["synaptic_ops"]), q(c["neuron_updates"]),
                      q(c["spike_messages"]), q(c["dense_macs"]), q(l["energy"]["loihi"]), q(l["energy"]["snn_45nm"])])
    return table(["layer", "kind", "out shape", "neurons", *(["cores"] if cores else []), "spikes",
                  "rate /neuron/step", "SOPs", "neuron updates", "messages", "dense MACs", "E Loihi", "E 45 nm AC"],
                 lrows)


def neurobench_synops(nb: dict) -> float:
    """NeuroBench's synaptic operations per inference: effective ACs + effective MACs."""
    m = nb["metrics"]
    return m["synaptic_ops_effective_acs"]["value"] + m["synaptic_ops_effective_macs"]["value"]


def neurobench_section(nb: dict | None) -> list[str]:
    """``## NeuroBench metrics``: the package's numbers beside this report's counterparts."""
    if not nb:
        return []
    out = ["", "## NeuroBench metrics (float student)", ""]
    if not nb.get("available"):
        return out + [f"Not computed: {nb.get('reason')}."]
    m, ours = nb["metrics"], nb["this_report"]
    out.append(f"Computed by `{nb['package']}` (its `Benchmark` and metric classes) on the {nb['network']}, "
               f"{nb['num_samples']} samples; values per {nb['per']}. 'This report' counts spikes from the "
               f"{nb['this_report_spikes_from']}.")
    out.append("")
    acc = m.get("classification_accuracy")
    rows = [["SynapticOperations: effective ACs + MACs", f"{big(neurobench_synops(nb))} "
             f"({q(m['synaptic_ops_effective_acs'])} ACs + {q(m['synaptic_ops_effective_macs'])} MACs)",
             f"{q(ours['synaptic_ops'])} SOPs"],
            ["SynapticOperations: dense", q(m["synaptic_ops_dense"]), "—"],
            ["ActivationSparsity", q(m["activation_sparsity"]), q(ours["activation_sparsity"])],
            ["MembraneUpdates", q(m["membrane_updates"]), f"{q(ours['neuron_updates'])} (dense)"],
            ["Footprint", f"{m['footprint']['value'] / 1024:.1f} KiB", "—"],
            ["ClassificationAccuracy", q(acc), "—"]]
    out.append(table(["metric", "NeuroBench", "this report"], rows))
    out += ["", "Definitions:", ""] + [f"- {d}" for d in nb["definitions"]]
    return out


def render_report(r: dict, plot_files: dict[str, Path] | None = None) -> str:
    src, run, acc = r["source"], r["run"], r["accuracy"]
    name = src.get("arch") or Path(src.get("nir") or "model").stem
    out = [f"# Deployment report: {name}" + (f" ({src['method']})" if src.get("method") else ""), ""]
    out.append(f"Schema `{r['schema']}`, created {r['created_utc']}. Source: `{src.get('nir')}`"
               + (f", net `{src['net']}`" if src.get("net") else "") + ".")
    out.append(f"Target **{run['target']}**" + (f" (simulator `{run['sim']}`)" if run.get("sim") else "")
               + f" on `{run['device']}`; {run['num_samples']} samples × {run['steps_per_sample']} steps; "
               f"spike counts from the {run['spike_source']}. Input is {'spikes' if run['input_is_spikes'] else 'not spikes'}.")
    parts = run.get("wall_time_parts") or {}
    if parts:
        out.append(f"Wall time {q(run['wall_time'])} = the simulation alone; "
                   + ", ".join(f"{k} {q(v)}" for k, v in parts.items()) + " (file I/O: load and write).")
    out += ["", "## Summary", ""]
    rows = [["accuracy, float reference", acc_text(r, "reference"), "measured"],
            [f"accuracy, deployed ({run['target']})", acc_text(r, "deployed"), "measured"],
            ["accuracy drop (float - deployed)", "—" if acc.get("drop") is None else f"{100 * acc['drop']['value']:.2f} pp", "measured"]]
    for v in r["energy"].values():
        rows.append([f"energy / inference — {v['label']}", q(v["per_inference"]), v["per_inference"]["kind"]])
    for v in r["latency"].values():
        rows.append([f"latency / inference — {v['label']}", q(v["per_inference"]), v["per_inference"]["kind"]])
    t = r["totals"]
    rows += [["spikes / inference", q(t["spikes"]), t["spikes"]["kind"]],
             ["synaptic ops / inference", q(t["synaptic_ops"]), t["synaptic_ops"]["kind"]],
             ["neuron updates / inference", q(t["neuron_updates"]), t["neuron_updates"]["kind"]],
             ["spike messages / inference", q(t["spike_messages"]), t["spike_messages"]["kind"]],
             ["dense MACs / inference (T steps)", q(t["dense_macs"]), t["dense_macs"]["kind"]],
             ["student FLOPs, dense over T", q(r["flops"]["student_dense"]), "counted"]]
    if r.get("teacher"):
        rows.append([f"teacher ({r['teacher']['arch']}) MACs", q(r["teacher"]["macs"]), "counted"])
    nb = r.get("neurobench") or {}
    if nb.get("available"):
        m = nb["metrics"]
        rows += [["NeuroBench synaptic ops / inference (effective ACs + MACs, float student)",
                  f"{big(neurobench_synops(nb))} ({q(m['synaptic_ops_effective_acs'])} ACs + "
                  f"{q(m['synaptic_ops_effective_macs'])} MACs)", "counted"],
                 ["NeuroBench activation sparsity (float student)", q(m["activation_sparsity"]), "counted"]]
    out.append(table(["quantity", "value", "kind"], rows))
    out.append("")
    out.append("Accuracies: [95 % interval], " + ((acc.get("interval95") or {}).get("method")
                                                 or "Wilson score interval, 95 %") + ".")
    acct = r.get("accounting")
    if acct:
        ref = acct["gpu_reference"]
        out += ["", "## Step accounting", "", acct["explain"], "",
                f"GPU reference: {ref['source']}, {ref['steps']} steps, {q(ref['macs'])} MACs, "
                f"{q(ref['flops'])} FLOPs per inference."]
        if acct.get("single_sample_totals"):
            st = acct["single_sample_totals"]
            out.append(f"Single isolated sample ({acct['loihi_steps_single_sample']} steps): "
                       f"{q(st['spikes'])} spikes, {q(st['synaptic_ops'])} SOPs, {q(st['neuron_updates'])} neuron "
                       f"updates (steady state: {q(t['spikes'])}, {q(t['synaptic_ops'])}, {q(t['neuron_updates'])}).")
    out += ["", "## Per layer (per inference)", ""]
    out.append(layer_table(r))
    out += neurobench_section(r.get("neurobench"))
    quant = [l for l in r["layers"] if l.get("quantisation")]
    if quant:
        out += ["", "## Fixed-point weights", ""]
        out.append(table(["layer", "weight exponent", "error rms", "error max", "saturated weights"],
                         [[l["name"], l["quantisation"]["weight_exponent"],
                           "—" if l["quantisation"]["error_rms"] is None else f"{l['quantisation']['error_rms']['value']:.3g}",
                           "—" if l["quantisation"]["error_max"] is None else f"{l['quantisation']['error_max']['value']:.3g}",
                           q(l["quantisation"]["saturated"])] for l in quant]))
    out += ["", "## Energy views", ""]
    out.append(table(["view", "per inference", "kind", "profile", "method"],
                     [[v["label"], q(v["per_inference"]), v["per_inference"]["kind"], v["profile"], v["method"]]
                      for v in r["energy"].values()]))
    br = r["energy"]["loihi"].get("breakdown") or {}
    if br:
        out += ["", "Loihi energy breakdown:", ""]
        out.append(table(["term", "energy / inference"], [[k, q(v)] for k, v in br.items()]))
    out += ["", "## Latency", ""]
    out.append(table(["view", "per inference", "kind", "method"],
                     [[v["label"], q(v["per_inference"]), v["per_inference"]["kind"], v["method"]]
                      for v in r["latency"].values()]))
    if plot_files:
        out += ["", "## Plots", ""]
        for key, p in plot_files.items():
            out.append(f"![{key}]({Path(p).name})")
    out += ["", "## Assumptions", ""] + [f"- {a}" for a in r["assumptions"]]
    if r["notes"]:
        out += ["", "## Notes", ""] + [f"- {n}" for n in r["notes"]]
    out += ["", "## Profiles and citations", ""]
    for kind, p in r["profiles"].items():
        out.append(f"- **{kind}** `{p['profile']}` ({p['file'].split('/')[-1]}): {p['citation']}")
        unc = [k for k, f in {**p["figures"], **p.get("placement", {})}.items() if f.get("uncertain")]
        if unc:
            out.append(f"  - uncertain figures: {', '.join(unc)}")
    return "\n".join(out) + "\n"
