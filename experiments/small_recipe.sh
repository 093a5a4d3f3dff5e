# The small vessel-input LoFTR's training recipe: the one definition that experiments/train_small.sh (stages 1 and 2),
# experiments/ablations.sh, experiments/forgetting.sh and experiments/gpu_train.sh pass to `vreg train` (source this file).
# A later option on the command line overrides an earlier one, so a script states only what it changes.
# shellcheck disable=SC2034
SMALL_MODEL=(--arch small --input vessels)
# Residual rotation and scale as LoFTR sees pairs after classic's pre-alignment (<= 20 deg, 0.8-1.25).
SMALL_AUGMENT=(--max-rotation 20 --scale-range 0.8,1.25 --photometric)
# Stage 1, from scratch: shifts <= 15 % of the image.
SMALL_STAGE1=(--modalities cf-fa,cf-oct --batch-size 4 --lr 1e-3 --max-translation 0.15)
# Stage 2, fine-tuning stage 1 on fresh triplets: shifts <= 30 %, half the learning rate.
SMALL_STAGE2=(--modalities cf-fa,cf-oct --batch-size 4 --lr 5e-4 --warmup-steps 20 --max-translation 0.3)
