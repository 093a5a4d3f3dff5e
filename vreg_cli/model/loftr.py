"""LoFTR assembled from kornia's modules, with a trainable forward and inference matching.

Submodules carry the original LoFTR names (backbone, pos_encoding, loftr_coarse, coarse_matching, fine_preprocess,
loftr_fine, fine_matching), so MINIMA / LoFTR checkpoints load with ``strict=True`` (211 tensors).

Inputs are grey images in [0, 1] (uint8 / 255) whose height and width are multiples of 8: the 1/8 coarse grid and
the FPN then line up exactly as in training; pad or resize before calling (a VregError says so otherwise).
Keypoints are in input pixels in LoFTR's frame, exactly as ``kornia.feature.LoFTR`` returns them: coarse cell
(x, y) is pixel (8x, 8y).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from kornia.feature.loftr.backbone import build_backbone
from kornia.feature.loftr.loftr_module import FinePreprocess, LocalFeatureTransformer
from kornia.feature.loftr.utils.fine_matching import FineMatching
from kornia.feature.loftr.utils.position_encoding import PositionEncodingSine
from torch import nn

from vreg_cli.errors import VregError
from vreg_cli.model.checkpoint import checkpoint_payload, is_vreg_checkpoint, load_state, stored_model_config
from vreg_cli.model.config import MODULE_NAMES, LoFTRConfig
from vreg_cli.model.device import resolve_device
from vreg_cli.model.freeze import apply_freeze, parameter_table
from vreg_cli.model.padded_matching import PaddedCoarseMatching
from vreg_cli.model.safe_load import read_checkpoint

__all__ = ["LoFTRConfig", "LoFTRModel", "check_model_size", "checkpoint_payload", "load_model", "parameter_table"]


@contextlib.contextmanager
def _float32(device: torch.device) -> Iterator[None]:
    """Autocast off: the dual-softmax and the fine expectation run in float32 (bf16 logits / 0.1 lose ~1e-2)."""
    try:
        context: contextlib.AbstractContextManager[Any] = torch.autocast(device_type=device.type, enabled=False)
    except RuntimeError:  # a device type without autocast support cannot be autocasting either
        context = contextlib.nullcontext()
    with context:
        yield


class LoFTRModel(nn.Module):
    """LoFTR (kornia modules, original names) with freeze policy ``config.freeze``.

    ``model.train()`` never switches frozen modules to training mode. In training mode ``forward_train`` pads the
    coarse matches with ground truth (needs ``spv_*`` in the data dict); in eval mode it only predicts.
    """

    def __init__(self, config: LoFTRConfig | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else LoFTRConfig()
        kcfg = self.config.to_kornia()
        self.backbone = build_backbone(kcfg)
        self.pos_encoding = PositionEncodingSine(self.config.coarse_d_model, temp_bug_fix=self.config.temp_bug_fix)
        self.loftr_coarse = LocalFeatureTransformer(kcfg["coarse"])
        self.coarse_matching = PaddedCoarseMatching(kcfg["match_coarse"])
        self.fine_preprocess = FinePreprocess(kcfg)
        self.loftr_fine = LocalFeatureTransformer(kcfg["fine"])
        self.fine_matching = FineMatching()
        self.frozen: tuple[str, ...] = tuple(n for n in MODULE_NAMES if n in self.config.freeze)
        apply_freeze(self, self.frozen)

    def train(self, mode: bool = True) -> LoFTRModel:
        """Set training mode everywhere except in frozen modules, which stay in eval (BatchNorm stats fixed)."""
        super().train(mode)
        for name in self.frozen:
            getattr(self, name).eval()
        return self

    def _no_grad_upto(self, name: str) -> bool:
        """True when ``name`` and every module before it are frozen: it can run without autograd."""
        upto = MODULE_NAMES[: MODULE_NAMES.index(name) + 1]
        return all(n in self.frozen for n in upto)

    def _grad(self, name: str) -> contextlib.AbstractContextManager[Any]:
        return torch.no_grad() if self._no_grad_upto(name) else contextlib.nullcontext()

    def _features(
        self, image0: torch.Tensor, image1: torch.Tensor, features0: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, ...]:
        """Backbone + positional encoding: (feat_c0, feat_f0, feat_c1, feat_f1) as (B, C, h, w) maps.

        ``features0``: image0's backbone output from ``extract_features`` (batch 1 or B): only image1 is computed.
        """
        with self._grad("backbone"):
            if features0 is not None:
                _check_features(features0, image0)
                feat_c0, feat_f0 = (f.expand(image0.size(0), -1, -1, -1) for f in features0)
                feat_c1, feat_f1 = self.backbone(image1)
            elif image0.shape[2:] == image1.shape[2:]:
                # one pass for both (as LoFTR): faster, and BatchNorm sees both images when it trains
                feats_c, feats_f = self.backbone(torch.cat([image0, image1], dim=0))
                bs = image0.size(0)
                feat_c0, feat_c1 = feats_c.split(bs)
                feat_f0, feat_f1 = feats_f.split(bs)
            else:
                feat_c0, feat_f0 = self.backbone(image0)
                feat_c1, feat_f1 = self.backbone(image1)
        with self._grad("pos_encoding"):
            feat_c0, feat_c1 = self.pos_encoding(feat_c0), self.pos_encoding(feat_c1)
        return feat_c0, feat_f0, feat_c1, feat_f1

    def forward(self, data: dict[str, Any]) -> dict[str, Any]:
        """``forward_train(data)``, returning ``data``: the trainer wraps this model itself in DDP and calls
        ``data = net(data)``.

        DDP prepares its gradient reduction in ``__call__``; calling ``ddp.module.forward_train`` would skip it.
        Use the returned dict: DDP with ``device_ids`` (CUDA) hands ``forward`` a copy of ``data`` moved to the
        device, so the caller's own dict is not the one filled.
        """
        self.forward_train(data)
        return data

    def forward_train(self, data: dict[str, Any], features0: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:
        """LoFTR forward filling ``data`` in place (original LoFTR keys).

        Args:
            data: ``image0`` (B, 1, H0, W0), ``image1`` (B, 1, H1, W1) float in [0, 1], sides multiples of 8;
                optional ``mask0`` / ``mask1`` (B, H/8, W/8) bool valid cells; in training mode ``spv_b_ids``,
                ``spv_i_ids``, ``spv_j_ids`` (G,) ground-truth coarse matches.
            features0: optional precomputed backbone features of ``image0`` (see ``extract_features``).

        Fills ``bs``, ``hw{0,1}_{i,c,f}``, ``stride_c``, ``stride_f``, ``conf_matrix`` (B, L0, L1) float32,
        ``b_ids``/``i_ids``/``j_ids``/``gt_mask`` (M',), ``m_bids`` (M,), ``mkpts0_c``/``mkpts1_c`` (M, 2),
        ``mconf`` (M,), ``expec_f`` (M', 3) float32 (normalised offset in the fine window and its std),
        ``mkpts0_f``/``mkpts1_f`` (M, 2). M' = M + ground-truth pads in training, M' = M in eval.
        """
        image0, image1 = data["image0"], data["image1"]
        for side, img in (("image0", image0), ("image1", image1)):
            _check_image(side, img)
        data.update(
            bs=image0.size(0),
            hw0_i=image0.shape[2:],
            hw1_i=image1.shape[2:],
            stride_c=self.config.stride_c,
            stride_f=self.config.stride_f,
        )
        feat_c0, feat_f0, feat_c1, feat_f1 = self._features(image0, image1, features0)
        data.update(hw0_c=feat_c0.shape[2:], hw1_c=feat_c1.shape[2:], hw0_f=feat_f0.shape[2:], hw1_f=feat_f1.shape[2:])

        # (B, C, h, w) -> (B, h*w, C) token sequences, contiguous for the transformer GEMMs
        feat_c0 = feat_c0.flatten(2).transpose(1, 2).contiguous()
        feat_c1 = feat_c1.flatten(2).transpose(1, 2).contiguous()
        mask_c0 = mask_c1 = None
        if "mask0" in data and "mask1" in data:
            mask_c0, mask_c1 = data["mask0"].flatten(-2), data["mask1"].flatten(-2)
        with self._grad("loftr_coarse"):
            feat_c0, feat_c1 = self.loftr_coarse(feat_c0, feat_c1, mask_c0, mask_c1)

        with _float32(feat_c0.device):
            self.coarse_matching(feat_c0.float(), feat_c1.float(), data, mask_c0=mask_c0, mask_c1=mask_c1)

        with self._grad("fine_preprocess"):
            feat_f0_win, feat_f1_win = self.fine_preprocess(feat_f0, feat_f1, feat_c0, feat_c1, data)
        if feat_f0_win.size(0) == 0:
            # no coarse match and no ground truth to pad with: nothing to refine (kornia raises in training)
            empty = torch.empty(0, 3, device=feat_c0.device)
            data.update(expec_f=empty, mkpts0_f=data["mkpts0_c"], mkpts1_f=data["mkpts1_c"])
            return
        with self._grad("loftr_fine"):
            feat_f0_win, feat_f1_win = self.loftr_fine(feat_f0_win, feat_f1_win)
        with _float32(feat_c0.device):
            self.fine_matching(feat_f0_win.float(), feat_f1_win.float(), data)

    @contextlib.contextmanager
    def inference(self) -> Iterator[None]:
        """No autograd and eval mode; the previous mode is restored afterwards."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            self.train(was_training)

    def extract_features(self, image: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Backbone features of IMAGE, to match it against several images with ``match(..., features0=...)``.

        Args:
            image: as ``match``'s ``image0``.

        Returns:
            (coarse (B, C, H/8, W/8), fine (B, C', H/2, W/2)) on the model's device, computed in eval mode.
        """
        batch = _as_batch(image, self._device())
        _check_image("image", batch)
        with self.inference():
            return self.backbone(batch)

    def match(
        self,
        image0: torch.Tensor | np.ndarray,
        image1: torch.Tensor | np.ndarray,
        features0: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Inference matches, as ``kornia.feature.LoFTR`` with the same weights and config.

        Args:
            image0, image1: grey (H, W) uint8 arrays, or float tensors in [0, 1] of shape (H, W), (1, H, W) or
                (B, 1, H, W); sides multiples of 8. Run in eval mode (the previous mode is restored).
            features0: ``extract_features(image0)`` (batch 1 or B) to skip image0's backbone pass, e.g. when one
                fixed image is matched against many candidates. image0 is still needed for its shape and batch.

        Returns:
            ``keypoints0`` (N, 2), ``keypoints1`` (N, 2) x, y in input pixels (float32), ``confidence`` (N,),
            ``batch_indexes`` (N,) int64.
        """
        device = self._device()
        data = {"image0": _as_batch(image0, device), "image1": _as_batch(image1, device)}
        with self.inference():
            self.forward_train(data, features0)
        return {
            "keypoints0": data["mkpts0_f"],
            "keypoints1": data["mkpts1_f"],
            "confidence": data["mconf"],
            "batch_indexes": data["m_bids"],
        }

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def use_channels_last(self) -> LoFTRModel:
        """Store the backbone's convolutions channels-last (in place; returns self): an inference speed-up.

        oneDNN runs the CNN 25-35% faster this way on CPU (benchmarks/bench_register.py); matches equal the default
        layout's to float rounding. ``LoFTRMatcher.from_file`` applies it; values in the state dict are unchanged.
        """
        self.backbone.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stub lacks it
        return self


def _check_image(side: str, img: torch.Tensor) -> None:
    if img.ndim != 4 or img.size(1) != 1:
        raise VregError(f"LoFTR {side} must be a (B, 1, H, W) grey tensor, got shape {tuple(img.shape)}")
    h, w = img.shape[2:]
    if h % 8 or w % 8:
        raise VregError(f"LoFTR {side} is {w}x{h} px: width and height must be multiples of 8 (pad or resize)")


def _check_features(features0: tuple[torch.Tensor, torch.Tensor], image0: torch.Tensor) -> None:
    """``features0`` must be ``extract_features`` of an image0-sized batch of 1 or image0's batch size."""
    h, w = image0.shape[2:]
    coarse = features0[0]
    if coarse.shape[2:] != (h // 8, w // 8) or coarse.size(0) not in (1, image0.size(0)):
        raise VregError(
            f"features0 of shape {tuple(coarse.shape)} do not belong to image0 of shape {tuple(image0.shape)}"
        )


def _as_batch(image: torch.Tensor | np.ndarray, device: torch.device) -> torch.Tensor:
    """(B, 1, H, W) float32 in [0, 1] on ``device`` from a uint8/float array or a tensor."""
    if isinstance(image, np.ndarray):
        if image.ndim != 2:
            raise VregError(f"LoFTR needs a grey (H, W) image, got an array of shape {image.shape}")
        tensor = torch.from_numpy(np.ascontiguousarray(image))
        tensor = tensor.float() / 255.0 if image.dtype == np.uint8 else tensor.float()
    else:
        tensor = image.float()
    while tensor.ndim < 4:
        tensor = tensor.unsqueeze(0)
    return tensor.to(device)


def load_model(
    path: str | os.PathLike[str],
    device: str | torch.device = "auto",
    config: LoFTRConfig | None = None,
    *,
    arch: str | None = None,
    contents: Any = None,
    **changes: Any,
) -> LoFTRModel:
    """THE weights loader: a LoFTRModel with strictly loaded weights, in eval mode on ``device``.

    Every path from a weights file to a model goes through here: ``register`` / ``benchmark`` (LoFTRMatcher),
    ``train --weights``, ``train --resume`` and ``vreg report``; so every caller gets the same one-line errors.

    Args:
        path: a MINIMA / LoFTR release file, a vreg checkpoint or a bare state dict (``torch.save`` output).
        device: where the model goes: auto (CUDA when present, else MPS, else the CPU), cuda, mps, cpu or a torch
            device.
        config: the architecture to build; default: the ``model_config`` stored in a vreg checkpoint, else the
            preset ``arch`` (default MINIMA's).
        arch: the preset for a file without a stored config; with a vreg checkpoint it must equal the stored one.
        contents: ``read_checkpoint(path)`` when the caller has already read the file (``train --resume`` also
            needs its optimiser state); the file is then not read again.
        changes: LoFTRConfig fields set on top (e.g. ``freeze=()``, ``input="vessels"``).

    Raises:
        VregError: one line naming ``path`` (unreadable or unsafe file, bad stored config, arch mismatch, weights
            that do not fit the model).
    """
    obj = read_checkpoint(path) if contents is None else contents
    if config is None:
        if is_vreg_checkpoint(obj):
            config = stored_model_config(obj, path)
            if arch is not None and config.arch != arch:
                raise VregError(f"{path}: holds a {config.arch!r} LoFTR, not --arch {arch}")
        else:
            config = LoFTRConfig.for_arch(arch or "minima")
    if changes:
        config = dataclasses.replace(config, **changes)
    check_model_size(config, path)
    model = LoFTRModel(config)
    load_state(model, obj, path)
    return model.to(resolve_device(device)).eval()


def check_model_size(config: LoFTRConfig, path: str | os.PathLike[str] = "model_config") -> int:
    """The parameter count of the LoFTR ``config`` describes, built on torch's meta device (no memory); VregError
    naming ``path`` when it exceeds :data:`~vreg_cli.limits.MAX_LOFTR_PARAMETERS` (a file's stated config would
    otherwise allocate whatever it asks for before its weights are even compared)."""
    from vreg_cli.limits import MAX_LOFTR_PARAMETERS

    with torch.device("meta"):
        count = sum(p.numel() for p in LoFTRModel(config).parameters())
    if count > MAX_LOFTR_PARAMETERS:
        raise VregError(
            f"{path}: its model_config describes a LoFTR of {count / 1e6:,.0f} M parameters, over the limit of "
            f"{MAX_LOFTR_PARAMETERS / 1e6:,.0f} M (vreg_cli.limits.MAX_LOFTR_PARAMETERS; MINIMA's has 11.6 M)"
        )
    return count
