"""AlexNet, CPM and Hourglass in Keras: feature-map sizes, parameter counts of the real variants,
MMPose's unused ``inters.0`` block, state-dict and ``.keras`` round trips, XLA."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import kpose.models.backbones.hourglass as hourglass_module
import kpose.models.layers
from kpose.errors import ModelError
from kpose.models.backbones.alexnet import alexnet
from kpose.models.backbones.cpm import cpm
from kpose.models.backbones.hourglass import hourglass, hourglass52
from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from kpose.weights.state_dict import assign_state_dict, model_state_dict

TINY_CPM = {"out_channels": 5, "feat_channels": 8, "middle_channels": 4, "num_stages": 3}
TINY_HOURGLASS = {
    "downsample_times": 2,
    "stage_channels": (256, 8, 8),
    "stage_blocks": (1, 1, 1),
    "feat_channel": 8,
}


def _images(width: int, height: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-2, 2, (1, height, width, 3)).astype(np.float32)


def _params(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_feature_map_sizes():
    assert alexnet()(_images(192, 256)).shape == (1, 7, 5, 256)  # MMPose's 56x40 heatmaps / 8
    stages = cpm(**TINY_CPM)(_images(44, 60))  # padded pools round up: 60 -> 30 -> 15 -> 8
    assert [tuple(s.shape) for s in stages] == [(1, 8, 6, 5)] * 3
    stacks = hourglass(num_stacks=2, **TINY_HOURGLASS)(_images(64, 96))
    assert [tuple(s.shape) for s in stacks] == [(1, 24, 16, 8)] * 2


def test_parameter_counts_equal_mmpose(monkeypatch):
    # Measured with the MMPose 1.3.2 reference: AlexNet(), CPM(3, 17), HourglassNet(num_stacks=1)
    # (its unused inters.0 BasicBlock included). Zero init: drawing ~130M random weights is slow.
    monkeypatch.setattr(kpose.models.layers, "kaiming_fan_out", lambda: "zeros")
    monkeypatch.setattr(hourglass_module, "kaiming_fan_out", lambda: "zeros")
    monkeypatch.setattr("kpose.models.backbones.cpm._conv_init", lambda: "zeros")
    assert _params(alexnet()) == 2_469_696
    assert _params(cpm(17)) == 31_304_166
    assert _params(hourglass52()) == 94_843_520


def test_single_stack_keeps_mmpose_unused_block_and_round_trips(tmp_path):
    backbone = hourglass(num_stacks=1, **TINY_HOURGLASS)
    images = _images(64, 64)
    expected = np.asarray(backbone(images, training=False)[0])
    state = model_state_dict(backbone)
    assert state["backbone.inters.0.conv1.weight"].shape == (256, 256, 3, 3)  # torch layout
    assert state["backbone.inters.0.bn2.running_var"].shape == (256,)
    unused = backbone.get_layer("backbone.inters.0")
    assert len(unused.trainable_weights) == 6 and len(unused.non_trainable_weights) == 4

    fresh = hourglass(num_stacks=1, **TINY_HOURGLASS)
    state["backbone.inters.0.bn1.bias"] = np.full(256, 0.5, np.float32)
    assign_state_dict(fresh, state, strict=True)
    np.testing.assert_array_equal(np.asarray(fresh(images, training=False)[0]), expected)
    np.testing.assert_array_equal(model_state_dict(fresh)["backbone.inters.0.bn1.bias"], 0.5)

    backbone.save(tmp_path / "hourglass.keras")
    loaded = keras.saving.load_model(tmp_path / "hourglass.keras")
    np.testing.assert_array_equal(np.asarray(loaded(images, training=False)[0]), expected)


def test_cpm_heatmap_model_all_stages():
    cfg = ModelConfig("cpm", TINY_CPM, head=HeadConfig((), (), final_kernel_size=0, type="cpm"))
    model = build_heatmap_model(cfg, (20, 28), 5)
    pixels = np.random.default_rng(1).uniform(0, 255, (1, 28, 20, 3)).astype(np.float32)
    expected = np.asarray(model(pixels, training=False))
    assert expected.shape == (1, 4, 3, 5)
    stages = build_heatmap_model(cfg, (20, 28), 5, all_stages=True)
    stages.set_weights(model.get_weights())
    outputs = stages(pixels, training=False)
    assert len(outputs) == 3
    np.testing.assert_allclose(np.asarray(outputs[-1]), expected, rtol=0, atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ModelError, match="stage_channels\\[0\\]"):
        hourglass(stage_channels=(128, 256, 384, 384, 384, 512))
    with pytest.raises(ModelError, match="downsample_times"):
        hourglass(downsample_times=6)
    with pytest.raises(ModelError, match="num_stages"):
        cpm(17, num_stages=0)
    with pytest.raises(ModelError, match="num_classes"):
        alexnet(num_classes=1000)
