#!/usr/bin/env bash
# Rebuilds every file of models/shapes-32 and models/shapes-32-flow from scratch, deterministically
# (fixed seeds, step-based budgets). Needs Debian's python3-torch, python3-onnx, python3-numpy,
# python3-pil and libopenblas0-pthread (without OpenBLAS, torch falls back to the reference BLAS
# and training is ~6x slower). Run: bash models/build/build.sh [stage...]
# Stages: data train1 train2 export eval (default: all). ~45 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PY:-/usr/bin/python3}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
W=${DIFFGRAPH_WORK:-work}
mkdir -p "$W/logs"
VAE_STEPS=${VAE_STEPS:-700}
ATTR_STEPS=${ATTR_STEPS:-800}
EPS_STEPS=${EPS_STEPS:-5000}
FLOW_STEPS=${FLOW_STEPS:-3500}
NCLS_STEPS=${NCLS_STEPS:-3000}
DEC_STEPS=${DEC_STEPS:-1000}
stages=${*:-data train1 train2 export eval}
if ! readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null | grep -q openblas; then
  echo "WARNING: libblas.so.3 is not OpenBLAS; training will be ~6x slower." >&2
  echo "         install it with: apt-get install -y libopenblas0-pthread" >&2
fi
stamp() { echo "[$(date +%H:%M:%S)] $*"; }
for s in $stages; do
  case $s in
    data)
      stamp data; $PY -c "import common; common.load_dataset()";;
    train1)  # VAE || clean-image attribute classifier (one thread each)
      stamp train1
      $PY train_vae.py "$VAE_STEPS" > "$W/logs/vae.log" 2>&1 &
      p1=$!
      $PY train_attr.py "$ATTR_STEPS" > "$W/logs/attr.log" 2>&1 &
      p2=$!
      wait $p1; wait $p2;;
    train2)  # UNet-eps || (UNet-flow ; noisy-latent classifier ; VAE decoder fine-tune)
      stamp train2
      $PY train_unet.py eps "$EPS_STEPS" > "$W/logs/unet_eps.log" 2>&1 &
      p1=$!
      ( $PY train_unet.py flow "$FLOW_STEPS" > "$W/logs/unet_flow.log" 2>&1 &&
        $PY train_noisy_cls.py "$NCLS_STEPS" > "$W/logs/noisy_cls.log" 2>&1 &&
        $PY finetune_dec.py "$DEC_STEPS" > "$W/logs/dec.log" 2>&1 ) &
      p2=$!
      wait $p1; wait $p2;;
    export)
      stamp export; $PY export.py 2>&1 | grep -v -i "warning" | tee "$W/logs/export.log";;
    eval)
      stamp eval; $PY evaluate.py 2>&1 | tee "$W/logs/eval.log";;
    *) echo "unknown stage $s"; exit 1;;
  esac
done
stamp done
