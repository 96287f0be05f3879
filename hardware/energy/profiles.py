"""Energy/latency profiles: cited per-operation figures loaded from YAML data files.

File format (``hardware/data/energy_*.yaml``, ``hardware/data/gpu_*.yaml`` or a user's file)::

    profile: <name>          # short id, written into the report
    kind: loihi | ops45nm | gpu
    label: <one line for tables>
    citation: <paper / datasheet, table, page>
    figures:
      <key>: {value: <number>, unit: <unit>, source: <where in the citation>,
              uncertain: <bool, optional>, note: <optional>}
    placement:                # optional, same entry format (Loihi placement model parameters)

Units are converted to SI on load (``pJ`` -> J, ``ns`` -> s, ``TFLOP/s`` -> FLOP/s, ...).
Each kind has required figures (:data:`REQUIRED`); a missing figure, a non-positive value, an
unknown unit or a malformed file raises :class:`ckd_toolchain.errors.InputError` naming the file.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ckd_toolchain.errors import InputError

DATA_DIR = Path(__file__).resolve().parents[1] / "data"

#: unit -> factor to the SI unit
UNIT_SCALE: dict[str, float] = {
    "J": 1.0, "mJ": 1e-3, "uJ": 1e-6, "nJ": 1e-9, "pJ": 1e-12, "fJ": 1e-15,
    "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9,
    "W": 1.0, "mW": 1e-3,
    "FLOP/s": 1.0, "GFLOP/s": 1e9, "TFLOP/s": 1e12,
    "count": 1.0,
}

KINDS = ("loihi", "ops45nm", "gpu")

REQUIRED: dict[str, tuple[str, ...]] = {
    "loihi": (
        "synaptic_op_energy", "neuron_update_active_energy", "neuron_update_inactive_energy",
        "within_tile_spike_energy", "tile_hop_energy_ew",
        "synaptic_op_time", "neuron_update_active_time", "neuron_update_inactive_time",
        "within_tile_spike_time", "tile_hop_time_ew",
        "barrier_sync_time_1_tile", "barrier_sync_time_32_tiles",
    ),
    "ops45nm": ("mac_energy", "ac_energy"),
    "gpu": ("peak_flops_fp32", "board_power"),
}

#: default profile per kind (file stem under DATA_DIR)
DEFAULTS = {"loihi": "energy_loihi1_davies2018", "ops45nm": "energy_horowitz_45nm", "gpu": "gpu_a100_sxm"}


@dataclass(frozen=True)
class Figure:
    """One cited figure: ``value`` in the file's ``unit``; ``si`` converted to the SI unit."""

    key: str
    value: float
    unit: str
    source: str
    uncertain: bool = False
    note: str = ""

    @property
    def si(self) -> float:
        return self.value * UNIT_SCALE[self.unit]

    def to_dict(self) -> dict[str, Any]:
        d = {"value": self.value, "unit": self.unit, "source": self.source, "uncertain": self.uncertain}
        if self.note:
            d["note"] = self.note
        return d


@dataclass(frozen=True)
class Profile:
    name: str
    kind: str
    label: str
    citation: str
    path: str
    figures: dict[str, Figure]
    placement: dict[str, Figure] = field(default_factory=dict)
    verification: str = ""

    def si(self, key: str) -> float:
        """The figure ``key`` in SI units (J, s, W, FLOP/s)."""
        return self.figures[key].si

    def get_si(self, key: str, default: float | None = None) -> float | None:
        fig = self.figures.get(key)
        return default if fig is None else fig.si

    def uncertain_keys(self) -> list[str]:
        return [k for k, f in {**self.figures, **self.placement}.items() if f.uncertain]

    def to_dict(self) -> dict[str, Any]:
        """Provenance block written into report.json."""
        d: dict[str, Any] = {
            "profile": self.name, "kind": self.kind, "label": self.label, "citation": self.citation,
            "file": self.path, "figures": {k: f.to_dict() for k, f in self.figures.items()},
        }
        if self.placement:
            d["placement"] = {k: f.to_dict() for k, f in self.placement.items()}
        if self.verification:
            d["verification"] = self.verification
        return d


def _figure(path: str, section: str, key: str, entry: Any) -> Figure:
    where = f"{section}.{key}"
    if isinstance(entry, (int, float)) and not isinstance(entry, bool):
        raise InputError(path, f"{where}: give {{value, unit, source}}, not a bare number")
    if not isinstance(entry, dict):
        raise InputError(path, f"{where}: expected a mapping with value, unit, source")
    for req in ("value", "unit", "source"):
        if req not in entry:
            raise InputError(path, f"{where}: missing '{req}'")
    value = entry["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InputError(path, f"{where}: value must be a positive finite number, got {value!r}")
    unit = entry["unit"]
    if unit not in UNIT_SCALE:
        raise InputError(path, f"{where}: unknown unit {unit!r} (known: {', '.join(UNIT_SCALE)})")
    return Figure(key=key, value=float(value), unit=str(unit), source=str(entry["source"]),
                  uncertain=bool(entry.get("uncertain", False)), note=str(entry.get("note", "")))


def _expected_dimension(key: str) -> str:
    if key.endswith("_energy"):
        return "J"
    if key.endswith("_time") or "_time_" in key:
        return "s"
    if key.startswith("peak_flops"):
        return "FLOP/s"
    if key.endswith("_power"):
        return "W"
    return ""


def _dimension(unit: str) -> str:
    if unit.endswith("FLOP/s"):
        return "FLOP/s"
    if unit.endswith("J"):
        return "J"
    if unit.endswith("W"):
        return "W"
    if unit.endswith("s"):
        return "s"
    return unit


def parse_profile(data: Any, path: str, kind: str | None = None) -> Profile:
    """Validate a loaded YAML mapping and build a :class:`Profile`."""
    if not isinstance(data, dict):
        raise InputError(path, "an energy profile must be a YAML mapping")
    for req in ("profile", "kind", "label", "citation", "figures"):
        if req not in data:
            raise InputError(path, f"missing top-level key '{req}'")
    if data["kind"] not in KINDS:
        raise InputError(path, f"kind must be one of {', '.join(KINDS)}, got {data['kind']!r}")
    if kind is not None and data["kind"] != kind:
        raise InputError(path, f"expected a '{kind}' profile, this file is a '{data['kind']}' profile")
    if not isinstance(data["figures"], dict):
        raise InputError(path, "'figures' must be a mapping")
    figures = {k: _figure(path, "figures", str(k), v) for k, v in data["figures"].items()}
    for k, fig in figures.items():
        want = _expected_dimension(k)
        if want and _dimension(fig.unit) != want:
            raise InputError(path, f"figures.{k}: unit {fig.unit!r} is not a {want} unit")
    missing = [k for k in REQUIRED[data["kind"]] if k not in figures]
    if missing:
        raise InputError(path, f"a '{data['kind']}' profile needs figures: {', '.join(missing)}")
    placement_raw = data.get("placement") or {}
    if not isinstance(placement_raw, dict):
        raise InputError(path, "'placement' must be a mapping")
    placement = {k: _figure(path, "placement", str(k), v) for k, v in placement_raw.items()}
    return Profile(name=str(data["profile"]), kind=str(data["kind"]), label=str(data["label"]),
                   citation=" ".join(str(data["citation"]).split()), path=path, figures=figures,
                   placement=placement, verification=" ".join(str(data.get("verification", "")).split()))


def resolve_profile_path(name_or_path: str | os.PathLike | None, kind: str) -> Path:
    """A path to a YAML file, or a bundled profile name (``a100-sxm``, ``gpu_a100_sxm``, ...)."""
    if kind not in KINDS:
        raise ValueError(f"unknown profile kind {kind!r}")
    if name_or_path is None:
        return DATA_DIR / f"{DEFAULTS[kind]}.yaml"
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists() or os.sep in str(name_or_path):
        return p
    stem = str(name_or_path).replace("-", "_")
    prefix = "gpu_" if kind == "gpu" else "energy_"
    for cand in (DATA_DIR / f"{stem}.yaml", DATA_DIR / f"{prefix}{stem}.yaml"):
        if cand.exists():
            return cand
    known = ", ".join(available_profiles(kind))
    raise InputError(str(name_or_path), f"no such {kind} profile (bundled: {known}; or give a .yaml path)")


def available_profiles(kind: str) -> list[str]:
    """Names of the bundled profiles of one kind."""
    prefix = "gpu_" if kind == "gpu" else "energy_"
    out = []
    for f in sorted(DATA_DIR.glob(f"{prefix}*.yaml")):
        try:
            data = yaml.safe_load(f.read_text())
        except yaml.YAMLError:
            continue
        if isinstance(data, dict) and data.get("kind") == kind:
            out.append(f.stem[len(prefix):].replace("_", "-"))
    return out


def load_profile(name_or_path: str | os.PathLike | None, kind: str) -> Profile:
    """Load and validate a profile of ``kind``; ``None`` gives the bundled default."""
    path = resolve_profile_path(name_or_path, kind)
    if not path.exists():
        raise InputError(path, "energy profile not found")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not valid YAML: {exc}") from None
    return parse_profile(data, str(path), kind)
