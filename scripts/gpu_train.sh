#!/usr/bin/env bash
# The GPU variant of `just train-small`: one unattended run of at most ~10 minutes that writes every figure to $OUT.
#
#   OUT=/tmp/gpu just train-gpu          (on the device machine: OUT is set by the device tool)
#
# It needs only the repository (the 6 bundled DRIVE masks and the bundled sample pair; no ../shared):
#   1. synthetic triplets at 384 px (procedural + bundled DRIVE vessel trees), packed to HDF5;
#   2. `vreg train` of the small vessel-input preset from scratch on CUDA (bf16), time-boxed by STEPS;
#   3. throughput of a training step (default frozen policy vs --freeze none, `scripts/bench_train.py`);
#   4. `vreg benchmark` of the new checkpoint (prealign=none, 0/15/30 deg) and classic on the bundled sample pair.
# Bring $OUT/run/best.ckpt back and benchmark it on the real dev pairs on the CPU machine.
set -euo pipefail
OUT=${OUT:?set OUT to the folder for the results}
STEPS=${STEPS:-1500}
SIZE=${SIZE:-384}
N=${N:-600}
DEVICE=${DEVICE:-cuda}   # DEVICE=cpu STEPS=2 N=4 SIZE=128 BENCH_SIZE=128 checks the script on a CPU machine
BENCH_SIZE=${BENCH_SIZE:-512}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
nvidia-smi || true
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
src=$(mktemp -d)
start=$(date +%s)
bash scripts/synth_training_set.sh "$src/train.h5" "$N" "$SIZE" drive 21
echo "data: $(( $(date +%s) - start )) s"
t0=$(date +%s)
# shellcheck source=scripts/small_recipe.sh
source scripts/small_recipe.sh
# Stage 1 of the CPU recipe with a 4x batch and 2x learning rate.
vreg train --data "$src/train.h5" --out "$OUT/run" "${SMALL_MODEL[@]}" "${SMALL_AUGMENT[@]}" "${SMALL_STAGE1[@]}" \
    --batch-size 16 --lr 2e-3 --max-steps "$STEPS" --val-every 250 --ckpt-every 250 --val-items 64 --workers 8 \
    --device "$DEVICE" --seed 0
echo "train: $(( $(date +%s) - t0 )) s for $STEPS steps"
python3 scripts/bench_train.py --size "$BENCH_SIZE" --steps 5 --device "$DEVICE" --out "$OUT/bench_train.json" \
    > "$OUT/bench_train.txt" 2>&1 || true
mkdir -p "$src/pairs" && cp -r retinareg/resources/sample "$src/pairs/sample"
ckpt="$OUT/run/best.ckpt"
[ -f "$ckpt" ] || ckpt="$OUT/run/last.ckpt"   # a run shorter than --val-every (the CPU check) has no best.ckpt
vreg benchmark --pairs-dir "$src/pairs" --pairs-layout landmarks-csv --bins 0,15,30 \
    --method classic --method "ours=loftr:checkpoint=$ckpt,prealign=none,device=$DEVICE" \
    --out "$OUT/bench_sample" || true
echo "total: $(( $(date +%s) - start )) s"
