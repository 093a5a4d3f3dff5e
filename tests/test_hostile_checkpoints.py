"""Weights files whose model_config or weights would build a huge model, end in a traceback or load quietly wrong
(#46): each is one VregError line before anything large is allocated, and exit 2 on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from vreg_cli.cli import app
from vreg_cli.errors import VregError
from vreg_cli.limits import MAX_LOFTR_PARAMETERS
from vreg_cli.model.checkpoint import checkpoint_payload
from vreg_cli.model.config import LoFTRConfig
from vreg_cli.model.loftr import LoFTRModel, check_model_size, load_model
from vreg_cli.paths import SAMPLE_DIR


@pytest.fixture(scope="module")
def payload() -> dict[str, Any]:
    """A small LoFTR's vreg checkpoint, as ``torch.save`` writes it."""
    torch.manual_seed(0)
    return checkpoint_payload(LoFTRModel(LoFTRConfig.for_arch("small")))


def _write(path: Path, payload: dict[str, Any], config: dict[str, Any] | None = None, **weights: Any) -> Path:
    data = {**payload, "model_config": {**payload["model_config"], **(config or {})}}
    data["model"] = {**payload["model"], **weights}
    torch.save(data, path)
    return path


def _one_line(path: Path, *words: str) -> None:
    with pytest.raises(VregError) as info:
        load_model(path, device="cpu")
    text = str(info.value)
    assert "\n" not in text and str(path) in text and all(w in text for w in words), text


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"attention": "full"}, ("attention 'full'", "only 'linear'")),
        ({"attention": "bogus"}, ("attention 'bogus'",)),
        ({"initial_dim": 10**400}, ("initial_dim", "more than 16 digits")),
        ({"initial_dim": 128.7}, ("initial_dim", "whole number")),
        ({"train_size": 8}, ("train_size", "[64, 8192]")),
        ({"temp_bug_fix": "yes"}, ("temp_bug_fix", "true or false")),
    ],
)
def test_a_bad_model_config_is_one_line(tmp_path: Path, payload: dict[str, Any], config: dict, words: tuple) -> None:
    _one_line(_write(tmp_path / "w.ckpt", payload, config), *words)


def test_a_model_config_asking_for_a_huge_model_is_refused_before_it_is_built(tmp_path: Path) -> None:
    biggest = {"initial_dim": 1024, "block_dims": (1024, 1024, 1024), "coarse_d_model": 1024, "coarse_d_ffn": 4096,
               "fine_d_model": 1024, "fine_d_ffn": 4096, "coarse_layer_names": ("self", "cross") * 16}  # fmt: skip
    config = LoFTRConfig(**biggest)
    with pytest.raises(VregError, match=r"M parameters, over the limit of 50 M"):
        check_model_size(config, "huge.ckpt")
    assert check_model_size(LoFTRConfig()) < MAX_LOFTR_PARAMETERS  # MINIMA's fits
    # the file needs no weights to be refused: a tiny checkpoint stating that config
    path = tmp_path / "huge.ckpt"
    torch.save({"format": "vreg-loftr", "version": 1, "model_config": config.to_dict(), "model": {}}, path)
    result = CliRunner().invoke(app, ["register", str(SAMPLE_DIR / "fixed.png"), str(SAMPLE_DIR / "moving.png"),
                                      "--checkpoint", str(path), "-o", str(tmp_path / "o.png")])  # fmt: skip
    assert result.exit_code == 2 and "over the limit of 50 M" in " ".join(result.output.split()), result.output


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("complex", ("is complex", "real")),
        ("nan", ("NaN or infinite",)),
        ("inf", ("NaN or infinite",)),
    ],
)
def test_weights_that_would_load_wrong_are_refused(tmp_path: Path, payload: dict, change: str, words: tuple) -> None:
    name = next(k for k, v in payload["model"].items() if v.is_floating_point() and v.numel() > 1)
    value = payload["model"][name].clone()
    if change == "complex":
        value = value.to(torch.complex64)
    else:
        value.view(-1)[0] = float(change)
    _one_line(_write(tmp_path / "w.ckpt", payload, **{name: value}), name[:40], *words)


def test_a_state_dict_key_that_is_not_a_name_is_one_line(tmp_path: Path, payload: dict) -> None:
    path = tmp_path / "w.ckpt"
    torch.save({"state_dict": {10**6000: torch.zeros(1), **payload["model"]}}, path)
    _one_line(path, "state-dict key of type int is not a parameter name")
