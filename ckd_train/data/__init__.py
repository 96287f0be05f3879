"""Paired RGB/DVS datasets for CKD: the embedded N-Digits emulator, loaders for N-Caltech101,
Caltech101 and CEP-DVS, events → frames, HSV, splits and pairing (see ARCHITECTURE.md, "Data").

    from ckd_toolchain.ckd_train.data import build_datasets, DataConfig
    data = build_datasets(DataConfig(name="n-digits", T=8))
    frames, label = data.dvs_train[0]          # float32 [T, 2, 48, 48]
    hsv, label = data.rgb_train[data.pair_rgb_index(0, rng)]
"""
from ckd_toolchain.ckd_train.data.config import DATASET_NAMES, FRAME_ENCODINGS, DataConfig, default_data_root
from ckd_toolchain.ckd_train.data.datasets import DvsFrames, PairedData, RgbImages, build_datasets
from ckd_toolchain.ckd_train.data.hsv import static_frames

__all__ = ["DataConfig", "PairedData", "build_datasets", "DvsFrames", "RgbImages", "static_frames",
           "default_data_root", "DATASET_NAMES", "FRAME_ENCODINGS"]
