"""The method registry and the registration context: one owner for options, limits and the working size."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from vreg_cli.cli import app
from vreg_cli.context import RegistrationContext
from vreg_cli.data.synth import make_triplet
from vreg_cli.errors import RegistrationFailed, VregError
from vreg_cli.geometry import affine_matrix, warp_image
from vreg_cli.methods import METHODS, build_method
from vreg_cli.methods.classic import ClassicMethod, ClassicOptions
from vreg_cli.methods.loftr import LoFTRMethod, LoFTROptions
from vreg_cli.methods.options import declared_options
from vreg_cli.registration import register_pair


def test_classic_options_are_typed_and_reachable_from_a_spec() -> None:
    method, why = build_method("classic:angle_step=6,radii=20/8/4,sigmas=2/3,min_verified=8")
    assert isinstance(method, ClassicMethod) and why == "requested"
    assert method.options.angle_step == 6.0 and method.options.radii == (20, 8, 4)
    assert method.options.sigmas == (2.0, 3.0) and method.options.min_verified == 8
    # every field of ClassicOptions is an option, with its default and a help line
    names = {o.name for o in METHODS["classic"].options}
    assert names == {o.name for o in declared_options(ClassicOptions)} and "patch" in names
    assert all(o.help for o in METHODS["classic"].options)
    # help lines come from the docstring's Options: section (continuation lines joined), choices from Literal
    prealign = next(o for o in METHODS["loftr"].options if o.name == "prealign")
    assert prealign.choices == ("auto", "classic", "search", "none") and prealign.help.endswith("(search) or none")
    assert prealign.type_name == "auto|classic|search|none"


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("classic:foo=1", "no option"),
        ("classic:radii=a/b", "expected int/int"),
        ("classic:radii=1/2", r"radii='1/2': item 1 must lie in \[2, 48\]"),
        ("sift:ratio=2", r"ratio='2': must lie in \(0, 1\]"),
        ("sift:weights=a.ckpt", "no option"),
        ("loftr:prealign=sideways", "choose one of auto"),
        ("loftr:weights=a,checkpoint=b", "not both"),
        ("loftr:size=big", "expected int"),
        ("orb", "unknown method"),
        ("classic:angle_step", "not key=value"),
    ],
)
def test_bad_specs_are_one_line_errors(spec: str, words: str) -> None:
    with pytest.raises(VregError, match=words):
        build_method(spec)


def test_the_context_reaches_every_method_and_loftrs_prealigner() -> None:
    ctx = RegistrationContext(working_size=320, max_rotation=25.0, scale_range=(0.8, 1.25))
    for spec in ("classic", "sift"):
        assert build_method(spec, ctx).method.context is ctx
    loftr = LoFTRMethod(LoFTROptions(), ctx, matcher=lambda f, m: None)  # type: ignore[arg-type,return-value]
    assert loftr.prealigner.classic.context is ctx  # type: ignore[attr-defined]
    assert "rotation +-25 deg, scale 0.8-1.25" in build_method("classic", ctx).method.describe()


def test_context_scales_pixel_settings_with_the_image_size() -> None:
    ctx = RegistrationContext(threshold_px=3.0)
    assert ctx.threshold_for(640) == 3.0 and ctx.threshold_for(320) == 1.5
    half = ClassicOptions().at_side(320)
    assert (half.patch, half.step, half.radii, half.verify_radius) == (24, 12, (12, 5, 2), 12)
    assert half.sigmas == (1.0, 1.5, 2.25) and half.norm_sigma == 12.0 and ClassicOptions().at_side(640) is not half
    with pytest.raises(VregError, match="unknown model"):
        RegistrationContext.from_options(model="projective")
    with pytest.raises(VregError, match="scale_range"):
        RegistrationContext.from_options(scale_range=(2.0, 1.0))


def test_classic_matches_at_the_size_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """--working-size 200 must reach classic as 200 px images (it used to be upsampled back to 640)."""
    eye = make_triplet(3, 256)
    turn = affine_matrix(30, 1.0, center=(127.5, 127.5))
    moving = warp_image(eye["fa"], turn, (256, 256))
    seen: list[tuple[int, ...]] = []
    original = ClassicOptions.vessel_map

    def spy(self: ClassicOptions, image: np.ndarray):  # type: ignore[no-untyped-def]
        seen.append(image.shape[:2])
        return original(self, image)

    monkeypatch.setattr(ClassicOptions, "vessel_map", spy)
    method = build_method("classic", RegistrationContext(working_size=200)).method
    reg = register_pair(eye["cf"], moving, method)
    assert max(max(s) for s in seen) == 200
    assert abs(reg.parts.rotation_deg + 30) < 1.5 and abs(reg.parts.scale - 1) < 0.03


def test_limits_come_from_the_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """A narrowed context narrows both classic's search and what register accepts."""
    eye = make_triplet(3, 256)
    moving = warp_image(eye["fa"], affine_matrix(90, 1.0, center=(127.5, 127.5)), (256, 256))
    narrow = build_method("classic", RegistrationContext(working_size=256, max_rotation=40)).method
    with pytest.raises(RegistrationFailed):
        register_pair(eye["cf"], moving, narrow)
    wide = build_method("classic", RegistrationContext(working_size=256)).method
    assert abs(register_pair(eye["cf"], moving, wide).parts.rotation_deg + 90) < 1.5


def test_vreg_methods_lists_every_option() -> None:
    result = CliRunner().invoke(app, ["methods"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for info in METHODS.values():
        assert info.name in result.output
        for opt in info.options:
            assert opt.name in result.output
    assert "24/10/5" in result.output  # classic's radii default, written as a spec would take it
    bad = CliRunner().invoke(app, ["methods", "orb"])
    assert bad.exit_code == 2 and "unknown method" in bad.output
