"""Triplet layouts: a TOML spec (``kind = "triplets"``) says how samples and their files are found in a tree.

Spec format (documented for users in ``data_specs/triplet_layouts.md``)::

    kind = "triplets"
    description = "one line"
    [samples]
    type = "dir"                          # "dir": matching directories are samples; "file": matching files
    glob = ["*"]                          # glob(s) relative to the source root (a string or a list)
    pattern = '^(?P<id>\\d+_[A-Za-z])$'   # regex, must match the whole relative POSIX path; group "id"
    synth_id = "{n}_{letter}"             # optional: how `vreg synth` names sample n (1-based)
    [files.cf]                            # one table per entry: cf, fa, oct, vessel (required), octa, fov
    candidates = ["{id}/{id}_cf_512.png", "{id}/{id}_cf.png"]   # relative to the root; first existing wins
    required = true                       # cf, fa, oct and vessel must be required; octa and fov are optional
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vreg_cli.errors import VregError
from vreg_cli.specs import check_glob, format_template, load_spec

__all__ = ["SampleFiles", "TripletLayout", "load_layout"]


_ENTRIES = ("cf", "fa", "oct", "octa", "vessel", "fov")
_REQUIRED_ENTRIES = ("cf", "fa", "oct", "vessel")  # the HDF5 schema needs these for every sample
_SYNTH_LETTERS = "ADGN"  # FIVES categories (AMD, DR, glaucoma, normal), cycled by synth ids


@dataclass(frozen=True)
class FileRule:
    """Candidate path templates (with ``{id}``) of one entry, tried in order; ``required`` or optional."""

    candidates: tuple[str, ...]
    required: bool


@dataclass
class SampleFiles:
    """One discovered sample: the first existing candidate per entry, and the required entries not found."""

    id: str
    files: dict[str, Path] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


def _natural_key(text: str) -> list:
    """Sort key so that 2_A comes before 10_A."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


@dataclass
class TripletLayout:
    """A parsed and validated triplet layout spec."""

    name: str
    path: Path
    sample_type: str
    globs: tuple[str, ...]
    pattern: re.Pattern
    synth_id: str
    files: dict[str, FileRule]

    def synth_sample_id(self, k: int) -> str:
        """Id of the k-th (0-based) synthetic sample; must match the discovery pattern."""
        return self.synth_id.format(n=k + 1, letter=_SYNTH_LETTERS[k % len(_SYNTH_LETTERS)])

    def output_paths(self, sample_id: str, size: int) -> dict[str, str]:
        """Relative path of every entry of a sample as written by ``vreg synth``: the first candidate, skipping one
        whose name states another image size (``{id}_cf_512.png`` for 128 px images: then ``{id}_cf.png``)."""

        def fits(candidate: str) -> bool:
            stated = re.search(r"_(\d+)\.[A-Za-z]+$", candidate)
            return stated is None or int(stated.group(1)) == size

        return {
            name: next((c for c in rule.candidates if fits(c)), rule.candidates[0]).format(id=sample_id)
            for name, rule in self.files.items()
        }

    def find_samples(self, root: str | Path) -> list[SampleFiles]:
        """All samples under ``root`` in natural id order; raises VregError when there are none."""
        root = Path(root)
        if not root.is_dir():
            raise VregError(f"{root}: no such directory")
        ids: set[str] = set()
        for pattern in self.globs:
            for path in root.glob(pattern):
                if path.name.startswith(".") or not (path.is_dir() if self.sample_type == "dir" else path.is_file()):
                    continue
                match = self.pattern.fullmatch(path.relative_to(root).as_posix())
                if match:
                    ids.add(match.group("id"))
        if not ids:
            raise VregError(
                f"{root}: no samples found for layout {self.name!r} "
                f"({self.sample_type}s matching {', '.join(self.globs)} and /{self.pattern.pattern}/)"
            )
        samples = []
        for sample_id in sorted(ids, key=_natural_key):
            sample = SampleFiles(sample_id)
            for name, rule in self.files.items():
                found = _first_existing(root, rule, sample_id)
                if found is not None:
                    sample.files[name] = found
                elif rule.required:
                    sample.missing.append(name)
            samples.append(sample)
        return samples


def _first_existing(root: Path, rule: FileRule, sample_id: str) -> Path | None:
    """The first candidate file of a rule that exists for this sample, in the spec's order."""
    for template in rule.candidates:
        path = root / template.format(id=sample_id)
        if path.is_file():
            return path
    return None


def _fail(path: Path, reason: str) -> VregError:
    return VregError(f"{path}: malformed layout spec ({reason})")


def _parse_rule(path: Path, name: str, table: Any) -> FileRule:
    if not isinstance(table, dict):
        raise _fail(path, f"[files.{name}] must be a table")
    extra = set(table) - {"candidates", "required"}
    if extra:
        raise _fail(path, f"[files.{name}] has unknown keys {sorted(extra)}")
    cands = table.get("candidates")
    if not isinstance(cands, list) or not cands or not all(isinstance(c, str) and "{id}" in c for c in cands):
        raise _fail(path, f"[files.{name}].candidates must be a non-empty list of strings containing {{id}}")
    for c in cands:
        try:
            format_template(c, {"id": "x"}, f"[files.{name}]")
        except VregError as exc:
            raise _fail(path, str(exc)) from None
    required = table.get("required", name in _REQUIRED_ENTRIES)
    if not isinstance(required, bool):
        raise _fail(path, f"[files.{name}].required must be true or false")
    if name in _REQUIRED_ENTRIES and not required:
        raise _fail(path, f"{name} must be required (the HDF5 schema stores it for every sample)")
    return FileRule(tuple(cands), required)


def _parse_layout(spec: dict[str, Any], path: Path) -> TripletLayout:
    """Validate a loaded spec dict; every problem is one VregError naming the spec file."""
    extra = set(spec) - {"kind", "description", "samples", "files"}
    if extra:
        raise _fail(path, f"unknown top-level keys {sorted(extra)}")
    samples = spec.get("samples")
    if not isinstance(samples, dict):
        raise _fail(path, "missing [samples] table")
    extra = set(samples) - {"type", "glob", "pattern", "synth_id"}
    if extra:
        raise _fail(path, f"[samples] has unknown keys {sorted(extra)}")
    sample_type = samples.get("type", "dir")
    if sample_type not in ("dir", "file"):
        raise _fail(path, f"[samples].type must be 'dir' or 'file' (found {sample_type!r})")
    globs = samples.get("glob", "*")
    globs = [globs] if isinstance(globs, str) else globs
    if not isinstance(globs, list) or not globs or not all(isinstance(g, str) and g for g in globs):
        raise _fail(path, "[samples].glob must be a string or a non-empty list of strings")
    globs = [check_glob(g, f"{path}: [samples].glob") for g in globs]
    try:
        pattern = re.compile(samples.get("pattern", r"(?P<id>.+)"))
    except (re.error, TypeError) as exc:
        raise _fail(path, f"[samples].pattern is not a valid regex: {exc}") from None
    if "id" not in pattern.groupindex:
        raise _fail(path, "[samples].pattern needs a named group (?P<id>...)")
    synth_id = samples.get("synth_id", "{n:04d}")
    try:
        format_template(str(synth_id), {"n": 1, "letter": "A"}, "[samples].synth_id")
    except VregError as exc:
        raise _fail(path, str(exc)) from None
    files = spec.get("files")
    if not isinstance(files, dict):
        raise _fail(path, "missing [files] table")
    unknown = set(files) - set(_ENTRIES)
    if unknown:
        raise _fail(path, f"unknown [files] entries {sorted(unknown)} (known: {', '.join(_ENTRIES)})")
    absent = [n for n in _REQUIRED_ENTRIES if n not in files]
    if absent:
        raise _fail(path, f"[files] lacks {', '.join(absent)}")
    rules = {name: _parse_rule(path, name, files[name]) for name in _ENTRIES if name in files}
    return TripletLayout(path.stem, path, sample_type, tuple(globs), pattern, str(synth_id), rules)


def load_layout(name_or_path: str) -> TripletLayout:
    """Load a bundled triplet layout by name (``fives-generated``, ``flat``) or a spec file by path."""
    spec, path = load_spec(name_or_path, "triplets")
    return _parse_layout(spec, path)
