import cv2
import numpy as np
import pytest

from vreg_cli.errors import VregError
from vreg_cli.geometry import warp_points
from vreg_cli.io import BadTable, read_image, read_landmarks, resize_long_side, write_image, write_json
from vreg_cli.paths import atomic_output


def test_read_16bit_grey_and_rgb(tmp_path):
    img16 = (np.arange(64 * 48).reshape(48, 64) * 20).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "a.tif"), img16)
    out = read_image(tmp_path / "a.tif")
    assert out.dtype == np.uint8 and out.shape == (48, 64)
    assert out.max() == round(img16.max() / 257)

    rgb = np.zeros((10, 12, 3), np.uint8)
    rgb[..., 0] = 200  # red
    write_image(tmp_path / "c.png", rgb)
    back = read_image(tmp_path / "c.png")
    assert back.shape == (10, 12, 3) and back[0, 0, 0] == 200 and back[0, 0, 2] == 0


def test_grey_stored_as_rgb_comes_back_grey(tmp_path):
    g = np.random.default_rng(0).integers(0, 255, (20, 30), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "g.png"), cv2.merge([g, g, g]))
    assert read_image(tmp_path / "g.png").shape == (20, 30)
    assert read_image(tmp_path / "g.png", mode="rgb").shape == (20, 30, 3)


def test_missing_and_corrupt_files_name_the_file(tmp_path):
    with pytest.raises(VregError, match="nope.png: no such file"):
        read_image(tmp_path / "nope.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(VregError, match="bad.png: not a readable image"):
        read_image(bad)


def test_resize_long_side_maps_coordinates_exactly():
    img = np.zeros((530, 641), np.uint8)
    small, s = resize_long_side(img, 320)
    assert max(small.shape) == 320
    # corners of the pixel grid map to corners: -0.5 and W-0.5 are the image edges in both frames
    edges = warp_points(s, [[-0.5, -0.5], [640.5, 529.5]])
    np.testing.assert_allclose(edges, [[-0.5, -0.5], [small.shape[1] - 0.5, small.shape[0] - 0.5]], atol=1e-9)


def test_read_landmarks_skips_blank_rows_and_spaces(tmp_path):
    path = tmp_path / "lm.csv"
    path.write_text("x_fixed, y_fixed,x_moving,y_moving\n1,2,3,4\n\n , ,,\n 5.5,6,7,8e0\n")
    fixed, moving = read_landmarks(path)
    np.testing.assert_array_equal(fixed, [[1, 2], [5.5, 6]])
    np.testing.assert_array_equal(moving, [[3, 4], [7, 8]])
    path.write_text("a,b,c,d\n1,2,3,4\n")
    np.testing.assert_array_equal(read_landmarks(path, ["c", "d", "a", "b"])[0], [[3, 4]])


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        (None, "lm.csv", "missing landmarks file"),
        ("", "lm.csv", "missing column(s) x_fixed, y_fixed, x_moving, y_moving (header: empty)"),
        (
            "x_fixed,y_fixed,x_moving\n1,2,3\n",
            "lm.csv",
            "missing column(s) y_moving (header: x_fixed,y_fixed,x_moving)",
        ),
        ("x_fixed,y_fixed,x_moving,y_moving\n", "lm.csv", "landmarks CSV has no rows"),
        # the line as an editor counts it, blank lines included; the first bad row, and how many there are
        ("x_fixed,y_fixed,x_moving,y_moving\n1,2,3,4\n\n5,x,7,8\n9,NaN,1,2\n", "lm.csv:4", "cannot parse '5,x,7,8'"),
        ("x_fixed,y_fixed,x_moving,y_moving\n1,2,3,inf\n", "lm.csv:2", "as finite numbers"),
        ("x_fixed,y_fixed,x_moving,y_moving\n1,2,3\n", "lm.csv:2", "cannot parse '1,2,3,'"),
        ('x_fixed,"y_fixed\n', "lm.csv", "not a readable CSV"),
        ("x_fixed,y_fixed,x_moving,y_moving\n1,2,3,4,5\n", "lm.csv:2", "more fields than the header has"),
        ("x_fixed,y_fixed,x_moving,y_moving\n1,2,3,4\n\n1,2,3,4,5\n", "lm.csv:4", "5 fields, but the header has 4"),
    ],
)
def test_read_landmarks_errors_name_the_file_and_line(tmp_path, text, where, reason):
    path = tmp_path / "lm.csv"
    if text is not None:
        path.write_text(text)
    with pytest.raises(BadTable) as info:
        read_landmarks(path)
    message = str(info.value)
    assert isinstance(info.value, VregError) and "\n" not in message
    assert message.startswith(f"{tmp_path / where}: ") and reason in message
    assert (info.value.where, info.value.reason) == (str(tmp_path / where), message.split(f"{where}: ", 1)[1])
    if "x,7" in reason:
        assert "(2 such row(s))" in message
    with pytest.raises(VregError, match="is a directory"):
        read_landmarks(tmp_path)


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    write_json(target, {"a": 1})
    with pytest.raises(VregError, match="exists"):
        with atomic_output(target, force=False):
            pass
