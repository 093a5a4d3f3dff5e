"""Reading LoFTR weights: MINIMA / LoFTR release files and vreg checkpoints; writing the vreg model payload.

Accepted files (``torch.save`` output):

- MINIMA / LoFTR release or PyTorch Lightning checkpoint: ``{"state_dict": {...}, "epoch": ..., ...}`` with keys
  ``matcher.backbone.conv1.weight`` ... or without the ``matcher.`` prefix;
- vreg checkpoint: ``{"format": "vreg-loftr", "version": 1, "model_config": {...}, "model": {...}, ...trainer keys}``;
- a bare state dict (``model.state_dict()`` saved directly).

Keys are matched strictly: missing keys, unexpected keys or shape mismatches end with one VregError line.

Weights reach a model in one place, :func:`vreg_cli.model.loftr.load_model` (register ``--weights/--checkpoint``,
``VREG_WEIGHTS``, benchmark specs, ``train --weights`` and ``train --resume``); it uses :func:`stored_model_config`
and :func:`load_state` from here, so every caller gets the same error messages.

Files are read by :func:`vreg_cli.model.safe_load.read_checkpoint`, the one weights reader (no code from a file
ever runs).
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from vreg_cli.errors import VregError
from vreg_cli.limits import check_plain_data
from vreg_cli.model.config import LoFTRConfig

__all__ = ["FORMAT", "VERSION", "checkpoint_payload", "is_vreg_checkpoint", "load_state",
           "stored_model_config"]  # fmt: skip

FORMAT = "vreg-loftr"
VERSION = 1
#: prefixes stripped from checkpoint keys: Lightning's ``matcher.`` (LoFTR/MINIMA) and DDP's ``module.``
_PREFIXES = ("matcher.", "module.")
#: non-persistent buffer some forks saved; it is rebuilt from the config (temp_bug_fix), never loaded
_IGNORED_KEYS = ("pos_encoding.pe",)


def is_vreg_checkpoint(obj: Any) -> bool:
    """True for a dict written by vreg (``"format": "vreg-loftr"``)."""
    return isinstance(obj, dict) and obj.get("format") == FORMAT


def stored_model_config(obj: Any, path: str | os.PathLike[str] = "checkpoint") -> LoFTRConfig:
    """The LoFTRConfig a vreg checkpoint stores in ``model_config`` (checked to be plain data first).

    Raises:
        VregError: one line naming ``path`` (missing, not a dict, foreign values, unknown keys or bad values).
    """
    config = obj.get("model_config") if isinstance(obj, dict) else None
    if not isinstance(config, dict):
        raise VregError(f"{path}: vreg checkpoint without its model_config; it cannot be rebuilt")
    if not check_plain_data(config, f"{path}: model_config"):
        raise VregError(f"{path}: the model_config of this vreg checkpoint holds values that are not plain data")
    try:
        return LoFTRConfig.from_dict(config)
    except VregError as exc:
        raise VregError(f"{path}: {exc}") from None
    except (TypeError, ValueError, KeyError) as exc:
        raise VregError(f"{path}: its model_config does not describe a LoFTR this vreg builds ({exc})") from None


def _state_dict(obj: Any, path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The model state dict of a loaded checkpoint object, keys normalised to the original LoFTR names."""
    if is_vreg_checkpoint(obj):
        if obj.get("version") != VERSION:
            raise VregError(f"{path}: vreg checkpoint version {obj.get('version')} is not supported (need {VERSION})")
        raw = obj.get("model")
    elif isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        raw = obj["state_dict"]
    elif isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        raw = obj
    else:
        raise VregError(f"{path}: not a LoFTR checkpoint (no 'state_dict', no vreg 'model' entry)")
    if not isinstance(raw, dict):
        raise VregError(f"{path}: checkpoint model entry is not a state dict")
    state: dict[str, torch.Tensor] = {}
    for key, value in raw.items():
        if not isinstance(key, str):  # (an int key of thousands of digits cannot even be printed)
            raise VregError(f"{path}: a state-dict key of type {type(key).__name__} is not a parameter name")
        name = key
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix) :]
        if name in _IGNORED_KEYS:
            continue
        if not isinstance(value, torch.Tensor):
            raise VregError(f"{path}: entry {key[:80]!r} of the state dict is not a tensor")
        state[name] = value
    return state


def _check_values(state: dict[str, torch.Tensor], path: str | os.PathLike[str]) -> None:
    """VregError for weights a LoFTR cannot hold: complex (loading would drop the imaginary part with a warning)
    or NaN / infinite (the network would answer NaN for every pair)."""
    for name, value in state.items():
        if value.is_complex():
            raise VregError(f"{path}: weight {name[:80]} is complex ({value.dtype}); LoFTR's weights are real")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise VregError(f"{path}: weight {name[:80]} holds NaN or infinite values")


def _names(keys: list[str], n: int = 3) -> str:
    more = f" (+{len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def load_state(model: nn.Module, obj: Any, path: str | os.PathLike[str] = "checkpoint") -> int:
    """Strictly load the weights of checkpoint object ``obj`` (read from ``path``) into ``model``; returns the count.

    ``obj`` is what :func:`~vreg_cli.model.safe_load.read_checkpoint` returned: a vreg checkpoint, a MINIMA / LoFTR
    (Lightning) file or a bare state dict; keys are normalised to the original LoFTR names first.

    Raises:
        VregError: one line naming ``path``: not a LoFTR checkpoint, an unsupported vreg version, or a few missing /
            unexpected / mis-shaped keys.
    """
    state = _state_dict(obj, path)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing: {_names(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected: {_names(unexpected)}")
    if mismatched:
        problems.append(f"{len(mismatched)} shape mismatch (file vs model): {_names(mismatched)}")
    if problems:
        raise VregError(f"{path}: weights do not fit this LoFTR model; " + "; ".join(problems))
    _check_values(state, path)
    model.load_state_dict(state, strict=True)
    return len(state)


def checkpoint_payload(model: nn.Module) -> dict[str, Any]:
    """``{"format", "version", "model_config", "model"}`` for ``torch.save``; the trainer adds its own keys.

    Accepts a DDP-wrapped model (its ``.module`` is saved). Tensors are detached CPU copies.
    """
    inner = getattr(model, "module", model)
    config = getattr(inner, "config", None)
    if config is None or not hasattr(config, "to_dict"):
        raise TypeError("checkpoint_payload needs a LoFTRModel (with a LoFTRConfig in .config)")
    return {
        "format": FORMAT,
        "version": VERSION,
        "model_config": config.to_dict(),
        "model": {k: v.detach().cpu().clone() for k, v in inner.state_dict().items()},
    }
