#!/usr/bin/env bash
# Train the small vessel-input LoFTR from scratch on synthetic triplets (procedural + DRIVE vessel trees).
#
# Sized for 2 CPU cores and about 1.5 hours (400 steps); run it in the background (`just train-small &`). Running it again
# continues the run exactly where it stopped (`vreg train --resume`). Settings come from the environment:
#   RUN=runs/small  STEPS=400  SIZE=256  N=320 (samples per vessel source)  THREADS=2
#   DRIVE=../shared/data/drive (a folder in DRIVE's layout; the 6 bundled masks when it is absent)
# Extra arguments go to `vreg train` (first run only), e.g. `just train-small --max-rotation 180`.
set -euo pipefail
RUN=${RUN:-runs/small}
STEPS=${STEPS:-400}
SIZE=${SIZE:-256}
N=${N:-320}
THREADS=${THREADS:-2}
DRIVE=${DRIVE:-../shared/data/drive}
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
DATA="$RUN/data/train${SIZE}.h5"

if [ -f "$RUN/last.ckpt" ]; then
    exec vreg train --resume "$RUN" --max-steps "$STEPS"
fi

if [ ! -f "$DATA" ]; then
    [ -d "$DRIVE/vessels" ] || DRIVE=drive
    bash scripts/synth_training_set.sh "$DATA" "$N" "$SIZE" "$DRIVE" 11
fi

# Residual rotation and scale as LoFTR sees them after classic's pre-alignment (<= 20 deg, 0.8-1.25).
vreg train --data "$DATA" --out "$RUN" --arch small --input vessels --max-steps "$STEPS" --batch-size 4 --lr 1e-3 \
    --max-rotation 20 --scale-range 0.8,1.25 --max-translation 0.15 --photometric --pairs cf-fa,cf-oct \
    --val-every 50 --ckpt-every 25 --val-items 32 --workers 1 --seed 0 "$@"
