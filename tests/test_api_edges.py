"""The Python API's edges (#46): every wrong argument is one InputError line, checked before any copy or model load."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import vreg_cli
from vreg_cli.errors import InputError

IMG = np.zeros((64, 64), np.uint8)
IMG[20:40, 10:50] = 200


def _one_line(fn: Callable[[], Any], *words: str) -> str:
    with pytest.raises(InputError) as info:
        fn()
    text = str(info.value)
    assert "\n" not in text and all(w in text for w in words), text
    return text


@pytest.mark.parametrize(
    ("kind", "make"),
    [
        ("meta", lambda: torch.zeros(64, 64, device="meta")),
        ("sparse", lambda: torch.zeros(64, 64).to_sparse()),
        ("quantized", lambda: torch.quantize_per_tensor(torch.rand(64, 64), 0.1, 0, torch.quint8)),
        ("nested", lambda: torch.nested.nested_tensor([torch.zeros(64, 64)])),
    ],
)
def test_tensors_without_pixels_are_refused(kind: str, make: Callable[[], Any]) -> None:
    with warnings.catch_warnings():  # torch warns that nested and quantized tensors are prototypes / deprecated
        warnings.simplefilter("ignore")
        tensor = make()
    _one_line(lambda: vreg_cli.register(tensor, IMG, "sift"), "fixed", kind)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: vreg_cli.register(IMG, IMG, None), ("method", "None")),
        (lambda: vreg_cli.Registrar(123), ("method", "123")),
        (lambda: vreg_cli.Registrar("sift", device=7), ("device", "7")),
        (lambda: vreg_cli.Registrar("loftr", device=torch.device("meta")), ("device",)),
        (lambda: vreg_cli.Registrar(context=object()), ("context", "RegistrationContext")),
        (lambda: vreg_cli.load_model(123), ("path", "123")),
        (lambda: vreg_cli.Registrar("sift", working_size=640.5), ("working_size", "whole number")),
        (lambda: vreg_cli.Registrar("sift", allow_mirror="yes"), ("allow_mirror", "true or false")),
        (lambda: vreg_cli.Registrar("sift", scale_range=5), ("scale_range",)),
        (lambda: vreg_cli.Registrar("sift", min_inliers=True), ("min_inliers", "whole number")),
    ],
)
def test_wrong_argument_types_are_one_input_error(call: Callable[[], Any], words: tuple[str, ...]) -> None:
    _one_line(call, *words)


@pytest.mark.parametrize(
    "image",
    [
        np.broadcast_to(np.uint8(3), (100_000, 100_000)),  # 10^10 px as a stride-0 view: refused from its shape
        np.broadcast_to(np.uint8(3), (9_000, 9_000, 3)),
    ],
)
def test_the_api_applies_the_command_lines_pixel_limit(image: np.ndarray) -> None:
    _one_line(lambda: vreg_cli.register(image, IMG, "sift"), "fixed", "pixel limit", "VREG_MAX_IMAGE_PIXELS")


def test_the_pixel_limit_follows_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VREG_MAX_IMAGE_PIXELS", "1000")
    _one_line(lambda: vreg_cli.register(IMG, IMG, "sift"), "64x64", "1,000 pixel limit")
    monkeypatch.setenv("VREG_MAX_IMAGE_PIXELS", "5000")
    assert vreg_cli.as_image(torch.zeros(64, 64, dtype=torch.uint8)).shape == (64, 64)
