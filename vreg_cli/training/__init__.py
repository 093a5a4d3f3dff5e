"""The `vreg train` pipeline: config, data loading, loop, validation, checkpoints and DDP helpers."""
