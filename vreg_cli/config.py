"""What every config dataclass (LoFTRConfig, TrainConfig, ...) shares: strict loading from a saved dict."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from vreg_cli.errors import VregError

__all__ = ["dataclass_from_dict"]


T = TypeVar("T")


def dataclass_from_dict(cls: type[T], data: Mapping[str, Any], what: str) -> T:
    """Build ``cls(**data)``; keys the dataclass does not know are a VregError (a config from another program)."""
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - known)
    if unknown:
        raise VregError(f"unknown {what} keys: {', '.join(unknown[:5])}")
    return cls(**data)
