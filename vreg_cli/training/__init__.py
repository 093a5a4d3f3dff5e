"""The `vreg train` pipeline: config, resume, data loading, loop, validation, checkpoints and DDP helpers."""

__all__: list[str] = []
