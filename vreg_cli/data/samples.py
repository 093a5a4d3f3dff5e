"""Validate and load one discovered triplet sample: readable files, one size per sample, non-empty masks.

Every problem is a :class:`BadSample` whose message starts with the offending file's path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vreg_cli.data.fov import fov_from_cf
from vreg_cli.data.layouts import SampleFiles, TripletLayout
from vreg_cli.errors import VregError
from vreg_cli.geometry import resize_image
from vreg_cli.imageheader import PNG_SIGNATURE
from vreg_cli.io import image_hw as io_image_hw
from vreg_cli.io import read_image, registrable_problem, to_gray, to_uint8
from vreg_cli.octvolume import is_volume, read_volume

__all__ = ["BadSample", "LoadedSample", "check_present", "image_hw", "load_sample"]


class BadSample(VregError):
    """A sample that cannot be packed; the message is '<file>: <reason>'."""


@dataclass
class LoadedSample:
    """One sample ready to be written: images {"cf": (H, W, 3), "fa"/"oct"/"octa": (H, W)} uint8, masks
    {"vessel", "fov"} (H, W) bool, provenance {entry: source path or "derived:cf"}, source_hw = original (H, W)."""

    id: str
    images: dict[str, np.ndarray]
    masks: dict[str, np.ndarray]
    provenance: dict[str, str]
    source_hw: tuple[int, int]


def check_present(sample: SampleFiles, layout: TripletLayout, root: Path) -> None:
    """Raise BadSample when a required entry has no file (names the first candidate it looked for)."""
    if sample.missing:
        name = sample.missing[0]
        tried = [c.format(id=sample.id) for c in layout.files[name].candidates]
        raise BadSample(f"{root / tried[0]}: missing {name} for sample {sample.id} (tried {', '.join(tried)})")


def image_hw(path: Path) -> tuple[int, int]:
    """:func:`vreg_cli.io.image_hw` (from the header when possible), BadSample when the image cannot be used."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(24)
    except OSError as exc:
        raise BadSample(f"{path}: cannot read ({exc.strerror})") from None
    if head[:8] == PNG_SIGNATURE and (len(head) < 24 or head[12:16] != b"IHDR"):
        raise BadSample(f"{path}: not a readable image (corrupt PNG header)")
    try:
        return io_image_hw(path)
    except VregError as exc:
        raise BadSample(str(exc)) from None


#: how an OCT volume given for a modality becomes its image, as the HDF5's provenance records it
VOLUME_PROVENANCE = "OCT volume: en-face mean over depth on the localizer's whole pixel grid"


def _read(path: Path, mode: str) -> np.ndarray:
    # OpenCV logs its own decoder complaints to stderr; our BadSample message says it in one line instead.
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        if is_volume(path):  # an aligned triplet's OCT as a volume: its en-face picture, pixel-aligned with the CF
            return to_gray(to_uint8(read_volume(path, "enface", crop=False).image))
        return read_image(path, mode=mode)  # type: ignore[arg-type]
    except VregError as exc:
        raise BadSample(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a bad file, reported with its path
        raise BadSample(f"{path}: not a readable image ({exc})") from None
    finally:
        cv2.utils.logging.setLogLevel(level)


def _binarise(img: np.ndarray) -> np.ndarray:
    """0/1, 0/255 and anti-aliased grey masks alike: foreground above half the maximum."""
    top = int(img.max())
    return img > top // 2 if top > 0 else np.zeros(img.shape, bool)


def _resize(img: np.ndarray, hw: tuple[int, int], nearest: bool) -> np.ndarray:
    """(H, W[, C]) -> ``hw``: images area/linear (``resize_image``'s default), masks pixel-centre exact nearest."""
    # INTER_NEAREST_EXACT is pixel-centre exact, unlike INTER_NEAREST
    return resize_image(img, hw, interpolation=cv2.INTER_NEAREST_EXACT if nearest else None)[0]


def load_sample(sample: SampleFiles, modalities: list[str], out_hw: tuple[int, int] | None, root: Path) -> LoadedSample:
    """Decode, validate and resize one sample (to ``out_hw`` = (H, W), or keep its size when None).

    CF is kept as RGB (a grey CF is expanded to 3 channels), other modalities are converted to grey, masks are
    binarised; the FOV is derived from CF when the layout gives none. Raises BadSample.
    """
    cf_path = sample.files["cf"]
    cf = _read(cf_path, "rgb")
    hw = cf.shape[:2]
    images: dict[str, np.ndarray] = {"cf": cf}
    masks: dict[str, np.ndarray] = {}
    prov: dict[str, Path | str] = {"cf": cf_path}  # "derived:cf" for a mask made here
    volumes: dict[str, Path] = {}  # modalities given as OCT volumes: their en-face picture is packed
    for name in modalities:
        if name != "cf":
            images[name] = _read(sample.files[name], "gray")
            prov[name] = sample.files[name]
            if is_volume(sample.files[name]):
                volumes[name] = sample.files[name]
    for name in ("vessel", "fov"):
        if name in sample.files:
            masks[name] = _binarise(_read(sample.files[name], "gray"))
            prov[name] = sample.files[name]
    for name, arr in list(images.items()) + list(masks.items()):
        if arr.shape[:2] != hw:
            raise BadSample(
                f"{prov[name]}: size {arr.shape[1]}x{arr.shape[0]} differs from {cf_path.name} ({hw[1]}x{hw[0]})"
            )
    for name, arr in images.items():  # blank or tiny images cannot be registered, so they cannot teach it either
        problem = registrable_problem(arr)
        if problem:
            raise BadSample(f"{prov[name]}: {problem}")
    for name, arr in masks.items():
        if not arr.any():
            raise BadSample(f"{prov[name]}: {name} mask is empty")
    if "fov" not in masks:
        masks["fov"] = fov_from_cf(cf)
        prov["fov"] = "derived:cf"
    target = out_hw or hw
    images = {k: _resize(v, target, nearest=False) for k, v in images.items()}
    masks = {k: _resize(v.astype(np.uint8), target, nearest=True).astype(bool) for k, v in masks.items()}
    if not masks["vessel"].any():
        raise BadSample(f"{prov['vessel']}: vessel mask is empty after resizing to {target[1]}x{target[0]}")
    text = {k: (v.relative_to(root).as_posix() if isinstance(v, Path) else v) for k, v in prov.items()}
    for name in volumes:
        text[name] += f" ({VOLUME_PROVENANCE})"
    return LoadedSample(sample.id, images, masks, text, (int(hw[0]), int(hw[1])))
