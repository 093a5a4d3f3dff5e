"""One owner per default (issue 32 item 5): each option's default of `vreg train`, `vreg synth`, `vreg prepare`,
`vreg benchmark` and the registration options of `vreg register` / `vreg match` is its config field's, shown and
used; a default changed in the CLI alone (or in the dataclass alone, with the CLI typing its own) fails here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import vreg_cli.benchmark.command
import vreg_cli.data.pack
import vreg_cli.data.synth
import vreg_cli.training.loop
from vreg_cli.benchmark.command import case_config
from vreg_cli.benchmark.config import BenchmarkSettings, CaseConfig, ReportConfig, SourceConfig, Thresholds
from vreg_cli.cli import app, field_default
from vreg_cli.context import RegistrationContext
from vreg_cli.data.augment import AugmentConfig
from vreg_cli.data.config import PackConfig, SynthConfig
from vreg_cli.data.pairs import DEFAULT_LAYOUT
from vreg_cli.data.splits import parse_fractions
from vreg_cli.limits import field_range
from vreg_cli.model.loss_config import LossConfig
from vreg_cli.training.config import TrainConfig

#: option -> the config field that owns its default: the option defaults to None ("not given", for --resume) and
#: shows the field's default in its help
SHOWN: dict[str, tuple[type, str]] = {
    "modalities": (TrainConfig, "pairs"),
    "vessel_eps": (LossConfig, "vessel_eps"),
    "batch_size": (TrainConfig, "batch_size"),
    "grad_accum": (TrainConfig, "grad_accum"),
    "lr": (TrainConfig, "lr"),
    "max_rotation": (AugmentConfig, "max_rotation"),
    "scale_range": (AugmentConfig, "scale_range"),
    "max_translation": (AugmentConfig, "max_translation"),
    "max_shear": (AugmentConfig, "max_shear"),
    "flip_prob": (AugmentConfig, "flip_prob"),
    "val_every": (TrainConfig, "val_every"),
    "ckpt_every": (TrainConfig, "ckpt_every"),
    "val_items": (TrainConfig, "val_max_items"),
    "device": (TrainConfig, "device"),
    "workers": (TrainConfig, "workers"),
    "seed": (TrainConfig, "seed"),
}
#: option -> TrainConfig field whose default is None, resolved later (the help describes how, or there is none)
DESCRIBED = {
    "freeze": "freeze",
    "arch": "arch",
    "input_": "input",
    "warmup_steps": "warmup_steps",
    "image_size": "image_size",
    "weights": "weights",
    "max_steps": "max_steps",
    "epochs": "epochs",
}
#: options that no config field's default owns: required without --resume, or not part of the config (old_pairs:
#: --modalities' deprecated name, hidden)
UNOWNED = {"data", "out", "resume", "force", "old_pairs"}


def _params(name: str) -> dict[str, Any]:
    """A command's click parameters by name (Typer bundles its own click: its Parameter class is private)."""
    command: Any = typer.main.get_command(app)
    return {p.name: p for p in command.commands[name].params}


def _train_params() -> dict[str, Any]:
    return _params("train")


def _parse_shown(text: str, like: Any) -> Any:
    """The shown default read back as a value of ``like``'s type ('0.8,1.25' -> (0.8, 1.25))."""
    if isinstance(like, tuple):
        return tuple(_parse_shown(part, like[0]) for part in text.split(","))
    return type(like)(text)


def _owned_default(owner: type, names: str | tuple[str, ...]) -> Any:
    """The default of one field, or of several fields typed as one option ('--success 10,30')."""
    if isinstance(names, tuple):
        return tuple(field_default(owner, n) for n in names)
    return field_default(owner, names)


def _option_value(default: Any, like: Any) -> Any:
    """An option's default as the field's value: a comma-separated string option is read back as ``like``'s tuple."""
    if isinstance(default, str) and not isinstance(like, str):
        return _parse_shown(default, like)
    return default


def test_every_train_option_has_one_owner() -> None:
    """Every option is classified: a new option must name the field that owns its default (or say why none does)."""
    owned = set(SHOWN) | set(DESCRIBED) | {"photometric", "no_amp"}
    assert set(_train_params()) == owned | UNOWNED


@pytest.mark.parametrize("option", sorted(SHOWN))
def test_train_shows_the_owning_field_default(option: str) -> None:
    owner, name = SHOWN[option]
    param = _train_params()[option]
    assert param.default is None  # "not given": --resume tells it from a value
    assert isinstance(param.show_default, str)
    assert _parse_shown(param.show_default, field_default(owner, name)) == field_default(owner, name)


@pytest.mark.parametrize("option", sorted(DESCRIBED))
def test_train_none_defaults_are_the_fields(option: str) -> None:
    assert _train_params()[option].default is None
    assert field_default(TrainConfig, DESCRIBED[option]) is None


def test_train_flags_default_to_their_fields() -> None:
    params = _train_params()
    assert params["photometric"].default is field_default(AugmentConfig, "photometric")
    assert params["no_amp"].default is (not field_default(TrainConfig, "amp"))


def test_train_without_options_trains_with_the_config_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The config `vreg train` builds when no option is given is the dataclasses' defaults, nothing the CLI chose."""
    seen: list[TrainConfig] = []
    monkeypatch.setattr(vreg_cli.training.loop, "train", lambda cfg: seen.append(cfg) or _Result())
    data, out = tmp_path / "d.h5", tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--data", str(data), "--out", str(out), "--max-steps", "3"])
    assert result.exit_code == 0, result.output
    assert seen[0].to_dict() == TrainConfig(data=str(data), out=str(out), max_steps=3).to_dict()


class _Result:
    """What `vreg train` reads of the loop's result."""

    val: dict[str, float] = {}
    step = 3
    run_dir = "run"


# ----------------------------------------------------------------------------------- synth, prepare, benchmark
#: command -> {option: (owner, field or fields)}: the option's default is the field's (typed as the option takes it)
OWNED: dict[str, dict[str, tuple[type, str | tuple[str, ...]]]] = {
    "synth": {name: (SynthConfig, name) for name in ("n", "layout", "size", "seed", "vessels")},
    "prepare": {name: (PackConfig, name) for name in ("size", "seed", "skip_bad", "force")},
    "benchmark": {
        "split": (SourceConfig, "split"),
        "pairs_layout": (SourceConfig, "pairs_layout"),
        "skip_bad": (SourceConfig, "skip_bad"),
        "bins": (CaseConfig, "bins"),
        "scale_jitter": (CaseConfig, "scale_range"),
        "shift_jitter": (CaseConfig, "shift_frac"),
        "seed": (CaseConfig, "seed"),
        "protocol": (CaseConfig, "protocol"),
        "error_scale": (BenchmarkSettings, "error_scale"),
        "sr_me": (Thresholds, "sr_me"),
        "sr_mae": (Thresholds, "sr_mae"),
        "success": (Thresholds, ("success_median", "success_max")),
        "acceptable": (Thresholds, ("acceptable_median", "acceptable_max")),
        "auc_limit": (Thresholds, "auc_limit"),
        "model": (RegistrationContext, "model"),
        "working_size": (RegistrationContext, "working_size"),
        "workers": (BenchmarkSettings, "workers"),
        "resume": (BenchmarkSettings, "resume"),
        "force": (BenchmarkSettings, "force"),
        "report_worst": (ReportConfig, "worst"),
    },
}
#: command -> {option: (owner, field)}: the option defaults to None ("not given") and shows the field's default
NONE_SHOWN: dict[str, dict[str, tuple[type, str]]] = {
    "synth": {},
    "prepare": {"split": (PackConfig, "split")},  # None: --split-file may be given instead
    "benchmark": {  # None: the protocol's own (smallfov window options), or given under the deprecated name
        "modalities": (SourceConfig, "modality_pairs"),
        "zoom": (CaseConfig, "zoom_range"),
        "gamma": (CaseConfig, "gamma_range"),
        "blur": (CaseConfig, "blur_range"),
        "noise": (CaseConfig, "noise_range"),
    },
}
#: options that no config field's default owns: arguments, required options, inputs and outputs
NOT_OWNED = {
    "synth": {"out_dir"},
    "prepare": {"src", "out", "layout", "split_file"},
    # old_pairs: --modalities' old name, hidden
    "benchmark": {"out", "method", "data", "pairs_dir", "report_only", "old_pairs"},
}
OWNED_CASES = [(c, o) for c, options in OWNED.items() for o in sorted(options)]
SHOWN_CASES = [(c, o) for c, options in NONE_SHOWN.items() for o in sorted(options)]


@pytest.mark.parametrize("command", sorted(OWNED))
def test_every_option_has_one_owner(command: str) -> None:
    """Every option of synth, prepare and benchmark is classified: a new one must name the field owning its default."""
    assert set(_params(command)) == set(OWNED[command]) | set(NONE_SHOWN[command]) | NOT_OWNED[command]


@pytest.mark.parametrize(("command", "option"), OWNED_CASES)
def test_option_default_is_the_owning_field(command: str, option: str) -> None:
    owner, names = OWNED[command][option]
    want = _owned_default(owner, names)
    assert _option_value(_params(command)[option].default, want) == want


@pytest.mark.parametrize(("command", "option"), SHOWN_CASES)
def test_none_option_shows_the_owning_field(command: str, option: str) -> None:
    owner, name = NONE_SHOWN[command][option]
    param = _params(command)[option]
    assert param.default is None and isinstance(param.show_default, str)
    assert _parse_shown(param.show_default, field_default(owner, name)) == field_default(owner, name)


@pytest.mark.parametrize("command", ["register", "match"])
def test_registration_options_are_the_context_fields(command: str) -> None:
    """--model / --working-size default to the context's fields; --threshold, --max-rotation and --scale-range
    leave them in place (None) and show them; --max-rotation's limits are the field's Range."""
    params = _params(command)
    if "model" in params:
        assert params["model"].default == field_default(RegistrationContext, "model")
    assert params["working_size"].default == field_default(RegistrationContext, "working_size")
    for option, name in (("threshold", "threshold_px"), ("max_rotation", "max_rotation"), ("scale_range", None)):
        want = field_default(RegistrationContext, name or option)
        assert params[option].default is None
        assert _parse_shown(params[option].show_default, want) == want
    rng = field_range(RegistrationContext, "max_rotation")
    assert (params["max_rotation"].min, params["max_rotation"].max) == (rng.lo, rng.hi)
    if "pairs_layout" in params:
        assert params["pairs_layout"].default == DEFAULT_LAYOUT == field_default(SourceConfig, "pairs_layout")


def test_benchmark_without_options_runs_the_config_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cases, thresholds, source, run and report settings `vreg benchmark` builds when no option is given are
    the dataclasses' defaults, nothing the CLI chose."""
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(vreg_cli.benchmark.command, "run_from_cli", lambda **kw: seen.append(kw))
    result = CliRunner().invoke(app, ["benchmark", "--pairs-dir", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    kw = seen[0]
    cases = case_config(kw["bins"], kw["scale_range"], kw["shift_frac"], kw["seed"], kw["protocol"], kw["window"])
    assert cases == CaseConfig()
    assert Thresholds(**kw["thresholds"]) == Thresholds()
    source = SourceConfig()
    assert (kw["split"], kw["modality_pairs"], kw["pairs_layout"], kw["skip_bad"]) == (
        source.split, source.modality_pairs, source.pairs_layout, source.skip_bad
    )  # fmt: skip
    run = BenchmarkSettings()
    assert (kw["error_scale"], kw["workers"], kw["resume"], kw["force"]) == (
        run.error_scale, run.workers, run.resume, run.force
    )  # fmt: skip
    assert RegistrationContext.from_options(model=kw["model"], working_size=kw["working_size"]) == RegistrationContext()
    assert kw["report_worst"] == ReportConfig().worst


def test_synth_and_prepare_without_options_use_the_config_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`vreg synth` and `vreg prepare` hand the data functions their configs' defaults (prepare's --split included)."""
    synth: list[dict[str, Any]] = []
    monkeypatch.setattr(
        vreg_cli.data.synth, "write_synth_dataset", lambda out, n, **kw: synth.append(dict(n=n, **kw)) or []
    )
    result = CliRunner().invoke(app, ["synth", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    want = SynthConfig()
    assert {k: synth[0][k] for k in ("n", "layout", "size", "seed", "vessels")} == {
        "n": want.n, "layout": want.layout, "size": want.size, "seed": want.seed, "vessels": want.vessels
    }  # fmt: skip
    packed: list[dict[str, Any]] = []
    monkeypatch.setattr(vreg_cli.data.pack, "pack", lambda src, out, **kw: packed.append(kw) or _Packed())
    result = CliRunner().invoke(app, ["prepare", str(tmp_path), "--out", str(tmp_path / "d.h5"), "--layout", "flat"])
    assert result.exit_code == 0, result.output
    kw, config = packed[0], PackConfig()
    assert parse_fractions(kw["split"]) == config.split
    assert (kw["size"], kw["seed"], kw["skip_bad"], kw["force"]) == (
        config.size, config.seed, config.skip_bad, config.force
    )  # fmt: skip


class _Packed:
    """What `vreg prepare` reads of pack's result."""

    split_counts: dict[str, int] = {}
    n = 0
    size = (8, 8)
    modalities: tuple[str, ...] = ()
    skipped: list[str] = []
