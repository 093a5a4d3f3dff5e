# vreg task runner: `just --list` shows the recipes.

set positional-arguments

# Run the test suite (CPU only, tiny images)
test *args:
    python3 -m pytest "$@"

# Lint and format check
lint:
    ruff check vreg_cli tests scripts
    ruff format --check vreg_cli tests scripts
