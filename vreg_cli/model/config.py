"""LoFTR architecture + freeze policy as one dataclass, convertible to kornia's config dict.

The defaults are MINIMA's LoFTR inference config (= the original LoFTR outdoor config, zju3dv/LoFTR
``src/config/default.py``) with ``coarse.temp_bug_fix = True``. kornia's own ``default_cfg`` says
``temp_bug_fix=False``: a MINIMA file loads into that silently (the positional encoding has no weights) and the
coarse matches then come from a shifted encoding, so the value lives here and is tested.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Annotated, Any

from vreg_cli.config import dataclass_from_dict
from vreg_cli.errors import VregError
from vreg_cli.limits import Range, check_fields

__all__ = ["ARCHS", "DEFAULT_FREEZE", "INPUTS", "LoFTRConfig", "MODULE_NAMES", "parse_freeze"]


#: most attention layers of either LoFTR transformer (MINIMA has 8 coarse, 2 fine)
_MAX_LAYERS = 32
#: Submodules, in forward order, named exactly as in the original LoFTR (state-dict prefixes).
MODULE_NAMES: tuple[str, ...] = (
    "backbone",
    "pos_encoding",
    "loftr_coarse",
    "coarse_matching",
    "fine_preprocess",
    "loftr_fine",
    "fine_matching",
)
#: Modules a policy may freeze. coarse_matching / fine_matching hold no weights and their train/eval flag switches
#: LoFTR's ground-truth padding of the coarse matches, so they always follow ``model.train()``.
_FREEZABLE: tuple[str, ...] = ("backbone", "pos_encoding", "loftr_coarse", "fine_preprocess", "loftr_fine")
#: The plan's default: keep MINIMA's multimodal features, adapt only the two transformers.
DEFAULT_FREEZE: tuple[str, ...] = ("backbone", "pos_encoding", "fine_preprocess")
#: What the network sees: "gray" (the image /255, MINIMA's input) or "vessels" (both images through the
#: polarity-free vessel map of ``classic``, so CF, FA and OCT look alike; see ``model/inputs.py``).
INPUTS: tuple[str, ...] = ("gray", "vessels")
#: Architecture presets (``--arch``): field overrides of the MINIMA default. ``small`` (2.2 M parameters) trains
#: from scratch on 2 CPU cores: ResNet-FPN initial_dim 64, blocks (64, 96, 128); coarse d_model 128, 4 heads,
#: 2 x (self, cross); fine d_model 64, 4 heads.
ARCHS: dict[str, dict[str, Any]] = {
    "minima": {},
    "small": {
        "initial_dim": 64,
        "block_dims": (64, 96, 128),
        "coarse_d_model": 128,
        "coarse_d_ffn": 128,
        "coarse_nhead": 4,
        "coarse_layer_names": ("self", "cross") * 2,
        "fine_d_model": 64,
        "fine_d_ffn": 64,
        "fine_nhead": 4,
    },
}


def parse_freeze(spec: str) -> tuple[str, ...]:
    """Parse a ``--freeze`` value: ``default``, ``none`` (full fine-tune) or comma-separated module names.

    >>> parse_freeze("none")
    ()
    >>> parse_freeze("backbone,pos_encoding")
    ('backbone', 'pos_encoding')
    """
    text = spec.strip().lower()
    if text == "default":
        return DEFAULT_FREEZE
    if text in ("none", ""):
        return ()
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    _check_freeze(names)
    return names


def _check_freeze(names: tuple[str, ...]) -> None:
    bad = [n for n in names if n not in _FREEZABLE]
    if bad:
        raise VregError(f"cannot freeze {', '.join(bad)}: choose from {', '.join(_FREEZABLE)}, or 'default' / 'none'")


@dataclass(frozen=True)
class LoFTRConfig:
    """LoFTR hyper-parameters (MINIMA defaults) and the freeze policy (``freeze``: module names kept fixed)."""

    resolution: tuple[int, int] = (8, 2)
    initial_dim: Annotated[int, Range(8, 1024)] = 128
    block_dims: Annotated[tuple[int, int, int], Range(8, 1024, min_items=3, max_items=3)] = (128, 196, 256)
    coarse_d_model: Annotated[int, Range(8, 1024)] = 256
    coarse_d_ffn: Annotated[int, Range(8, 4096)] = 256
    coarse_nhead: Annotated[int, Range(1, 64)] = 8
    coarse_layer_names: tuple[str, ...] = ("self", "cross") * 4
    attention: str = "linear"
    temp_bug_fix: bool = True
    match_type: str = "dual_softmax"
    thr: Annotated[float, Range(0, 1)] = 0.2
    border_rm: Annotated[int, Range(0, 64)] = 2
    dsmax_temperature: Annotated[float, Range(0, 10, open_lo=True)] = 0.1
    #: share of max(L0, L1) coarse cells sent to the fine level in training (LoFTR default 0.2; kornia says 0.4)
    train_coarse_percent: float = 0.2
    #: ground-truth matches always added in training (LoFTR; reduced on images too small for it, see padded_matching.py)
    train_pad_num_gt_min: Annotated[int, Range(0, 100_000)] = 200
    fine_window_size: Annotated[int, Range(1, 15)] = 5
    fine_concat_coarse_feat: bool = True
    fine_d_model: Annotated[int, Range(8, 1024)] = 128
    fine_d_ffn: Annotated[int, Range(8, 4096)] = 128
    fine_nhead: Annotated[int, Range(1, 64)] = 8
    fine_layer_names: tuple[str, ...] = ("self", "cross")
    freeze: tuple[str, ...] = field(default=DEFAULT_FREEZE)
    #: network input, "gray" | "vessels" (INPUTS); register and benchmark feed what the checkpoint says
    input: str = "gray"
    #: long side of the images the model was trained at (None: unknown, e.g. MINIMA); the matcher's default size
    train_size: Annotated[int | None, Range(64, 8192)] = None  # 64: loftr:size's least

    def __post_init__(self) -> None:
        # tuples whatever came in (lists from JSON / TOML), so configs compare and hash
        for name in ("resolution", "block_dims", "coarse_layer_names", "fine_layer_names", "freeze"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        _check_freeze(self.freeze)
        try:
            check_fields(self)  # every size a checkpoint's model_config may state is bounded (vreg_cli.limits)
        except ValueError as exc:
            raise VregError(f"LoFTR config: {exc}") from None
        for name in ("coarse_layer_names", "fine_layer_names"):
            names = getattr(self, name)
            if not 1 <= len(names) <= _MAX_LAYERS or not all(n in ("self", "cross") for n in names):
                raise VregError(f"LoFTR {name} must be 1 to {_MAX_LAYERS} of 'self' / 'cross'")
        if self.resolution != (8, 2):
            raise VregError(f"LoFTR resolution {self.resolution} is not supported (only (8, 2), as MINIMA)")
        if self.attention != "linear":
            raise VregError(
                f"LoFTR attention {self.attention!r} is not supported (only 'linear', as MINIMA: full attention's "
                "memory grows with the square of the image's pixels)"
            )
        if self.match_type != "dual_softmax":
            raise VregError(f"LoFTR match_type {self.match_type!r} is not supported (only 'dual_softmax')")
        if self.fine_window_size % 2 != 1:
            raise VregError(f"LoFTR fine_window_size must be odd, got {self.fine_window_size}")
        if self.input not in INPUTS:
            raise VregError(f"LoFTR input {self.input!r} is not known; choose one of {', '.join(INPUTS)}")
        if self.block_dims[-1] != self.coarse_d_model or self.block_dims[0] != self.fine_d_model:
            raise VregError(
                f"LoFTR block_dims {self.block_dims} must end with coarse_d_model ({self.coarse_d_model}) and start "
                f"with fine_d_model ({self.fine_d_model})"
            )
        if not 0.0 < self.train_coarse_percent <= 1.0:
            raise VregError(f"train_coarse_percent must be in (0, 1], got {self.train_coarse_percent}")

    @classmethod
    def for_arch(cls, arch: str, **changes: Any) -> LoFTRConfig:
        """The preset ``arch`` (a key of ARCHS) with ``changes``, e.g. ``for_arch("small", input="vessels")``."""
        if arch not in ARCHS:
            raise VregError(f"unknown LoFTR arch {arch!r}; choose one of {', '.join(ARCHS)}")
        return cls(**{**ARCHS[arch], **changes})

    @property
    def arch(self) -> str:
        """The preset this config equals in its architecture fields, else "custom"."""
        fields = {f.name for f in dataclasses.fields(self)} - {"freeze", "input", "train_size"}
        for name, overrides in ARCHS.items():
            ref = LoFTRConfig(**overrides)
            if all(getattr(ref, f) == getattr(self, f) for f in fields):
                return name
        return "custom"

    @property
    def stride_c(self) -> int:
        """Pixel stride of the coarse feature map (8)."""
        return self.resolution[0]

    @property
    def stride_f(self) -> int:
        """Pixel stride of the fine feature map (2)."""
        return self.resolution[1]

    def to_kornia(self) -> dict[str, Any]:
        """The config dict ``kornia.feature.LoFTR(config=...)`` and its submodules read."""
        return {
            "backbone_type": "ResNetFPN",
            "resolution": self.resolution,
            "fine_window_size": self.fine_window_size,
            "fine_concat_coarse_feat": self.fine_concat_coarse_feat,
            "resnetfpn": {"initial_dim": self.initial_dim, "block_dims": list(self.block_dims)},
            "coarse": {
                "d_model": self.coarse_d_model,
                "d_ffn": self.coarse_d_ffn,
                "nhead": self.coarse_nhead,
                "layer_names": list(self.coarse_layer_names),
                "attention": self.attention,
                "temp_bug_fix": self.temp_bug_fix,
            },
            "match_coarse": {
                "thr": self.thr,
                "border_rm": self.border_rm,
                "match_type": self.match_type,
                "dsmax_temperature": self.dsmax_temperature,
                "skh_iters": 3,
                "skh_init_bin_score": 1.0,
                "skh_prefilter": False,
                "train_coarse_percent": self.train_coarse_percent,
                "train_pad_num_gt_min": self.train_pad_num_gt_min,
            },
            "fine": {
                "d_model": self.fine_d_model,
                "d_ffn": self.fine_d_ffn,
                "nhead": self.fine_nhead,
                "layer_names": list(self.fine_layer_names),
                "attention": self.attention,
            },
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON/TOML-friendly dict (lists for tuples); ``from_dict`` inverts it."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoFTRConfig:
        """Build from ``to_dict`` output; unknown keys are a VregError (a config from another program)."""
        return dataclass_from_dict(cls, data, "LoFTR config")

    def with_freeze(self, freeze: str | tuple[str, ...]) -> LoFTRConfig:
        """Copy with another freeze policy (a ``--freeze`` string or a tuple of module names)."""
        names = parse_freeze(freeze) if isinstance(freeze, str) else tuple(freeze)
        return dataclasses.replace(self, freeze=names)
