#!/usr/bin/env bash
# The forgetting question the frozen policy exists for: fine-tune the bundled LoFTR on CF-OCT only, once with
# `--freeze default` (backbone, positional encoding and fine preprocessing frozen, in eval()) and once with
# `--freeze none`, then measure CF-FA again: held-out synthetic CF-FA top-1 / precision (HOLDOUT, never trained on)
# and the real dev pairs with `loftr:prealign=none` at 0/15/30 deg (`vreg benchmark`).
#   DATA=runs/ftdata/train256.h5 HOLDOUT=runs/holdout/h256.h5 STEPS=200 LR=5e-4 OUT=runs/forget bash experiments/forgetting.sh
# Both fine-tunes run side by side with one torch thread each (2 cores); a rerun resumes them.
set -euo pipefail
DATA=${DATA:-runs/ftdata/train256.h5}
HOLDOUT=${HOLDOUT:-runs/holdout/h256.h5}
STEPS=${STEPS:-200}
LR=${LR:-5e-4}
OUT=${OUT:-runs/forget}
FROM=${FROM:-data_specs/weights/loftr_small_vessels.ckpt}
PAIRS_DIR=${PAIRS_DIR:-../shared/data/mmim_retina_dev}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

# shellcheck source=experiments/small_recipe.sh
source experiments/small_recipe.sh
finetune() {  # finetune POLICY: stage 2 of experiments/small_recipe.sh on CF-OCT only
    local run="$OUT/$1"
    if [ -f "$run/last.ckpt" ]; then
        vreg train --resume "$run" --max-steps "$STEPS"
    else
        vreg train --data "$DATA" --out "$run" "${SMALL_AUGMENT[@]}" "${SMALL_STAGE2[@]}" --weights "$FROM" \
            --freeze "$1" --modalities cf-oct --lr "$LR" --max-steps "$STEPS" --val-every "$STEPS" --ckpt-every 50 \
            --val-items 32 --workers 0 --seed 3
    fi
}
mkdir -p "$OUT"
finetune default > "$OUT/default.log" 2>&1 &
frozen=$!
finetune none > "$OUT/none.log" 2>&1
wait "$frozen"

echo "== held-out synthetic pairs ($HOLDOUT), bundled vs frozen vs unfrozen"
for pairs in cf-fa cf-oct; do
    python3 experiments/eval_checkpoints.py "$HOLDOUT" "$pairs" "$FROM" "$OUT/default/last.ckpt" "$OUT/none/last.ckpt"
done
echo "== real dev pairs, CF-FA, LoFTR alone"
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
vreg benchmark --pairs-dir "$PAIRS_DIR" --bins 0,15,30 --force --out "$OUT/bench" \
    --method bundled=loftr:prealign=none \
    --method frozen=loftr:checkpoint="$OUT/default/last.ckpt",prealign=none \
    --method unfrozen=loftr:checkpoint="$OUT/none/last.ckpt",prealign=none
