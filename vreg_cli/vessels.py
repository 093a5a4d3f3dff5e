"""A polarity-free, intensity-free vessel map shared by every retinal modality.

Vessels are dark in colour fundus (CF) and OCT en-face images and bright in fluorescein angiograms (FA) and OCTA.
The map is built from the multi-scale Hessian: a vessel is a line, so across it the second derivative is large and
along it small, whatever the sign. Taking ``|lambda_1| - |lambda_2|`` (largest minus smallest eigenvalue magnitude)
keeps lines of both polarities and suppresses blobs (FA leakage, laser scars, drusen). Step edges (the optic disc
rim, the border of a lesion) also bend the intensity, but unlike a line their centre has a large gradient, so the
gradient magnitude is subtracted. The field-of-view (FOV) border is removed twice: outside pixels are filled with a
smooth continuation of the inside before filtering (no step to respond to), and the map is zeroed near the border.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from vreg_cli.context import REFERENCE_SIDE

__all__ = [
    "DEFAULT_VESSELS",
    "VesselMap",
    "VesselSettings",
    "erode_mask",
    "fov_mask",
    "line_strength",
    "percentile",
    "vessel_channel",
]


@dataclass(frozen=True)
class VesselMap:
    """A vessel map at some working size.

    strength: (H, W) float32 in [0, 1], line strength (0 outside ``valid``);
    valid: (H, W) bool, the eroded field of view where ``strength`` means something.
    """

    strength: np.ndarray
    valid: np.ndarray


def vessel_channel(img: np.ndarray) -> np.ndarray:
    """The channel with the best vessel contrast as float32: green for colour fundus, the image itself for grey."""
    if img.ndim == 3:
        return img[:, :, 1].astype(np.float32)
    return img.astype(np.float32)


def fov_mask(gray: np.ndarray) -> np.ndarray:
    """(H, W) bool field of view: not the black surround of a fundus camera image, holes filled.

    A rectangular OCT en-face image has no surround, so its mask is the whole image. The one-pixel image frame is
    always outside, so that eroding the mask also keeps away from the image edges.
    """
    h, w = gray.shape
    small = cv2.GaussianBlur(gray, (0, 0), 2.0)
    inside = percentile(small, 90.0)
    # The surround is uniformly dark; a dark image region with sparse bright structure (OCTA background) is not,
    # so threshold the local maximum rather than the pixel itself.
    local_max = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 15)))
    mask: np.ndarray = (local_max > max(0.3 * inside, 4.0)).astype(np.uint8)
    # The largest connected region, holes filled (dark lesions / the fovea inside the FOV are not background).
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n > 1:
        mask = (lab == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    mask = cv2.drawContours(np.zeros_like(mask), contours, -1, 1, thickness=cv2.FILLED)
    if mask.sum() < 0.05 * h * w:  # a failed detection must not wipe the image out
        mask[:] = 1
    mask[:1, :] = mask[-1:, :] = 0
    mask[:, :1] = mask[:, -1:] = 0
    return mask.astype(bool)


def percentile(values: np.ndarray, q: float) -> float:
    """``np.percentile(values, q)`` (linear interpolation; equal to within the last bit) by a partial sort alone:
    numpy's own function imports ``numpy.ma`` on first use, about 30 ms of every ``vreg register`` process."""
    flat = values.ravel()
    at = (flat.size - 1) * q / 100.0
    lo = int(math.floor(at))
    hi = min(lo + 1, flat.size - 1)
    part = np.partition(flat, (lo, hi))
    real = flat.dtype.type if flat.dtype.kind == "f" else np.float64  # the values' own precision, as numpy's
    a, b, t = real(part[lo]), real(part[hi]), real(at - lo)
    # numpy's lerp: from the nearer end, so that t = 1 gives b exactly
    return float(b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t)


def erode_mask(mask: np.ndarray, px: float) -> np.ndarray:
    """Pixels of ``mask`` farther than ``px`` from its outside (Euclidean; a distance transform is much faster
    than a large elliptic kernel)."""
    return cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3) > px


def _smooth_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with a large ``sigma``, computed on a downsampled copy (the result is smooth anyway)."""
    h, w = img.shape
    f = min(1.0, 3.0 / sigma)  # keep about 3 samples per sigma
    if f >= 1.0:
        return cv2.GaussianBlur(img, (0, 0), sigma)
    small = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma * f)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _fill_outside(gray: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Replace pixels outside ``mask`` by a normalised-convolution continuation of the inside (no step at the edge)."""
    m = mask.astype(np.float32)
    num = _smooth_blur(gray * m, sigma)
    den = _smooth_blur(m, sigma)
    smooth = num / np.maximum(den, 1e-3)
    # Where even the wide blur sees no inside pixel, fall back to the mean of the inside.
    smooth[den < 1e-3] = float(gray[mask].mean()) if mask.any() else 0.0
    return np.where(mask, gray, smooth).astype(np.float32)


def line_strength(gray: np.ndarray, sigmas: tuple[float, ...], edge_weight: float) -> np.ndarray:
    """(H, W) float32 multi-scale line response, both polarities: max over sigma of
    sigma^2 * (|l1| - |l2|) - edge_weight * sigma * |grad|, clipped at 0 (l1 the eigenvalue of largest magnitude)."""
    out = np.zeros(gray.shape, np.float32)
    for s in sigmas:
        g = cv2.GaussianBlur(gray, (0, 0), s)
        grad = cv2.magnitude(
            cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 8), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3, scale=1 / 8)
        )
        hxx = cv2.Sobel(g, cv2.CV_32F, 2, 0, ksize=3, scale=1 / 4)
        hyy = cv2.Sobel(g, cv2.CV_32F, 0, 2, ksize=3, scale=1 / 4)
        hxy = cv2.Sobel(g, cv2.CV_32F, 1, 1, ksize=3, scale=1 / 4)
        # Eigenvalues half_tr +- disc (disc >= 0); the magnitude difference ||l1| - |l2|| is 2 min(|half_tr|, disc):
        # large across a line of either polarity, ~0 on a blob.
        half_tr = np.abs(cv2.addWeighted(hxx, 0.5, hyy, 0.5, 0.0))
        disc = cv2.magnitude(cv2.addWeighted(hxx, 0.5, hyy, -0.5, 0.0), hxy)
        resp = cv2.addWeighted(cv2.min(half_tr, disc), 2 * s * s, grad, -edge_weight * s, 0.0)
        cv2.max(out, resp, dst=out)
    return out


def vessel_map(
    img: np.ndarray,
    *,
    sigmas: tuple[float, ...],
    erode_px: int,
    norm_sigma: float,
    edge_weight: float = 0.5,
) -> VesselMap:
    """Polarity-free vessel map of a retinal image (any modality), at the image's own size.

    img: (H, W) or (H, W, 3) uint8. Sigmas are in pixels of this image; :class:`VesselSettings` owns the
    settings (stated at 640 px and scaled to the image with ``at_side``).
    The response is divided by its local RMS (Gaussian window ``norm_sigma``) so that contrast differences between
    regions and modalities do not matter, then squashed to [0, 1].
    """
    gray = vessel_channel(img)
    fov = fov_mask(gray)
    valid = erode_mask(fov, erode_px)
    filled = _fill_outside(gray, fov, 8.0)
    resp = line_strength(filled, sigmas, edge_weight)
    resp = np.maximum(resp, 0.0)
    resp[~valid] = 0.0
    m = valid.astype(np.float32)
    ms = _smooth_blur(resp * resp, norm_sigma) / np.maximum(_smooth_blur(m, norm_sigma), 1e-3)
    resp = resp / (np.sqrt(ms) + 1e-6 + 0.5 * float(np.sqrt((resp[valid] ** 2).mean() if valid.any() else 1.0)))
    strength = np.tanh(0.5 * resp).astype(np.float32)
    strength[~valid] = 0.0
    return VesselMap(strength, valid)


@dataclass(frozen=True)
class VesselSettings:
    """How a vessel map is made, stated for a whole fundus at a 640 px long side (``REFERENCE_SIDE``).

    The one owner of these defaults: ``classic``'s options start from them, and a LoFTR with the "vessels" input
    (``model/inputs.py``) uses them as they are.

    sigmas: vessel-filter scales (px); fov_erode: share of the long side removed inside the field-of-view border;
    norm_sigma: local-contrast window (px).
    """

    sigmas: tuple[float, ...] = (2.0, 3.0, 4.5)
    fov_erode: float = 0.03
    norm_sigma: float = 24.0

    def at_side(self, long_side: int) -> VesselSettings:
        """These settings with the pixel sizes scaled from 640 px to images with this long side."""
        k = long_side / REFERENCE_SIDE
        if k == 1.0:
            return self
        sigmas = tuple(max(0.5, s * k) for s in self.sigmas)
        return VesselSettings(sigmas=sigmas, fov_erode=self.fov_erode, norm_sigma=max(2.0, self.norm_sigma * k))

    def vessel_map(self, image: np.ndarray) -> VesselMap:
        """The polarity-free vessel map of IMAGE ((H, W) or (H, W, 3)) with these (already scaled) settings."""
        erode = max(2, round(self.fov_erode * max(image.shape[:2])))
        return vessel_map(image, sigmas=self.sigmas, erode_px=erode, norm_sigma=self.norm_sigma)


#: the default vessel settings (classic's defaults and the LoFTR "vessels" input)
DEFAULT_VESSELS = VesselSettings()
