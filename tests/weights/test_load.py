"""``kpose.weights.load``: whole ``.keras`` models with kpose's layers, and backbone-only
checkpoints (MMPose's ``init_cfg=Pretrained``)."""

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
