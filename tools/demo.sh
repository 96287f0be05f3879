#!/usr/bin/env bash
# `make demo`: the whole pipeline on the embedded N-Digits dataset, on the CPU.
#
#   ckd-data synth/show -> ckd-train teacher + 3 students (dvs-only, transfer, ckd)
#   -> ckd-export (NIR + ONNX, verified) -> ckd-deploy (loihi-sim and the cpu float reference)
#   -> ckd-report (the three students side by side; loihi-sim vs float for ckd)
#   -> ckd-train tsne (t-SNE of the three students' DVS test features, the CKD paper's Fig. 3)
#
# Everything lands in runs/demo/ (DEMO_OUT to change). Re-running is cheap: the dataset is skipped
# when complete and finished training runs are resumed (nothing left to do).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
OUT=${DEMO_OUT:-runs/demo}
CONFIG=${DEMO_CONFIG:-configs/ndigits-demo.yaml}
SEED=${DEMO_SEED:-0}
METHODS=(dvs-only transfer ckd)
mkdir -p "$OUT"
t0=$(date +%s)

stage() {  # stage NAME CMD...: run one stage, stop the demo with its exit status if it fails
  local name=$1; shift
  local s; s=$(date +%s)
  echo
  echo "== demo [$name] $*"
  "$@" || { rc=$?; echo "demo: stage '$name' failed (exit $rc)"; exit $rc; }
  echo "== demo [$name] done in $(( $(date +%s) - s )) s"
}

stage data        $BIN/ckd-data synth --out data/n-digits
stage data-show   $BIN/ckd-data show --data n-digits --out "$OUT/data-show"
stage teacher     $BIN/ckd-train teacher --config "$CONFIG" --out "$OUT/teacher" --seed "$SEED" --resume --no-progress
stage teacher-onnx $BIN/ckd-export --to onnx --teacher "$OUT/teacher/best.pt" -o "$OUT/teacher/teacher.onnx" --verify --samples 0

for m in "${METHODS[@]}"; do
  run="$OUT/$m"
  stage "train-$m"  $BIN/ckd-train student --method "$m" --teacher "$OUT/teacher/best.pt" --config "$CONFIG" \
                      --out "$run" --seed "$SEED" --resume --no-progress
  stage "nir-$m"    $BIN/ckd-export --to nir "$run/best.pt" -o "$run/model.nir" --verify --samples 0 \
                      --report "$run/export-verify.json"
  stage "onnx-$m"   $BIN/ckd-export --to onnx "$run/best.pt" -o "$run/model.onnx" --verify --samples 0
  stage "loihi-$m"  $BIN/ckd-deploy --target loihi-sim "$run/model.nir" --data n-digits --sim fast --out "$run/deploy-loihi"
done
stage cpu-ckd       $BIN/ckd-deploy --target cpu "$OUT/ckd/model.nir" --data n-digits --out "$OUT/ckd/deploy-cpu"

stage compare-methods $BIN/ckd-report "$OUT"/{dvs-only,transfer,ckd}/deploy-loihi/report.json \
                        --labels dvs-only,transfer,ckd --out "$OUT/comparison"
stage tsne          $BIN/ckd-train tsne "$OUT"/{dvs-only,transfer,ckd}/best.pt --labels dvs-only,transfer,ckd \
                        --out "$OUT/tsne"
stage compare-targets $BIN/ckd-report "$OUT/ckd/deploy-loihi/report.json" "$OUT/ckd/deploy-cpu/report.json" \
                        --labels ckd-loihi-sim,ckd-cpu-float --out "$OUT/comparison-targets"
echo
echo "demo: finished in $(( $(date +%s) - t0 )) s"
echo "demo: students compared in $OUT/comparison/comparison.md (+ comparison.png)"
echo "demo: loihi-sim vs float reference in $OUT/comparison-targets/comparison.md"
echo "demo: t-SNE of the students' DVS test features in $OUT/tsne/tsne.png (silhouettes in tsne.json)"
echo "demo: per-run reports in $OUT/<method>/deploy-loihi/report.md; data grids in $OUT/data-show/"
