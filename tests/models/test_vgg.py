"""VGG in Keras: feature-map sizes, parameter counts of the real variants, MMPose's
``nn.Sequential`` indices as layer names, argument errors. Build / round trips / XLA / mixed
precision: ``test_backbones.py`` (``harness.FAMILIES["vgg"]``)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import kpose.models.backbones.vgg as vgg_module
from kpose.errors import ModelError
from kpose.models.backbones.vgg import vgg, vgg11, vgg16, vgg19


def _params(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_feature_map_sizes():
    x = np.zeros((1, 256, 192, 3), np.float32)
    assert vgg16(norm=True)(x).shape == (1, 8, 6, 512)  # the td-hm_vgg16-bn head's input
    assert vgg11(with_last_pool=False)(x).shape == (1, 16, 12, 512)
    odd = np.zeros((1, 75, 41, 3), np.float32)  # floor: 37 .. 2 x 20 .. 1; ceil: 38 .. 3 x 21 .. 2
    assert vgg11(num_stages=5)(odd).shape == (1, 2, 1, 512)
    assert vgg11(ceil_mode=True)(odd).shape == (1, 3, 2, 512)
    stages = vgg11(num_stages=3, out_indices=(0, 2))(x)
    assert [tuple(s.shape) for s in stages] == [(1, 128, 96, 64), (1, 32, 24, 256)]


def test_parameter_counts_equal_mmpose(monkeypatch):
    # Measured with the MMPose 1.3.2 reference: VGG(16, norm_cfg=BN), VGG(11), VGG(19, BN).
    # Zero init: drawing ~50M random weights is slow.
    monkeypatch.setattr(vgg_module, "kaiming_fan_out", lambda: "zeros")
    assert _params(vgg16(norm=True)) == 14_723_136
    assert _params(vgg11()) == 9_220_480
    assert _params(vgg19(norm=True)) == 20_035_392


def test_layer_names_are_the_sequential_indices():
    names = {layer.name for layer in vgg11(norm=True, num_stages=2, out_indices=(1,)).layers}
    # stage 0: conv module 0, pool 1; stage 1: conv module 2, pool 3
    expected = {"backbone.features.0.conv", "backbone.features.0.bn", "backbone.features.1"}
    assert expected | {"backbone.features.2.activate", "backbone.features.3"} <= names
    without_norm = {layer.name for layer in vgg11(num_stages=1, out_indices=(0,)).layers}
    assert "backbone.features.0.conv" in without_norm
    assert not any(name.endswith(".bn") for name in without_norm)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"depth": 15}, "depth must be one of"),
        ({"num_stages": 6, "dilations": (1,) * 6}, "num_stages must be 1..5"),
        ({"num_stages": 3, "dilations": (1, 2)}, r"dilations \(1, 2\) needs one entry per stage"),
        ({"out_indices": (5,)}, r"out_indices \(5,\) must be in 0..4"),
        ({"num_classes": 1000}, "classifier"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ModelError, match=match):
        vgg(**kwargs)
