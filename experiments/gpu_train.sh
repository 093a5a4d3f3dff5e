#!/usr/bin/env bash
# The CUDA run (issue 34): one unattended script of at most BUDGET seconds that writes every figure to $OUT.
#
#   OUT=/tmp/gpu just train-gpu          (on the device machine: OUT is set by the device tool)
#   OUT=/tmp/gpu DEVICE=cpu SMOKE=1 just train-gpu    (a dry run of every step on a CPU machine, tiny sizes)
#
# It needs only the repository (the bundled DRIVE masks, sample pair and LoFTR). Each step runs under its own time
# limit and records its exit code and seconds in $OUT/status.tsv, so one failure does not hide the others:
#   data      synthetic triplets for step 5, synthesised in JOBS parallel processes, in the background
#   1. correctness: `vreg train --arch minima` from random init (bf16, CHECK_SIZE px); the same run's weights written
#      as a MINIMA file ({'state_dict'}, 'matcher.' prefix) and trained on with --freeze default (the users' path);
#      `torchrun --nproc_per_node 1` (NCCL on CUDA); `vreg register --method loftr:device=cuda` on the sample pair
#      with the bundled model and with the minima-size model
#   2. the training-step table: 512 / 640 px x frozen / not x bf16 / fp32, batches until out of memory
#      (benchmarks/bench_train.py --sweep -> $OUT/sweep.jsonl)
#   3. LoFTR inference per pair at INFER_SIZE px, with and without classic's pre-alignment, on DEVICE and on the CPU
#      (benchmarks/bench_register.py)
#   4. the rest of the budget: fine-tune FROM (the bundled small vessel-input model) with the recipe's stage 2 at
#      TRAIN_SIZE px, batch TRAIN_BATCH; the best checkpoint stripped to weights -> $OUT/loftr_gpu.ckpt
# Everything else (run logs, metrics, inference CSVs) comes back in $OUT/runs.tar.gz.
set -uo pipefail
OUT=${OUT:?set OUT to the folder for the results}
DEVICE=${DEVICE:-cuda}
FROM=${FROM:-data_specs/weights/loftr_small_vessels.ckpt}
if [ "${SMOKE:-0}" = 1 ]; then
    : "${N:=8}" "${TRAIN_SIZE:=128}" "${CHECK_SIZE:=128}" "${CHECK_STEPS:=2}" "${CHECK_BATCH:=2}" "${JOBS:=2}"
    : "${SWEEP_SIZES:=128}" "${SWEEP_BATCHES:=1,2}" "${INFER_SIZE:=256}" "${TRAIN_STEPS:=4}" "${TRAIN_BATCH:=2}"
    : "${WORKERS:=1}" "${BUDGET:=900}"
fi
BUDGET=${BUDGET:-500} JOBS=${JOBS:-12} N=${N:-1200} TRAIN_SIZE=${TRAIN_SIZE:-384} TRAIN_STEPS=${TRAIN_STEPS:-1500} TRAIN_BATCH=${TRAIN_BATCH:-32}
TRAIN_LR=${TRAIN_LR:-5e-4} WORKERS=${WORKERS:-12}
CHECK_SIZE=${CHECK_SIZE:-512} CHECK_STEPS=${CHECK_STEPS:-10} CHECK_BATCH=${CHECK_BATCH:-8}
SWEEP_SIZES=${SWEEP_SIZES:-512,640} SWEEP_BATCHES=${SWEEP_BATCHES:-8,16,24,32,48,64} SWEEP_LIMIT=${SWEEP_LIMIT:-200}
INFER_SIZE=${INFER_SIZE:-640}
W=$(mktemp -d)
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1

step() {  # step NAME LIMIT_S COMMAND...: run it under a time limit; name, exit code and seconds -> status.tsv
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS
    echo "== $name (limit ${limit} s, $(( BUDGET - SECONDS )) s of the budget left)"
    timeout -k 10 "$limit" "$@"
    local rc=$?
    printf '%s\t%s\t%s\n' "$name" "$rc" "$(( SECONDS - t0 ))" | tee -a "$OUT/status.tsv"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true
python3 -c "import torch, kornia, cv2; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), \
'kornia', kornia.__version__, 'opencv', cv2.__version__, 'cpus', torch.get_num_threads())"

# data for step 4, in the background while the GPU runs steps 1-3
JOBS=$JOBS timeout "$BUDGET" bash experiments/synth_training_set.sh "$W/train.h5" "$N" "$TRAIN_SIZE" drive 41 \
    > "$W/data.log" 2>&1 &
data_pid=$!
data_t0=$SECONDS

# 1. correctness on DEVICE
step check_data 60 bash experiments/synth_training_set.sh "$W/check.h5" 16 "$CHECK_SIZE" drive 51
check=(--data "$W/check.h5" --image-size "$CHECK_SIZE" --batch-size "$CHECK_BATCH" --max-steps "$CHECK_STEPS"
       --val-every "$CHECK_STEPS" --val-items 8 --workers 2 --device "$DEVICE" --seed 0)
step train_minima_random_init 150 vreg train "${check[@]}" --out "$W/minima_init" --arch minima --freeze none
step write_minima_file 30 python3 - "$W/minima_init/last.ckpt" "$W/minima_format.ckpt" <<'PY'
import sys

import torch

from vreg_cli.model.loftr import load_model

model = load_model(sys.argv[1])
torch.save({"state_dict": {f"matcher.{k}": v for k, v in model.state_dict().items()}}, sys.argv[2])
print("wrote", sys.argv[2])
PY
step train_minima_file_frozen 150 vreg train "${check[@]}" --out "$W/minima_frozen" --weights "$W/minima_format.ckpt" \
    --freeze default
NCCL_DEBUG=${NCCL_DEBUG:-WARN} step torchrun_1proc 150 torchrun --standalone --nproc_per_node 1 -m vreg_cli train "${check[@]}" \
    --out "$W/ddp" --arch small --input vessels --max-steps 4 --val-every 4
grep -h -i "nccl\|backend\|world" "$W/ddp/"*.log 2>/dev/null | head -3
sample=data_specs/sample
step register_bundled 90 vreg register "$sample/fixed.png" "$sample/moving.png" --method "loftr:device=$DEVICE" \
    -o "$W/registered.png" --landmarks "$sample/landmarks.csv" --transform-out "$W/register_bundled.json"
step register_minima 90 vreg register "$sample/fixed.png" "$sample/moving.png" \
    --method "loftr:checkpoint=$W/minima_frozen/last.ckpt,device=$DEVICE,size=$INFER_SIZE" \
    -o "$W/registered_minima.png" --transform-out "$W/register_minima.json"

# 2. the training-step table
step sweep "$SWEEP_LIMIT" python3 benchmarks/bench_train.py --sweep --device "$DEVICE" --sizes "$SWEEP_SIZES" \
    --batches "$SWEEP_BATCHES" --steps 3 --out "$OUT/sweep.jsonl"

# the training data must be done before the CPU is timed in step 3
wait "$data_pid"
printf '%s\t%s\t%s\n' data "$?" "$(( SECONDS - data_t0 ))" | tee -a "$OUT/status.tsv"

# 3. inference (the MINIMA architecture, random init, at INFER_SIZE) on DEVICE and on this machine's CPU
step infer_device 90 python3 benchmarks/bench_register.py --device "$DEVICE" --sizes "$INFER_SIZE" --skip-accuracy \
    --skip-others --repeats 5 --out "$W/infer_$DEVICE.csv"
step infer_cpu 90 python3 benchmarks/bench_register.py --device cpu --sizes "$INFER_SIZE" --skip-accuracy \
    --skip-others --repeats 2 --out "$W/infer_cpu.csv"

# 4. the better model: the rest of the budget (40 s kept for bundling and packing)
# shellcheck source=experiments/small_recipe.sh
source experiments/small_recipe.sh
step train_final "$(( BUDGET - SECONDS - 40 ))" vreg train --data "$W/train.h5" --out "$W/final" --weights "$FROM" \
    --freeze none "${SMALL_MODEL[@]}" "${SMALL_AUGMENT[@]}" "${SMALL_STAGE2[@]}" --image-size "$TRAIN_SIZE" \
    --batch-size "$TRAIN_BATCH" --lr "$TRAIN_LR" --warmup-steps 50 --max-steps "$TRAIN_STEPS" --val-every 250 \
    --ckpt-every 100 --val-items 64 --workers "$WORKERS" --device "$DEVICE" --seed 3
ckpt="$W/final/best.ckpt"
[ -f "$ckpt" ] || ckpt="$W/final/last.ckpt"
step bundle 30 python3 experiments/bundle_checkpoint.py "$ckpt" "$OUT/loftr_gpu.ckpt"

tar czf "$OUT/runs.tar.gz" -C "$W" --exclude='*.ckpt' --exclude='*.h5' --exclude='*.png' . 2>/dev/null
echo "total: $SECONDS s"
