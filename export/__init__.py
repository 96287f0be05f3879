"""``ckd-export``: a trained student → NIR graph (Loihi path) and ONNX (GPU reference).

* :mod:`ckd_toolchain.export.nir_from_student` — the mapping ``features`` + ``head_dvs`` → ``nir.NIRGraph``;
* BatchNorm folding lives in :mod:`ckd_toolchain.ckd_train.models.bn_fold` (fixed-point-aware training folds too);
* :mod:`ckd_toolchain.export.lif_to_nir` — snnTorch LIF → ``nir.LIF`` (tau, r, dt) and why it is exact;
* :mod:`ckd_toolchain.nir_metadata` — the ``graph.metadata`` schema (``ckd-nir/1``) and its decoding;
* :mod:`ckd_toolchain.export.unsupported` — the error for layers that cannot be exported;
* :mod:`ckd_toolchain.export.verify` — the NIR file simulated by ``simulators.nir_float`` and Norse vs the student;
* :mod:`ckd_toolchain.export.onnx_export` — student unrolled over ``T`` and teacher to ONNX, onnxruntime check;
* :mod:`ckd_toolchain.export.cli_export` — the ``ckd-export`` console script.
"""
