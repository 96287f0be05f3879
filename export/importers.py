"""Running a NIR graph in the importers researchers already use: snnTorch and Norse (both on nirtorch).

:func:`prepare` says what will run: the graph *as written* when it was exported with the importer's
profile (``--nir-profile snntorch|norse``, :mod:`ckd_toolchain.export.nir_profiles`), else the
profile's rewrite of it (named in the returned text, so that ``ckd-export --verify`` reports exactly
what it ran). :func:`build` makes the importer's module, :func:`run` steps it over ``T``:

* ``snntorch``: ``snntorch.import_nir.import_from_nir(graph)`` (snnTorch 1.0.0; it builds
  ``nirtorch.nir_to_torch`` with its own node map; LIF → ``Leaky(init_hidden=True,
  reset_mechanism="zero", reset_delay=False)``, so each call returns the spikes of one time step
  and the membranes live in the modules: they are zeroed with ``Leaky.reset_mem`` before every
  batch). It prints "replace rnn subgraph with nirgraph"; that line is swallowed.
* ``norse``: ``norse.torch.from_nir(graph)`` (Norse 1.1.0, ``nirtorch.load``'s legacy
  ``GraphExecutor``; ``dt`` left at its default, which is the profile's ``dt``) for graphs
  without fan-in; for graphs with fan-in (ResNet) Norse's node mapping
  (``norse.torch.utils.import_nir._import_norse_module``) wired by ``nirtorch.nir_to_torch``
  (see :data:`NORSE_FROM_NIR_FAN_IN`). The module is called as ``module(x_t, state)`` →
  ``(y_t, state)``.

Every call gets one time step ``x[:, t]`` of ``frames[B, T, C, H, W]``; outputs are stacked to
``[B, T, ...]``. Spikes of LIF nodes are recorded with forward hooks on the submodule of the same
(sanitised) name.
"""
from __future__ import annotations

import contextlib
import functools
import io
import logging
import os

import nir
import torch

from ckd_toolchain.export.nir_profiles import DESCRIPTION, PROFILE_DT, graph_profile, has_fan_in, profile_graph

IMPORTERS = ("snntorch", "norse")
ENGINE = {"snntorch": "snntorch.import_nir.import_from_nir", "norse": "norse.torch.from_nir"}

NORSE_FROM_NIR_FAN_IN = (
    "norse.torch.from_nir runs nirtorch's legacy GraphExecutor, which orders nodes depth-first: a "
    "node with two inputs (the residual LIF) runs before one of them and reads that input from the "
    "previous time step, so it cannot simulate residual graphs; Norse's node modules are run by "
    "nirtorch.nir_to_torch (topological, sums fan-in) instead")


def prepare(graph: nir.NIRGraph, importer: str, where: str | os.PathLike | None = None) -> tuple[nir.NIRGraph, str]:
    """``(graph to run, what it is)``: the file as written, or the ``importer`` profile's rewrite."""
    if graph_profile(graph) == importer:
        return graph, "the file as written"
    g = profile_graph(graph, importer, where, allow_fan_in=True)
    return g, f"a rewrite of the file (--nir-profile {importer}: {DESCRIPTION[importer]})"


def build(graph: nir.NIRGraph, importer: str) -> tuple[torch.nn.Module, str]:
    """``(module, engine)`` of ``importer`` for ``graph`` (already in the importer's profile)."""
    if importer == "snntorch":
        from snntorch.import_nir import import_from_nir

        with contextlib.redirect_stdout(io.StringIO()):
            return import_from_nir(graph), ENGINE["snntorch"]
    if importer != "norse":
        raise ValueError(f"unknown importer {importer!r}")
    import norse.torch as norse_torch

    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))
    if not has_fan_in(graph):
        return norse_torch.from_nir(graph, ignore_warnings=True), ENGINE["norse"]
    import nirtorch
    from norse.torch.utils.import_nir import _import_norse_module

    fn = functools.partial(_import_norse_module, dt=PROFILE_DT["norse"], ignore_warnings=True)
    node_map = {cls: fn for cls in (nir.Affine, nir.Conv2d, nir.Flatten, nir.Linear, nir.LIF, nir.IF,
                                    nir.CubaLIF, nir.SumPool2d)}
    return nirtorch.nir_to_torch(graph, node_map), "nirtorch.nir_to_torch + Norse node modules"


def _reset(module: torch.nn.Module) -> None:
    for m in module.modules():
        if hasattr(m, "reset_mem") and getattr(m, "init_hidden", False):
            m.reset_mem()


def run(module: torch.nn.Module, importer: str, frames: torch.Tensor, record: list[str] = (),
        batch_size: int = 16) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``(output[B, T, ...], {node: spikes[B, T, ...]})`` of the importer's ``module`` on ``frames``."""
    steps: dict[str, list] = {}
    hooks = []
    for n in record:
        def hook(_m, _inp, out, n=n):
            steps[n].append(out[0] if isinstance(out, tuple) else out)
        hooks.append(module.get_submodule(n.replace(".", "_")).register_forward_hook(hook))
    outs, recs = [], {n: [] for n in record}
    try:
        with torch.no_grad():
            for start in range(0, frames.shape[0], batch_size):
                x = frames[start:start + batch_size].float()
                steps.clear()
                steps.update({n: [] for n in record})
                state, ys = None, []
                _reset(module)
                for t in range(x.shape[1]):
                    if importer == "norse":
                        y, state = module(x[:, t], state)
                    else:
                        y = module(x[:, t])
                        y = y[0] if isinstance(y, tuple) else y
                    ys.append(y)
                outs.append(torch.stack(ys, 1))
                for n in record:
                    recs[n].append(torch.stack(steps[n], 1))
    finally:
        for h in hooks:
            h.remove()
    return torch.cat(outs), {n: torch.cat(v) for n, v in recs.items()}
