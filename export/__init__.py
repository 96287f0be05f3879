"""``ckd-export``: a trained student → NIR graph (Loihi path) and ONNX (GPU reference).

* :mod:`export.nir_from_student` — the mapping ``features`` + ``head_dvs`` → ``nir.NIRGraph``;
* BatchNorm folding lives in :mod:`ckd_train.models.bn_fold` (fixed-point-aware training folds too);
* :mod:`export.lif_to_nir` — snnTorch LIF → ``nir.LIF`` (tau, r, dt) and why it is exact;
* :mod:`export.nir_metadata` — the ``graph.metadata`` schema (``ckd-nir/1``) and its decoding;
* :mod:`export.unsupported` — the error for layers that cannot be exported;
* :mod:`export.verify` — the NIR file simulated by ``simulators.nir_float`` and Norse vs the student;
* :mod:`export.onnx_export` — student unrolled over ``T`` and teacher to ONNX, onnxruntime check;
* :mod:`export.cli` — the ``ckd-export`` console script.
"""
