"""MMPose's PVT / PVTv2 in Keras: shapes, parameter counts, the bilinear position-embedding
resize, state-dict and file round trips, XLA and mixed precision."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from kpose.errors import ModelError
from kpose.models.backbones.pvt import pvt, pvt_s, pvtv2, pvtv2_b2
from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from kpose.weights.state_dict import model_state_dict

TINY = {"embed_dims": 4, "num_layers": [1, 1, 1, 1], "num_heads": [1, 2, 2, 4]}
HEAD = HeadConfig((8, 8, 8), (4, 4, 4))


def _model(backbone="pvt", **args):
    cfg = ModelConfig(backbone, {**TINY, "img_size": [96, 64], "drop_path_rate": 0.3, **args}, HEAD)
    return build_heatmap_model(cfg, (64, 96), 17)


def _images(seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (2, 96, 64, 3)).astype(np.float32)


def test_output_shapes_and_strides():
    # v1: unpadded patches floor odd sizes; v2: padded overlapping patches round up.
    v1 = pvt(**TINY, img_size=(90, 70), out_indices=(0, 1, 2, 3))
    assert [tuple(o.shape[1:]) for o in v1.outputs] == [
        (22, 17, 4),
        (11, 8, 8),
        (5, 4, 8),
        (2, 2, 16),
    ]
    v2 = pvtv2(**TINY, img_size=(90, 70), out_indices=(1, 3))
    assert [tuple(o.shape[1:]) for o in v2.outputs] == [(12, 9, 8), (3, 3, 16)]
    assert _model()(_images()).shape == (2, 24, 16, 17)


@pytest.mark.parametrize(
    "variant, params, pos_grid",
    # Parameter counts of MMPose 1.3.2's PyramidVisionTransformer(num_layers=[3, 4, 6, 3]) and
    # PyramidVisionTransformerV2(embed_dims=64, num_layers=[3, 4, 6, 3]), measured once with
    # the reference (sum of p.numel() over model.parameters()).
    [(pvt_s, 23_970_816, 56 * 56), (pvtv2_b2, 24_849_856, None)],
)
def test_variants(variant, params, pos_grid):
    backbone = variant()
    assert backbone.output.shape[1:] == (8, 6, 512)
    assert sum(int(np.prod(w.shape)) for w in backbone.trainable_weights) == params
    state = model_state_dict(backbone)
    pos = state.get("backbone.layers.0.1.0.pos_embed")
    assert (pos is None) if pos_grid is None else pos.shape == (1, pos_grid, 64)


def test_drop_path_only_in_training_and_xla():
    model = _model()
    images = _images()
    inference = np.asarray(model(images, training=False))
    np.testing.assert_array_equal(np.asarray(model(images, training=False)), inference)
    assert not np.allclose(np.asarray(model(images, training=True)), inference)
    compiled = tf.function(lambda x: model(x, training=False), jit_compile=True)
    np.testing.assert_allclose(np.asarray(compiled(images)), inference, rtol=0, atol=1e-4)


def test_bad_arguments():
    with pytest.raises(ModelError, match="one entry per stage"):
        pvt(num_layers=(1, 1, 1))
    with pytest.raises(ModelError, match="out_indices"):
        pvt(**TINY, out_indices=(4,))
