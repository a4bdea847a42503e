"""``kpose.weights.load``: whole ``.keras`` models with kpose's layers, MMPose 0.x checkpoints,
and backbone-only checkpoints (MMPose's ``init_cfg=Pretrained``, converted where MMPose
converts them). Loading by URL: ``test_download.py``."""

from __future__ import annotations

import numpy as np
import pytest


def test_keras_file_with_custom_layers_loads_in_a_fresh_process(tmp_path):
    """A .keras model whose layers are kpose's own (ViT's position embedding, attention) loads
    in a process that has built no model (kpose registers every family's layers first)."""
    import subprocess
    import sys

    from kpose.models.build import build_heatmap_model
    from kpose.recipe import HeadConfig, ModelConfig

    arch = {"embed_dims": 32, "num_layers": 1, "num_heads": 4, "feedforward_channels": 64}
    cfg = ModelConfig("vit", {"arch": arch, "img_size": [64, 48]}, head=HeadConfig((8, 8), (4, 4)))
    model = build_heatmap_model(cfg, (48, 64), 3)
    path = tmp_path / "tiny_vit.keras"
    model.save(path)
    images = np.random.default_rng(0).uniform(0, 255, (1, 64, 48, 3)).astype(np.float32)
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "expected.npy", np.asarray(model(images)))
    code = (
        "import numpy as np; from kpose.weights.load import load_keras_model; "
        f"m = load_keras_model(r'{path}', (48, 64), 3); "
        f"d = np.abs(np.asarray(m(np.load(r'{tmp_path / 'images.npy'}'))) "
        f"- np.load(r'{tmp_path / 'expected.npy'}')).max(); print('DIFF', d)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.split("DIFF")[-1]) < 1e-5


def test_backbone_weights_fill_the_backbone_and_report_the_rest():
    """MMPose's backbone init_cfg=Pretrained: a classification checkpoint with backbone-relative
    keys (and a classifier) fills the backbone only."""
    from kpose.errors import ModelError
    from kpose.models.build import build_heatmap_model
    from kpose.recipe import HeadConfig, ModelConfig
    from kpose.weights.load import load_backbone_weights
    from kpose.weights.state_dict import model_state_dict

    cfg = ModelConfig(
        "resnet18", {"base_channels": 8, "stem_channels": 8}, head=HeadConfig((8,), (4,))
    )
    source = build_heatmap_model(cfg, (32, 64), 3)
    target = build_heatmap_model(cfg, (32, 64), 3)
    imagenet = {
        k.removeprefix("backbone."): v
        for k, v in model_state_dict(source).items()
        if k.startswith("backbone.") and "layer4" not in k
    }
    imagenet["fc.weight"] = np.zeros((1000, 64), np.float32)
    head_before = model_state_dict(target)["head.final_layer.weight"]
    result = load_backbone_weights(
        target, {f"model.{k}": v for k, v in imagenet.items()}, prefix="model."
    )
    after = model_state_dict(target)
    np.testing.assert_array_equal(
        after["backbone.layer1.0.conv1.weight"], imagenet["layer1.0.conv1.weight"]
    )
    np.testing.assert_array_equal(after["head.final_layer.weight"], head_before)
    assert result.unexpected_keys == ["backbone.fc.weight"]
    assert result.missing_keys and all(".layer4." in k for k in result.missing_keys)
    with pytest.raises(ModelError, match="no tensor matches the backbone"):
        load_backbone_weights(target, {"encoder.w": np.zeros(3, np.float32)})


def test_mmpose_0x_checkpoints_are_renamed_as_mmpose_1x_does(tmp_path):
    """An MMPose 0.x checkpoint (``keypoint_head``, ``TopdownHeatmapSimpleHead``'s final_layer
    list) loads strictly after MMPose 1.x's renaming; 1.x names pass through."""
    from kpose.models.build import build_heatmap_model
    from kpose.recipe import HeadConfig, ModelConfig
    from kpose.weights.load import load_weights, upgrade_mmpose_keys
    from kpose.weights.state_dict import model_state_dict
    from tests.weights.torch_files import write_torch_state_dict

    old = {
        "keypoint_head.final_layer.0.weight": 1,
        "keypoint_head.final_layer.1.running_mean": 2,
        "keypoint_head.final_layer.3.weight": 3,
        "keypoint_head.final_layer.3.bias": 4,
        "keypoint_head.deconv_layers.0.weight": 5,
        "backbone.conv1.weight": 6,
        "data_preprocessor.mean": 7,
    }
    assert upgrade_mmpose_keys(old) == {
        "head.conv_layers.0.weight": 1,
        "head.conv_layers.1.running_mean": 2,
        "head.final_layer.weight": 3,
        "head.final_layer.bias": 4,
        "head.deconv_layers.0.weight": 5,
        "backbone.conv1.weight": 6,
    }
    new = {"head.final_layer.weight": 1, "backbone.conv1.weight": 2}
    assert upgrade_mmpose_keys(new) == new

    cfg = ModelConfig(
        "resnet18", {"base_channels": 8, "stem_channels": 8}, head=HeadConfig((8,), (4,))
    )
    source = build_heatmap_model(cfg, (32, 64), 3)
    rng = np.random.default_rng(0)
    source.set_weights([rng.normal(size=w.shape).astype(w.dtype) for w in source.get_weights()])
    state = {
        k.replace("head.", "keypoint_head.", 1) if k.startswith("head.") else k: v
        for k, v in model_state_dict(source).items()
    }
    target = build_heatmap_model(cfg, (32, 64), 3)
    load_weights(target, write_torch_state_dict(tmp_path / "old.pth", state))
    for got, want in zip(target.get_weights(), source.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)


def test_backbones_whose_checkpoints_mmpose_converts():
    """PVT and Swin ImageNet checkpoints come in their original layout: the trainer converts
    them (``checkpoint_converter``) before ``load_backbone_weights``."""
    from kpose.models.backbones.pvt import convert_pvt_checkpoint
    from kpose.models.backbones.swin import convert_swin_checkpoint
    from kpose.weights.load import checkpoint_converter

    assert checkpoint_converter("pvt_s") is convert_pvt_checkpoint
    assert checkpoint_converter("pvtv2_b2") is convert_pvt_checkpoint
    assert checkpoint_converter("swin_t") is convert_swin_checkpoint
    assert checkpoint_converter("resnet50") is None
    assert checkpoint_converter("no-such-backbone") is None


def test_backbone_weights_through_a_converter():
    """``convert`` receives the backbone-relative keys and returns the model's."""
    from kpose.models.build import build_heatmap_model
    from kpose.recipe import HeadConfig, ModelConfig
    from kpose.weights.load import load_backbone_weights
    from kpose.weights.state_dict import model_state_dict

    cfg = ModelConfig(
        "resnet18", {"base_channels": 8, "stem_channels": 8}, head=HeadConfig((8,), (4,))
    )
    target = build_heatmap_model(cfg, (32, 64), 3)
    weight = np.full_like(model_state_dict(target)["backbone.conv1.weight"], 0.5)
    seen = []

    def convert(state):
        seen.extend(state)
        return {"backbone.conv1.weight": state["original_conv1"]}

    load_backbone_weights(target, {"original_conv1": weight}, convert=convert)
    assert seen == ["original_conv1"]
    np.testing.assert_array_equal(model_state_dict(target)["backbone.conv1.weight"], weight)
