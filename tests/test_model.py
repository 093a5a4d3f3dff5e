"""LoFTR model: MINIMA-format loading, kornia equivalence, freezing, training forward, checkpoints."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import kornia.feature as KF
import pytest
import torch
from kornia.feature.loftr.utils.coarse_matching import CoarseMatching
from kornia.feature.loftr.utils.position_encoding import PositionEncodingSine
from rich.console import Console

from vreg_cli.errors import VregError
from vreg_cli.model.config import DEFAULT_FREEZE, LoFTRConfig, parse_freeze
from vreg_cli.model.freeze import parameter_counts, trainable_share
from vreg_cli.model.loftr import LoFTRModel, checkpoint_payload, load_model, parameter_table
from vreg_cli.model.padded_matching import PaddedCoarseMatching
from vreg_cli.model.safe_load import read_checkpoint

N_TENSORS = 211  # 107 backbone (17 num_batches_tracked) + 80 loftr_coarse + 4 fine_preprocess + 20 loftr_fine


def _smooth_pair(seed: int, h: int = 96, w: int = 128, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """A blurred random image and a shifted copy, (B, 1, h, w) in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    img = torch.nn.functional.avg_pool2d(torch.rand(batch, 1, h, w, generator=g), 5, 1, 2)
    return img, torch.roll(img, (8, 16), (2, 3))


def _supervised(h: int = 64, w: int = 64, batch: int = 1, seed: int = 0) -> dict[str, torch.Tensor]:
    """Data dict with identity ground truth (cell i <-> cell i) on every sample."""
    image0, _ = _smooth_pair(seed, h, w, batch)
    n = (h // 8) * (w // 8)
    cells = torch.arange(n).repeat(batch)
    return {
        "image0": image0,
        "image1": image0.clone(),
        "spv_b_ids": torch.arange(batch).repeat_interleave(n),
        "spv_i_ids": cells,
        "spv_j_ids": cells.clone(),
    }


def _toy_loss(data: dict[str, torch.Tensor]) -> torch.Tensor:
    conf = data["conf_matrix"][data["spv_b_ids"], data["spv_i_ids"], data["spv_j_ids"]]
    return -(conf + 1e-6).log().mean() + data["expec_f"][:, :2].pow(2).mean()


@pytest.fixture(scope="module")
def minima_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file in MINIMA's release format: Lightning dict, ``matcher.``-prefixed keys, random weights."""
    torch.manual_seed(0)
    model = LoFTRModel()
    state = {f"matcher.{k}": v for k, v in model.state_dict().items()}
    path = tmp_path_factory.mktemp("weights") / "minima_loftr.ckpt"
    torch.save({"epoch": 29, "global_step": 123456, "state_dict": state}, path)
    return path


def test_minima_file_loads_every_tensor(minima_file: Path) -> None:
    model = load_model(minima_file)
    saved = torch.load(minima_file, weights_only=True)["state_dict"]
    assert len(saved) == N_TENSORS
    for key, value in model.state_dict().items():
        assert torch.equal(value, saved[f"matcher.{key}"]), key


@pytest.mark.slow
def test_match_equals_kornia_loftr(minima_file: Path) -> None:
    # thr 0: random weights never pass 0.2, and every mutual nearest neighbour then has to agree
    config = dataclasses.replace(LoFTRConfig(), thr=0.0)
    model = load_model(minima_file, config=config)
    reference = KF.LoFTR(pretrained=None, config=config.to_kornia())
    reference.load_state_dict(torch.load(minima_file, weights_only=True)["state_dict"])
    reference.eval()
    assert reference.pos_encoding.temp_bug_fix is True
    image0, image1 = _smooth_pair(1)
    ours = model.match(image0, image1)
    with torch.no_grad():
        theirs = reference({"image0": image0, "image1": image1})
    assert len(ours["keypoints0"]) > 20
    for key in ("keypoints0", "keypoints1", "confidence", "batch_indexes"):
        assert torch.equal(ours[key], theirs[key]), key


@pytest.mark.slow
def test_precomputed_fixed_features_give_the_same_matches(minima_file: Path) -> None:
    model = load_model(minima_file, config=dataclasses.replace(LoFTRConfig(), thr=0.0))
    image0, image1 = _smooth_pair(1)
    features0 = model.extract_features(image0)
    assert [tuple(f.shape) for f in features0] == [(1, 256, 12, 16), (1, 128, 48, 64)]
    movings = torch.cat([image1, torch.roll(image0, (-8, 8), (2, 3))])
    both = model.match(image0.expand(2, -1, -1, -1), movings, features0=features0)
    for b in range(2):
        alone = model.match(image0, movings[b : b + 1])
        mine = both["batch_indexes"] == b
        assert len(alone["keypoints0"]) > 20
        for key in ("keypoints0", "keypoints1", "confidence"):
            assert torch.allclose(both[key][mine], alone[key], atol=1e-4), key
    with pytest.raises(VregError, match="features0"):
        model.match(image0[..., :64], image1[..., :64], features0=features0)


def test_match_accepts_uint8_array_and_restores_mode(minima_file: Path) -> None:
    model = load_model(minima_file, config=dataclasses.replace(LoFTRConfig(), thr=0.0)).train()
    image0, image1 = _smooth_pair(2, 64, 64)
    arrays = [(img[0, 0] * 255).round().to(torch.uint8).numpy() for img in (image0, image1)]
    out = model.match(*arrays)
    assert out["keypoints0"].shape[1] == 2 and out["keypoints0"].shape == out["keypoints1"].shape
    assert model.training and model.loftr_coarse.training


def test_unprefixed_release_file_loads(tmp_path: Path) -> None:
    state = LoFTRModel().state_dict()
    path = tmp_path / "loftr.ckpt"
    torch.save({"state_dict": state}, path)
    loaded = load_model(path)
    assert all(torch.equal(v, state[k]) for k, v in loaded.state_dict().items())


def test_vreg_checkpoint_roundtrip(tmp_path: Path) -> None:
    config = LoFTRConfig().with_freeze("none")
    model = LoFTRModel(config)
    payload = checkpoint_payload(model)
    assert payload["format"] == "vreg-loftr" and payload["version"] == 1
    path = tmp_path / "best.ckpt"
    torch.save({**payload, "step": 7, "optimizer": {}}, path)
    loaded = load_model(path)
    assert loaded.config == config and not loaded.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key


def _save_modified(minima_file: Path, tmp_path: Path, edit: str) -> Path:
    ckpt = torch.load(minima_file, weights_only=True)
    state = ckpt["state_dict"]
    if edit == "rename":
        state["matcher.loftr_coarse.layers.0.q_proj.weight_typo"] = state.pop(
            "matcher.loftr_coarse.layers.0.q_proj.weight"
        )
    elif edit == "shape":
        state["matcher.loftr_fine.layers.1.merge.weight"] = state["matcher.loftr_fine.layers.1.merge.weight"][:64]
    path = tmp_path / f"{edit}.ckpt"
    torch.save(ckpt, path)
    return path


def test_wrong_key_is_one_clear_line(minima_file: Path, tmp_path: Path) -> None:
    path = _save_modified(minima_file, tmp_path, "rename")
    with pytest.raises(VregError) as info:
        load_model(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert "1 missing: loftr_coarse.layers.0.q_proj.weight" in message
    assert "1 unexpected: loftr_coarse.layers.0.q_proj.weight_typo" in message


def test_shape_mismatch_is_named(minima_file: Path, tmp_path: Path) -> None:
    with pytest.raises(VregError, match=r"shape mismatch .*loftr_fine\.layers\.1\.merge\.weight \(64, 128\) vs"):
        load_model(_save_modified(minima_file, tmp_path, "shape"))


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all\n" * 10, bytes(range(256)) * 4])
def test_garbage_file_is_vreg_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "weights.ckpt"
    path.write_bytes(content)
    with pytest.raises(VregError, match="weights.ckpt"):
        load_model(path)


def test_foreign_torch_file_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"epoch": 1, "weights": [1, 2]}, path)
    with pytest.raises(VregError, match="not a LoFTR checkpoint"):
        load_model(path)
    with pytest.raises(VregError, match="not found"):
        load_model(tmp_path / "absent.ckpt")


def _frozen_snapshot(model: LoFTRModel) -> dict[str, torch.Tensor]:
    """Every tensor (weights and BatchNorm buffers) of the modules frozen by default."""
    return {
        f"{name}.{key}": value.clone()
        for name in ("backbone", "fine_preprocess")
        for key, value in getattr(model, name).state_dict().items()
    }


def _train_steps(model: LoFTRModel, steps: int = 3) -> None:
    model.train()
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    for step in range(steps):
        data = _supervised(seed=step)
        model.forward_train(data)
        optimiser.zero_grad()
        _toy_loss(data).backward()
        optimiser.step()


@pytest.mark.slow
def test_default_freeze_keeps_backbone_bit_identical() -> None:
    torch.manual_seed(0)
    model = LoFTRModel()
    frozen_before = _frozen_snapshot(model)
    coarse_before = {k: v.clone() for k, v in model.loftr_coarse.state_dict().items()}
    fine_before = {k: v.clone() for k, v in model.loftr_fine.state_dict().items()}
    _train_steps(model)
    assert any("running_mean" in k for k in frozen_before)
    for key, value in _frozen_snapshot(model).items():
        assert torch.equal(value, frozen_before[key]), key
    for before, module in ((coarse_before, model.loftr_coarse), (fine_before, model.loftr_fine)):
        changed = [k for k, v in module.state_dict().items() if not torch.equal(v, before[k])]
        assert len(changed) == len(before)


def test_full_finetune_moves_batchnorm_stats() -> None:
    # the control for the test above: without the policy, one training forward changes BatchNorm buffers
    model = LoFTRModel(LoFTRConfig().with_freeze("none"))
    before = _frozen_snapshot(model)
    _train_steps(model, steps=1)
    assert not torch.equal(model.backbone.bn1.running_mean, before["backbone.bn1.running_mean"])
    assert not torch.equal(model.backbone.conv1.weight, before["backbone.conv1.weight"])


def test_train_mode_keeps_frozen_modules_in_eval() -> None:
    model = LoFTRModel().train()
    for name in DEFAULT_FREEZE:
        assert all(not m.training for m in getattr(model, name).modules()), name
    for name in ("loftr_coarse", "coarse_matching", "loftr_fine", "fine_matching"):
        assert getattr(model, name).training, name
    model.eval()
    assert not any(m.training for m in model.modules())


def test_freeze_policies() -> None:
    default = LoFTRModel()
    counts = parameter_counts(default)
    assert all(trainable == 0 for name, (trainable, _) in counts.items() if name in DEFAULT_FREEZE)
    expected = sum(sum(counts[n]) for n in ("loftr_coarse", "loftr_fine")) / sum(map(sum, counts.values()))
    assert trainable_share(default) == pytest.approx(expected)
    assert 0.48 < trainable_share(default) < 0.49
    full = LoFTRModel(LoFTRConfig().with_freeze("none"))
    assert all(p.requires_grad for p in full.parameters()) and trainable_share(full) == 1.0
    full.train()
    assert full.backbone.bn1.training
    assert parse_freeze("default") == DEFAULT_FREEZE
    with pytest.raises(VregError, match="cannot freeze coarse_matching"):
        parse_freeze("backbone,coarse_matching")
    console = Console(record=True, width=100)
    console.print(parameter_table(default))
    assert "48.3% trainable" in console.export_text()


def test_temp_bug_fix_changes_positional_encoding() -> None:
    fixed, buggy = LoFTRModel(), LoFTRModel(dataclasses.replace(LoFTRConfig(), temp_bug_fix=False))
    assert LoFTRConfig().to_kornia()["coarse"]["temp_bug_fix"] is True
    assert torch.equal(fixed.pos_encoding.pe, PositionEncodingSine(256, temp_bug_fix=True).pe)
    assert not torch.allclose(fixed.pos_encoding.pe, buggy.pos_encoding.pe, atol=1e-2)


def test_forward_train_pads_with_ground_truth_and_fills_keys() -> None:
    torch.manual_seed(0)
    model = LoFTRModel().train()
    data = _supervised(h=64, w=96, batch=2)
    assert model(data) is data  # forward = forward_train, the entry point DistributedDataParallel needs
    budget = int(2 * 8 * 12 * 0.2)  # train_coarse_percent of B * max(L0, L1) cells
    n_pred = int((~data["gt_mask"]).sum())
    assert data["b_ids"].shape == data["gt_mask"].shape and len(data["b_ids"]) >= budget
    assert not data["gt_mask"][:n_pred].any() and data["gt_mask"][n_pred:].all()  # predictions first
    assert data["conf_matrix"].shape == (2, 96, 96) and data["conf_matrix"].dtype == torch.float32
    assert data["expec_f"].shape == (len(data["b_ids"]), 3)
    assert data["mkpts0_f"].shape == data["mkpts1_f"].shape == (n_pred, 2) == data["mkpts0_c"].shape
    for key in ("hw0_i", "hw1_c", "hw0_f", "m_bids", "mconf", "i_ids", "j_ids"):
        assert key in data
    with pytest.raises(KeyError, match="spv_b_ids"):
        model.forward_train({"image0": data["image0"], "image1": data["image1"]})


def test_padding_equals_kornia_training_branch() -> None:
    # where LoFTR's own branch runs (pad minimum below half the budget), the padding draws the same matches
    config = dataclasses.replace(LoFTRConfig(), thr=0.0, train_pad_num_gt_min=10, train_coarse_percent=0.1).to_kornia()[
        "match_coarse"
    ]
    ours, reference = PaddedCoarseMatching(config), CoarseMatching(config)
    g = torch.Generator().manual_seed(3)
    feat0, feat1 = torch.randn(2, 256, 256, generator=g), torch.randn(2, 256, 256, generator=g)
    spv = {
        "spv_b_ids": torch.tensor([0, 1, 1]),
        "spv_i_ids": torch.tensor([5, 6, 7]),
        "spv_j_ids": torch.tensor([1, 2, 3]),
    }
    results = []
    for module in (ours, reference):
        data = {"hw0_c": (16, 16), "hw1_c": (16, 16), "stride_c": 8, **spv}
        torch.manual_seed(11)
        module.train()(feat0, feat1, data)
        results.append(data)
    n_kept = int((~results[0]["gt_mask"]).sum())
    assert n_kept == int(2 * 256 * 0.1) - 10  # more predictions than the budget: the sampled branch ran
    for key in ("b_ids", "i_ids", "j_ids", "gt_mask", "m_bids", "mkpts0_c", "mkpts1_c", "mconf"):
        assert torch.equal(results[0][key], results[1][key]), key


@pytest.mark.slow
def test_bf16_autocast_trains_with_float32_outputs() -> None:
    torch.manual_seed(0)
    model = LoFTRModel().train()
    data = _supervised()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        model.forward_train(data)
    assert data["conf_matrix"].dtype == torch.float32 and data["expec_f"].dtype == torch.float32
    _toy_loss(data).backward()
    grad = model.loftr_coarse.layers[0].q_proj.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert model.backbone.conv1.weight.grad is None


def test_sides_must_be_multiples_of_8() -> None:
    with pytest.raises(VregError, match="multiples of 8"):
        LoFTRModel().match(torch.rand(60, 64), torch.rand(64, 64))


def test_config_dict_roundtrip() -> None:
    config = LoFTRConfig().with_freeze("backbone")
    assert LoFTRConfig.from_dict(config.to_dict()) == config
    with pytest.raises(VregError, match="unknown LoFTR config keys: bogus"):
        LoFTRConfig.from_dict({**config.to_dict(), "bogus": 1})


def test_pickled_hyper_parameters_load_as_placeholders(tmp_path: Path) -> None:
    # Lightning checkpoints may pickle a Namespace / config object next to the weights: the weights load, the
    # object is an inert placeholder that kept nothing of the file's state (see tests/test_safety.py)
    path = tmp_path / "lightning.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "hyper_parameters": argparse.Namespace(lr=1e-3)}, path)
    obj = read_checkpoint(path)
    assert torch.equal(obj["state_dict"]["w"], torch.ones(2))
    assert type(obj["hyper_parameters"]).vreg_global == "argparse.Namespace"
    assert not hasattr(obj["hyper_parameters"], "lr")
