"""Stop a training run at the first non-finite loss or parameter (issue 16, finding 4).

A learning rate of ``1e30`` or an exploding loss turns weights into NaN/Inf within a step; training
on would save checkpoints full of NaN (and exit 0). :func:`check_step` is called after every
optimiser step with the step's loss and the trained parameters and raises :class:`TrainingDiverged`
-- an :class:`~ckd_toolchain.errors.InputError`, so the CLI prints one line and exits 2 -- naming
the run directory, the epoch and the step (both 1-based). Nothing of that step is saved: the
checkpoints on disk are those of the last finished epoch.
"""
from __future__ import annotations

import math
from typing import Iterable

import torch

from ckd_toolchain.errors import InputError


class TrainingDiverged(InputError):
    """The loss or a parameter became NaN/Inf."""


def check_step(where, epoch: int, step: int, loss: float, params: Iterable[torch.Tensor], hint: str = "") -> None:
    """Raise :class:`TrainingDiverged` if ``loss`` or any parameter is not finite (``epoch``/``step`` 0-based)."""
    what = None
    if not math.isfinite(float(loss)):
        what = f"the loss is {float(loss)}"
    else:
        ps = [p for p in params if p.is_floating_point()]
        if ps and not bool(torch.stack([torch.isfinite(p).all() for p in ps]).all()):
            what = "a parameter became NaN/Inf"
    if what is not None:
        raise TrainingDiverged(where, f"training diverged at epoch {epoch + 1}, step {step + 1}: {what}"
                                      f"{'; ' + hint if hint else ''} (nothing of this epoch was saved)")
