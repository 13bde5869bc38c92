#!/usr/bin/env bash
# The GPU experiment of docs/results.md and docs/performance.md, in stages that each fit one device command
# (<= 10 minutes; stages of different runs may go in parallel). Run from the repository root on the GPU machine,
# with .whl/ (scripts/device_wheels.sh) and .cleanrl/ (benchmarks/train_speed.py) carried there. Results that
# must come back are packed into $OUT (default ./gpu_out).
#
#   scripts/gpu_experiment.sh speed                     # benchmarks/train_speed.py
#   scripts/gpu_experiment.sh train maze SECONDS        # maze-topright, every-step recording (resumes if present)
#   scripts/gpu_experiment.sh train coinrun SECONDS     # coinrun, no recording (resumes if present)
#   scripts/gpu_experiment.sh evaluate RUN VARIANT      # EPISODES episodes on fixed seeds -> runs/RUN/eval_VARIANT.json
#   scripts/gpu_experiment.sh svd                       # centred svd of maze's updates (k 50)
#   scripts/gpu_experiment.sh svd-uncentred             # uncentred, with the low-rank reconstruction check
#   scripts/gpu_experiment.sh ablate early|late|layer   # against CONTROLS random controls, EPISODES per variant
#   scripts/gpu_experiment.sh pack                      # models, reports and the late ablation's episodes -> $OUT
set -euo pipefail
OUT=${OUT:-gpu_out}
mkdir -p "$OUT" runs
export PYTHONUNBUFFERED=1 PYTHONPATH=/tmp/site:$PWD
(
  flock 9  # parallel stages set up once
  [ -d /tmp/site ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    .whl/*.whl
  # procgen's libenv.so links libGL and the X11 client libraries: add those the machine lacks, replace none
  if [ -d .gl ] && ! ldconfig -p | grep -q 'libGL.so.1 '; then
    shopt -s nullglob
    for deb in .gl/*.deb; do dpkg -x "$deb" /tmp/gl; done
    for lib in /tmp/gl/usr/lib/x86_64-linux-gnu/*.so* /tmp/gl/lib/x86_64-linux-gnu/*.so*; do
      [ -e "/usr/lib/x86_64-linux-gnu/$(basename "$lib")" ] || cp -a "$lib" /usr/lib/x86_64-linux-gnu/
    done
    ldconfig
  fi
) 9>/tmp/misgen-install.lock
misgen() { python3 -m cli "$@"; }
EPISODES=${EPISODES:-1000}
CONTROLS=${CONTROLS:-10}
N_ENVS=${N_ENVS:-128}
declare -A VARIANT=([maze]=maze-topright [coinrun]=coinrun)
declare -A RECORD=([maze]=grads,updates [coinrun]=none)

case "$1" in
speed)
  python3 benchmarks/train_speed.py --json "$OUT/speed.json" 2>&1 | tee "$OUT/speed.log"
  ;;
train)  # SIGINT at the deadline: misgen train stops cleanly, with a checkpoint and model.zip
  resume=(); [ -d "runs/$2" ] && resume=(--resume)
  timeout -s INT "$3" python3 -m cli train "${VARIANT[$2]}" --out "runs/$2" --timesteps 200000000 \
    --record "${RECORD[$2]}" --checkpoint-every 2000000 --no-progress "${resume[@]}" 2>&1 \
    | tail -2 | tee -a "runs/$2.train.log" || true
  ;;
evaluate)
  misgen evaluate "runs/$2" --variant "$3" --episodes "$EPISODES" --n-envs "$N_ENVS" --json > "runs/$2/eval_$3.json"
  ;;
svd)
  misgen svd runs/maze --stream updates --k 50 --reconstruct none --json > runs/maze/svd_summary.json
  ;;
svd-uncentred)
  misgen svd runs/maze --stream updates --no-center --k 20 --out runs/maze/svd_uncentred.h5 \
    --reconstruct 1,5,20 --episodes 200 > runs/maze/svd_uncentred.txt
  ;;
ablate)
  common=(--controls "$CONTROLS" --episodes "$EPISODES" --n-envs "$N_ENVS")
  case "$2" in
  early|late) misgen ablate runs/maze "--$2" 3 "${common[@]}" > "runs/maze/ablate_$2.txt" ;;
  layer)  # the top layer of the latest component above the time-shuffle null
    layer=$(python3 -c '
import json
summary = json.load(open("runs/maze/svd_summary.json"))
above = summary["components"][:max(1, summary["nulls"]["n_above_shuffle"])]
print(max(above, key=lambda c: c["position"])["top_layers"][0]["name"])')
    misgen ablate runs/maze --group "$layer" --mode init "${common[@]}" > runs/maze/ablate_layer.txt ;;
  esac
  ;;
pack)
  for run in maze coinrun; do [ -f "runs/$run/model.zip" ] && cp "runs/$run/model.zip" "$OUT/${run}_model.zip"; done
  tar czf "$OUT/reports.tgz" --exclude='*.h5' --exclude='*.zip' --exclude=checkpoints runs
  ls runs/maze/ablations/late_*/original_maze.h5 >/dev/null 2>&1 && tar czf "$OUT/late_episodes.tgz" \
    runs/maze/ablations/late_*/original_maze.h5 runs/maze/ablations/late_*/ablated_maze.h5
  ls -la "$OUT"
  ;;
*)
  echo "usage: $0 speed | train maze|coinrun SECONDS | evaluate RUN VARIANT | svd | svd-uncentred |" \
       "ablate early|late|layer | pack" >&2
  exit 2
  ;;
esac
