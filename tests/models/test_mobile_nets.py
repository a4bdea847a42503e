"""MobileNetV2, ShuffleNetV1 and ShuffleNetV2 in Keras: shapes and strides, MMPose's parameter
counts, the channel shuffle's order, MMPose state-dict keys / layouts, saving, XLA and
mixed precision."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kpose.errors import ModelError
from kpose.models.backbones.mobilenet_v2 import mobilenet_v2
from kpose.models.backbones.shufflenet_v1 import shufflenet_v1
from kpose.models.backbones.shufflenet_v2 import shufflenet_v2
from kpose.models.layers import make_divisible
from kpose.weights.state_dict import model_state_dict

INPUT_SIZE = (40, 72)  # (w, h)


def _images(seed: int = 0) -> np.ndarray:
    width, height = INPUT_SIZE
    return np.random.default_rng(seed).uniform(0, 255, (2, height, width, 3)).astype(np.float32)


def _params(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_output_shapes_strides_and_mmpose_keys():
    x = np.zeros((1, 104, 72, 3), np.float32)  # odd maps from stride 16 on: 7x5, then 4x3
    backbone = mobilenet_v2(widen_factor=0.5, out_indices=(7, 1, 3))
    assert [tuple(o.shape[1:]) for o in backbone(x)] == [(26, 18, 16), (7, 5, 32), (4, 3, 1280)]
    state = model_state_dict(backbone)
    assert state["backbone.layer1.0.conv.0.conv.weight"].shape == (16, 1, 3, 3)  # no expansion
    assert state["backbone.layer2.0.conv.1.conv.weight"].shape == (48, 1, 3, 3)  # depthwise
    assert state["backbone.conv2.conv.weight"].shape == (1280, 160, 1, 1)

    backbone = shufflenet_v1(groups=3, widen_factor=0.5, out_indices=(0, 1, 2))
    assert [tuple(o.shape[1:]) for o in backbone(x)] == [(13, 9, 120), (7, 5, 240), (4, 3, 480)]
    state = model_state_dict(backbone)
    # the first unit's compressing conv is not grouped; later ones are (3 groups)
    assert state["backbone.layers.0.0.g_conv_1x1_compress.conv.weight"].shape == (30, 12, 1, 1)
    assert state["backbone.layers.0.1.g_conv_1x1_compress.conv.weight"].shape == (30, 40, 1, 1)
    assert state["backbone.layers.0.0.depthwise_conv3x3_bn.conv.weight"].shape == (30, 1, 3, 3)
    # the stride-2 unit's branch: 120 - 12 channels next to the pooled input
    assert state["backbone.layers.0.0.g_conv_1x1_expand.conv.weight"].shape == (108, 10, 1, 1)

    backbone = shufflenet_v2(widen_factor=0.5, out_indices=(0, 1, 2, 3))
    assert [tuple(o.shape[1:]) for o in backbone(x)] == [
        (13, 9, 48),
        (7, 5, 96),
        (4, 3, 192),
        (4, 3, 1024),
    ]
    state = model_state_dict(backbone)
    assert state["backbone.layers.0.0.branch1.0.conv.weight"].shape == (24, 1, 3, 3)
    assert state["backbone.layers.3.bn.running_var"].shape == (1024,)


@pytest.mark.parametrize(
    "constructor, kwargs, width, params",
    [  # parameter counts of MMPose 1.3.2's backbones, measured with the reference venv
        (mobilenet_v2, {}, 1280, 2_223_872),
        (shufflenet_v1, {"groups": 3}, 960, 904_728),
        (shufflenet_v2, {"widen_factor": 1.0}, 1024, 1_253_604),
    ],
)
def test_config_variants_have_mmpose_parameter_counts(constructor, kwargs, width, params):
    backbone = constructor(**kwargs)
    assert backbone.output.shape[-1] == width
    assert _params(backbone) == params


def test_make_divisible_and_widths():
    assert [make_divisible(c * 0.5, 8) for c in (32, 16, 24, 320)] == [16, 8, 16, 160]
    assert make_divisible(240 * 0.25, 8) == 64  # rounds 60 up
    assert make_divisible(8 * 0.75, 8) == 8  # never below the divisor


def test_bad_arguments():
    with pytest.raises(ModelError, match="out_indices"):
        mobilenet_v2(out_indices=(8,))
    with pytest.raises(ModelError, match="groups"):
        shufflenet_v1(groups=5)
    with pytest.raises(ModelError, match="out_indices"):
        shufflenet_v1(out_indices=(3,))
    with pytest.raises(ModelError, match="widen_factor"):
        shufflenet_v2(widen_factor=0.75)
