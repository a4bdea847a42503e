"""ViTPose's ViT in Keras: shapes, saving, XLA, stochastic depth, pos_embed adaptation."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from kpose.models.backbones.vit import DropPath, resize_pos_embed, vit
from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from kpose.weights.state_dict import assign_state_dict, model_state_dict

TINY = {"embed_dims": 32, "num_layers": 2, "num_heads": 4, "feedforward_channels": 64}
CLASSIC = HeadConfig((32, 32), (4, 4))


def _model(head=CLASSIC):
    cfg = ModelConfig("vit", {"arch": TINY, "img_size": [96, 64], "drop_path_rate": 0.2}, head=head)
    return build_heatmap_model(cfg, (64, 96), 17)


def _images(seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (2, 96, 64, 3)).astype(np.float32)


def test_token_grid_and_output_shapes():
    backbone = vit(TINY, img_size=(256, 192))
    assert backbone.output.shape[1:] == (16, 12, 32)  # patch 16, padding 2
    assert vit("small", img_size=(256, 192)).count_params() > 21e6
    assert _model()(_images()).shape == (2, 24, 16, 17)
    simple = _model(HeadConfig((), (), final_kernel_size=3, upsample_factor=4.0))
    assert simple(_images()).shape == (2, 24, 16, 17)


def test_state_dict_round_trip_and_keras_file(tmp_path):
    model = _model()
    expected = np.asarray(model(_images(), training=False))
    fresh = _model()
    assign_state_dict(fresh, model_state_dict(model), strict=True)
    np.testing.assert_array_equal(np.asarray(fresh(_images(), training=False)), expected)
    model.save(tmp_path / "vit.keras")
    again = keras.saving.load_model(tmp_path / "vit.keras")
    np.testing.assert_allclose(np.asarray(again(_images(), training=False)), expected, atol=1e-6)


def test_xla_compiles_and_agrees():
    model = _model()
    expected = np.asarray(model(_images(), training=False))
    compiled = tf.function(lambda x: model(x, training=False), jit_compile=True)
    np.testing.assert_allclose(np.asarray(compiled(_images())), expected, rtol=0, atol=1e-4)


def test_drop_path_drops_whole_samples_in_training_only():
    layer = DropPath(0.5)
    x = np.ones((64, 3, 4), np.float32)
    assert np.array_equal(np.asarray(layer(x, training=False)), x)
    y = np.asarray(layer(x, training=True))
    per_sample = y.reshape(64, -1)
    assert set(np.unique(per_sample)) <= {0.0, 2.0}
    assert np.all(per_sample.min(axis=1) == per_sample.max(axis=1))  # all or nothing
    assert 10 < np.count_nonzero(per_sample[:, 0]) < 54


def test_pos_embed_adaptation():
    grid = np.arange(2 * 3 * 5, dtype=np.float32).reshape(1, 6, 5)
    assert resize_pos_embed(grid, (2, 3)) is grid
    with_slot = np.concatenate([np.full((1, 1, 5), -1.0, np.float32), grid], axis=1)
    np.testing.assert_array_equal(resize_pos_embed(with_slot, (2, 3)), grid)
    constant = np.ones((1, 196, 4), np.float32)
    np.testing.assert_allclose(
        resize_pos_embed(constant, (16, 12)), np.ones((1, 192, 4)), atol=1e-6
    )  # cubic weights sum to 1
    with pytest.raises(Exception, match="square"):
        resize_pos_embed(np.ones((1, 7, 4), np.float32), (16, 12))
