"""The vis head (MMPose's VisPredictHead) and the 3-channels-per-keypoint head of UDP's
combined targets, built from recipes: outputs, MMPose's state-dict names, the prediction model
of the training model, and a ``.keras`` round trip. MMPose parity:
tests/parity/test_vis_head_parity.py and the presets' full-size parity."""

from __future__ import annotations

import numpy as np
import pytest

from kpose.errors import ModelError
from kpose.models.build import build_heatmap_model, prediction_model, predicts_visibility
from kpose.recipe import HeadConfig, ModelConfig
from kpose.weights.load import load_keras_model
from kpose.weights.state_dict import model_state_dict

INPUT = (96, 128)  # (w, h)
SMALL = {"width": 8, "num_blocks": [1, 1, 1], "stage1_blocks": 1, "stage1_channels": 16}


def _config(**head) -> ModelConfig:
    head = {"deconv_out_channels": (), "deconv_kernel_sizes": (), **head}
    return ModelConfig(backbone="hrnet_small", backbone_args=SMALL, head=HeadConfig(**head))


def test_vis_head_outputs_and_names():
    model = build_heatmap_model(_config(type="vis"), INPUT, 5)
    assert predicts_visibility(model) and model.output_names == ["heatmaps", "visibility"]
    heatmaps, visibility = model(np.zeros((2, 128, 96, 3), np.float32))
    assert heatmaps.shape == (2, 32, 24, 5) and visibility.shape == (2, 5)
    assert 0 < float(np.min(visibility)) and float(np.max(visibility)) < 1  # after a sigmoid
    keys = {k for k in model_state_dict(model) if k.startswith("head.")}
    assert keys == {
        "head.pose_head.final_layer.weight",
        "head.pose_head.final_layer.bias",
        "head.vis_head.2.weight",
        "head.vis_head.2.bias",
    }
    assert model_state_dict(model)["head.vis_head.2.weight"].shape == (5, 8)  # (K, channels)


def test_training_model_and_prediction_model_share_the_vis_outputs():
    stages = build_heatmap_model(_config(type="vis"), INPUT, 5, all_stages=True)
    assert stages.output_names == ["heatmaps", "visibility"]
    model = prediction_model(stages)
    assert model.output_names == ["heatmaps", "visibility"]
    assert {id(w) for w in model.weights} == {id(w) for w in stages.weights}
    plain = prediction_model(build_heatmap_model(_config(), INPUT, 5, all_stages=True))
    assert plain.output_names == ["heatmaps"] and not predicts_visibility(plain)


def test_combined_targets_head_has_three_channels_per_keypoint():
    model = build_heatmap_model(_config(channels_per_keypoint=3), INPUT, 5)
    assert model.output_shape == (None, 32, 24, 15)
    with pytest.raises(ModelError, match="channels_per_keypoint"):
        build_heatmap_model(_config(type="cpm", channels_per_keypoint=3), INPUT, 5)


def test_vis_model_round_trips_through_a_keras_file(tmp_path):
    model = build_heatmap_model(_config(type="vis"), INPUT, 5)
    path = tmp_path / "vis.keras"
    model.save(path)
    loaded = load_keras_model(path, INPUT, 5)
    crops = np.random.default_rng(0).uniform(0, 255, (1, 128, 96, 3)).astype(np.float32)
    for ours, theirs in zip(model(crops), loaded(crops), strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-6)
    with pytest.raises(ModelError, match="-> 6 heatmaps"):
        load_keras_model(path, INPUT, 6)
