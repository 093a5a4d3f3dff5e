"""Triplet layout specs: discovery, candidate order, optional entries, malformed specs, unknown layouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from vreg_cli.data.layouts import load_layout
from vreg_cli.errors import VregError
from vreg_cli.specs import available_specs


def touch(root: Path, *rels: str) -> None:
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def fives_sample(root: Path, sid: str, cf: str = "_cf_512.png", fa: str = "_fa_gen.png") -> None:
    touch(root, f"{sid}/{sid}{cf}", f"{sid}/{sid}{fa}", f"{sid}/{sid}_oct_gen.png", f"{sid}/{sid}_seg.png")


def test_bundled_layouts_are_listed() -> None:
    assert {"fives-generated", "flat"} <= set(available_specs("triplets"))


def test_fives_discovery_ignores_other_folders_and_sorts_naturally(tmp_path: Path) -> None:
    for sid in ("10_A", "2_D", "600_N", "1_A"):
        fives_sample(tmp_path, sid)
    touch(tmp_path, "notes/readme.txt", "1_AB/x.png", "x_A/x.png", "3_G.png")
    (tmp_path / "7_G").mkdir()  # a sample folder with nothing in it: found, every entry missing
    samples = load_layout("fives-generated").find_samples(tmp_path)
    assert [s.id for s in samples] == ["1_A", "2_D", "7_G", "10_A", "600_N"]
    assert samples[2].missing == ["cf", "fa", "oct", "vessel"]
    assert samples[0].missing == [] and "octa" not in samples[0].files  # octa is optional


def test_first_existing_candidate_wins(tmp_path: Path) -> None:
    fives_sample(tmp_path, "1_A", cf="_cf_512.png")
    touch(tmp_path, "1_A/1_A_cf.png", "1_A/1_A_fa.png", "1_A/1_A_octa.png")
    fives_sample(tmp_path, "2_A", cf="_cf.png", fa="_fa.png")
    s1, s2 = load_layout("fives-generated").find_samples(tmp_path)
    assert s1.files["cf"].name == "1_A_cf_512.png"
    assert s1.files["fa"].name == "1_A_fa_gen.png"
    assert s1.files["octa"].name == "1_A_octa.png"
    assert s2.files["cf"].name == "2_A_cf.png" and s2.files["fa"].name == "2_A_fa.png"


def test_flat_layout_reports_a_sample_missing_a_modality(tmp_path: Path) -> None:
    touch(tmp_path, "cf/a.png", "fa/a.png", "oct/a.png", "vessel/a.png", "fa/b.png", "cf/.tmp.png")
    a, b = load_layout("flat").find_samples(tmp_path)
    assert (a.id, a.missing, "fov" in a.files) == ("a", [], False)
    assert b.id == "b" and b.missing == ["cf", "oct", "vessel"]


def test_custom_spec_by_path(tmp_path: Path) -> None:
    spec = tmp_path / "mine.toml"
    spec.write_text(
        'kind = "triplets"\n[samples]\ntype = "file"\nglob = "*_colour.jpg"\n'
        "pattern = '(?P<id>eye\\d+)_colour\\.jpg'\n"
        '[files.cf]\ncandidates = ["{id}_colour.jpg"]\n[files.fa]\ncandidates = ["{id}_angio.png"]\n'
        '[files.oct]\ncandidates = ["{id}_oct.png"]\n[files.vessel]\ncandidates = ["{id}_mask.png"]\n'
    )
    src = tmp_path / "src"
    touch(src, "eye1_colour.jpg", "eye1_angio.png", "eye1_oct.png", "eye1_mask.png", "other_colour.jpg")
    (sample,) = load_layout(str(spec)).find_samples(src)
    assert sample.id == "eye1" and sample.missing == [] and sample.files["fa"].name == "eye1_angio.png"


def test_empty_or_missing_source(tmp_path: Path) -> None:
    with pytest.raises(VregError, match="no samples found"):
        load_layout("fives-generated").find_samples(tmp_path)
    with pytest.raises(VregError, match="no such directory"):
        load_layout("flat").find_samples(tmp_path / "nope")


def test_unknown_layout() -> None:
    with pytest.raises(VregError, match="unknown triplets layout 'nosuch'.*fives-generated"):
        load_layout("nosuch")


GOOD_FILES = (
    '[files.cf]\ncandidates = ["{id}/cf.png"]\n[files.fa]\ncandidates = ["{id}/fa.png"]\n'
    '[files.oct]\ncandidates = ["{id}/oct.png"]\n[files.vessel]\ncandidates = ["{id}/v.png"]\n'
)
GOOD_SAMPLES = "[samples]\npattern = '(?P<id>.+)'\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('kind = "triplets"\n[samples\n', "malformed layout spec"),
        ('kind = "pairs"\n' + GOOD_SAMPLES + GOOD_FILES, "needs kind = 'triplets'"),
        ('kind = "triplets"\n' + GOOD_FILES, "missing \\[samples\\]"),
        ('kind = "triplets"\n' + GOOD_SAMPLES, "missing \\[files\\]"),
        ('kind = "triplets"\n[samples]\npattern = "(?P<id>["\n' + GOOD_FILES, "not a valid regex"),
        ('kind = "triplets"\n[samples]\npattern = ".+"\n' + GOOD_FILES, "named group"),
        ('kind = "triplets"\n[samples]\ntype = "link"\n' + GOOD_FILES, "type must be"),
        ('kind = "triplets"\n[samples]\nglob = []\n' + GOOD_FILES, "glob must be"),
        ('kind = "triplets"\n[samples]\nsynth_id = "{k}"\n' + GOOD_FILES, "synth_id"),
        ('kind = "triplets"\n[samples]\npatern = "x"\n' + GOOD_FILES, "unknown keys"),
        ('kind = "triplets"\n' + GOOD_SAMPLES + GOOD_FILES + '[files.ir]\ncandidates = ["{id}"]\n', "ir"),
        ('kind = "triplets"\n' + GOOD_SAMPLES + GOOD_FILES.replace('["{id}/fa.png"]', '"fa.png"'), "candidates"),
        ('kind = "triplets"\n' + GOOD_SAMPLES + GOOD_FILES.replace("{id}/oct", "{id}/{sample}/oct"), "template"),
        ('kind = "triplets"\n' + GOOD_SAMPLES + GOOD_FILES.split("[files.vessel]")[0], "lacks vessel"),
        ('kind = "triplets"\n' + GOOD_SAMPLES + GOOD_FILES + "required = false\n", "vessel must be required"),
        ('kind = "triplets"\n' + GOOD_SAMPLES + GOOD_FILES + 'required = "yes"\n', "true or false"),
    ],
)
def test_malformed_specs_give_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    with pytest.raises(VregError, match=message) as info:
        load_layout(str(spec))
    assert str(spec) in str(info.value) and "\n" not in str(info.value)


def test_minimal_valid_spec_loads(tmp_path: Path) -> None:
    spec = tmp_path / "ok.toml"
    spec.write_text('kind = "triplets"\n' + GOOD_SAMPLES + GOOD_FILES)
    layout = load_layout(str(spec))
    assert layout.sample_type == "dir" and layout.globs == ("*",) and layout.synth_sample_id(0) == "0001"
    assert set(layout.files) == {"cf", "fa", "oct", "vessel"}
