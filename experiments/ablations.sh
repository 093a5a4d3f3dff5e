#!/usr/bin/env bash
# The training ablations of the small vessel-input LoFTR, each at the same step budget and over several seeds:
#   recipe  stage 1 of `just train-small` (experiments/small_recipe.sh; `vreg train`'s default --vessel-eps 1e-4)
#   eps01   the same with --vessel-eps 0.1 (background cells weigh almost as much as vessel cells)
#   gray    the same with --input gray (the grey image instead of classic's vessel map)
#   rot180  the same with --max-rotation 180 (full rotation instead of what LoFTR sees after pre-alignment)
# Every run trains from scratch on one training file and is scored on one held-out file no run trains on (its own
# synthetic triplets, other seeds), on the same validation pairs at +-20 deg (experiments/eval_checkpoints.py). Prints
# mean, spread and every seed of the held-out top-1 and coarse precision on vessel cells, and writes them to
# $OUT/ablations.csv (per run) and $OUT/summary.csv (per variant).
#   OUT=runs/ablate STEPS=60 SEEDS="0 1 2" N=160 HOLDOUT_N=20 SIZE=256 DRIVE=../shared/data/drive \
#       bash experiments/ablations.sh                                                          # `just ablations`
# N and HOLDOUT_N are triplets per vessel source (procedural and DRIVE trees). Two runs train side by side with one
# torch thread each (2 cores). A rerun resumes unfinished runs and skips finished ones.
set -euo pipefail
OUT=${OUT:-runs/ablate}
STEPS=${STEPS:-60}
SEEDS=${SEEDS:-0 1 2}
N=${N:-160}
HOLDOUT_N=${HOLDOUT_N:-20}
SIZE=${SIZE:-256}
DRIVE=${DRIVE:-../shared/data/drive}
[ -d "$DRIVE/vessels" ] || DRIVE=drive
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
DATA="$OUT/data/train${SIZE}.h5"
HOLDOUT="$OUT/data/holdout${SIZE}.h5"
[ -f "$DATA" ] || bash experiments/synth_training_set.sh "$DATA" "$N" "$SIZE" "$DRIVE" 11
[ -f "$HOLDOUT" ] || bash experiments/synth_training_set.sh "$HOLDOUT" "$HOLDOUT_N" "$SIZE" "$DRIVE" 101 0,1,0

# shellcheck source=experiments/small_recipe.sh
source experiments/small_recipe.sh
variant_args() {  # variant_args NAME: what the variant changes from the recipe (stage 1 of experiments/small_recipe.sh)
    case $1 in
        recipe) echo "" ;;
        eps01) echo "--vessel-eps 0.1" ;;
        gray) echo "--input gray" ;;
        rot180) echo "--max-rotation 180" ;;
    esac
}

train() {  # train VARIANT SEED
    local run="$OUT/$1_s$2" done_at
    done_at=$( [ -f "$run/metrics.csv" ] && tail -n 1 "$run/metrics.csv" | cut -d, -f1 || echo 0)
    if [ "${done_at:-0}" -ge "$STEPS" ] 2>/dev/null; then
        echo "$run: already trained to step $done_at"
    elif [ -f "$run/last.ckpt" ]; then
        vreg train --resume "$run" --max-steps "$STEPS"
    else
        # shellcheck disable=SC2046
        vreg train --data "$DATA" --out "$run" "${SMALL_MODEL[@]}" "${SMALL_AUGMENT[@]}" "${SMALL_STAGE1[@]}" \
            $(variant_args "$1") --max-steps "$STEPS" --val-every "$STEPS" --ckpt-every 20 --val-items 8 \
            --workers 0 --seed "$2"
    fi
}

runs=()
for seed in $SEEDS; do for variant in recipe eps01 gray rot180; do runs+=("$variant $seed"); done; done
for ((k = 0; k < ${#runs[@]}; k += 2)); do
    read -r v1 s1 <<< "${runs[k]}"
    train "$v1" "$s1" > "$OUT/${v1}_s${s1}.log" 2>&1 &
    first=$!
    if ((k + 1 < ${#runs[@]})); then
        read -r v2 s2 <<< "${runs[k + 1]}"
        train "$v2" "$s2" > "$OUT/${v2}_s${s2}.log" 2>&1
    fi
    wait "$first"
    echo "trained: ${runs[*]:k:2}"
done

ckpts=()
for r in "${runs[@]}"; do read -r v s <<< "$r"; ckpts+=("$OUT/${v}_s${s}/last.ckpt"); done
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
python3 experiments/eval_checkpoints.py "$HOLDOUT" cf-fa,cf-oct "${ckpts[@]}" --csv "$OUT/ablations.csv"
python3 - "$OUT" <<'PY'
import sys
from pathlib import Path

import pandas as pd

from vreg_cli.io import write_csv

out = Path(sys.argv[1])
runs = pd.read_csv(out / "ablations.csv")
parts = runs["checkpoint"].map(lambda p: Path(p).parent.name).str.rsplit("_s", n=1)  # VARIANT_sSEED
runs["variant"], runs["seed"] = parts.str[0], parts.str[1].astype(int)
order = ["recipe", "eps01", "gray", "rot180"]
rows = []
for v in order:
    g = runs[runs["variant"] == v].sort_values("seed")
    rows.append({
        "variant": v, "seeds": len(g),
        "top1_mean": g["val_top1"].mean(), "top1_sd": g["val_top1"].std(ddof=1) if len(g) > 1 else float("nan"),
        "precision_mean": g["val_precision"].mean(),
        "top1_per_seed": " ".join(f"{x:.3f}" for x in g["val_top1"]),
    })
summary = pd.DataFrame(rows)
write_csv(out / "summary.csv", summary)
print("| variant | seeds | held-out top-1, mean ± sd | per seed | precision, mean |")
print("|---|---:|---|---|---:|")
for r in rows:
    print(f"| {r['variant']} | {r['seeds']} | {r['top1_mean']:.3f} ± {r['top1_sd']:.3f} | {r['top1_per_seed']} | "
          f"{r['precision_mean']:.3f} |")
PY
