"""Vessel geometry for synthetic triplets: procedural vessel trees or bundled real DRIVE masks.

A :class:`VesselScene` holds what every modality renderer shares: soft vessel profiles (arteries and veins
separately, so CF can colour them differently), the binary vessel mask, the field of view and the positions
of the optic disc and the fovea. Everything is in pixels of a square ``size`` x ``size`` canvas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np

from vreg_cli.errors import VregError
from vreg_cli.paths import DATA_SPECS

__all__ = ["VesselScene", "drive_scene", "procedural_scene"]


_DRIVE_DIR = DATA_SPECS / "drive"
# A vessel pixel is one whose soft (anti-aliased) profile reaches this value.
_MASK_LEVEL = 0.4
_SUPERSAMPLE = 2  # draw at 2x and area-downsample: sub-pixel widths and smooth edges


@dataclass
class VesselScene:
    """Shared geometry of one synthetic eye.

    artery, vein: (S, S) float32 soft vessel profiles in [0, 1]; vessel: (S, S) bool mask;
    fov: (S, S) bool field of view; disc, fovea: (x, y) pixel centres; disc_radius in pixels.
    """

    artery: np.ndarray
    vein: np.ndarray
    vessel: np.ndarray
    fov: np.ndarray
    disc: tuple[float, float]
    disc_radius: float
    fovea: tuple[float, float]
    cache: dict = field(default_factory=dict, repr=False)  # per-scene maps shared by the renderers

    @property
    def profile(self) -> np.ndarray:
        """(S, S) float32 soft profile of all vessels."""
        return np.maximum(self.artery, self.vein)


def _circular_fov(size: int, radius_frac: float = 0.47) -> np.ndarray:
    """(S, S) bool disc centred in the canvas, as a fundus camera's round field of view."""
    yy, xx = np.mgrid[0:size, 0:size]
    c = (size - 1) / 2.0
    return (xx - c) ** 2 + (yy - c) ** 2 <= (radius_frac * size) ** 2


def _grow(
    rng: np.random.Generator,
    segments: list[tuple[float, float, float, float, float]],
    start: tuple[float, float],
    heading: float,
    width: float,
    turn: float,
    ctx: dict,
    depth: int,
) -> None:
    """Grow one vessel as a tortuous, tapering random walk and recurse into its branches.

    heading in radians (image coordinates, y down); turn = systematic curvature in rad per pixel, which
    bends the temporal arcades around the macula. Segments are appended as (x0, y0, x1, y1, width).
    """
    size, fovea, min_w = ctx["size"], ctx["fovea"], ctx["min_width"]
    step = 0.012 * size
    x, y = start
    wobble = 0.0
    next_branch = rng.uniform(0.04, 0.09) * size
    travelled = 0.0
    side = 1.0 if rng.random() < 0.5 else -1.0
    c = (size - 1) / 2.0
    while width >= min_w and len(segments) < ctx["max_segments"]:
        # Tortuosity: a smooth (AR(1)) angular velocity, stronger for thin vessels.
        wobble = 0.6 * wobble + rng.normal(0.0, 0.025 + 0.12 / (1.0 + width / ctx["scale"]))
        heading += turn * step + wobble
        # Keep out of the foveal avascular zone: steer away when close.
        dx, dy = x - fovea[0], y - fovea[1]
        dist_f = math.hypot(dx, dy)
        if dist_f < 0.09 * size:
            away = math.atan2(dy, dx)
            delta = math.atan2(math.sin(away - heading), math.cos(away - heading))
            heading += 0.35 * delta
        nx, ny = x + step * math.cos(heading), y + step * math.sin(heading)
        segments.append((x, y, nx, ny, width))
        x, y = nx, ny
        travelled += step
        width *= ctx["taper"]
        if math.hypot(x - c, y - c) > 0.5 * size or dist_f < 0.03 * size:
            return
        if travelled >= next_branch and depth < 3:
            next_branch = travelled + rng.uniform(0.06, 0.14) * size
            child_w = width * rng.uniform(0.35, 0.7)
            side = -side if rng.random() < 0.7 else side
            angle = heading + side * math.radians(rng.uniform(30.0, 75.0))
            _grow(rng, segments, (x, y), angle, child_w, rng.normal(0.0, 0.002), ctx, depth + 1)
            # Murray's law (w^3 conserved) thins the parent after a branch.
            width = max(width**3 - 0.5 * child_w**3, (0.6 * width) ** 3) ** (1.0 / 3.0)


def _draw(segments: list, size: int) -> np.ndarray:
    """Rasterise segments into a (S, S) float32 soft profile via supersampled drawing."""
    big = np.zeros((size * _SUPERSAMPLE, size * _SUPERSAMPLE), np.uint8)
    shift = 4  # cv2 fixed-point coordinates: sub-pixel accurate endpoints
    k = _SUPERSAMPLE * (1 << shift)
    for x0, y0, x1, y1, w in segments:
        p0 = (round(x0 * k), round(y0 * k))
        p1 = (round(x1 * k), round(y1 * k))
        cv2.line(big, p0, p1, 255, max(1, round(w * _SUPERSAMPLE)), cv2.LINE_AA, shift)
    small = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0


def procedural_scene(rng: np.random.Generator, size: int) -> VesselScene:
    """A procedural vessel tree: four arcades (artery + vein each) leaving the disc, plus small macular vessels."""
    eye = 1.0 if rng.random() < 0.5 else -1.0  # +1: disc right of centre (right eye as photographed)
    c = (size - 1) / 2.0
    disc = (c + eye * rng.uniform(0.2, 0.27) * size, c + rng.uniform(-0.05, 0.05) * size)
    disc_r = rng.uniform(0.045, 0.058) * size
    fovea = (disc[0] - eye * rng.uniform(0.29, 0.34) * size, disc[1] + rng.uniform(0.0, 0.04) * size)
    scale = size / 512.0
    ctx: dict[str, Any] = {
        "size": size,
        "fovea": fovea,
        "scale": scale,
        # 1 px at 512; thinner lines still rasterise (supersampled) down to ~0.6 px on small canvases.
        "min_width": max(0.6, 1.0 * scale),
        "taper": 0.986,
        "max_segments": 6000,
    }

    def width(at_512: float) -> float:
        # Widths are given at 512 px; tiny canvases keep a floor so trunks still grow and taper.
        return max(at_512 * scale * rng.uniform(0.9, 1.1), ctx["min_width"] * (1.0 + at_512 / 5.0))

    temporal = math.pi if eye > 0 else 0.0  # direction towards the macula
    arteries: list = []
    veins: list = []
    for vert in (-1.0, 1.0):  # superior, inferior
        # Temporal arcades start steeply towards the macula side and bend around it.
        base = temporal - eye * vert * math.radians(rng.uniform(40.0, 55.0))
        bend = eye * vert * math.radians(rng.uniform(45.0, 60.0)) / (0.4 * size)
        for kind, lst, w in ((0, arteries, 4.5), (1, veins, 5.8)):
            head = base + eye * vert * math.radians(rng.normal(0.0, 6.0)) * (1 if kind else -1)
            start = (disc[0] + 0.3 * disc_r * math.cos(head), disc[1] + 0.3 * disc_r * math.sin(head))
            _grow(rng, lst, start, head, width(w), bend, ctx, 0)
        # Nasal arcades: shorter, straighter, thinner.
        nasal = (math.pi - temporal) + eye * vert * math.radians(rng.uniform(35.0, 60.0))
        for lst, w in ((arteries, 3.3), (veins, 4.2)):
            head = nasal + math.radians(rng.normal(0.0, 8.0))
            start = (disc[0] + 0.3 * disc_r * math.cos(head), disc[1] + 0.3 * disc_r * math.sin(head))
            _grow(rng, lst, start, head, width(w), rng.normal(0.0, 0.001), ctx, 1)
    # A few small papillomacular vessels run straight from the disc towards the fovea.
    for _ in range(int(rng.integers(2, 5))):
        head = temporal + math.radians(rng.uniform(-25.0, 25.0))
        start = (disc[0] + disc_r * math.cos(head), disc[1] + disc_r * math.sin(head))
        _grow(rng, arteries if rng.random() < 0.5 else veins, start, head, width(2.0), 0.0, ctx, 3)
    fov = _circular_fov(size)
    artery, vein = _draw(arteries, size) * fov, _draw(veins, size) * fov
    vessel = np.maximum(artery, vein) >= _MASK_LEVEL
    return VesselScene(artery, vein, vessel, fov, disc, disc_r, fovea)


def _drive_ids(source: Path | None = None) -> list[str]:
    """Ids of the bundled DRIVE masks (``data_specs/drive/<id>_vessel.png``), or of a folder in DRIVE's own layout
    (``SOURCE/vessels/<id>.png`` with ``SOURCE/fov/<id>.png``)."""
    if source is None:
        return sorted(p.name.split("_")[0] for p in _DRIVE_DIR.glob("*_vessel.png"))
    return sorted(p.stem for p in (source / "vessels").glob("*.png") if (source / "fov" / p.name).is_file())


def _drive_masks(pick: str, source: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """(vessel, fov) uint8 masks of one DRIVE id in the bundled format (half size, vessels area-averaged)."""
    if source is None:
        soft = cv2.imread(str(_DRIVE_DIR / f"{pick}_vessel.png"), cv2.IMREAD_GRAYSCALE)
        fov_mask = cv2.imread(str(_DRIVE_DIR / f"{pick}_fov.png"), cv2.IMREAD_GRAYSCALE)
        return cast(np.ndarray, soft), cast(np.ndarray, fov_mask)  # bundled files: always readable
    vessel = cv2.imread(str(source / "vessels" / f"{pick}.png"), cv2.IMREAD_GRAYSCALE)
    fov = cv2.imread(str(source / "fov" / f"{pick}.png"), cv2.IMREAD_GRAYSCALE)
    if vessel is None or fov is None or vessel.shape != fov.shape:
        raise VregError(f"{source}: unreadable or mismatched DRIVE masks for id {pick}")
    half = (vessel.shape[1] // 2, vessel.shape[0] // 2)
    return (
        cv2.resize(vessel, half, interpolation=cv2.INTER_AREA),
        cv2.resize(fov, half, interpolation=cv2.INTER_AREA),
    )


def drive_scene(rng: np.random.Generator, size: int, source: Path | None = None) -> VesselScene:
    """A real DRIVE manual vessel mask (random one, random left/right flip), padded square and resized.

    ``source``: a folder in DRIVE's layout (all 40 DRIVE masks, say) instead of the six bundled ones.
    """
    ids = _drive_ids(source)
    if not ids:
        raise VregError(f"no DRIVE masks in {source or _DRIVE_DIR} (expected vessels/<id>.png and fov/<id>.png)")
    pick = ids[int(rng.integers(len(ids)))]
    soft, fov = _drive_masks(pick, source)
    flip = rng.random() < 0.5
    h, w = soft.shape
    side = max(h, w)
    pad = ((side - h) // 2, side - h - (side - h) // 2), ((side - w) // 2, side - w - (side - w) // 2)
    soft, fov = np.pad(soft, pad), np.pad(fov, pad)
    if flip:
        soft, fov = soft[:, ::-1], fov[:, ::-1]
    soft = cv2.resize(np.ascontiguousarray(soft), (size, size), interpolation=cv2.INTER_LINEAR)
    fov_m = cv2.resize(np.ascontiguousarray(fov), (size, size), interpolation=cv2.INTER_LINEAR) > 127
    # The stored masks are area-downscaled (thin vessels are grey); the rendering profile is stretched so
    # they reach full contrast.
    soft = soft.astype(np.float32) / 255.0 * fov_m
    vessel = soft >= 0.5  # area-preserving level: DRIVE's vessel fraction survives the resampling
    profile = np.clip(soft * 1.3, 0.0, 1.0)
    # The optic disc is where the vessel density peaks; the fovea lies ~2.5 disc diameters temporally.
    density = cv2.GaussianBlur(profile, (0, 0), 0.05 * size)
    dy, dx = np.unravel_index(int(np.argmax(density)), density.shape)
    c = (size - 1) / 2.0
    toward = 1.0 if dx < c else -1.0
    fovea = (float(dx) + toward * 0.31 * size, float(dy) + 0.02 * size)
    vein = profile.astype(np.float32)
    return VesselScene(np.zeros_like(vein), vein, vessel, fov_m, (float(dx), float(dy)), 0.05 * size, fovea)
