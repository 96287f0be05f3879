"""Create or refresh a clone's thin env ``.venv`` on top of the shared heavy env (issue 16).

    <heavy>/bin/python -I tools/thin_env.py --heavy <heavy env> --checkout <clone> --venv <clone>/.venv

The heavy env (``~/.cache/ckd-toolchain/main-<key>``, built by tools/setup_envs.sh) holds torch and
the other pinned packages and is shared by every clone; nothing is ever installed into it here.
The thin env is a ``venv`` without pip of the same base interpreter whose ``site-packages`` holds:

* ``_ckd_heavy_env.pth``: one line, the heavy env's ``site-packages``, appended to ``sys.path``
  (a plain path line: the heavy env's own ``.pth`` hooks -- e.g. an older editable install of some
  clone -- are NOT executed, so they cannot redirect ``ckd_toolchain``);
* ``ckd_toolchain`` -> ``<checkout>/ckd_toolchain`` (a symlink; its ``__init__`` maps the stages
  ``ckd_toolchain.<stage>`` to ``<checkout>/<stage>``, see ckd_toolchain/__init__.py);
* ``ckd_toolchain-<version>.dist-info`` (METADATA, entry_points.txt, direct_url.json) so that
  ``importlib.metadata`` sees the distribution and its console scripts;

and ``bin/`` holds this checkout's console scripts (``[project.scripts]`` of its pyproject.toml)
plus copies of the heavy env's scripts (pytest, torchrun, pip, ...) re-pointed at the thin
interpreter. ``ckd-thin.json`` records what the env was made for; an env made for the same
heavy env, checkout, Python and scripts is left alone. A ``.venv`` that is a symlink (the old
layout: a link to the shared env) is unlinked, never followed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import sysconfig
import venv
from pathlib import Path

MARKER = "ckd-thin.json"


def project_table(pyproject: Path) -> tuple[str, str, dict[str, str]]:
    """``(name, version, {script: "module:function"})`` of a pyproject.toml."""
    text = pyproject.read_text()
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the two tables are simple enough to read by hand
        return _project_table_310(text)
    proj = tomllib.loads(text)["project"]
    return proj["name"], proj["version"], dict(proj.get("scripts", {}))


def _project_table_310(text: str) -> tuple[str, str, dict[str, str]]:
    def section(name):
        m = re.search(rf"^\[{re.escape(name)}\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
        return dict(re.findall(r'^\s*"?([\w.-]+)"?\s*=\s*"([^"]*)"', m.group(1), re.M)) if m else {}
    proj = section("project")
    return proj["name"], proj["version"], section("project.scripts")


def _site_packages(prefix: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)}))


def _script(python: Path, target: str) -> str:
    module, func = target.split(":")
    return (f"#!{python}\n# console script of this checkout (tools/thin_env.py)\nimport sys\n"
            f"from {module} import {func}\n"
            f"if __name__ == '__main__':\n    sys.exit({func}())\n")


def wanted(heavy: Path, checkout: Path) -> dict:
    name, version, scripts = project_table(checkout / "pyproject.toml")
    return {"heavy": str(heavy), "checkout": str(checkout), "python": "%d.%d" % sys.version_info[:2],
            "name": name, "version": version, "scripts": scripts}


def is_current(env: Path, want: dict) -> bool:
    try:
        return (not env.is_symlink() and json.loads((env / MARKER).read_text()) == want
                and (env / "bin" / "python").exists())
    except (OSError, ValueError):
        return False


def remove_old(env: Path) -> None:
    """Unlink an old symlink; delete an old thin env or venv; refuse anything else."""
    if env.is_symlink():
        env.unlink()
    elif env.exists():
        if not ((env / MARKER).is_file() or (env / "pyvenv.cfg").is_file()):
            sys.exit(f"thin_env: {env} exists and is not a virtual env; move it away")
        shutil.rmtree(env)


def build(env: Path, heavy: Path, checkout: Path, want: dict) -> None:
    venv.EnvBuilder(with_pip=False, symlinks=True, clear=False).create(env)
    site = _site_packages(env)
    heavy_site = _site_packages(heavy)
    site.mkdir(parents=True, exist_ok=True)
    (site / "_ckd_heavy_env.pth").write_text(f"{heavy_site}\n")
    (site / "ckd_toolchain").symlink_to(checkout / "ckd_toolchain", target_is_directory=True)
    dist = site / f"{want['name'].replace('-', '_')}-{want['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {want['name']}\nVersion: {want['version']}\n")
    (dist / "INSTALLER").write_text("ckd-thin-env\n")
    (dist / "entry_points.txt").write_text(
        "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in want["scripts"].items()))
    (dist / "direct_url.json").write_text(json.dumps({"url": checkout.as_uri(), "dir_info": {"editable": True}}))
    python = env / "bin" / "python"
    for name, target in want["scripts"].items():
        _write_exec(env / "bin" / name, _script(python, target))
    _copy_heavy_scripts(heavy, env, set(want["scripts"]))
    (env / MARKER).write_text(json.dumps(want, indent=1) + "\n")


def _copy_heavy_scripts(heavy: Path, env: Path, ours: set[str]) -> None:
    """The heavy env's script wrappers (pytest, pip, torchrun, ...) with the thin interpreter."""
    shebang = f"#!{heavy}/bin/python"
    for src in sorted((heavy / "bin").iterdir()):
        dst = env / "bin" / src.name
        if src.name in ours or src.name.startswith("ckd-") or dst.exists() or not src.is_file():
            continue
        try:
            text = src.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        first, _, rest = text.partition("\n")
        if first.startswith(shebang):
            _write_exec(dst, f"#!{env / 'bin' / 'python'}\n{rest}")


def _write_exec(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="thin_env", description=__doc__.splitlines()[0])
    p.add_argument("--heavy", required=True, type=Path)
    p.add_argument("--checkout", required=True, type=Path)
    p.add_argument("--venv", required=True, type=Path)
    a = p.parse_args(argv)
    heavy, checkout = a.heavy.resolve(), a.checkout.resolve()
    env = Path(os.path.abspath(a.venv))
    if Path(sys.prefix).resolve() != heavy:
        sys.exit(f"thin_env: run this with the heavy env's interpreter ({heavy}/bin/python)")
    want = wanted(heavy, checkout)
    if is_current(env, want):
        return 0
    remove_old(env)
    build(env, heavy, checkout, want)
    print(f"setup: {env} (this checkout's code) on top of {heavy}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
