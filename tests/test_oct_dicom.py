"""OCT volumes (eyepy) and DICOM (pydicom) wherever an image path is accepted; B-scans on the fundus photo.

The volumes are built here from the bundled moving image (``experiments/oct_demo_volume.py``): a HEYEX VOL file and
eyepy's own ``.eye`` file whose en-face projection reproduces a box of it, with the whole image as the localizer.
The DICOM files are the bundled pair written by pydicom.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from script_modules import load_script
from typer.testing import CliRunner

import vreg_cli
from vreg_cli.cli import app
from vreg_cli.errors import InputError, VregError
from vreg_cli.io import read_image, read_landmarks
from vreg_cli.octvolume import read_volume
from vreg_cli.read_options import ReadOptions

pytest.importorskip("eyepy")
pytest.importorskip("pydicom")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data_specs" / "sample"
#: the scanned box (x0, y0, x1, y1) of the bundled moving image: one B-scan per row, so the en-face is the box itself
BOX = (150, 200, 449, 419)


DEMO = load_script("experiments/oct_demo_volume.py")
MOVING = cv2.imread(str(SAMPLE / "moving.png"), cv2.IMREAD_GRAYSCALE)
CROP = MOVING[BOX[1] : BOX[3] + 1, BOX[0] : BOX[2] + 1]


@pytest.fixture(scope="module")
def volumes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo scan as HEYEX VOL and .eye (one B-scan per row of BOX), and the box as a PNG."""
    out = tmp_path_factory.mktemp("oct")
    scan = DEMO.demo_scan(MOVING, BOX, BOX[3] - BOX[1] + 1)
    DEMO.write_heyex_vol(out / "scan.vol", scan)
    DEMO.write_eye(out / "scan.eye", scan)
    cv2.imwrite(str(out / "enface.png"), CROP)
    return {"vol": out / "scan.vol", "eye": out / "scan.eye", "png": out / "enface.png"}


@pytest.mark.parametrize("kind", ["vol", "eye"])
def test_a_volume_s_pictures_and_bscan_lines(volumes: dict[str, Path], kind: str) -> None:
    enface = read_volume(volumes[kind], "enface")
    assert enface.shape == (BOX[3] - BOX[1] + 1, DEMO.DEPTH, BOX[2] - BOX[0] + 1)
    assert enface.image.shape == CROP.shape and enface.image.dtype == np.uint8
    assert np.abs(enface.image.astype(int) - CROP).max() <= 1  # eyepy's VOL intensity transform, inverted, rounds
    np.testing.assert_allclose(enface.localizer_from_image[:2, 2], BOX[:2])
    # B-scan i runs along row i of the box: in the en-face picture, row i from column 0 to the last
    lines = enface.bscan_lines
    np.testing.assert_allclose(lines[:, 0, 0], 0, atol=1e-6)
    np.testing.assert_allclose(lines[:, 1, 0], BOX[2] - BOX[0], atol=1e-6)
    np.testing.assert_allclose(lines[:, 0, 1], np.arange(len(lines)), atol=1e-6)
    localizer = read_volume(volumes[kind], "localizer")
    np.testing.assert_array_equal(localizer.image, MOVING)
    np.testing.assert_allclose(localizer.bscan_lines, lines + np.array(BOX[:2], float), atol=1e-6)
    np.testing.assert_allclose(localizer.localizer_from_image, np.eye(3))


def _corner_gap(a: np.ndarray, b: np.ndarray, hw: tuple[int, ...]) -> float:
    h, w = hw[:2]
    corners = np.array([[[0, 0]], [[w - 1, 0]], [[0, h - 1]], [[w - 1, h - 1]]], np.float64)
    return float(np.abs(cv2.perspectiveTransform(corners, a) - cv2.perspectiveTransform(corners, b)).max())


@pytest.mark.parametrize("kind", ["vol", "eye"])
def test_registering_a_volume_gives_the_matrix_of_its_en_face_png(volumes: dict[str, Path], kind: str) -> None:
    fixed = SAMPLE / "fixed.png"
    as_png = vreg_cli.register(fixed, volumes["png"], "classic")
    enface = ReadOptions(oct_image="enface")
    from_volume = vreg_cli.register(fixed, volumes[kind], "classic", read=enface)
    assert as_png.ok and from_volume.ok
    assert _corner_gap(as_png.matrix, from_volume.matrix, CROP.shape) <= 1.0
    # the localizer (the default picture) is the whole moving image: the pair's hand-marked landmarks hold
    localizer = vreg_cli.register(fixed, volumes[kind], "classic")
    assert localizer.ok
    fixed_points, moving_points = read_landmarks(SAMPLE / "landmarks.csv")
    assert np.linalg.norm(localizer.map_points(moving_points) - fixed_points, axis=1).mean() <= 8.0


def test_the_api_takes_an_eyepy_volume_and_an_oct_volume(volumes: dict[str, Path]) -> None:
    import eyepy

    fixed = SAMPLE / "fixed.png"
    by_path = vreg_cli.register(fixed, volumes["eye"], "classic")
    by_object = vreg_cli.register(fixed, eyepy.EyeVolume.load(volumes["eye"]), "classic")
    by_ours = vreg_cli.register(fixed, vreg_cli.read_volume(volumes["eye"]), "classic")
    np.testing.assert_allclose(by_object.matrix, by_path.matrix)
    np.testing.assert_allclose(by_ours.matrix, by_path.matrix)
    with pytest.raises(ValueError, match="oct_image"):
        ReadOptions(oct_image="bscan")  # type: ignore[arg-type]


def test_vreg_register_draws_the_bscans_and_lists_them(volumes: dict[str, Path], tmp_path: Path) -> None:
    out, picture, transform = tmp_path / "out.png", tmp_path / "bscans.png", tmp_path / "t.json"
    args = [str(SAMPLE / "fixed.png"), str(volumes["vol"]), "-o", str(out), "--method", "classic"]
    result = CliRunner().invoke(app, ["register", *args, "--bscans", str(picture), "--transform-out", str(transform),
                                      "--oct-image", "enface"])  # fmt: skip
    assert result.exit_code == 0, result.output
    described = json.loads(transform.read_text())
    block = described["moving_image"]
    assert block["image"] == "enface" and block["volume_shape"]["bscans"] == BOX[3] - BOX[1] + 1
    matrix = np.array(described["matrix"])
    first = block["bscans_fixed"][0]
    expected = cv2.perspectiveTransform(np.array([[[0.0, 0.0]], [[BOX[2] - BOX[0], 0.0]]]), matrix).reshape(2, 2)
    np.testing.assert_allclose([first["start"], first["end"]], expected, atol=0.01)
    drawn = cv2.cvtColor(cv2.imread(str(picture)), cv2.COLOR_BGR2RGB)
    fixed = cv2.cvtColor(cv2.imread(str(SAMPLE / "fixed.png")), cv2.COLOR_BGR2RGB)
    assert drawn.shape == fixed.shape
    x, y = np.round(expected.mean(axis=0)).astype(int)  # the middle of the first B-scan: drawn green
    assert drawn[y, x, 1] > 150 and drawn[y, x, 0] < 80 and drawn[y, x, 2] < 80


def test_bscans_need_a_volume_and_the_options_are_checked(volumes: dict[str, Path], tmp_path: Path) -> None:
    fixed, moving = str(SAMPLE / "fixed.png"), str(SAMPLE / "moving.png")
    runner = CliRunner()
    result = runner.invoke(app, ["register", fixed, moving, "-o", str(tmp_path / "o.png"), "--bscans", "b.png"])
    assert result.exit_code == 2 and "--bscans needs an OCT volume" in result.output
    result = runner.invoke(app, ["register", fixed, str(volumes["vol"]), "-o", "o.png", "--oct-image", "bscan"])
    assert result.exit_code == 2 and "choose from localizer, enface" in result.output


def _vol_header(path: Path, **fields: int) -> None:
    """Rewrite the header fields (size_x, n_bscans, size_y) of a VOL file in place."""
    data = bytearray(path.read_bytes())
    offsets = {"size_x": 12, "n_bscans": 16, "size_y": 20}
    for name, value in fields.items():
        struct.pack_into("<I", data, offsets[name], value)
    path.write_bytes(bytes(data))


def test_a_volume_s_declared_size_is_checked_before_its_bscans(volumes: dict[str, Path], tmp_path: Path) -> None:
    huge = tmp_path / "huge.vol"
    huge.write_bytes(volumes["vol"].read_bytes())
    _vol_header(huge, n_bscans=100_000, size_y=1024, size_x=1024)
    with pytest.raises(VregError, match="voxel limit"):
        read_volume(huge)
    truncated = tmp_path / "cut.vol"
    truncated.write_bytes(volumes["vol"].read_bytes()[:-5000])
    with pytest.raises(VregError, match="truncated"):
        read_volume(truncated)
    not_vol = tmp_path / "x.vol"
    not_vol.write_bytes(b"hello" * 1000)
    with pytest.raises(VregError, match="not a HEYEX VOL"):
        read_volume(not_vol)
    bad_zip = tmp_path / "x.eye"
    bad_zip.write_bytes(b"PK" + b"\0" * 100)
    with pytest.raises(VregError, match="not a readable eyepy volume"):
        read_volume(bad_zip)


def test_an_eye_file_s_array_header_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (5000, 5000, 64)})
    path = tmp_path / "big.eye"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("raw_volume.npy", header.getvalue())
    with pytest.raises(VregError, match="voxel limit"):
        read_volume(path)
    monkeypatch.setenv("VREG_MAX_VOLUME_VOXELS", "1e12")
    with pytest.raises(VregError, match="truncated"):
        read_volume(path)


def _dicom(path: Path, pixels: np.ndarray, photometric: str | None = None, bits: int | None = None) -> Path:
    """Write ``pixels`` ((H, W), (H, W, 3) or (frames, H, W)) as an uncompressed secondary-capture DICOM file."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    colour = pixels.ndim == 3 and pixels.shape[2] == 3
    frames = pixels.shape[0] if pixels.ndim == 3 and not colour else 1
    ds.Rows, ds.Columns = pixels.shape[-3:-1] if colour else pixels.shape[-2:]
    ds.SamplesPerPixel = 3 if colour else 1
    ds.PhotometricInterpretation = photometric or ("RGB" if colour else "MONOCHROME2")
    if colour:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = 8 * pixels.itemsize
    ds.BitsStored = bits or 8 * pixels.itemsize
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def test_dicom_reads_as_the_png_and_registers_the_same(tmp_path: Path) -> None:
    fixed_png, moving_png = SAMPLE / "fixed.png", SAMPLE / "moving.png"
    fixed, moving = read_image(fixed_png), read_image(moving_png)
    fixed_dcm = _dicom(tmp_path / "fixed.dcm", fixed)
    moving_dcm = _dicom(tmp_path / "moving", moving)  # no .dcm ending: found by its "DICM" marker
    np.testing.assert_array_equal(read_image(fixed_dcm), fixed)
    np.testing.assert_array_equal(read_image(moving_dcm), moving)
    as_png = vreg_cli.register(fixed_png, moving_png, "classic")
    as_dcm = vreg_cli.register(fixed_dcm, moving_dcm, "classic")
    np.testing.assert_allclose(as_dcm.matrix, as_png.matrix)
    result = CliRunner().invoke(app, ["register", str(fixed_dcm), str(moving_dcm), "-o", str(tmp_path / "o.png"),
                                      "--method", "classic"])  # fmt: skip
    assert result.exit_code == 0, result.output


def test_dicom_frames_bits_and_monochrome1(tmp_path: Path) -> None:
    frames = np.stack([np.full((40, 50), v, np.uint8) for v in (10, 20, 30)])
    frames[:, 5:10, 5:10] = 200
    path = _dicom(tmp_path / "frames.dcm", frames)
    with pytest.raises(VregError, match=r"holds 3 frames; choose one with --frame N"):
        read_image(path)
    assert read_image(path, options=ReadOptions(frame=2))[0, 0] == 30
    with pytest.raises(VregError, match=r"--frame 3 is out of range"):
        read_image(path, options=ReadOptions(frame=3))
    twelve = _dicom(tmp_path / "twelve.dcm", np.array([[0, 4095], [2048, 1024]], np.uint16), bits=12)
    np.testing.assert_array_equal(read_image(twelve), [[0, 255], [128, 64]])
    inverted = _dicom(tmp_path / "mono1.dcm", np.array([[0, 255], [55, 200]], np.uint8), photometric="MONOCHROME1")
    np.testing.assert_array_equal(read_image(inverted), [[255, 0], [200, 55]])


def test_dicom_errors_are_one_line(tmp_path: Path) -> None:
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGLSLossless

    path = _dicom(tmp_path / "a.dcm", np.zeros((40, 50), np.uint8))
    import pydicom

    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = JPEGLSLossless
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xf7" + b"\0" * 64])
    ds["PixelData"].VR = "OB"
    ds.save_as(tmp_path / "jls.dcm", enforce_file_format=True)
    with pytest.raises(VregError, match="compressed as JPEG-LS Lossless Image Compression, which needs a decoder"):
        read_image(tmp_path / "jls.dcm")
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(VregError, match="cut.dcm: cannot decode the pixel data"):
        read_image(cut)
    big = _dicom(tmp_path / "big.dcm", np.zeros((4, 4), np.uint8))
    ds = pydicom.dcmread(big)
    ds.Rows = ds.Columns = 60000
    ds.save_as(big, enforce_file_format=True)
    with pytest.raises(VregError, match="pixel limit"):
        read_image(big)
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"not dicom at all")
    with pytest.raises(VregError, match=r"junk.dcm: the DICOM file holds no image \(no Rows/Columns\)"):
        read_image(junk)


def test_without_the_extras_one_line_names_them(
    volumes: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dcm = _dicom(tmp_path / "a.dcm", np.zeros((40, 50), np.uint8))
    monkeypatch.setitem(sys.modules, "eyepy", None)
    monkeypatch.setitem(sys.modules, "pydicom", None)
    with pytest.raises(VregError, match=r"needs eyepy: pip install 'vreg-cli\[oct\]'"):
        read_image(volumes["vol"])
    with pytest.raises(VregError, match=r"needs pydicom: pip install 'vreg-cli\[dicom\]'"):
        read_image(dcm)
    with pytest.raises(InputError, match="needs eyepy"):
        vreg_cli.register(SAMPLE / "fixed.png", volumes["eye"], "classic")
    result = CliRunner().invoke(app, ["register", str(SAMPLE / "fixed.png"), str(volumes["vol"]), "-o", "o.png"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].endswith("needs eyepy: pip install 'vreg-cli[oct]'")


@pytest.mark.slow
def test_a_pair_folder_batch_takes_volumes_and_dicom(volumes: dict[str, Path], tmp_path: Path) -> None:
    """The bundled pair layout finds moving.vol and fixed.dcm; the localizer is the moving image, so its landmarks
    hold and the batch's errors equal those of the PNG pair."""
    root = tmp_path / "pairs"
    for name in ("png", "vol"):
        (root / name).mkdir(parents=True)
        (root / name / "landmarks.csv").write_bytes((SAMPLE / "landmarks.csv").read_bytes())
    for name in ("fixed.png", "moving.png"):
        (root / "png" / name).write_bytes((SAMPLE / name).read_bytes())
    _dicom(root / "vol" / "fixed.dcm", read_image(SAMPLE / "fixed.png"))
    (root / "vol" / "moving.vol").write_bytes(volumes["vol"].read_bytes())
    result = CliRunner().invoke(app, ["register", "--pairs-dir", str(root), "--out-dir", str(tmp_path / "out"),
                                      "--method", "classic", "--no-qa-page"])  # fmt: skip
    assert result.exit_code == 0, result.output
    import pandas as pd

    summary = pd.read_csv(tmp_path / "out" / "summary.csv").set_index("name")
    assert list(summary["status"]) == ["ok", "ok"]
    assert summary.loc["vol", "moving"].endswith("moving.vol")
    assert abs(summary.loc["vol", "lm_mean"] - summary.loc["png", "lm_mean"]) < 0.01


def test_prepare_packs_a_volume_s_en_face_for_the_oct_modality(tmp_path: Path) -> None:
    """A triplet layout may name a volume for OCT: its en-face picture, on the localizer's whole grid, is packed
    (pixel-aligned with the CF when the localizer is) and the HDF5's provenance says so."""
    import h5py

    from vreg_cli.data.pack import pack

    hw = (132, 160)
    cf = cv2.resize(cv2.imread(str(SAMPLE / "fixed.png")), hw[::-1], interpolation=cv2.INTER_AREA)
    grey = cv2.resize(MOVING, hw[::-1], interpolation=cv2.INTER_AREA)
    root = tmp_path / "src"
    for folder in ("cf", "fa", "oct", "vessel"):
        (root / folder).mkdir(parents=True)
    cv2.imwrite(str(root / "cf" / "s1.png"), cf)
    cv2.imwrite(str(root / "fa" / "s1.png"), grey)
    cv2.imwrite(str(root / "vessel" / "s1.png"), np.where(grey > 100, 255, 0).astype(np.uint8))
    DEMO.write_eye(root / "oct" / "s1.eye", DEMO.demo_scan(grey, (0, 0, hw[1] - 1, hw[0] - 1), hw[0]))
    layout = tmp_path / "with-volumes.toml"
    flat = (ROOT / "data_specs" / "flat.toml").read_text()
    layout.write_text(flat.replace('candidates = ["oct/{id}.png"]', 'candidates = ["oct/{id}.png", "oct/{id}.eye"]'))
    out = tmp_path / "d.h5"
    result = pack(root, out, layout=str(layout))
    assert result.n == 1 and "oct" in result.modalities
    with h5py.File(out) as f:
        packed = f["images/oct"][0]
        provenance = f["provenance/oct"][0].decode()
    assert np.abs(packed.astype(int) - grey).max() <= 1
    assert provenance.startswith("oct/s1.eye (OCT volume: en-face")


def test_a_pair_folder_s_points_are_checked_against_the_chosen_picture(
    volumes: dict[str, Path], tmp_path: Path
) -> None:
    """The bundled pair's landmarks lie in the localizer (the whole moving image), outside the en-face crop: the
    pair is good for the localizer and bad for --oct-image enface, which the check names."""
    from vreg_cli.data.pairs import find_pairs

    pair = tmp_path / "pairs" / "p1"
    pair.mkdir(parents=True)
    for name in ("fixed.png", "landmarks.csv"):
        (pair / name).write_bytes((SAMPLE / name).read_bytes())
    (pair / "moving.vol").write_bytes(volumes["vol"].read_bytes())
    good, bad = find_pairs(tmp_path / "pairs", skip_bad=True)
    assert len(good) == 1 and not bad
    with pytest.raises(VregError, match=r"lies outside moving.vol \(300x220\)"):
        find_pairs(tmp_path / "pairs", skip_bad=True, read=ReadOptions(oct_image="enface"))
