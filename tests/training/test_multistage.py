"""Multi-stage models (CPM, MSPN) are supervised at every stage: the step's loss is the sum of
the stages' KeypointMSELoss against the same targets (MMPose's CPMHead.loss)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kpose.codecs import MSRAHeatmap
from kpose.training.trainer import make_train_step

INPUT = (32, 48)  # (w, h)
K, B = 5, 4


def _batch():
    rng = np.random.default_rng(0)
    eye = np.tile(np.array([[1, 0, 0], [0, 1, 0]], np.float32), (B, 1, 1))
    return {
        "canvas": rng.integers(0, 255, (B, INPUT[1], INPUT[0], 3)).astype(np.uint8),
        "matrix": eye,
        "keypoints": rng.uniform(4, 28, (B, K, 2)).astype(np.float32),
        "keypoints_visible": np.ones((B, K), np.float32),
    }


def _step_loss(model):
    strategy = tf.distribute.get_strategy()
    optimizer = keras.optimizers.SGD(0.0)
    optimizer.build(model.trainable_variables)
    codec = MSRAHeatmap(INPUT, (INPUT[0] // 4, INPUT[1] // 4), sigma=2.0)
    step = make_train_step(strategy, model, optimizer, codec, INPUT, B)
    return float(step(iter(tf.data.Dataset.from_tensors(_batch()).repeat())))


def test_stage_losses_are_summed():
    inputs = keras.Input((INPUT[1], INPUT[0], 3))
    x = keras.layers.Conv2D(K, 4, strides=4, name="stage0")(inputs)
    y = keras.layers.Conv2D(K, 1, name="stage1")(x)
    single = _step_loss(keras.Model(inputs, x))
    last = _step_loss(keras.Model(inputs, y))
    both = _step_loss(keras.Model(inputs, [x, y]))
    assert single > 0 and last > 0
    np.testing.assert_allclose(both, single + last, rtol=1e-5)
