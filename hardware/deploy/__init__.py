"""``ckd-deploy`` orchestration: :mod:`.pipeline` (``DeployRun``: map, run, reference, report) and
:mod:`.loihi_inference` (one batch through the fast simulator or genuine Lava)."""
