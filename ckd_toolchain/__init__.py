"""``ckd_toolchain``: the import root of the CKD toolchain (distribution ``ckd-toolchain``).

The product card fixes the folders ``ckd_train/ export/ hardware/ simulators/`` at the top of the
repository, but ``export``, ``hardware`` and ``simulators`` are also names of unrelated PyPI
distributions: installed as top-level packages beside them, the imports would collide. So every
stage is imported under this root::

    ckd_toolchain.ckd_train    <- ckd_train/    data, models, losses, training (ckd-data, ckd-train)
    ckd_toolchain.export       <- export/       student -> NIR / ONNX (ckd-export)
    ckd_toolchain.hardware     <- hardware/     NIR -> Loihi 2 netx, energy, reports (ckd-deploy, ckd-report)
    ckd_toolchain.simulators   <- simulators/   NIR float interpreter, netx fast simulator, Lava worker

An install maps the folders with ``[tool.setuptools] package-dir`` (pyproject.toml). In a source
checkout this ``__init__`` puts the checkout root FIRST on the package path, so
``ckd_toolchain.<stage>`` is the checkout's own folder even when an editable install of another
clone is on ``sys.meta_path`` (pytest runs with ``pythonpath = .``).

The modules directly under this root are the neutral shared layer every stage may import and that
imports no stage: one-line errors and the CLI entry (:mod:`.errors`), atomic writes
(:mod:`.atomic_io`), subset selection (:mod:`.subsets`), NIR graph reading/walking
(:mod:`.nir_graph`), the NIR metadata schema (:mod:`.nir_metadata`). See ARCHITECTURE.md.
"""
from pathlib import Path as _Path

_CHECKOUT = _Path(__file__).resolve().parent.parent
_STAGES = ("ckd_train", "export", "hardware", "simulators")
if all((_CHECKOUT / name / "__init__.py").is_file() for name in _STAGES) \
        and (_CHECKOUT / "pyproject.toml").is_file():
    # source checkout: ckd_toolchain.<stage> -> <checkout>/<stage>
    __path__[:] = [str(_CHECKOUT / "ckd_toolchain"), str(_CHECKOUT)]
