#!/usr/bin/env bash
# One training HDF5 of synthetic triplets on two kinds of vessel tree, for train_small.sh and gpu_train.sh:
#   bash scripts/synth_training_set.sh OUT.h5 N SIZE DRIVE SEED [SPLIT]
# N samples with procedural trees (seed SEED) and N on DRIVE's manual masks (seed SEED+1; DRIVE is a folder in
# DRIVE's layout, or "drive" for the 6 bundled masks), in one flat tree with ids prefixed by their source, split
# 0.95 / 0.05 / 0 (train / val / test).
set -euo pipefail
out=$1 n=$2 size=$3 drive=$4 seed=$5 split=${6:-0.95,0.05,0}
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
vreg synth "$src/proc" --n "$n" --size "$size" --layout flat --seed "$seed"
vreg synth "$src/drive" --n "$n" --size "$size" --layout flat --seed "$((seed + 1))" --vessels "$drive"
for kind in proc drive; do
    for dir in "$src/$kind"/*/; do
        modality=$(basename "$dir")
        mkdir -p "$src/all/$modality"
        for f in "$dir"*.png; do mv "$f" "$src/all/$modality/${kind}_$(basename "$f")"; done
    done
done
mkdir -p "$(dirname "$out")"
vreg prepare "$src/all" -o "$out" --layout flat --split "$split" --force
