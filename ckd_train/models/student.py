"""The spiking student network shared by VGGSNN and Spiking ResNet (ARCHITECTURE.md "Student network").

``model.features`` is an ``nn.Sequential`` of stateless layers (Conv2d without bias, BatchNorm2d,
AvgPool2d, AdaptiveAvgPool2d, Flatten), :class:`~ckd_toolchain.ckd_train.models.lif.MultiStepLIF` and
:class:`~ckd_toolchain.ckd_train.models.resnet.SpikingBasicBlock`. ``model(x[T, B, C, H, W], head)`` flattens
to ``[T*B, C, H, W]``: every stateless layer runs once over all frames; only the LIF modules step
their state over ``T``. Two linear heads (He et al. AAAI 2024): ``head_dvs`` (the deployed one) and
``head_static`` (the RGB/static stream used during training).

Memory layout: in training mode (``self.training and self.channels_last``, the default) the
``[T*B, C, H, W]`` frames are made ``channels_last`` (NHWC): oneDNN's NHWC convolution avoids the
NCHW<->blocked reorders; measured on the 2-core CPU at ``T*B = 96`` (VGGSNN width 1/8), conv
forward 1.1-4.9x and conv+BN forward+backward 1.2-2.3x faster per layer than NCHW (the NCHW conv at
``T*B = 96`` was 3.6x slower than six ``B = 16`` convs). Conv/BN/pool/LIF keep that layout; the
``per_step_channels_last`` row of ``benchmarks/bench_train.py`` shows the layout's share. Values are
the same up to float rounding of the convolution's summation order. In eval mode the frames stay NCHW, so inference is
bit-identical to the per-step loop (``tests/ckd_train/test_models_nets.py``) and to earlier versions.

``fixed_point = True`` (set by the trainer for ``train.fixed_point_epochs``) runs the deployed path
(``features`` + ``head_dvs``) with BN folded and Loihi 2 integer weights
(:mod:`ckd_toolchain.ckd_train.models.fixed_point_training`); the static head and the CKA features are unchanged.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from ckd_toolchain.ckd_train.models.bn_stats import (BN_RUNNING_MODES, BN_STATS_MODES, frozen_running_stats,
                                                     per_step_batchnorm)
from ckd_toolchain.ckd_train.models.lif import MultiStepLIF


class SpikingStudent(nn.Module):
    def __init__(self, features: nn.Sequential, feat_dim: int, num_classes: int, cfg: dict,
                 cka_source: str):
        super().__init__()
        self.features = features
        self.head_dvs = nn.Linear(feat_dim, num_classes)
        self.head_static = nn.Linear(feat_dim, num_classes)
        self.cfg = dict(cfg)
        self.cka_source = cka_source  # "membrane" (last conv block's LIF membrane) | "pooled"
        # membrane CKA features (issue 12 item 4): "before-reset" U[t] (default) or "after-reset"
        # U[t] (1 - S[t]) = He et al.'s ``self.feature[-2].node.mem`` read after calc_spike
        # (Transfer-for-DVS braincog/model_zoo/vgg_snn.py:259,268; node.py:503 mem * (1 - spike.detach())).
        self.cka_membrane = str(self.cfg.get("cka_membrane", "before-reset"))
        self.channels_last = True  # NHWC frames while training (module docstring); not in the state_dict
        # fixed-point-aware forward (ckd_train.models.fixed_point_training); not in the state_dict
        self.fixed_point = False
        self._grid_plan = None

    def _frames(self, x: torch.Tensor) -> torch.Tensor:
        """``x[T, B, C, H, W]`` → ``[T*B, C, H, W]`` (``channels_last`` while training, see above)."""
        f = x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])
        if self.training and self.channels_last:
            f = f.contiguous(memory_format=torch.channels_last)
        return f

    def _deployed_path(self):
        """``(features, head_dvs)`` callables: the modules themselves, or their Loihi-grid versions
        when ``self.fixed_point`` is set (grid values computed once per forward pass)."""
        if not self.fixed_point:
            return self.features, self.head_dvs
        from ckd_toolchain.ckd_train.models import fixed_point_resnet as fpr
        from ckd_toolchain.ckd_train.models import fixed_point_training as fpt

        if fpr.is_preact(self):   # the lowered residual network on the grid (fixed_point_resnet)
            grid = fpr.GridResult(fpr.PreActGridForward(self))
            return grid.features, grid.head
        if self._grid_plan is None:
            self._grid_plan = fpt.grid_plan(self)
        params = fpt.grid_parameters(self, self._grid_plan)
        return (lambda f: fpt.run_features(self, f, self._grid_plan, params),
                lambda z: fpt.run_head(z, params))

    def _membrane_feature(self, lif: MultiStepLIF) -> torch.Tensor:
        """The recorded membrane of ``lif`` as CKA feature (``cka_membrane``, see ``__init__``)."""
        mem = lif.last_mem
        lif.last_mem = None
        if self.cka_membrane == "after-reset":
            mem = mem * (mem <= lif.threshold).to(mem.dtype)  # 1 - S[t], S detached as in the baseline
        return mem

    def lif_modules(self) -> list[MultiStepLIF]:
        return [m for m in self.modules() if isinstance(m, MultiStepLIF)]

    def _set_time_steps(self, T: int | None) -> None:
        for m in self.lif_modules():
            m.time_steps = T

    def forward(self, x: torch.Tensor, head: str = "dvs", return_features: bool = False):
        """``x[T, B, C, H, W]`` → logits ``[T, B, classes]`` (and CKA features ``[T, B, D]``)."""
        if x.dim() != 5:
            raise ValueError(f"student input must be [T, B, C, H, W], got {tuple(x.shape)}")
        T, B = x.shape[:2]
        self._set_time_steps(T)
        last = self.lif_modules()[-1] if (return_features and self.cka_source == "membrane") else None
        if last is not None:
            last.record_mem = True
        features, head_dvs = self._deployed_path()
        try:
            feat = features(self._frames(x))
        finally:
            if last is not None:
                last.record_mem = False
        if head == "dvs":
            logits = head_dvs(feat)
        elif head == "static":
            logits = self.head_static(feat)
        else:
            raise ValueError(f"head must be 'dvs' or 'static', got {head!r}")
        logits = logits.reshape(T, B, -1)
        if not return_features:
            return logits
        if last is not None:
            f = self._membrane_feature(last).reshape(T, B, -1)
        else:
            f = feat.reshape(T, B, -1)
        return logits, f

    def dvs_head_input(self, x: torch.Tensor) -> torch.Tensor:
        """``x[T, B, C, H, W]`` → the input of the DVS head ``[T, B, D]`` (the deployed path:
        ``head_dvs`` of it gives :meth:`forward`'s DVS logits); the t-SNE features."""
        if x.dim() != 5:
            raise ValueError(f"student input must be [T, B, C, H, W], got {tuple(x.shape)}")
        T, B = x.shape[:2]
        self._set_time_steps(T)
        features, _ = self._deployed_path()
        return features(self._frames(x)).reshape(T, B, -1)

    def spike_map_layer(self) -> nn.Module:
        """The last pooling layer of ``features``: its input is the student's last spiking feature
        map (VGGSNN: the last LIF before the final 2 x 2 pool; ResNet: the last block's output)."""
        pools = [m for m in self.features if isinstance(m, (nn.AvgPool2d, nn.AdaptiveAvgPool2d))]
        if not pools:
            raise ValueError("student features have no pooling layer to take the spike map from")
        return pools[-1]

    def forward_both(self, x_dvs: torch.Tensor, x_static: torch.Tensor, separate_bn: bool = False,
                     spike_map: bool = False, bn_stats: str | None = None, bn_running: str = "dvs"):
        """:meth:`_forward_both`; with ``spike_map=True`` a fifth element: the static stream's last
        spiking feature map ``[T, B, C, H, W]`` (input of :meth:`spike_map_layer`, for SAMD)."""
        args = (x_dvs, x_static, separate_bn, bn_stats, bn_running)
        if not spike_map:
            return self._forward_both(*args)
        seen = []
        hook = self.spike_map_layer().register_forward_pre_hook(lambda _m, inp: seen.append(inp[0]))
        try:
            out = self._forward_both(*args)
        finally:
            hook.remove()
        T, B = x_static.shape[:2]
        # the static stream: the second half of one pass, or its own pass (first with bn_running "both")
        s = seen[0] if (len(seen) > 1 and bn_running == "both") else seen[-1]
        return (*out, s.reshape(T, -1, *s.shape[1:])[:, -B:])

    def _forward_both(self, x_dvs: torch.Tensor, x_static: torch.Tensor, separate_bn: bool = False,
                      bn_stats: str | None = None, bn_running: str = "dvs"):
        """Both streams through the shared student; BN statistics by ``bn_stats``
        (:mod:`~ckd_toolchain.ckd_train.models.bn_stats`; None: ``per-stream`` if ``separate_bn`` else
        ``mixed``).

        ``mixed``: one pass over the concatenated ``[T, 2B, ...]`` batch (BN batch statistics and
        running statistics mix both domains). ``per-stream`` / ``per-stream-per-step``: two passes,
        each stream normalised with its own batch statistics (per time step in the latter); running
        statistics by ``bn_running``: ``dvs`` (only the DVS pass updates them, so evaluation/deployment
        on DVS uses DVS-only statistics) or ``both`` (static pass, then DVS pass, both update: He et al.).

        Returns ``(logits_dvs, logits_static, feat_dvs, feat_static)``, each ``[T, B, ...]``.
        """
        mode = bn_stats or ("per-stream" if separate_bn else "mixed")
        if mode not in BN_STATS_MODES or bn_running not in BN_RUNNING_MODES:
            raise ValueError(f"bn_stats must be one of {BN_STATS_MODES} and bn_running one of "
                             f"{BN_RUNNING_MODES}, got {mode!r}, {bn_running!r}")
        if mode != "mixed":
            return self._two_passes(x_dvs, x_static, mode == "per-stream-per-step", bn_running)
        B = x_dvs.shape[1]
        x = torch.cat([x_dvs, x_static], dim=1)
        T = x.shape[0]
        self._set_time_steps(T)
        last = self.lif_modules()[-1] if self.cka_source == "membrane" else None
        if last is not None:
            last.record_mem = True
        features, head_dvs = self._deployed_path()
        try:
            feat = features(self._frames(x)).reshape(T, 2 * B, -1)
        finally:
            if last is not None:
                last.record_mem = False
        if last is not None:
            f = self._membrane_feature(last).reshape(T, 2 * B, -1)
        else:
            f = feat
        return (head_dvs(feat[:, :B]), self.head_static(feat[:, B:]), f[:, :B], f[:, B:])

    def _two_passes(self, x_dvs: torch.Tensor, x_static: torch.Tensor, per_step: bool, bn_running: str):
        """The two-pass modes of :meth:`_forward_both`."""
        steps = per_step_batchnorm(self, x_dvs.shape[0]) if per_step else contextlib.nullcontext()
        with steps:
            if bn_running == "both":  # He et al.'s order: the RGB/static stream first (vgg_snn.py:257-276)
                ls, fs = self.forward(x_static, head="static", return_features=True)
                ld, fd = self.forward(x_dvs, head="dvs", return_features=True)
            else:
                ld, fd = self.forward(x_dvs, head="dvs", return_features=True)
                with frozen_running_stats(self):
                    ls, fs = self.forward(x_static, head="static", return_features=True)
        return ld, ls, fd, fs

    def forward_dvs(self, x: torch.Tensor, bn_stats: str = "mixed") -> torch.Tensor:
        """DVS-head logits ``[T, B, classes]`` of one stream (``dvs-only`` training); with
        ``per-stream-per-step`` BN normalises each time step separately (the other modes are
        the same for a single stream)."""
        if bn_stats == "per-stream-per-step":
            with per_step_batchnorm(self, x.shape[0]):
                return self.forward(x, head="dvs")
        return self.forward(x, head="dvs")


def scaled(channels: int, width: float) -> int:
    """Width multiplier: ``max(1, round(channels * width))``."""
    return max(1, int(round(channels * float(width))))
