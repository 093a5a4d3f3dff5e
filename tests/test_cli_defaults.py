"""One owner per default (issue 32 item 5): each `vreg train` option's default is its config field's, shown and used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import retinareg.training.loop
from retinareg.cli import app, field_default
from retinareg.data.augment import AugmentConfig
from retinareg.model.loss_config import LossConfig
from retinareg.training.config import TrainConfig

#: option -> the config field that owns its default: the option defaults to None ("not given", for --resume) and
#: shows the field's default in its help
SHOWN: dict[str, tuple[type, str]] = {
    "pairs": (TrainConfig, "pairs"),
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
#: options that no config field's default owns: required without --resume, or not part of the config
UNOWNED = {"data", "out", "resume", "force"}


def _train_params() -> dict[str, Any]:
    """`vreg train`'s click parameters by name (Typer bundles its own click: its Parameter class is private)."""
    command: Any = typer.main.get_command(app)
    return {p.name: p for p in command.commands["train"].params}


def _parse_shown(text: str, like: Any) -> Any:
    """The shown default read back as a value of ``like``'s type ('0.8,1.25' -> (0.8, 1.25))."""
    if isinstance(like, tuple):
        return tuple(_parse_shown(part, like[0]) for part in text.split(","))
    return type(like)(text)


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
    monkeypatch.setattr(retinareg.training.loop, "train", lambda cfg: seen.append(cfg) or _Result())
    data, out = tmp_path / "d.h5", tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--data", str(data), "--out", str(out), "--max-steps", "3"])
    assert result.exit_code == 0, result.output
    assert seen[0].to_dict() == TrainConfig(data=str(data), out=str(out), max_steps=3).to_dict()


class _Result:
    """What `vreg train` reads of the loop's result."""

    val: dict[str, float] = {}
    step = 3
    run_dir = "run"
