# vreg task runner: `just --list` shows the recipes.

set positional-arguments

# The data the benchmark recipes read: the 8 annotated CF-FA pairs of the public MMIM multimodal retina database in
# the landmarks-csv layout (`just mmim-pairs MMIM OUT` builds them from a clone of the database: docs/benchmarking.md),
# and the unannotated sample pairs. Set VREG_DEV_PAIRS / VREG_SAMPLES to your copies; the defaults are where the
# development machines keep them.
dev_pairs := env_var_or_default("VREG_DEV_PAIRS", "../shared/data/mmim_retina_dev")
samples := env_var_or_default("VREG_SAMPLES", "../shared/data/samples")

# Run the test suite (CPU only, tiny images)
test *args:
    python3 -m pytest "$@"

# The fast tier while developing: every test not marked slow or browser (about 1.5 minutes on 2 cores; `just test`: 6.5)
test-fast *args:
    python3 -m pytest -m "not slow and not browser" "$@"

# The main job on bundled data: register the bundled real CF-FA pair (pictures in out/), then synth -> prepare -> info
demo:
    vreg register data_specs/sample/fixed.png data_specs/sample/moving.png -o out/registered.png --landmarks data_specs/sample/landmarks.csv --transform-out out/transform.json --checkerboard out/checkerboard.png --overlay out/overlay.png --matches out/matches.png
    vreg synth out/synth --n 8 --size 256 --seed 0
    vreg prepare out/synth -o out/synth.h5 --layout fives-generated --force
    vreg info out/synth.h5

# The documentation site and API reference into site/ (strict: a broken link, cross-reference or an undocumented public API object fails)
docs:
    mkdocs build --strict -d site

# Lint, format check and the import contracts (the layers in pyproject.toml's [tool.importlinter])
lint:
    ruff check vreg_cli tests benchmarks experiments examples docs/hooks.py
    ruff format --check vreg_cli tests benchmarks experiments examples docs/hooks.py
    lint-imports
    python3 -m mypy vreg_cli --ignore-missing-imports

# Data throughput: synth, pack and random-access HDF5 reads in samples/s (extra args: --n 200 --size 512 --compression gzip1 gzip4 lzf none)
bench-data *args:
    python3 benchmarks/bench_data.py "$@"

# The dev pairs (VREG_DEV_PAIRS) from a clone of the public MMIM database (docs/benchmarking.md): OUT/pair_NNN/ with fixed.png, moving.png, landmarks.csv (extra args: --ids 24,34)
mmim-pairs mmim out *args:
    python3 experiments/build_mmim_pairs.py --mmim {{quote(mmim)}} --out {{quote(out)}} {{args}}

# Benchmark classic against SIFT on the real dev pairs (8 CF-FA pairs x 8 rotation bins) into bench/classic (extra args: --resume, --force)
bench-classic *args:
    vreg benchmark --pairs-dir {{dev_pairs}} --method classic --method sift --out bench/classic "$@"

# Small-field-of-view protocol (zoomed-in 1.4-2.2x, degraded moving windows) on the dev pairs into bench/smallfov (extra args: --resume, --force)
bench-smallfov *args:
    vreg benchmark --pairs-dir {{dev_pairs}} --protocol smallfov --method classic --method sift --out bench/smallfov "$@"

# Real stress sets from the unannotated MIFNet samples (pseudo truth: experiments/pseudo_truth_set.py): CF-FA smallfov windows into bench/real_fa_windows, the CF-OCT sample rotated into bench/real_oct (extra args: --force)
bench-real-windows *args:
    python3 experiments/pseudo_truth_set.py {{samples}}/cf_fa_fixed.png {{samples}}/cf_fa_moving.png out/tune_mf_fa --name cf_fa --copies 20
    python3 experiments/pseudo_truth_set.py {{samples}}/cf_oct_fixed.png {{samples}}/cf_oct_moving.png out/tune_mf_oct --name cf_oct --copies 12
    vreg benchmark --pairs-dir out/tune_mf_fa --protocol smallfov --bins 0,45,90,135,180 --method classic --out bench/real_fa_windows "$@"
    vreg benchmark --pairs-dir out/tune_mf_oct --bins 0,45,90,135,180 --method classic --out bench/real_oct "$@"

# Negative cases that must be refused (other eye, other-eye windows, other modality, noise, blank) into bench/negatives
bench-negatives *args:
    python3 benchmarks/bench_negatives.py --out bench/negatives "$@"

# classic at working size 640 vs 320, interleaved on the same dev cases (seconds per pair and their ratio)
bench-working-size *args:
    python3 benchmarks/bench_working_size.py "$@"

# classic's seconds per pair in process, 1 thread, on the dev cases, and its split (extra args: --before DIR to interleave an earlier export, --split, --protocol smallfov, --out FILE)
bench-classic-speed *args:
    python3 benchmarks/bench_classic_speed.py "$@"

# Training-step cost, default frozen policy vs --freeze none (512 px, batch 1; CPU and CUDA when present)
bench-train *args:
    python3 benchmarks/bench_train.py "$@"

# Reading an OCT volume (49 B-scans of 512x496, HEYEX VOL) and making its en-face picture and localizer, cold and warm (extra args: --bscans N --depth N --width N --repeat N --out F.json)
bench-oct *args:
    python3 benchmarks/bench_oct.py "$@"

# QA page of a synthetic 2,000-pair batch: build time (cold and cached) and time to first rendered rows in headless Chromium (extra args: --rows N, --workers N, --repeat N; writes bench/qa_page.json)
bench-qa *args:
    python3 benchmarks/bench_qa_page.py "$@"

# Hostile inputs (docs/hostile_inputs.md): every kind of bomb and bad value, exit code, traceback, time and peak memory per case (extra args: --timeout 120)
bench-hostile *args:
    python3 benchmarks/bench_hostile.py "$@"

# Seconds per pair of `vreg register` (classic, sift, loftr with random-init weights) on the bundled pair + LoFTR profile
bench-register *args:
    python3 benchmarks/bench_register.py "$@"

# Python API against the command line: Registrar("classic") seconds per pair vs `vreg register` per call (8 rotated copies of the bundled pair), import time, `vreg register --method classic` wall time (extra args: --before DIR, an export of an earlier version; --repeat N)
bench-api *args:
    python3 benchmarks/bench_api.py "$@"

# Train the small vessel-input LoFTR from scratch on 2 CPU cores (400 steps, about 1.5 h; running it again resumes). Env: RUN, STEPS, SIZE, N, THREADS, DRIVE
train-small *args:
    bash experiments/train_small.sh "$@"

# Stage 2 of the bundled LoFTR: fine-tune FROM (default: the bundled file) on fresh triplets with shifts up to 30 % (~1.5 h; again = resume). Env: FROM, RUN, STEPS, SIZE, N, THREADS, DRIVE
finetune-small *args:
    FROM=${FROM:-data_specs/weights/loftr_small_vessels.ckpt} bash experiments/train_small.sh "$@"

# The CUDA run (<= 10 min, unattended; docs/gpu.md): correctness checks, training-step table, inference, a fine-tune. OUT=folder just train-gpu
train-gpu *args:
    bash experiments/gpu_train.sh "$@"

# The bundled LoFTR on the real dev pairs: classic vs loftr (pre-aligned) on 8 bins, then loftr:prealign=none at 0/15/30 deg (bench/learned*)
bench-learned *args:
    vreg benchmark --pairs-dir {{dev_pairs}} --method classic --method loftr --out bench/learned "$@"
    vreg benchmark --pairs-dir {{dev_pairs}} --bins 0,15,30 --method classic --method loftr:prealign=none --out bench/learned_direct "$@"

# Where classic refuses, is the truth among its ranked global hypotheses, and what does auto's LoFTR fallback get from each start (extra args: --pairs-dir DIR --protocol smallfov --bins ... --auto auto:starts=8 --out DIR)
bench-ranked-starts *args:
    python3 benchmarks/bench_ranked_starts.py "$@"

# How loftr:rough_min_verified was chosen: every LoFTR start forced rough on the late-FA windows (out/tune_mf_fa, `just bench-real-windows` builds it), verified share vs error per case into bench/rough_starts (extra args: --limit 3, --thresholds 0.05,0.1)
bench-rough-starts *args:
    python3 benchmarks/bench_rough_starts.py --pairs-dir out/tune_mf_fa --protocol smallfov --bins 0,45,90,135,180 --out bench/rough_starts "$@"

# Training ablations of the small LoFTR at one step budget over seeds: recipe vs --vessel-eps 0.1 vs --input gray vs --max-rotation 180, held-out top-1 mean and spread (into runs/ablate). Env: OUT, STEPS, SEEDS, N, HOLDOUT_N
ablations:
    bash experiments/ablations.sh

# The forgetting check of the frozen policy: fine-tune the bundled LoFTR on CF-OCT only with --freeze default vs none, then CF-FA again (held-out synthetic + dev pairs). Env: DATA, HOLDOUT, STEPS, LR, OUT
forgetting:
    bash experiments/forgetting.sh

# Cohort engine: a 2-worker local Dask cluster vs `--workers 2` (pairs/s, same rows) on the 64 dev cases, then a worker SIGKILLed mid-run (every pair once in summary.csv, outputs complete) into bench/cohort (extra args: --limit 8, --skip-throughput, --skip-kill)
bench-cohort *args:
    python3 benchmarks/bench_cohort.py --pairs-dir {{dev_pairs}} --out bench/cohort "$@"
