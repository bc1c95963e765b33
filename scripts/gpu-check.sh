#!/usr/bin/env bash
# Runs the pack's txt2img (and an SDXL-layout pipeline when one is under the models folder) on CUDA and
# on the CPU, compares the latents and decoded images, and prints timings. docs/gpu.md explains the
# tolerances and what has been verified.
#
#   scripts/gpu-check.sh [--models DIR] [--steps N] [--batch N] [--cpu-only]
#                        [--latent-tolerance X] [--image-tolerance X]
#
# Without the CUDA execution provider (or with --cpu-only) both sides run on the CPU, which checks the
# script and that runs are deterministic; it says so. Exit 0: every comparison within tolerance.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models="$repo/models"
steps=8
batch=2
cpu_only=0
# fp32 on both sides; the CUDA EP's TF32 matmuls and other kernels change rounding (docs/gpu.md).
latent_tolerance=5e-2
image_tolerance=5e-2

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --models) models="$(cd "$2" && pwd)"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --cpu-only) cpu_only=1; shift ;;
    --latent-tolerance) latent_tolerance="$2"; shift 2 ;;
    --image-tolerance) image_tolerance="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "gpu-check: unknown argument $1" >&2; usage ;;
  esac
done

# The CLI runs the packages' built JavaScript: bring it up to date first (incremental, quick when it is).
(cd "$repo" && node node_modules/typescript/bin/tsc -b tsconfig.build.json)
diffgraph() { node "$repo/packages/server/bin/diffgraph.js" "$@"; }
# The helper runs the TypeScript sources through tsx; the workspace packages' source export condition
# keeps @diffgraph/engine on its sources too, not dist/.
helper() { "$repo/node_modules/.bin/tsx" --conditions=@diffgraph/source "$repo/scripts/gpu-compare.ts" "$@"; }
work="$(mktemp -d "${TMPDIR:-/tmp}/diffgraph-gpu-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT

gpu=cuda
if [ "$cpu_only" = 1 ]; then
  gpu=cpu
  echo "gpu-check: --cpu-only: comparing CPU with CPU"
else
  # `run --device cuda` refuses with exit 2 before running anything when the CUDA provider is missing.
  probe="$work/probe.json"
  echo '{"format":"diffgraph/workflow@1","nodes":{"s":{"type":"Solver","inputs":{"kind":"euler"}}},"outputs":["s"]}' > "$probe"
  rc=0
  reason="$(diffgraph run "$probe" --device cuda --models "$models" --out "$work/probe" 2>&1 >/dev/null)" || rc=$?
  if [ "$rc" = 2 ]; then
    gpu=cpu
    echo "gpu-check: cuda unavailable (${reason#diffgraph: }); comparing CPU with CPU"
  elif [ "$rc" != 0 ]; then
    echo "gpu-check: probing --device cuda failed (exit $rc): $reason" >&2
    exit 1
  fi
fi

failed=0
# run <label> <workflow> <pipeline> <device>: one run into $work/<label>/<device>, timed.
run() {
  local dir="$work/$1/$4"
  mkdir -p "$dir"
  local started=$(date +%s%N)
  if ! diffgraph run "$work/$1.json" --device "$4" --models "$models" --out "$dir" --json > "$dir/events.jsonl" 2> "$dir/stderr.txt"; then
    echo "  FAIL: $1 on $4 did not succeed:"; sed 's/^/    /' "$dir/stderr.txt"; grep -h '"run.failed"\|"node.failed"' "$dir/events.jsonl" | sed 's/^/    /' || true
    return 1
  fi
  echo "  $4 run (load + sample + decode): $(( ($(date +%s%N) - started) / 1000000 )) ms"
}

# check <label> <workflow> <pipeline>: the same run on both sides, compared.
check() {
  echo "$1: $3 ($steps steps, batch $batch), $gpu vs cpu"
  helper prepare "$2" "$3" "$steps" "$batch" "$work/$1.json"
  local side_a="$gpu" side_b=cpu
  [ "$gpu" = cpu ] && side_a=cpu-first side_b=cpu-second
  mkdir -p "$work/$1"
  run "$1" "$2" "$3" "$gpu" && mv "$work/$1/$gpu" "$work/$1/$side_a" || { failed=1; return; }
  run "$1" "$2" "$3" cpu && { [ "$side_b" = cpu ] || mv "$work/$1/cpu" "$work/$1/$side_b"; } || { failed=1; return; }
  helper compare "$work/$1/$side_a" "$side_a" "$work/$1/$side_b" "$side_b" "$latent_tolerance" "$image_tolerance" || failed=1
}

check pack-txt2img "$repo/workflows/txt2img.json" shapes-32

sdxl="$(diffgraph models --models "$models" --json | node -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>{const m=JSON.parse(s).models.find(m=>m.layout==="diffusers-onnx-sdxl");process.stdout.write(m?m.name:"")})')"
if [ -z "$sdxl" ]; then
  echo "sdxl-layout: skipped (no SDXL-layout pipeline under $models)"
elif [ ! -f "$repo/workflows/sdxl-layout-smoke.json" ]; then
  echo "sdxl-layout: skipped ($sdxl found, but workflows/sdxl-layout-smoke.json is not in this build)"
else
  check sdxl-layout "$repo/workflows/sdxl-layout-smoke.json" "$sdxl"
fi

if [ "$failed" = 0 ]; then echo "gpu-check: all comparisons within tolerance"; else echo "gpu-check: FAILED"; fi
exit "$failed"
