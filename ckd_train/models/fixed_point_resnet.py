"""Fixed-point-aware training of the pre-activation Spiking ResNet-18 (``arch: resnet18``).

The VGG path (:mod:`.fixed_point_training`) can write the Loihi grid values back into the
student, because each conv becomes one synapse layer. A pre-activation ResNet cannot: its
real-valued residual stream ``x`` (no LIF after the add) reaches every LIF of a stage through
that LIF's own BatchNorm, so the graph lowering (``hardware/lowering/dag_lowering.py``) turns
one conv into several synapse groups, one per LIF it reaches, each scaled by that LIF's BN and
rounded on that LIF's scale. No single set of float parameters holds all of them. So in the
fixed-point epochs the forward pass IS the lowered network, computed here from the student's
parameters with the same float64 rules, the same composition functions
(:mod:`ckd_toolchain.linear_maps`) and the same shared-scale rounding
(:func:`ckd_toolchain.loihi2.quantization.grid_groups`)::

    LIF T (BN_T = a_T·y + b_T):   I_T = Σ_j conv(s_j, grid(a_T ⊙ W_j)) + grid(b_T)
        s_j: the spikes feeding the stream (the input through the stem conv, each block's lif2
        through conv2, a downsampling block's shortcut LIF through its 1x1 conv)
    lif2 of a block:              I = conv(s_lif1, grid(a_2 ⊙ W_conv1)) + grid(b_2)
    read-out:                     logits = Σ_j grid(D_j) · flatten(s_j) + grid(b),
        D_j = W_fc · AvgPool · diag(a_f) · conv_j   (the final BN, pool and head composed)

with straight-through gradients (``W_q = W + sg(grid(W) − W)``). The checkpoint keeps the float
parameters (``fixed_point`` marks the run); ``ckd-export`` writes them and the deploy mapper
recomputes exactly these integers from the NIR graph (``tests/ckd_train/
test_fixed_point_resnet.py`` checks the deployed network against this forward, spike for spike).
The float student (what ``load_student`` returns) is therefore NOT the validated network: its
float evaluation differs from the deployed one by the rounding; the deployed one was validated.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ckd_toolchain import linear_maps as lm
from ckd_toolchain.ckd_train.models.bn_fold import fold, to_float64_numpy
from ckd_toolchain.loihi2.quantization import grid_groups

DT = 1.0   # the exporter's time step (export/lif_to_nir.py: DEFAULT_DT)


@dataclass
class _Term:
    """A conv feeding the residual stream from the spikes ``source``."""
    conv: nn.Conv2d
    source: str


def _lif_gain_threshold(lif) -> tuple[float, float]:
    """``(dt·r/τ, θ)`` as the mapper reads them from the exported float32 NIR LIF (tau = dt/(1-β),
    r = tau/dt; ``export/lif_to_nir.py``): 1 up to float rounding, computed the same way."""
    tau = np.float32(DT / (1.0 - float(lif.beta)))
    r = np.float32(float(tau) / DT)
    return DT * float(r) / float(tau), float(np.float32(lif.threshold))


def _bn_diag(bn: nn.BatchNorm2d, torch_path: bool):
    """``(a, b)`` of an eval-mode BN as the exporter folds it into a diagonal 1x1 conv."""
    eye = torch.eye(bn.num_features, dtype=bn.weight.dtype, device=bn.weight.device)[:, :, None, None]
    if torch_path:
        w, b = fold(eye, None, bn)
        return torch.diagonal(w[:, :, 0, 0]), b
    w, b = fold(eye, None, bn, to=to_float64_numpy)
    return np.diagonal(w[:, :, 0, 0]).copy(), b


def _ste(cont: torch.Tensor, grid: np.ndarray) -> torch.Tensor:
    g = torch.as_tensor(grid, dtype=cont.dtype, device=cont.device)
    return g + (cont - cont.detach())


def is_preact(student: nn.Module) -> bool:
    """True for a pre-activation Spiking ResNet student (``arch: resnet18``)."""
    from ckd_toolchain.ckd_train.models.resnet_preact import PreActBasicBlock

    return any(isinstance(m, PreActBasicBlock) for m in getattr(student, "features", []))


class PreActGridForward:
    """The lowered network of a pre-activation ResNet student, on the Loihi grid (module doc)."""

    def __init__(self, student: nn.Module):
        from ckd_toolchain.ckd_train.models.resnet_preact import PreActBasicBlock

        mods = list(student.features)
        if not (isinstance(mods[0], nn.Conv2d) and all(isinstance(m, PreActBasicBlock) for m in mods[1:-3])
                and isinstance(mods[-3], nn.BatchNorm2d) and isinstance(mods[-2], nn.AdaptiveAvgPool2d)):
            raise ValueError("not a pre-activation Spiking ResNet (stem conv, PreActBasicBlocks, BN, "
                             "AdaptiveAvgPool2d, Flatten)")
        self.student = student
        self.stem, self.blocks, self.bn_f = mods[0], mods[1:-3], mods[-3]

    # -- one LIF fed by BN(Σ terms) --------------------------------------------------------------
    def _target(self, bn, lif, terms: list[_Term], spikes: dict) -> torch.Tensor:
        gain, theta = _lif_gain_threshold(lif)
        a_np, b_np = _bn_diag(bn, torch_path=False)
        a_t, b_t = _bn_diag(bn, torch_path=True)
        # the mapper's composition identity -> conv -> identity junctions -> BN diagonal is exact
        # (products with 1 and sums with 0): a_T ⊙ W_j in float64, as here
        ws = [a_np.reshape(-1, 1, 1, 1) * t.conv.weight.detach().double().cpu().numpy() * gain for t in terms]
        grids, b_grid = grid_groups(ws, b_np * gain, theta)
        x = None
        for t, g in zip(terms, grids):
            wq = _ste(a_t.reshape(-1, 1, 1, 1) * t.conv.weight * gain, g)
            y = F.conv2d(spikes[t.source], wq.float(), None, t.conv.stride, t.conv.padding, t.conv.dilation)
            x = y if x is None else x + y
        x = x + _ste(b_t * gain, b_grid).float().reshape(1, -1, 1, 1)
        return lif(x)

    # -- read-out: head(flatten(pool(BN_f(Σ terms)))) composed per source ------------------------
    def _readout(self, terms: list[_Term], spikes: dict) -> torch.Tensor:
        head = self.student.head_dvs
        a_np, b_np = _bn_diag(self.bn_f, torch_path=False)
        a_t, b_t = _bn_diag(self.bn_f, torch_path=True)
        w_fc = head.weight.detach().double().cpu().numpy()
        b_fc = head.bias.detach().double().cpu().numpy()
        c = a_np.size
        maps, bias_map, surrogate = [], None, []
        for t in terms:
            src = tuple(spikes[t.source].shape[1:])
            m = lm.then_conv(lm.identity(src), t.conv.weight.detach().double().cpu().numpy(), t.conv.stride,
                             t.conv.padding, t.conv.dilation, self._conv_out(src, t.conv))
            h, w = m.out_shape[1:]
            m = lm.then_conv(m, np.diag(a_np)[:, :, None, None], (1, 1), (0, 0), (1, 1), m.out_shape)
            pool = lm.full_conv_weight(np.full((c, 1, h, w), 1.0 / (h * w)), c)
            m = lm.then_conv(m, pool, (h, w), (0, 0), (1, 1), (c, 1, 1))
            maps.append(lm.then_dense(m, w_fc).weight)
            surrogate.append(self._dense_surrogate(t, src, a_t, head.weight, (h, w)))
            if bias_map is None:   # the BN shift through the pool and the head (as the mapper's bias maps)
                bm = lm.bias_through_conv(None, np.diag(a_np)[:, :, None, None], (1, 1), (0, 0), (1, 1), b_np,
                                          (c, h, w))
                bm = lm.bias_through_conv(bm, pool, (h, w), (0, 0), (1, 1), None, (c, 1, 1))
                bias_map = w_fc @ bm.ravel() + b_fc
        grids, b_grid = grid_groups(maps, bias_map, None)
        out = None
        for t, g, sur in zip(terms, grids, surrogate):
            s = spikes[t.source]
            y = s.reshape(s.shape[0], -1) @ _ste(sur, g).float().T
            out = y if out is None else out + y
        b_cont = head.weight @ b_t + head.bias
        return out + _ste(b_cont, b_grid).float()

    @staticmethod
    def _conv_out(src, conv) -> tuple:
        from ckd_toolchain.geometry import conv_output_hw
        return (conv.out_channels, *conv_output_hw(src[1:], conv.kernel_size, conv.stride, conv.padding,
                                                   conv.dilation))

    @staticmethod
    def _dense_surrogate(t: _Term, src, a_t, w_fc, hw) -> torch.Tensor:
        """Differentiable ``W_fc · pool · diag(a) · conv`` (the adjoint applied to the head rows)."""
        h, w = hw
        rows = (w_fc[:, :, None, None] * a_t.reshape(1, -1, 1, 1)).expand(-1, -1, h, w) / (h * w)
        k = t.conv.kernel_size
        pad = [src[1 + ax] - ((n - 1) * t.conv.stride[ax] - 2 * t.conv.padding[ax] +
                              t.conv.dilation[ax] * (k[ax] - 1) + 1) for ax, n in enumerate((h, w))]
        adj = F.conv_transpose2d(rows, t.conv.weight, stride=t.conv.stride, padding=t.conv.padding,
                                 output_padding=tuple(pad), dilation=t.conv.dilation)
        return adj.reshape(w_fc.shape[0], -1)

    # -- the whole network ---------------------------------------------------------------------
    def __call__(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``frames[T*B, C, H, W]`` → ``(grid logits [T*B, classes], pooled features [T*B, D])``;
        the pooled features (for the static head and CKA) are the float BN + pool of the stream
        the grid spikes drive (the float convolutions)."""
        with torch.autocast(frames.device.type, enabled=False):
            spikes = {"input": frames.float().contiguous()}
            stream = [_Term(self.stem, "input")]
            for i, blk in enumerate(self.blocks):
                spikes[f"{i}.lif1"] = self._target(blk.bn1, blk.lif1, stream, spikes)
                spikes[f"{i}.lif2"] = self._target(blk.bn2, blk.lif2, [_Term(blk.conv1, f"{i}.lif1")], spikes)
                if len(blk.shortcut):
                    bn, lif, conv = blk.shortcut
                    spikes[f"{i}.sc"] = self._target(bn, lif, stream, spikes)
                    stream = [_Term(blk.conv2, f"{i}.lif2"), _Term(conv, f"{i}.sc")]
                else:
                    stream = stream + [_Term(blk.conv2, f"{i}.lif2")]
            logits = self._readout(stream, spikes)
            x = sum(t.conv(spikes[t.source]) for t in stream)
            feat = torch.flatten(F.adaptive_avg_pool2d(self.bn_f(x), 1), 1)
        return logits, feat


class GridResult:
    """Grid logits of the last forward pass, handed from the features callable to the head
    callable of ``SpikingStudent._deployed_path`` (which slices the features it passes on)."""

    def __init__(self, grid: PreActGridForward):
        self.grid, self.logits = grid, None

    def features(self, frames: torch.Tensor) -> torch.Tensor:
        self.logits, feat = self.grid(frames)
        return feat

    def head(self, feat: torch.Tensor) -> torch.Tensor:
        """The grid logits of the samples ``feat`` holds: all, or the first ``B`` of ``[T, N, D]``
        (``_forward_both`` passes the DVS half ``feat[:, :B]`` of a mixed batch)."""
        if feat.dim() == 3:
            T, B = feat.shape[:2]
            return self.logits.reshape(T, -1, self.logits.shape[-1])[:, :B]
        return self.logits
