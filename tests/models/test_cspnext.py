"""mmdet's CSPNeXt in Keras: shapes and strides, MMPose's parameter counts, the hard sigmoid,
state-dict / ``.keras`` round trips, XLA and mixed precision."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kpose.errors import ModelError
from kpose.models.backbones.cspnext import cspnext, cspnext_m
from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from kpose.weights.state_dict import model_state_dict

NARROW = {"deepen_factor": 0.1, "widen_factor": 0.125}  # widths 8 / 16 .. 128, 1 block a stage
HEAD = HeadConfig((16, 16, 16), (4, 4, 4))


def _model(**args):
    return build_heatmap_model(ModelConfig("cspnext", {**NARROW, **args}, head=HEAD), (64, 96), 17)


def _images(seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (2, 96, 64, 3)).astype(np.float32)


def _trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_output_shapes_and_strides():
    # out_indices: stem (stride 2) and the four stages; PyTorch's padding rounds odd sizes up
    multi = cspnext(**NARROW, out_indices=(0, 1, 2, 3, 4))
    shapes = [tuple(y.shape[1:]) for y in multi(np.zeros((1, 90, 70, 3), np.float32))]
    assert shapes == [(45, 35, 8), (23, 18, 16), (12, 9, 32), (6, 5, 64), (3, 3, 128)]
    assert _model()(_images()).shape == (2, 24, 16, 17)
    with pytest.raises(ModelError, match="out_indices"):
        cspnext(out_indices=(5,))


def test_parameter_counts_equal_mmpose():
    # Measured with MMPose 1.3.2: init_model of coco/cspnext-{tiny,m}_udp_8xb256-210e_coco-256x192
    # (all parameters of tiny, the backbone's of tiny and m).
    model = build_heatmap_model(ModelConfig("cspnext_tiny"), (192, 256), 17)
    assert _trainable(model) == 6_024_621
    assert _trainable(model.get_layer("backbone")) == 2_348_700
    assert _trainable(cspnext_m()) == 12_279_432


def test_hard_sigmoid_is_pytorchs():
    x = np.array([-4.0, -3.0, -1.5, 0.0, 1.5, 3.0, 4.0], np.float32)
    y = np.asarray(keras.layers.Activation("hard_sigmoid")(x))
    np.testing.assert_allclose(y, np.clip(x / 6 + 0.5, 0, 1), atol=1e-7)  # relu6(x + 3) / 6


def test_depthwise_state_dict_keys():
    model = _model(use_depthwise=True, norm_eps=1e-3, norm_momentum=0.03)
    keys = model_state_dict(model)
    assert "backbone.stage4.1.conv2.bn.running_var" in keys  # the SPP block
    assert keys["backbone.stage1.0.depthwise_conv.conv.weight"].shape == (8, 1, 3, 3)
    assert keys["backbone.stage4.2.attention.fc.bias"].shape == (128,)
    bn = model.get_layer("backbone").get_layer("backbone.stem.0.bn")
    assert bn.epsilon == 1e-3 and bn.momentum == pytest.approx(0.97)
