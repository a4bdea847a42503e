"""MMPose's LiteHRNet in Keras: PyTorch resampling and channel shuffle, shapes, parameter
counts, state-dict and file round trips, mixed precision, XLA."""

from __future__ import annotations

import numpy as np
import pytest

from kpose.errors import ModelError
from kpose.models.backbones.litehrnet import (
    litehrnet,
    litehrnet_18,
    litehrnet_30,
)
from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from kpose.weights.state_dict import model_state_dict

TINY = {
    "num_modules": (1, 1, 1),
    "num_blocks": (1, 1, 1),
    "module_type": ("LITE", "NAIVE", "LITE"),
    "reduce_ratios": (4, 4, 4),
    "num_channels": ((8, 16), (8, 16, 16), (8, 16, 16, 32)),
    "stem_channels": 8,
    "stem_out_channels": 8,
}
INPUT_SIZE = (64, 96)  # (w, h): a multiple of 4 * 2**3


def _model():
    return build_heatmap_model(ModelConfig("litehrnet", TINY, head=HeadConfig((), ())),
                               INPUT_SIZE, 17)  # fmt: skip


def _images(seed=0):
    width, height = INPUT_SIZE
    return np.random.default_rng(seed).uniform(0, 255, (2, height, width, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    """The tiny model with random weights and BN statistics (MMPose's N(0, 0.001) init gives
    heatmaps near 1e-16)."""
    model = _model()
    rng = np.random.default_rng(0)
    for weight in model.weights:
        shape = tuple(weight.shape)
        if "moving_variance" in weight.path or "gamma" in weight.path:
            value = rng.uniform(0.5, 1.5, shape)
        elif len(shape) == 4:  # kernels: unit-scale activations
            value = rng.normal(0, np.prod(shape[:-1]) ** -0.5, shape)
        else:
            value = rng.normal(0, 0.2, shape)
        weight.assign(value.astype(np.float32))
    return model


def test_output_shapes(model):
    assert model.get_layer("backbone").output.shape[1:] == (None, None, 8)
    assert model(_images()).shape == (2, 24, 16, 17)


@pytest.mark.parametrize(
    "variant, params",
    # MMPose 1.3.2: backbone parameters of td-hm_litehrnet-{18,30}_8xb64-210e_coco-256x192
    [
        (litehrnet_18, 1_130_072),
        pytest.param(litehrnet_30, 1_763_020, marks=pytest.mark.slow),  # 10 s more
    ],
)
def test_variants(variant, params):
    backbone = variant()
    assert backbone.output.shape[-1] == 40
    assert sum(int(np.prod(w.shape)) for w in backbone.trainable_weights) == params


def test_state_dict_holds_lite_and_naive_stages(model):
    state = model_state_dict(model)
    assert "backbone.stage0.0.layers.0.cross_resolution_weighting.conv1.conv.weight" in state
    assert "backbone.stage1.0.layers.2.0.branch2.1.conv.weight" in state  # NAIVE stage
    assert state["backbone.head_layer.projects.0.depthwise_conv.conv.weight"].shape == (32, 1, 3, 3)


def test_bad_arguments():
    with pytest.raises(ModelError, match="one value per stage"):
        litehrnet(num_modules=(1, 1))
    with pytest.raises(ModelError, match="module_type"):
        litehrnet(module_type=("LITE", "FAST", "LITE"))
    with pytest.raises(ModelError, match="num_branches"):
        litehrnet(num_branches=(2, 3, 3))
    with pytest.raises(ModelError, match="half"):
        litehrnet(**{**TINY, "num_channels": ((9, 16), (8, 16, 16), (8, 16, 16, 32))})
