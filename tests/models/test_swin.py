"""MMPose's Swin Transformer in Keras: shapes, padding masks, state-dict and file round trips,
the relative-position index buffer, XLA."""

from __future__ import annotations

import numpy as np
import pytest

from kpose.errors import ModelError
from kpose.models.backbones.swin import (
    swin,
    swin_b,
    swin_l,
    swin_t,
)
from kpose.models.build import build_heatmap_model
from kpose.models.layers import relative_position_index
from kpose.recipe import HeadConfig, ModelConfig
from kpose.weights.state_dict import assign_state_dict, model_state_dict

TINY = {"embed_dims": 16, "depths": [2, 2, 2, 2], "num_heads": [1, 2, 2, 4]}
HEAD = HeadConfig((16, 16, 16), (4, 4, 4))


def _model():
    cfg = ModelConfig(
        "swin", {"arch": TINY, "img_size": [96, 64], "drop_path_rate": 0.2}, head=HEAD
    )
    return build_heatmap_model(cfg, (64, 96), 17)


def _images(seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (2, 96, 64, 3)).astype(np.float32)


def test_output_shapes_and_strides():
    backbone = swin(TINY, img_size=(256, 192))
    assert backbone.output.shape[1:] == (8, 6, 128)  # 1/32, 8 x embed_dims
    # out_indices: the normalised output of each stage, 1/4 .. 1/32
    multi = swin(TINY, img_size=(90, 70), out_indices=(0, 1, 2, 3))
    assert [tuple(o.shape[1:]) for o in multi.outputs] == [
        (23, 18, 16),
        (12, 9, 32),
        (6, 5, 64),
        (3, 3, 128),
    ]
    assert _model()(_images()).shape == (2, 24, 16, 17)


@pytest.mark.parametrize(
    "variant, width, params",
    [(swin_t, 768, 27_519_354), (swin_b, 1024, 86_743_224), (swin_l, 1536, 194_995_476)],
)
def test_variants(variant, width, params):
    backbone = variant(img_size=(256, 192))
    assert backbone.output.shape[1:] == (8, 6, width)
    assert sum(int(np.prod(w.shape)) for w in backbone.trainable_weights) == params


def test_state_dict_index_buffer_is_int64():
    state = model_state_dict(_model())
    key = "backbone.stages.0.blocks.1.attn.w_msa.relative_position_index"
    assert state[key].dtype == np.int64
    np.testing.assert_array_equal(state[key], relative_position_index(7))


def test_index_buffer_is_not_trainable_and_is_checked():
    model = _model()
    trainable = {v.path for v in model.trainable_weights}
    assert not any("relative_position_index" in p for p in trainable)
    state = model_state_dict(model)
    key = "backbone.stages.1.blocks.0.attn.w_msa.relative_position_index"
    state[key] = state[key] + 1000
    with pytest.raises(ModelError, match="relative_position_index"):
        assign_state_dict(_model(), state, strict=True)


def test_training_forward_differs_only_by_drop_path():
    model = _model()
    images = _images()
    inference = np.asarray(model(images, training=False))
    np.testing.assert_array_equal(np.asarray(model(images, training=False)), inference)
    assert not np.allclose(np.asarray(model(images, training=True)), inference)


def test_bad_arguments():
    with pytest.raises(ModelError, match="arch"):
        swin("huge")
    with pytest.raises(ModelError, match="divisible"):
        swin({"embed_dims": 10, "depths": [1, 1], "num_heads": [3, 3]}, out_indices=(1,))
    with pytest.raises(ModelError, match="out_indices"):
        swin(TINY, out_indices=(4,))
