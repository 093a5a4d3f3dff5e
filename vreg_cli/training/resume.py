"""``vreg train --resume RUN_DIR``: the saved TrainConfig of a run, with the few options a resumed run may change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vreg_cli.errors import VregError
from vreg_cli.training.checkpoint import load_trainer_state
from vreg_cli.training.config import TrainConfig

__all__ = ["resume_config"]


#: options that may change when a run is resumed; everything else comes from the run's checkpoint
_RESUME_OVERRIDES = ("max_steps", "epochs", "device", "workers", "val_every", "ckpt_every", "log_every", "data")


def resume_config(run_dir: str | Path, **overrides: Any) -> TrainConfig:
    """The saved TrainConfig of ``run_dir`` with the allowed ``overrides`` (None values are ignored)."""
    saved = load_trainer_state(run_dir)["train_config"]
    bad = sorted(k for k, v in overrides.items() if v is not None and k not in _RESUME_OVERRIDES)
    if bad:
        raise VregError(f"cannot change {', '.join(bad)} when resuming (allowed: {', '.join(_RESUME_OVERRIDES)})")
    changes = {k: v for k, v in overrides.items() if v is not None}
    if "max_steps" in changes:
        saved["epochs"] = None
    return TrainConfig.from_dict({**saved, **changes, "out": str(run_dir)})
