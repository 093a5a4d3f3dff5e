# vreg task runner: `just --list` shows the recipes.

set positional-arguments

# Run the test suite (CPU only, tiny images)
test *args:
    python3 -m pytest "$@"

# Lint and format check
lint:
    ruff check vreg_cli tests scripts
    ruff format --check vreg_cli tests scripts

# Benchmark the bundled methods (classic, sift) on the real dev pairs into bench/methods (extra args: --resume, --force, --workers 2)
bench-methods *args:
    vreg benchmark --pairs-dir ../shared/data/mmim_retina_dev --method classic --method sift --out bench/methods {{args}}

# Data throughput: synth, pack and random-access HDF5 reads in samples/s (extra args: --n 200 --size 512 --compression gzip1 gzip4 lzf none)
bench-data *args:
    python3 scripts/bench_data.py "$@"

# Benchmark classic against SIFT on the real dev pairs (8 CF-FA pairs x 8 rotation bins) into bench/classic (extra args: --resume, --force)
bench-classic *args:
    vreg benchmark --pairs-dir ../shared/data/mmim_retina_dev --method classic --method sift --out bench/classic {{args}}

# Training-step cost, default frozen policy vs --freeze none (512 px, batch 1; CPU and CUDA when present)
bench-train *args:
    python3 scripts/bench_train.py "$@"

# Seconds per pair of `vreg register` (classic, sift, loftr with random-init weights) on the bundled pair + LoFTR profile
bench-register *args:
    python3 scripts/bench_register.py "$@"
