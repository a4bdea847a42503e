"""MMPose's PVT / PVTv2 in Keras: shapes, parameter counts, the bilinear position-embedding
resize, state-dict and file round trips, XLA and mixed precision."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from kpose.errors import ModelError
from kpose.models.backbones.pvt import bilinear_matrix, pvt, pvt_s, pvtv2, pvtv2_b2
from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from kpose.weights.state_dict import assign_state_dict, model_state_dict

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


def test_bilinear_matrix():
    np.testing.assert_array_equal(bilinear_matrix(7, 7), np.eye(7, dtype=np.float32))
    for n_in, n_out in [(56, 24), (56, 64), (1, 5), (4, 9)]:
        m = bilinear_matrix(n_in, n_out)
        np.testing.assert_allclose(m.sum(axis=1), 1.0, rtol=0, atol=1e-6)
    # 2 -> 4: sample points 0, 0.25, 0.75, 1 (clamped at the borders)
    np.testing.assert_allclose(
        bilinear_matrix(2, 4), [[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]], atol=1e-7
    )


def test_state_dict_round_trip_and_keras_file(tmp_path):
    model = _model()
    images = _images()
    expected = np.asarray(model(images, training=False))
    state = model_state_dict(model)
    assert state["backbone.layers.1.1.1.attn.attn.in_proj_weight"].shape == (3 * 8, 8)
    fresh = _model()
    assign_state_dict(fresh, state, strict=True)
    np.testing.assert_array_equal(np.asarray(fresh(images, training=False)), expected)

    model.save(tmp_path / "pvt.keras")
    loaded = keras.saving.load_model(tmp_path / "pvt.keras")
    np.testing.assert_allclose(np.asarray(loaded(images, training=False)), expected, atol=1e-6)


def test_drop_path_only_in_training_and_xla():
    model = _model()
    images = _images()
    inference = np.asarray(model(images, training=False))
    np.testing.assert_array_equal(np.asarray(model(images, training=False)), inference)
    assert not np.allclose(np.asarray(model(images, training=True)), inference)
    compiled = tf.function(lambda x: model(x, training=False), jit_compile=True)
    np.testing.assert_allclose(np.asarray(compiled(images)), inference, rtol=0, atol=1e-4)


def _random_state(model):
    """Unit-scale random weights (the default head init gives ~1e-11 heatmaps)."""
    rng = np.random.default_rng(0)
    state = {}
    for key, value in model_state_dict(model).items():
        if value.ndim > 1:
            state[key] = rng.normal(0, value[0].size ** -0.5, value.shape)
        elif key.endswith(("weight", "running_var")):
            state[key] = rng.uniform(0.5, 1.5, value.shape)
        else:
            state[key] = rng.normal(0, 0.2, value.shape)
    return state


def test_mixed_float16():
    reference = _model("pvtv2_b2")
    state = _random_state(reference)
    assign_state_dict(reference, state, strict=True)
    images = _images()
    expected = np.asarray(reference(images, training=False))
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = _model("pvtv2_b2")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assign_state_dict(model, state, strict=True)
    heatmaps = model(images, training=False)
    assert heatmaps.dtype == tf.float32
    scale = float(np.abs(expected).max())
    np.testing.assert_allclose(np.asarray(heatmaps), expected, rtol=0, atol=2e-2 * scale)


def test_bad_arguments():
    with pytest.raises(ModelError, match="one entry per stage"):
        pvt(num_layers=(1, 1, 1))
    with pytest.raises(ModelError, match="out_indices"):
        pvt(**TINY, out_indices=(4,))
