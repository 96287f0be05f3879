#!/usr/bin/env bash
# Create or update the two environments of the toolchain, idempotently.
#
#   main env  : Python 3.11 (3.10-3.12) with requirements/main.txt (+ requirements/no-deps.txt
#               installed with --no-deps): the heavy packages, shared by every clone, never holding
#               any clone's code.
#   .venv     : this clone's own thin env on top of it (tools/thin_env.py): a venv whose
#               site-packages sees the heavy env through a .pth line, links `ckd_toolchain` to THIS
#               checkout and has this checkout's console scripts. Every clone runs its own code; a
#               clone's setup takes seconds when the heavy env is cached.
#   lava env  : Python 3.10 with requirements/lava.txt (lava-dl 0.6.0 -> lava-nc 0.10, numpy<2,
#               torch 2.3.1). Only the `lava` simulator back end uses it, through a subprocess.
#
# Both live in a cache directory keyed by a hash of their lock files, so a fresh clone on the
# same machine (CI) reuses them instead of rebuilding ~6 GB:
#   ${CKD_CACHE_DIR:-$HOME/.cache/ckd-toolchain}/main-<key>   <- ./.venv       (thin env on top)
#   ${CKD_CACHE_DIR:-$HOME/.cache/ckd-toolchain}/lava-<key>   <- ./.lava-venv  (symlink)
# A directory is used only when its `.complete` marker exists; an interrupted build is redone.
#
# Environment: CKD_PYTHON (interpreter for the main env), CKD_PYTHON310 (for the lava env),
# CKD_SKIP_LAVA=1 (do not build the lava env), CKD_CACHE_DIR, CKD_MAIN_ENV (use this complete
# heavy env instead of the cached one: nothing is built or installed into it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CACHE=${CKD_CACHE_DIR:-$HOME/.cache/ckd-toolchain}
mkdir -p "$CACHE"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

find_python() {  # $1 = wanted minor version(s) as a regex, then candidate commands
  local want=$1; shift
  local c
  for c in "$@"; do
    [ -n "$c" ] || continue
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys' >/dev/null 2>&1; then
      if "$c" -c 'import sys; print("%d.%d" % sys.version_info[:2])' | grep -Eq "^($want)\$"; then
        command -v "$c"; return 0
      fi
    fi
  done
  return 1
}

hash_of() { cat "$@" | sha256sum | cut -c1-16; }

pip_q() {  # run pip quietly; drop this machine's harmless "Location ... is ignored" index warnings
  local rc=0
  "$@" 2>&1 | grep -v -e "^WARNING: Location 'file:" -e "BuildBackendWarning" || true
  rc=${PIPESTATUS[0]}
  return "$rc"
}

# ---------------------------------------------------------------- main env
if [ -n "${CKD_MAIN_ENV:-}" ]; then
  MAIN_DIR=$CKD_MAIN_ENV
  [ -f "$MAIN_DIR/.complete" ] || { echo "setup: CKD_MAIN_ENV=$MAIN_DIR is not a complete main env" >&2; exit 2; }
else
  PYMAIN=$(find_python '3\.1[012]' "${CKD_PYTHON:-}" python3.11 python3 python3.12 python3.10 \
           $(ls -d "$HOME"/.pyenv/versions/3.1[102]*/bin/python3 2>/dev/null)) || {
    echo "setup: no Python 3.10-3.12 found (set CKD_PYTHON)" >&2; exit 2; }
  PYVER=$("$PYMAIN" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  MAIN_DIR="$CACHE/main-py$PYVER-$(hash_of requirements/main.txt requirements/no-deps.txt)"
  if [ ! -f "$MAIN_DIR/.complete" ]; then
    echo "setup: building main env in $MAIN_DIR (Python $PYVER)"
    rm -rf "$MAIN_DIR"
    "$PYMAIN" -m venv "$MAIN_DIR"
    pip_q "$MAIN_DIR/bin/pip" install -q --upgrade pip setuptools wheel
    # torch first and pinned, so nothing later resolves an unpinned torch to a CUDA build.
    pip_q "$MAIN_DIR/bin/pip" install -q "$(grep -E '^torch==' requirements/main.txt)"
    pip_q "$MAIN_DIR/bin/pip" install -q -r requirements/main.txt
    pip_q "$MAIN_DIR/bin/pip" install -q --no-deps -r requirements/no-deps.txt
    touch "$MAIN_DIR/.complete"
  fi
fi
# This clone's thin env (seconds; rebuilt when it points at another heavy env or another checkout).
# A .venv that is still the old symlink to the shared env is only unlinked, never followed.
"$MAIN_DIR/bin/python" -I tools/thin_env.py --heavy "$MAIN_DIR" --checkout "$ROOT" --venv "$ROOT/.venv"

# ---------------------------------------------------------------- lava env
if [ "${CKD_SKIP_LAVA:-0}" = 1 ]; then
  echo "setup: CKD_SKIP_LAVA=1, lava env not built"; exit 0
fi
PY310=$(find_python '3\.10' "${CKD_PYTHON310:-}" python3.10 \
        $(ls -d "$HOME"/.pyenv/versions/3.10*/bin/python3.10 2>/dev/null)) || {
  echo "setup: no Python 3.10 found for the Lava env (set CKD_PYTHON310)" >&2; exit 2; }
LAVA_DIR="$CACHE/lava-$(hash_of requirements/lava.txt)"
if [ ! -f "$LAVA_DIR/.complete" ]; then
  echo "setup: building Lava env in $LAVA_DIR (Python 3.10, ~1.5 min, ~5.6 GB)"
  rm -rf "$LAVA_DIR"
  "$PY310" -m venv "$LAVA_DIR"
  pip_q "$LAVA_DIR/bin/pip" install -q --upgrade pip
  pip_q "$LAVA_DIR/bin/pip" install -q -r requirements/lava.txt
  "$LAVA_DIR/bin/python" -c 'import lava.lib.dl.netx, lava.magma.core.run_configs' 
  touch "$LAVA_DIR/.complete"
fi
ln -sfn "$LAVA_DIR" .lava-venv
ln -sfn "$LAVA_DIR" "$CACHE/lava-current"
echo "setup: .venv (this checkout) on top of $MAIN_DIR; lava env .lava-venv -> $LAVA_DIR"
