"""The public Python API: register or match a CF (fixed) and an FA / OCT en-face image (moving) from your own code.

>>> import vreg_cli
>>> reg = vreg_cli.register("cf.png", "fa.png")          # or numpy arrays, or torch tensors
>>> reg.ok, reg.matrix                                     # trusted?, (3, 3) float64 moving -> fixed pixels
>>> warped = reg.warp()                                    # the moving image in the fixed frame

For many pairs build a :class:`Registrar` once (it loads the method and its model once) and call it per pair, from
one thread or several; for a cohort written to a folder (outputs + summary.csv, here or on a Dask cluster) use
:func:`vreg_cli.register_many` (``vreg_cli.batch.many``). Every input kind is normalised here, once, to what the
core takes (numpy uint8 (H, W) or (H, W, 3)); anything else is refused with :class:`~vreg_cli.errors.InputError`
and one line. A refusal is a result (``ok=False`` and the reason), not an exception.
"""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from vreg_cli.context import RegistrationContext
from vreg_cli.errors import InputError, VregError, first_line
from vreg_cli.io import read_registrable, to_uint8
from vreg_cli.matches import Matches
from vreg_cli.octvolume import OctVolume, from_eyepy
from vreg_cli.read_options import ReadOptions
from vreg_cli.registration import Registration, match_with_inliers, register_images

if TYPE_CHECKING:
    import torch

    from vreg_cli.methods.base import Method
    from vreg_cli.model.loftr import LoFTRModel

__all__ = ["ImageLike", "Registrar", "as_image", "available_methods", "load_model", "make_context", "match", "register"]


ImageLike: TypeAlias = "str | os.PathLike[str] | np.ndarray | torch.Tensor | OctVolume"
"""What :func:`register` and :func:`match` accept for each image: a file path, a numpy array, a torch tensor, an
OCT volume (:func:`~vreg_cli.octvolume.read_volume`'s result, or an ``eyepy.EyeVolume``)."""

_LIMITS = frozenset(f.name for f in fields(RegistrationContext)) - {"model", "working_size"}


def _is_tensor(image: Any) -> bool:
    """True for a torch tensor, without importing torch (a caller who passes one has imported it)."""
    return type(image).__module__.partition(".")[0] == "torch" and hasattr(image, "detach")


def _tensor_to_numpy(image: Any, what: str) -> np.ndarray:
    """A (H, W), (1, H, W) or (3, H, W) dense tensor on any device -> numpy (H, W) or (H, W, 3), same values.

    Sparse, quantized, nested and meta tensors (no pixel values to read) are InputError, as is a tensor torch
    cannot copy to the CPU; both before any copy."""
    import torch  # (imported already: the caller made the tensor)

    kind = next(
        (name for name, flag in (("sparse", image.layout != torch.strided), ("quantized", image.is_quantized),
                                 ("nested", getattr(image, "is_nested", False)), ("meta", image.is_meta)) if flag),
        None,
    )  # fmt: skip
    if kind is not None:
        raise InputError(f"{what}: a {kind} tensor has no pixels to read; give a dense tensor (.to_dense(), ...)")
    if image.ndim == 3 and image.shape[0] in (1, 3):
        image = image.permute(1, 2, 0)
    elif image.ndim != 2:
        raise InputError(f"{what}: a tensor must be HxW, 1xHxW or 3xHxW, got shape {tuple(image.shape)}")
    _check_pixels(tuple(image.shape[:2]), what)
    image = image.detach()
    try:
        if image.is_floating_point():
            image = image.float()  # bfloat16 / float16 have no numpy twin on every version
        return image.cpu().numpy()
    except (RuntimeError, TypeError) as exc:  # e.g. a device this build cannot read from
        raise InputError(
            f"{what}: torch cannot copy this {image.dtype} tensor on {image.device} to numpy ({first_line(exc)})"
        ) from None


def _check_pixels(hw: tuple[int, ...], what: str) -> None:
    """InputError for an image larger than the pixel limit the command line applies to files
    (``VREG_MAX_IMAGE_PIXELS``), checked on the shape alone: before any copy or conversion."""
    from vreg_cli.limits import check_image_size

    try:
        check_image_size(what, int(hw[1]), int(hw[0]))
    except VregError as exc:
        raise InputError(str(exc)) from None


def as_image(image: ImageLike, what: str = "image", read: ReadOptions | None = None) -> np.ndarray:
    """Normalise one input image to what the core takes: numpy uint8, (H, W) grey or (H, W, 3) RGB.

    Accepts a path (PNG / JPEG / TIFF, 8- or 16-bit, DICOM or an OCT volume, read like ``vreg register`` reads it,
    ``read`` choosing the DICOM frame and the volume's picture), an :class:`~vreg_cli.octvolume.OctVolume`, an
    ``eyepy.EyeVolume`` (its picture ``read.oct_image``), a numpy array (H, W),
    (H, W, 1) or (H, W, 3) of uint8, uint16 (scaled by 1/257) or float in [0, 1] (scaled by 255), or a torch tensor
    (H, W), (1, H, W) or (3, H, W) on any device with the same dtypes. A 3-channel image whose channels are equal
    becomes (H, W), as a file does. Raises InputError (one line, naming ``what``) for anything else: another type,
    shape or dtype, NaN or infinite values, floats outside [0, 1], an empty array, a missing or unreadable file.
    """
    if isinstance(image, str | os.PathLike):
        try:
            return read_registrable(Path(image), read)
        except VregError as exc:
            raise InputError(str(exc)) from None
    if type(image).__name__ == "EyeVolume" and type(image).__module__.startswith("eyepy"):
        try:
            image = from_eyepy(image, (read or ReadOptions()).oct_image)
        except VregError as exc:
            raise InputError(f"{what}: {exc}") from None
    if isinstance(image, OctVolume):
        image = to_uint8(image.image)
    if _is_tensor(image):
        array = _tensor_to_numpy(image, what)
    elif isinstance(image, np.ndarray):
        array = image
        if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[2] not in (1, 3):
            raise InputError(
                f"{what}: numpy images are HxW or HxWx3 (channels last), got {array.shape}; "
                "use image.transpose(1, 2, 0)"
            )
        if array.ndim in (2, 3):  # (a tensor's size was checked before its copy)
            _check_pixels(array.shape[:2], what)
    else:
        raise InputError(f"{what}: expected a path, a numpy array or a torch tensor, got {type(image).__name__}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise InputError(f"{what}: expected a grey HxW or an RGB HxWx3 image, got shape {array.shape}")
    if array.size == 0:
        raise InputError(f"{what}: the image is empty (shape {array.shape})")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise InputError(f"{what}: the image holds NaN or infinite values")
        lo, hi = float(array.min()), float(array.max())
        if lo < 0.0 or hi > 1.0:
            raise InputError(
                f"{what}: a float image must lie in [0, 1], got values in [{lo:g}, {hi:g}] (divide by 255?)"
            )
    elif array.dtype not in (np.uint8, np.uint16):
        raise InputError(f"{what}: unsupported dtype {array.dtype}; give uint8, uint16 or float in [0, 1]")
    array = np.ascontiguousarray(to_uint8(array))
    if (
        array.ndim == 3
        and np.array_equal(array[:, :, 0], array[:, :, 1])
        and np.array_equal(array[:, :, 1], array[:, :, 2])
    ):
        array = array[:, :, 0].copy()
    return array


def make_context(model: str | None = None, working_size: int | None = None, **limits: Any) -> RegistrationContext:
    """The registration context of the given settings (None: the default); InputError for an unknown or bad one.

    ``limits``: threshold_px, min_inliers, min_inlier_ratio, scale_range, max_anisotropy, max_shear, max_rotation,
    max_perspective, allow_mirror (see :class:`~vreg_cli.context.RegistrationContext`).
    """
    unknown = sorted(set(limits) - _LIMITS)
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(unknown)}; the limits are {', '.join(sorted(_LIMITS))}")
    try:
        return RegistrationContext.from_options(model=model, working_size=working_size, **limits)
    except VregError as exc:
        raise InputError(str(exc)) from None


class Registrar:
    """A registration method and its model, loaded once, for many pairs.

    ``method``: a registered method's name (:func:`available_methods`; default ``auto``), or a spec with options
    (``"loftr:weights=my.ckpt,passes=2"``; ``vreg methods`` lists them). ``model`` (affine | similarity |
    homography), ``working_size`` (long side in px both images are matched at) and ``limits`` (see
    :func:`make_context`) set the registration context; ``context`` gives one whole instead. ``device``: where a
    LoFTR runs (auto = CUDA when present).

    Calls are safe from several threads: the method keeps no per-call state (a LoFTR's forward passes take turns).
    """

    def __init__(
        self,
        method: str = "auto",
        *,
        model: str | None = None,
        working_size: int | None = None,
        device: str = "auto",
        context: RegistrationContext | None = None,
        **limits: Any,
    ) -> None:
        from vreg_cli.methods import build_method

        if not isinstance(method, str):
            raise InputError(f"method: expected a method name or spec such as 'classic', got {method!r}")
        if not isinstance(device, str):
            raise InputError(f"device: expected 'auto', 'cpu', 'cuda' or 'mps', got {device!r}")
        if context is not None and not isinstance(context, RegistrationContext):
            raise InputError(f"context: expected a RegistrationContext, got {type(context).__name__}")
        if context is not None and (model is not None or working_size is not None or limits):
            raise InputError("give a context or model / working_size / limits, not both")
        self.context = context if context is not None else make_context(model, working_size, **limits)
        # auto is the device option's default: the method's own options decide, as `vreg register` does
        built = (
            build_method(method, self.context)
            if device == "auto"
            else build_method(method, self.context, device=device)
        )
        self.method: Method = built.method
        #: why this method was chosen (e.g. "auto: no LoFTR weights given or configured")
        self.why: str = built.why

    def describe(self) -> str:
        """The method in words (e.g. which weights)."""
        return self.method.describe()

    def register(self, fixed: ImageLike, moving: ImageLike, read: ReadOptions | None = None) -> Registration:
        """Register MOVING (FA / OCT en-face) onto FIXED (colour fundus).

        Images: see :func:`as_image` (``read``: the DICOM frame, the OCT volume's picture). Returns the result,
        trusted (``ok``) or refused (``ok=False`` and ``reason``); raises InputError only for an image it cannot take.
        """
        return register_images(as_image(fixed, "fixed", read), as_image(moving, "moving", read), self.method)

    def match(self, fixed: ImageLike, moving: ImageLike, read: ReadOptions | None = None) -> Matches:
        """Correspondences in ORIGINAL pixels: ``fixed``, ``moving`` (N, 2) float64 (x, y), ``confidence`` (N,) and
        ``inliers`` (N,) bool from an affine fit (all False when no affine agrees; then ``info.problem`` says
        why). A method that finds nothing it trusts (e.g. loftr from a rough start) raises RegistrationFailed, as
        ``vreg match`` exits 3."""
        found, problem = match_with_inliers(
            as_image(fixed, "fixed", read), as_image(moving, "moving", read), self.method
        )
        if problem:
            found.info.problem = problem
        return found

    def __call__(self, fixed: ImageLike, moving: ImageLike) -> Registration:
        return self.register(fixed, moving)

    def __repr__(self) -> str:
        return f"Registrar({self.describe()!r}, working_size={self.context.working_size}, model={self.context.model!r})"


def register(
    fixed: ImageLike,
    moving: ImageLike,
    method: str = "auto",
    *,
    model: str | None = None,
    working_size: int | None = None,
    device: str = "auto",
    read: ReadOptions | None = None,
    **limits: Any,
) -> Registration:
    """Register MOVING (FA / OCT en-face) onto FIXED (colour fundus) once.

    Images: a path, a numpy array (H, W) / (H, W, 3) of uint8, uint16 or float in [0, 1], or a torch tensor (H, W)
    / (1, H, W) / (3, H, W) on any device. Returns a :class:`Registration`: ``matrix`` (3, 3) float64 maps MOVING
    pixels (x, y, 1) to FIXED pixels; ``ok`` says whether it is trusted, ``reason`` why not. For many pairs build
    a :class:`Registrar` once instead (the method and its model load once). ``model``, ``working_size`` and
    ``limits`` set the registration context (None: :class:`~vreg_cli.context.RegistrationContext`'s defaults).
    ``read`` (:class:`~vreg_cli.read_options.ReadOptions`): which frame of a multi-frame DICOM, which picture of an OCT
    volume (``ReadOptions(oct_image="enface")``).
    """
    registrar = Registrar(method, model=model, working_size=working_size, device=device, **limits)
    return registrar.register(fixed, moving, read)


def match(
    fixed: ImageLike,
    moving: ImageLike,
    method: str = "auto",
    *,
    working_size: int | None = None,
    device: str = "auto",
    read: ReadOptions | None = None,
    **limits: Any,
) -> Matches:
    """Correspondences between FIXED and MOVING in original pixels (see :meth:`Registrar.match`)."""
    return Registrar(method, working_size=working_size, device=device, **limits).match(fixed, moving, read)


def load_model(path: str | os.PathLike[str] | None = None, device: str = "auto") -> LoFTRModel:
    """A LoFTR (torch ``nn.Module`` in eval mode) from a weights file (a MINIMA / LoFTR release file or a ``vreg
    train`` checkpoint; None: the bundled model) on ``device`` (auto = CUDA when present). Nothing in the file runs.
    """
    from vreg_cli.model.loftr import load_model as _load_model
    from vreg_cli.paths import BUNDLED_LOFTR

    if path is not None and not isinstance(path, str | os.PathLike):
        raise InputError(f"path: expected a weights file path or None (the bundled model), got {path!r}")
    if not isinstance(device, str):
        raise InputError(f"device: expected 'auto', 'cpu', 'cuda' or 'mps', got {device!r}")
    return _load_model(BUNDLED_LOFTR if path is None else path, device=device)


def available_methods() -> tuple[str, ...]:
    """The registration methods by name (``"auto"``: loftr when weights are configured, else classic with the
    bundled loftr where classic refuses)."""
    from vreg_cli.methods import METHODS

    return tuple(METHODS)
