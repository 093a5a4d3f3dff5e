"""Reading LoFTR weights: MINIMA / LoFTR release files and vreg checkpoints; writing the vreg model payload.

Accepted files (``torch.save`` output):

- MINIMA / LoFTR release or PyTorch Lightning checkpoint: ``{"state_dict": {...}, "epoch": ..., ...}`` with keys
  ``matcher.backbone.conv1.weight`` ... or without the ``matcher.`` prefix;
- vreg checkpoint: ``{"format": "vreg-loftr", "version": 1, "model_config": {...}, "model": {...}, ...trainer keys}``;
- a bare state dict (``model.state_dict()`` saved directly).

Keys are matched strictly: missing keys, unexpected keys or shape mismatches end with one VregError line.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vreg_cli.errors import VregError
from vreg_cli.ui import warn

FORMAT = "vreg-loftr"
VERSION = 1
#: prefixes stripped from checkpoint keys: Lightning's ``matcher.`` (LoFTR/MINIMA) and DDP's ``module.``
_PREFIXES = ("matcher.", "module.")
#: non-persistent buffer some forks saved; it is rebuilt from the config (temp_bug_fix), never loaded
_IGNORED_KEYS = ("pos_encoding.pe",)


def read_checkpoint(path: str | Path) -> Any:
    """``torch.load`` on CPU, weights-only when possible; VregError for a missing, foreign or corrupt file.

    A valid torch file that holds pickled Python objects (e.g. a Lightning checkpoint with a yacs config in its
    hyper-parameters) is reloaded with full unpickling and a warning: only load files you trust.
    """
    path = Path(path)
    if not path.is_file():
        raise VregError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Weights only load failed" not in str(exc):
            raise VregError(f"{path}: not a PyTorch checkpoint ({_short(exc)})") from exc
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise VregError(f"{path}: not a PyTorch checkpoint or corrupt ({_short(exc)})") from exc
    warn(f"{path} holds pickled Python objects besides tensors; loading it fully (only load files you trust)")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        raise VregError(f"{path}: cannot read checkpoint ({_short(exc)})") from exc


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


def is_vreg_checkpoint(obj: Any) -> bool:
    """True for a dict written by vreg (``"format": "vreg-loftr"``)."""
    return isinstance(obj, dict) and obj.get("format") == FORMAT


def extract_state_dict(obj: Any, path: str | Path = "checkpoint") -> dict[str, torch.Tensor]:
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
        name = str(key)
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix) :]
        if name in _IGNORED_KEYS:
            continue
        if not isinstance(value, torch.Tensor):
            raise VregError(f"{path}: entry {key!r} of the state dict is not a tensor")
        state[name] = value
    return state


def _names(keys: list[str], n: int = 3) -> str:
    more = f" (+{len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def load_state(model: nn.Module, state: dict[str, torch.Tensor], path: str | Path = "checkpoint") -> int:
    """Strictly load ``state`` into ``model``; returns the number of tensors loaded.

    Raises:
        VregError: one line naming a few missing / unexpected / mis-shaped keys.
    """
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
    model.load_state_dict(state, strict=True)
    return len(state)


def load_weights(model: nn.Module, path: str | Path) -> int:
    """Load a MINIMA/LoFTR release file or a vreg checkpoint into ``model`` (strict); returns the tensor count."""
    return load_state(model, extract_state_dict(read_checkpoint(path), path), path)


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
