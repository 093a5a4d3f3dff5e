#!/usr/bin/env bash
# Train the small vessel-input LoFTR on synthetic triplets (procedural + DRIVE vessel trees), in one of two stages:
#   stage 1 (FROM unset, `just train-small`): from scratch, shifts <= 15 %, lr 1e-3; RUN=runs/small STEPS=400 SEED=11
#   stage 2 (FROM=a checkpoint, `just finetune-small`): fine-tune FROM on fresh triplets with shifts <= 30 %, lr 5e-4;
#            RUN=runs/ft STEPS=600 SEED=21 (the bundled model is stage 2 on top of stage 1)
# Each takes about 1.5 hours on the 2 CPU cores; run it in the background. Running it again continues the run exactly
# where it stopped (`vreg train --resume`). Other settings from the environment:
#   SIZE=256  N=320 (samples per vessel source; seeds SEED and SEED+1)  THREADS=2 (stage 1) / 1 (stage 2)
#   DRIVE=../shared/data/drive (a folder in DRIVE's layout; the 6 bundled masks when it is absent)
# Extra arguments go to `vreg train` (first run only), e.g. `just train-small --max-rotation 180`.
set -euo pipefail
FROM=${FROM:-}
if [ -z "$FROM" ]; then RUN=${RUN:-runs/small} STEPS=${STEPS:-400} SEED=${SEED:-11} THREADS=${THREADS:-2}
else RUN=${RUN:-runs/ft} STEPS=${STEPS:-600} SEED=${SEED:-21} THREADS=${THREADS:-1}; fi
SIZE=${SIZE:-256}
N=${N:-320}
DRIVE=${DRIVE:-../shared/data/drive}
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
DATA="$RUN/data/train${SIZE}.h5"

if [ -f "$RUN/last.ckpt" ]; then
    exec vreg train --resume "$RUN" --max-steps "$STEPS"
fi

if [ ! -f "$DATA" ]; then
    [ -d "$DRIVE/vessels" ] || DRIVE=drive
    bash experiments/synth_training_set.sh "$DATA" "$N" "$SIZE" "$DRIVE" "$SEED"
fi

# shellcheck source=experiments/small_recipe.sh
source experiments/small_recipe.sh
common=(--data "$DATA" --out "$RUN" "${SMALL_MODEL[@]}" "${SMALL_AUGMENT[@]}" --max-steps "$STEPS"
        --val-every 50 --ckpt-every 25 --val-items 32 --workers 1)
if [ -z "$FROM" ]; then
    vreg train "${common[@]}" "${SMALL_STAGE1[@]}" --seed 0 "$@"
else
    vreg train "${common[@]}" "${SMALL_STAGE2[@]}" --weights "$FROM" --freeze none --seed 1 "$@"
fi
