#!/usr/bin/env bash
# Second stage of the bundled LoFTR: fine-tune a small vessel-input checkpoint on fresh synthetic triplets with larger
# shifts (up to 30 % of the side) at a lower learning rate. Running it again continues the run (`vreg train --resume`).
#   FROM=data_specs/weights/loftr_small_vessels.ckpt (or runs/small/best.ckpt after `just train-small`)
#   RUN=runs/ft  STEPS=600  SIZE=256  N=320 (samples per vessel source, seeds 21 and 22)  THREADS=1
#   DRIVE=../shared/data/drive (a folder in DRIVE's layout; the 6 bundled masks when it is absent)
# About 80 min on one core of the 2-core CPU machine. Extra arguments go to `vreg train` (first run only).
set -euo pipefail
FROM=${FROM:-data_specs/weights/loftr_small_vessels.ckpt}
RUN=${RUN:-runs/ft}
STEPS=${STEPS:-600}
SIZE=${SIZE:-256}
N=${N:-320}
THREADS=${THREADS:-1}
DRIVE=${DRIVE:-../shared/data/drive}
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
DATA="$RUN/data/train${SIZE}.h5"

if [ -f "$RUN/last.ckpt" ]; then
    exec vreg train --resume "$RUN" --max-steps "$STEPS"
fi

if [ ! -f "$DATA" ]; then
    [ -d "$DRIVE/vessels" ] || DRIVE=drive
    bash scripts/synth_training_set.sh "$DATA" "$N" "$SIZE" "$DRIVE" 21
fi

vreg train --data "$DATA" --out "$RUN" --weights "$FROM" --freeze none --max-steps "$STEPS" --batch-size 4 --lr 5e-4 \
    --warmup-steps 20 --max-rotation 20 --scale-range 0.8,1.25 --max-translation 0.3 --photometric \
    --pairs cf-fa,cf-oct --val-every 50 --ckpt-every 25 --val-items 32 --workers 1 --seed 1 "$@"
