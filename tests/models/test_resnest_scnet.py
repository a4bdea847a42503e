"""ResNeSt and SCNet backbones: the split-attention and self-calibration layers, output shapes,
MMPose's parameter counts, ``.keras`` round trips and XLA."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kpose.errors import ModelError
from kpose.models.backbones.resnest import RadixSoftmax, RadixSum, resnest, resnest50
from kpose.models.backbones.scnet import scnet, scnet50
from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from kpose.weights.state_dict import weighted_layers

TINY = {"stem_channels": 8, "base_channels": 8}
# name -> (backbone args, input (w, h)): one strided stage (average-pool shortcut, avd layer,
# self-calibration at 18x26 and 9x13) keeps saving and XLA quick
ONE_STAGE = {**TINY, "num_stages": 1, "strides": (2,)}
SMALL = {
    "resnest50": ({**ONE_STAGE, "groups": 2}, (72, 104)),
    "scnet50": (ONE_STAGE, (72, 104)),
}


def _images(input_size, batch=2, seed=0):
    width, height = input_size
    return np.random.default_rng(seed).uniform(0, 255, (batch, height, width, 3)).astype("float32")


def _small_model(name):
    args, input_size = SMALL[name]
    model = build_heatmap_model(
        ModelConfig(name, args, head=HeadConfig((16,), (4,))), input_size, 17
    )
    rng = np.random.default_rng(1)
    for layer in weighted_layers(model):
        for variable in layer.weights:
            shape = tuple(variable.shape)
            if "moving_variance" in variable.path:
                variable.assign(rng.uniform(0.5, 2.0, shape).astype("float32"))
            else:
                variable.assign(rng.normal(0, 0.2, shape).astype("float32"))
    return model, _images(input_size)


def test_radix_softmax_regroups_fc2_channels_by_split():
    groups, radix, per_group = 2, 3, 2
    logits = np.random.default_rng(0).normal(size=(2, 1, 1, groups * radix * per_group))
    got = np.asarray(RadixSoftmax(radix, groups)(logits.astype("float32")))
    # fc2's channel (g, r, c) -> weight (r, g, c), softmax over r
    x = logits.reshape(2, groups, radix, per_group)
    e = np.exp(x - x.max(axis=2, keepdims=True))
    expected = (e / e.sum(axis=2, keepdims=True)).transpose(0, 2, 1, 3).reshape(logits.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_allclose(got.reshape(2, radix, -1).sum(axis=1), 1.0, rtol=1e-5)
    sigmoid = np.asarray(RadixSoftmax(1, groups)(logits.astype("float32")))
    np.testing.assert_allclose(sigmoid, 1 / (1 + np.exp(-logits)), rtol=1e-5)
    splits = np.arange(12, dtype="float32").reshape(1, 1, 1, 12)
    np.testing.assert_array_equal(np.asarray(RadixSum(3)(splits)), [[[[12, 15, 18, 21]]]])


def test_real_variants_parameter_counts_equal_mmpose_and_stride_32():
    # sum(p.numel() for p in backbone.parameters()) of MMPose 1.3.2's ResNeSt(depth=50) and
    # SCNet(depth=50) (computed with the reference venv; 101: 46_121_472 / 42_516_416).
    for constructor, params in ((resnest50, 25_434_240), (scnet50, 23_515_584)):
        backbone = constructor()
        assert sum(int(np.prod(w.shape)) for w in backbone.trainable_weights) == params
        assert tuple(backbone(keras.Input((256, 192, 3), batch_size=1)).shape) == (1, 8, 6, 2048)


def test_radix_1_and_fewer_stages():
    backbone = resnest(50, **TINY, radix=1, num_stages=2)  # sigmoid attention, no RadixSum
    assert not any(isinstance(layer, RadixSum) for layer in backbone.layers)
    assert tuple(backbone(keras.Input((64, 64, 3), batch_size=1)).shape) == (1, 8, 8, 64)


def test_bad_depth():
    with pytest.raises(ModelError, match="ResNeSt depth"):
        resnest(34)
    with pytest.raises(ModelError, match="SCNet depth"):
        scnet(152)
