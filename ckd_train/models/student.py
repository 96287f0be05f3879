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

import torch
from torch import nn

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
        from ckd_toolchain.ckd_train.models import fixed_point_training as fpt

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
                     spike_map: bool = False):
        """:meth:`_forward_both`; with ``spike_map=True`` a fifth element: the static stream's last
        spiking feature map ``[T, B, C, H, W]`` (input of :meth:`spike_map_layer`, for SAMD)."""
        if not spike_map:
            return self._forward_both(x_dvs, x_static, separate_bn)
        seen = []
        hook = self.spike_map_layer().register_forward_pre_hook(lambda _m, inp: seen.append(inp[0]))
        try:
            out = self._forward_both(x_dvs, x_static, separate_bn)
        finally:
            hook.remove()
        T, B = x_static.shape[:2]
        s = seen[-1]  # the static stream is the last pass (separate_bn) or the second half of one pass
        return (*out, s.reshape(T, -1, *s.shape[1:])[:, -B:])

    def _forward_both(self, x_dvs: torch.Tensor, x_static: torch.Tensor, separate_bn: bool = False):
        """Both streams through the shared student.

        ``separate_bn=False``: one pass over the concatenated ``[T, 2B, ...]`` batch (BN batch
        statistics and running statistics mix both domains). ``separate_bn=True``: two passes, each
        stream normalised with its own batch statistics, and only the DVS pass updates the BN running
        statistics (the static pass runs with momentum 0), so evaluation/deployment on DVS uses
        DVS-only statistics.

        Returns ``(logits_dvs, logits_static, feat_dvs, feat_static)``, each ``[T, B, ...]``.
        """
        if separate_bn:
            ld, fd = self.forward(x_dvs, head="dvs", return_features=True)
            bns = [m for m in self.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
            saved = [(m.momentum, m.num_batches_tracked.clone()) for m in bns]
            for m in bns:
                m.momentum = 0.0
            try:
                ls, fs = self.forward(x_static, head="static", return_features=True)
            finally:
                for m, (mom, nbt) in zip(bns, saved):
                    m.momentum = mom
                    m.num_batches_tracked.copy_(nbt)
            return ld, ls, fd, fs
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


def scaled(channels: int, width: float) -> int:
    """Width multiplier: ``max(1, round(channels * width))``."""
    return max(1, int(round(channels * float(width))))
