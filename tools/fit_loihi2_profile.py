"""Fit the Loihi 2 energy profile (``hardware/data/energy_loihi2_pilotnet_fit.yaml``) to lava-dl's
published PilotNet-LIF measurement, and print the estimate-to-measurement ratios.

What is published (lava-dl ``tutorials/lava/lib/dl/netx/pilotnet_snn/benchmark.ipynb``, commit
d825ac5, outputs of cells 17, 23 and 24; Loihi 2, ``oheogulch`` partition, ``network.net`` with
``reset_interval=16``, one frame held as the input bias, 10,000 steps): throughput 408.91
inferences/s; total power 0.679234 W, dynamic 0.447156 W, static 0.232078 W; total energy
1.661103 mJ and dynamic energy 1.093544 mJ per inference. No per-op Loihi 2 table is published.

The fit (one number from one measurement): ``k = E_dyn,measured / E_dyn,Davies`` where
``E_dyn,Davies`` is the Loihi 1 (Davies 2018 Table 2) per-op model on our counts of the same
file (``ckd-deploy`` report of ``network.net`` driven by ``--input-bias image.npy``, the PilotNet
frame in lava-dl's ``tests/lava/lib/dl/netx/gts/pilotnet_lif``; ``--steps 160 --reset-interval
16``). The Loihi 2 profile = every Davies energy x ``k`` + the measured static power. On
PilotNet its dynamic estimate equals the measurement by construction; the total
(dynamic + static power x our *estimated* latency) is the only part that is a prediction.

    python tools/fit_loihi2_profile.py REPORT_DIR     # the report of the run above
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

MEASURED = {"dynamic_J": 1.093544e-3, "total_J": 1.661103e-3, "static_W": 0.232078, "rate_per_s": 408.91}


def main(argv: list[str]) -> int:
    r = json.loads((Path(argv[0]) / "report.json").read_text())
    davies = r["energy"]["loihi"]["per_inference"]["value"]
    lat = r["latency"]["loihi"]["per_inference"]["value"]
    k = MEASURED["dynamic_J"] / davies
    total_est = k * davies + MEASURED["static_W"] * lat
    print(json.dumps({"davies_dynamic_J": davies, "k": k, "estimated_latency_s": lat,
                      "measured_latency_s": 1 / MEASURED["rate_per_s"],
                      "latency_ratio": lat * MEASURED["rate_per_s"],
                      "davies_over_measured_dynamic": davies / MEASURED["dynamic_J"],
                      "davies_over_measured_total": davies / MEASURED["total_J"],
                      "loihi2_total_estimate_J": total_est,
                      "loihi2_total_over_measured": total_est / MEASURED["total_J"],
                      "report_loihi2_view": (r["energy"].get("loihi2") or {}).get("per_inference")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
