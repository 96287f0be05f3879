"""A bounded, seeded fuzz harness: corrupt copies of the files our commands read, fed to the real
console-script entry points in-process (``main(argv)``), judged by the one-line CLI contract.

Seed files are built by the tests (never downloaded): a student checkpoint (``.pt``), its NIR graph
(``.nir``), the mapped netx file (``.net``), a tiny N-Caltech101 tree (``.bin`` events, ``.png``
images) and a run config (``.yaml``). Each variant is one seeded mutation of one seed file:

* ``flip``      k random bytes XOR-ed with a random non-zero value (k = 1..8)
* ``truncate``  the file cut at a random length
* ``zero``      a random block overwritten with zero bytes
* ``random``    the whole file replaced by random bytes of the same length
* ``append``    random bytes appended

and the command that reads it is run. A case is *good* when it exits 0, or exits 2 with exactly one
error line on stderr, the last one, that names the file (earlier progress lines such as the class
alignment note are not errors; no other line may mention an error or warning), no traceback, and no partial output left behind (no output file,
no ``.partial``/``.tmp`` file). Anything else (another exception escaping ``main``, several lines, a
non-zero exit without naming the file) is a failure. ``python tests/fuzz_harness.py`` prints the table.
"""
from __future__ import annotations

import contextlib
import io
import os
import random
import shutil
import signal
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

MUTATIONS = ("flip", "truncate", "zero", "random", "append")


def mutate(data: bytes, kind: str, rng: random.Random) -> bytes:
    """One seeded corruption of ``data`` (see the module docstring)."""
    b = bytearray(data)
    n = len(b)
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(n)
            b[i] ^= rng.randint(1, 255)
    elif kind == "truncate":
        b = b[: rng.randrange(n)]
    elif kind == "zero":
        i = rng.randrange(n)
        w = rng.randint(1, max(1, min(512, n - i)))
        b[i:i + w] = bytes(w)
    elif kind == "random":
        b = bytearray(rng.randbytes(n))
    elif kind == "append":
        b += rng.randbytes(rng.randint(1, 256))
    else:
        raise ValueError(kind)
    return bytes(b)


CASE_TIMEOUT_S = 20.0


class CaseTimeout(BaseException):
    """Raised by SIGPROF in a case that uses more than :data:`CASE_TIMEOUT_S` of CPU time (a hang)."""


@dataclass
class Outcome:
    rc: int | str | None    # exit status; None when an exception escaped main(); "hang" when stopped
    stderr: str
    escaped: str = ""       # the escaped exception's traceback


@dataclass
class Table:
    """Counts of one fuzz run: ``cases``, ``clean`` (exit 0), ``one_line`` (good exit 2),
    ``tracebacks`` (an exception escaped), ``bad_errors`` (non-zero exit breaking the contract)."""

    cases: int = 0
    clean: int = 0
    one_line: int = 0
    tracebacks: int = 0
    bad_errors: int = 0
    hangs: int = 0
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return self.tracebacks + self.bad_errors + self.hangs

    def row(self, name: str) -> str:
        return (f"| {name:6s} | {self.cases:5d} | {self.clean:5d} | {self.one_line:8d} | {self.tracebacks:10d} "
                f"| {self.bad_errors:10d} | {self.hangs:5d} |")


HEADER = ("| file   | cases | exit0 | one-line | tracebacks | bad errors | hangs |\n"
          "|--------|-------|-------|----------|------------|------------|-------|")


def run_main(main: Callable, argv: list[str]) -> Outcome:
    """``main(argv)`` in-process: its exit status and stderr; an escaping exception is recorded.
    A case using more than :data:`CASE_TIMEOUT_S` of CPU time is stopped (``rc`` = ``"hang"``)."""
    err = io.StringIO()

    def alarm(signum, frame):
        raise CaseTimeout()

    old = signal.signal(signal.SIGPROF, alarm)
    signal.setitimer(signal.ITIMER_PROF, CASE_TIMEOUT_S)   # CPU time: a loaded machine is no hang
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                rc = main(argv)
                rc = 0 if rc is None else int(rc)
            except SystemExit as exc:
                rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except CaseTimeout:
                return Outcome("hang", err.getvalue())
            except BaseException as exc:  # noqa: BLE001 - that is what we count
                if isinstance(exc, KeyboardInterrupt):
                    raise
                return Outcome(None, err.getvalue(), traceback.format_exc(limit=-3))
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)
    return Outcome(rc, err.getvalue())


def leftovers(paths: list[Path]) -> list[Path]:
    """Partial/temporary files under the given folders (atomic writers' and the mapper's)."""
    out = []
    for p in paths:
        if p.is_dir():
            out += [f for f in p.rglob("*") if f.is_file() and (f.name.endswith((".partial", ".tmp")))]
    return out


@dataclass
class Target:
    """One seed file and how a command reads it: ``argv(case_path, out_path) -> argv``."""

    name: str
    seed: Path                                  # the clean file
    main: Callable
    argv: Callable[[Path, Path], list[str]]
    place: Callable[[Path, bytes], Path] | None = None   # where the corrupt bytes go (default: a copy)
    outputs_are_dir: bool = False


def judge(outcome: Outcome, case_path: Path, out_path: Path, scan: list[Path], table: Table, label: str,
          outputs_are_dir: bool) -> None:
    table.cases += 1
    if outcome.rc == "hang":
        table.hangs += 1
        table.examples.append(f"{label}: still running after {CASE_TIMEOUT_S:g} s")
        return
    if outcome.rc is None:
        table.tracebacks += 1
        table.examples.append(f"{label}: traceback: {outcome.escaped.strip().splitlines()[-1][:200]}")
        return
    if "Traceback (most recent call last)" in outcome.stderr:
        table.tracebacks += 1
        table.examples.append(f"{label}: traceback printed")
        return
    if outcome.rc == 0:
        table.clean += 1
        return
    lines = [ln for ln in outcome.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower() or "warning" in ln.lower()]
    problems = []
    if outcome.rc != 2:
        problems.append(f"exit {outcome.rc}")
    if len(errors) != 1 or not lines or lines[-1] is not errors[0]:
        problems.append(f"{len(errors)} error lines")
    elif case_path.name not in errors[0]:
        problems.append("does not name the file")
    partial = leftovers(scan)
    if outputs_are_dir:
        if out_path.is_dir() and any(f for f in out_path.rglob("*") if f.is_file()):
            problems.append("output left in the out directory")
    elif out_path.exists():
        problems.append("output file left")
    if partial:
        problems.append(f"partial files {[p.name for p in partial]}")
    if problems:
        table.bad_errors += 1
        table.examples.append(f"{label}: {', '.join(problems)}: {lines[:2]}")
    else:
        table.one_line += 1


def fuzz_target(target: Target, workdir: Path, n: int, seed: int = 0, start: int = 0,
                on_case: Callable[[int, str], None] | None = None) -> Table:
    """``n`` seeded variants of ``target.seed`` through its command (deterministic for a seed);
    ``start`` skips the first cases (their mutations are still drawn), ``on_case(i, label)`` is
    called before each case runs."""
    rng = random.Random(f"{target.name}-{seed}")
    clean = target.seed.read_bytes()
    table = Table()
    for i in range(n):
        kind = MUTATIONS[i % len(MUTATIONS)]
        data = mutate(clean, kind, rng)
        if i < start:
            continue
        if on_case is not None:
            on_case(i, f"{target.name}#{i} {kind}")
        case_dir = workdir / f"{target.name}-{i:03d}"
        if case_dir.exists():
            shutil.rmtree(case_dir)
        case_dir.mkdir(parents=True)
        if target.place is not None:
            case_path = target.place(case_dir, data)
        else:
            case_path = case_dir / target.seed.name
            case_path.write_bytes(data)
        out_path = case_dir / "out"
        t0 = time.perf_counter()
        outcome = run_main(target.main, target.argv(case_path, out_path))
        table.seconds += time.perf_counter() - t0
        judge(outcome, case_path, out_path, [case_dir], table, f"{target.name}#{i} {kind}", target.outputs_are_dir)
        shutil.rmtree(case_dir, ignore_errors=True)
    return table


# ------------------------------------------------------------------------------ seed files
def build_seeds(root: Path) -> dict[str, Path]:
    """Write the clean seed files under ``root``: ``{"pt", "nir", "net", "bin", "png", "yaml", "tree"}``."""
    import numpy as np
    import torch
    import yaml
    from PIL import Image

    from ckd_toolchain.atomic_io import save_torch
    from ckd_toolchain.ckd_train.data import DataConfig
    from ckd_toolchain.ckd_train.engine.checkpointing import make_checkpoint
    from ckd_toolchain.export.cli_export import main as export_main
    from ckd_toolchain.hardware.lowering.netx_mapping import nir_to_netx
    from data_fixtures import image_for, make_ncaltech_tree
    from export_helpers import small_student

    root.mkdir(parents=True, exist_ok=True)
    classes = ["a", "b"]
    tree = make_ncaltech_tree(root / "tree", classes, 3)
    rng = np.random.default_rng(0)
    for label, c in enumerate(classes):  # N-Digits writes PNG images: use PNG here
        d = tree / "101_ObjectCategories" / c
        for f in d.glob("*.jpg"):
            f.unlink()
        for i in range(3):
            Image.fromarray(image_for(label, rng)).save(d / f"image_{i + 1:04d}.png")
    T = 2
    data = DataConfig(name="ncaltech101", root=str(tree), T=T, size=48, cache_dir=str(root / "cache"))
    model = small_student("vgg", T=T, classes=len(classes))
    cfg = {"method": {"name": "dvs-only", "kd_loss": "kd"}, "data": data.to_dict(),
           "student": {"arch": "vgg", "width": 0.125, "num_classes": 2, "T": T, "in_channels": 2,
                       "input_size": 48, "beta": 0.5, "threshold": 1.0}}
    pt = root / "student.pt"
    save_torch(pt, make_checkpoint("student", model.state_dict(), cfg, classes, 1))
    nir_path = root / "model.nir"
    rc = export_main(["--to", "nir", str(pt), "-o", str(nir_path)])
    assert rc == 0, rc
    net = root / "model.net"
    nir_to_netx(str(nir_path), str(net))
    x = (torch.rand(2, T, 2, 48, 48, generator=torch.Generator().manual_seed(0)) < 0.2).float().numpy()
    np.save(root / "x.npy", x)
    cfg_yaml = root / "run.yaml"
    cfg_yaml.write_text(yaml.safe_dump({
        "name": "fuzz", "data": {"name": "ncaltech101", "root": str(tree), "T": 2, "size": 48},
        "student": {"arch": "vgg", "width": 0.125},
        "method": {"name": "dvs-only", "tau": 4.0},
        "train": {"epochs": 1, "batch_size": 4, "lr_base": 0.005, "warmup_epochs": 0, "seed": 0,
                  "device": "cpu"}}, sort_keys=False))
    return {"pt": pt, "nir": nir_path, "net": net, "bin": tree / "Caltech101" / "a" / "image_0001.bin",
            "png": tree / "101_ObjectCategories" / "a" / "image_0001.png", "yaml": cfg_yaml, "tree": tree,
            "x": root / "x.npy"}


def _check_only_trainer(cfg, out_dir, **_kw):
    """Stand-in for ``train_student``: the real checks a run does before it loads data."""
    from ckd_toolchain.ckd_train.data import DataConfig
    from ckd_toolchain.ckd_train.engine.run_config import validate

    validate(cfg)
    DataConfig.from_dict(cfg["data"])
    return None


def _tree_copy_place(tree: Path, rel: Path) -> Callable[[Path, bytes], Path]:
    """Copy the data tree into the case folder and put the corrupt bytes at ``rel`` inside it."""
    def place(case_dir: Path, data: bytes) -> Path:
        dst = case_dir / "tree"
        shutil.copytree(tree, dst, ignore=shutil.ignore_patterns(".frames-cache"))
        (dst / rel).write_bytes(data)
        return dst / rel
    return place


def targets(seeds: dict[str, Path]) -> list[Target]:
    """The commands that read each seed file."""
    from ckd_toolchain.ckd_train.cli_data import main as data_main
    from ckd_toolchain.export.cli_export import main as export_main
    from ckd_toolchain.hardware.cli_deploy import main as deploy_main

    tree = seeds["tree"]

    def stats_argv(case: Path, out: Path) -> list[str]:
        return ["stats", "--data", "ncaltech101", "--root", str(case.parents[2]), "--T", "2",
                "--cache-dir", str(out.parent / "cache")]

    return [
        Target("pt", seeds["pt"], export_main, lambda c, o: ["--to", "nir", str(c), "-o", str(o)]),
        Target("nir", seeds["nir"], deploy_main,
               lambda c, o: [str(c), "--target", "loihi-sim", "--input", str(seeds["x"]), "--out", str(o),
                             "--no-diagnostics"], outputs_are_dir=True),
        Target("net", seeds["net"], deploy_main,
               lambda c, o: [str(c), "--target", "loihi-sim", "--steps", "4", "--out", str(o)], outputs_are_dir=True),
        Target("bin", seeds["bin"], data_main, stats_argv,
               place=_tree_copy_place(tree, seeds["bin"].relative_to(tree))),
        Target("png", seeds["png"], data_main, stats_argv,
               place=_tree_copy_place(tree, seeds["png"].relative_to(tree))),
        Target("yaml", seeds["yaml"], _yaml_main, lambda c, o: ["student", "--config", str(c), "--out", str(o)],
               outputs_are_dir=True),
    ]


def _yaml_main(argv):
    """``ckd-train`` with the trainer replaced by :func:`_check_only_trainer` (no data, no training)."""
    from unittest import mock

    from ckd_toolchain.ckd_train import cli_train

    with mock.patch("ckd_toolchain.ckd_train.engine.train_student", _check_only_trainer):
        return cli_train.main(argv)


#: variants per file type (a few hundred in total, see tests/core/test_fuzz_inputs.py)
COUNTS = {"pt": 80, "nir": 60, "net": 80, "bin": 60, "png": 40, "yaml": 60}


def run_all(workdir: Path, counts: dict[str, int] = COUNTS, seed: int = 0) -> dict[str, Table]:
    seeds = build_seeds(workdir / "seeds")
    return {t.name: fuzz_target(t, workdir / "cases", counts[t.name], seed) for t in targets(seeds)
            if t.name in counts}


def _worker(workdir: Path, name: str, start: int, log: Path) -> None:
    """Run one target's cases from ``start`` on, appending one JSON line per case to ``log``. A case
    stuck in C code (where SIGALRM cannot interrupt it) is logged as a hang by a watchdog thread,
    which then ends the process; the driver starts a new worker after it."""
    import json
    import os
    import threading

    seeds = build_seeds(workdir / "seeds") if not (workdir / "seeds" / "run.yaml").is_file() else _seed_paths(workdir / "seeds")
    target = next(t for t in targets(seeds) if t.name == name)
    state = {"i": start, "label": ""}

    def watchdog():
        i, label, t0 = state["i"], state["label"], time.process_time()
        while state["i"] == i and time.process_time() - t0 < CASE_TIMEOUT_S * 3:
            time.sleep(1.0)
        if state["i"] == i:
            with open(log, "a") as fh:
                fh.write(json.dumps({"i": i, "label": label, "hang": True}) + "\n")
            os._exit(3)

    def on_case(i, label):
        state.update(i=i, label=label)
        threading.Thread(target=watchdog, daemon=True).start()

    n = COUNTS[name]
    orig_judge = judge

    def judge_and_log(outcome, case_path, out_path, scan, tab, label, outputs_are_dir):
        before = (tab.clean, tab.one_line, tab.tracebacks, tab.bad_errors, tab.hangs, len(tab.examples))
        orig_judge(outcome, case_path, out_path, scan, tab, label, outputs_are_dir)
        after = (tab.clean, tab.one_line, tab.tracebacks, tab.bad_errors, tab.hangs)
        which = ["clean", "one_line", "tracebacks", "bad_errors", "hangs"][
            [a - b for a, b in zip(after, before[:5])].index(1)]
        ex = tab.examples[before[5]] if len(tab.examples) > before[5] else ""
        with open(log, "a") as fh:
            fh.write(json.dumps({"i": state["i"], "label": label, "result": which, "example": ex}) + "\n")
        state["i"] = -1

    globals()["judge"] = judge_and_log
    fuzz_target(target, workdir / "cases", n, start=start, on_case=on_case)


def _seed_paths(root: Path) -> dict[str, Path]:
    tree = root / "tree"
    return {"pt": root / "student.pt", "nir": root / "model.nir", "net": root / "model.net",
            "bin": tree / "Caltech101" / "a" / "image_0001.bin",
            "png": tree / "101_ObjectCategories" / "a" / "image_0001.png", "yaml": root / "run.yaml",
            "tree": tree, "x": root / "x.npy"}


#: CPU seconds a worker may spend on one case before the driver kills it (a hang inside a C library
#: holds the GIL: neither SIGPROF nor the watchdog thread can then act)
WORKER_CASE_CPU_S = 3 * CASE_TIMEOUT_S


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _supervise(proc, log: Path, name: str) -> None:
    """Wait for a worker; when one case uses more than :data:`WORKER_CASE_CPU_S` of CPU, log it as
    a hang and kill the worker."""
    import json

    lines, cpu_at_case = -1, 0.0
    while proc.poll() is None:
        time.sleep(0.5)
        try:
            n = len(log.read_text().splitlines())
            cpu = _cpu_seconds(proc.pid)
        except (OSError, IndexError, ValueError):
            continue
        if n != lines:
            lines, cpu_at_case = n, cpu
        elif cpu - cpu_at_case > WORKER_CASE_CPU_S + 10:   # + the worker's start-up imports
            proc.kill()
            proc.wait()
            done = [json.loads(ln) for ln in log.read_text().splitlines() if ln.strip()]
            i = done[-1]["i"] + 1 if done else 0
            with open(log, "a") as fh:
                fh.write(json.dumps({"i": i, "label": f"{name}#{i}", "hang": True}) + "\n")


def table_in_subprocesses(workdir: Path, names=None) -> dict[str, Table]:
    """The fuzz table with every target run in worker processes (restarted after a C-level hang)."""
    import json
    import subprocess
    import sys

    build_seeds(workdir / "seeds")
    tables = {}
    for name in names or COUNTS:
        log = workdir / f"{name}.jsonl"
        log.write_text("")
        while True:
            done = [json.loads(ln) for ln in log.read_text().splitlines() if ln.strip()]
            if len(done) >= COUNTS[name]:
                break
            proc = subprocess.Popen([sys.executable, __file__, "--worker", name, str(len(done)), str(workdir),
                                     str(log)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _supervise(proc, log, name)
            if len([ln for ln in log.read_text().splitlines() if ln.strip()]) == len(done):
                raise RuntimeError(f"worker for {name} made no progress at case {len(done)}")
        t = Table()
        for r in done:
            t.cases += 1
            key = "hangs" if r.get("hang") else r["result"]
            setattr(t, key, getattr(t, key) + 1)
            if r.get("hang"):
                t.examples.append(f"{r['label']}: hang (C-level, killed)")
            elif r.get("example"):
                t.examples.append(r["example"])
        tables[name] = t
    return tables


if __name__ == "__main__":  # pragma: no cover - prints the table
    import sys
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if sys.argv[1:2] == ["--worker"]:
        _worker(Path(sys.argv[4]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[5]))
        sys.exit(0)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as d:
        tables = table_in_subprocesses(Path(d), sys.argv[1:] or None)
    print(HEADER)
    total = Table()
    for name, t in tables.items():
        print(t.row(name))
        for k in ("cases", "clean", "one_line", "tracebacks", "bad_errors", "hangs"):
            setattr(total, k, getattr(total, k) + getattr(t, k))
    print(total.row("total"))
    print(f"({time.time() - t0:.1f} s)")
    for name, t in tables.items():
        for e in t.examples[:8]:
            print("  ", e)
