"""The losses of UDP's combined targets (CombinedTargetMSELoss) and of a vis head's visibility
(BCELoss), what ``stage_losses`` picks for those heads, and one training step of each.

MMPose parity of both loss values: tests/parity/test_udp_combined_parity.py and
tests/parity/test_vis_head_parity.py.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from kpose.codecs import MSRAHeatmap, UDPHeatmap
from kpose.data.augment import make_training_batch
from kpose.errors import RecipeError
from kpose.recipe import HeadConfig
from kpose.training.losses import (
    StageLoss,
    combined_target_mse,
    keypoint_mse_per_sample,
    stage_losses,
    visibility_bce_per_sample,
)
from kpose.training.trainer import make_train_step

INPUT = (32, 48)  # (w, h)
K, B = 5, 4


def test_combined_target_mse_weighs_discs_and_masks_offsets():
    pred = np.zeros((1, 2, 2, 3), np.float32)  # one keypoint: disc, x, y
    target = np.zeros((1, 2, 2, 3), np.float32)
    target[0, 0, 0] = [1.0, 0.5, -0.5]  # inside the disc
    target[0, 1, 1, 1:] = [9.0, 9.0]  # offsets outside the disc do not count
    pred[0, 0, 0] = [0.5, 0.0, 0.0]
    # per pixel mean: disc (0.5^2) / 4, x (0.5^2) / 4, y (0.5^2) / 4; half of each; weight 2
    expected = 0.5 * (4 * 0.25 + 4 * 0.25 + 4 * 0.25) / 4
    got = combined_target_mse(pred, target, np.array([[2.0]], np.float32))
    np.testing.assert_allclose(float(got), expected, rtol=1e-6)
    assert float(combined_target_mse(target, target, np.ones((1, 1), np.float32))) == 0.0
    assert float(combined_target_mse(pred, target, np.zeros((1, 1), np.float32))) == 0.0


def test_visibility_bce_is_the_clamped_cross_entropy():
    p = np.array([[0.5, 0.9, 0.0, 1.0]], np.float32)
    y = np.array([[1.0, 0.0, 1.0, 1.0]], np.float32)
    expected = (np.log(2) + -np.log(0.1) + 100.0 + 0.0) / 4  # log(0) clamped at -100
    np.testing.assert_allclose(float(visibility_bce_per_sample(p, y)[0]), expected, rtol=1e-5)
    masked = visibility_bce_per_sample(p, y, np.array([[1.0, 0.0, 0.0, 1.0]], np.float32))
    np.testing.assert_allclose(float(masked[0]), np.log(2) / 4, rtol=1e-5)


def test_stage_losses_of_combined_and_vis_heads():
    combined = HeadConfig(loss="combined_mse", channels_per_keypoint=3, deconv_out_channels=())
    assert stage_losses(combined, 1) == [StageLoss(loss="combined_mse")]
    vis = HeadConfig(type="vis", args={"visibility_loss_weight": 1e-3})
    assert stage_losses(vis, 2) == [StageLoss(), StageLoss(loss="bce", weight=1e-3)]
    with pytest.raises(RecipeError, match="loss_args"):
        stage_losses(HeadConfig(loss="combined_mse", loss_args={"alpha": 1.0}), 1)


def _batch():
    rng = np.random.default_rng(0)
    eye = np.tile(np.array([[1, 0, 0], [0, 1, 0]], np.float32), (B, 1, 1))
    visible = np.ones((B, K), np.float32)
    visible[0, 1] = 0.0
    return {
        "canvas": rng.integers(0, 255, (B, INPUT[1], INPUT[0], 3)).astype(np.uint8),
        "matrix": eye,
        "keypoints": rng.uniform(4, 28, (B, K, 2)).astype(np.float32),
        "keypoints_visible": visible,
    }


def _step(model, codec, losses) -> float:
    strategy = tf.distribute.get_strategy()
    optimizer = keras.optimizers.SGD(0.0)
    optimizer.build(model.trainable_variables)
    step = make_train_step(strategy, model, optimizer, codec, INPUT, B, losses=losses)
    return float(step(iter(tf.data.Dataset.from_tensors(_batch()).repeat())))


def test_a_training_step_on_combined_targets():
    codec = UDPHeatmap(INPUT, (8, 12), heatmap_type="combined")
    inputs = keras.Input((INPUT[1], INPUT[0], 3))
    model = keras.Model(inputs, keras.layers.Conv2D(3 * K, 4, strides=4)(inputs / 255.0))
    got = _step(model, codec, [StageLoss(loss="combined_mse")])
    images, targets, weights = make_training_batch(_batch(), codec, INPUT)
    assert targets.shape == (B, 12, 8, 3 * K)
    expected = float(combined_target_mse(model(images), targets, weights))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_a_training_step_supervises_the_visibility_with_the_target_weights():
    codec = MSRAHeatmap(INPUT, (8, 12), sigma=2.0)
    inputs = keras.Input((INPUT[1], INPUT[0], 3))
    heatmaps = keras.layers.Conv2D(K, 4, strides=4)(inputs / 255.0)
    visibility = keras.layers.Dense(K, activation="sigmoid")(
        keras.layers.GlobalAveragePooling2D()(inputs / 255.0)
    )
    model = keras.Model(inputs, [heatmaps, visibility])
    losses = [StageLoss(), StageLoss(loss="bce", weight=1e-3)]
    got = _step(model, codec, losses)
    images, targets, weights = make_training_batch(_batch(), codec, INPUT)
    assert float(tf.reduce_min(weights)) == 0.0  # the invisible keypoint's label is 0
    pred, vis = model(images)
    expected = float(tf.reduce_mean(keypoint_mse_per_sample(pred, targets, weights)))
    expected += 1e-3 * float(tf.reduce_mean(visibility_bce_per_sample(vis, weights)))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
