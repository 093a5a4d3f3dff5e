#!/usr/bin/env bash
# One training HDF5 of synthetic triplets on two kinds of vessel tree, for train_small.sh and gpu_train.sh:
#   bash experiments/synth_training_set.sh OUT.h5 N SIZE DRIVE SEED [SPLIT]
# N samples with procedural trees (seed SEED) and N on DRIVE's manual masks (seed SEED+1; DRIVE is a folder in
# DRIVE's layout, or "drive" for the 6 bundled masks), in one flat tree with ids prefixed by their source, split
# 0.95 / 0.05 / 0 (train / val / test).
# JOBS=K (default 1) synthesises each source in K parallel processes of about N/K samples each; chunk j > 0 uses the
# seeds SEED+1000j and SEED+1+1000j (JOBS=1 gives exactly the samples above).
set -euo pipefail
out=$1 n=$2 size=$3 drive=$4 seed=$5 split=${6:-0.95,0.05,0}
jobs=${JOBS:-1}
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
pids=()
for ((j = 0; j < jobs; j++)); do
    count=$(( n / jobs + (j < n % jobs ? 1 : 0) ))
    [ "$count" -gt 0 ] || continue
    vreg synth "$src/proc$j" --n "$count" --size "$size" --layout flat --seed "$((seed + 1000 * j))" &
    pids+=($!)
    vreg synth "$src/drive$j" --n "$count" --size "$size" --layout flat --seed "$((seed + 1 + 1000 * j))" \
        --vessels "$drive" &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
for part in "$src"/proc* "$src"/drive*; do
    kind=$(basename "$part")
    [ "$jobs" -gt 1 ] || kind=${kind%0}   # JOBS=1: ids prefixed proc_ / drive_ as before
    for dir in "$part"/*/; do
        modality=$(basename "$dir")
        mkdir -p "$src/all/$modality"
        for f in "$dir"*.png; do mv "$f" "$src/all/$modality/${kind}_$(basename "$f")"; done
    done
done
mkdir -p "$(dirname "$out")"
vreg prepare "$src/all" -o "$out" --layout flat --split "$split" --force
