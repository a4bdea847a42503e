"""Multi-stage models (CPM, MSPN) are supervised at every stage: the step's loss is the sum of
the stages' KeypointMSELoss against the same targets (MMPose's CPMHead.loss)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kpose.codecs import MegviiHeatmap, MSRAHeatmap
from kpose.data.augment import make_training_batch
from kpose.training.losses import StageLoss, keypoint_mse_per_sample, keypoint_ohkm_mse_per_sample
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


def test_outputs_meet_their_own_target_level_loss_and_weight():
    """MSPN-style: output i against level ``level`` of multi-level Megvii targets."""
    inputs = keras.Input((INPUT[1], INPUT[0], 3))
    x = keras.layers.Conv2D(K, 4, strides=4, name="unit0")(inputs)
    y = keras.layers.Conv2D(K, 1, name="unit1")(x)
    model = keras.Model(inputs, [x, y])
    codecs = [MegviiHeatmap(INPUT, (INPUT[0] // 4, INPUT[1] // 4), kernel_size=k) for k in (7, 3)]
    losses = [StageLoss(1, "mse", 0.25), StageLoss(0, "ohkm", 1.0, topk=4)]
    strategy = tf.distribute.get_strategy()
    optimizer = keras.optimizers.SGD(0.0)
    optimizer.build(model.trainable_variables)
    step = make_train_step(strategy, model, optimizer, codecs, INPUT, B, losses=losses)
    got = float(step(iter(tf.data.Dataset.from_tensors(_batch()).repeat())))

    images, targets, weights = make_training_batch(_batch(), codecs, INPUT)
    px, py = model(images)
    expected = 0.25 * float(tf.reduce_mean(keypoint_mse_per_sample(px, targets[1], weights)))
    expected += float(tf.reduce_mean(keypoint_ohkm_mse_per_sample(py, targets[0], weights, 4)))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_augmentation_under_xla_takes_the_same_step():
    """``jit_augment`` (kpose.devices' CPU choice: warp + targets under XLA inside a TF-graph
    step) gives the loss and weights of the all-graph step."""
    results = []
    for jit_augment in (False, True):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((INPUT[1], INPUT[0], 3))
        model = keras.Model(inputs, keras.layers.Conv2D(K, 4, strides=4, name="out")(inputs))
        optimizer = keras.optimizers.Adam(1e-3)
        optimizer.build(model.trainable_variables)
        codec = MSRAHeatmap(INPUT, (INPUT[0] // 4, INPUT[1] // 4), sigma=2.0)
        step = make_train_step(
            tf.distribute.get_strategy(), model, optimizer, codec, INPUT, B,
            jit_augment=jit_augment,
        )  # fmt: skip
        batches = iter(tf.data.Dataset.from_tensors(_batch()).repeat())
        losses = [float(step(batches)) for _ in range(2)]
        results.append((losses, [w.numpy() for w in model.weights]))
    (loss_graph, w_graph), (loss_xla, w_xla) = results
    np.testing.assert_allclose(loss_xla, loss_graph, rtol=1e-5)
    for a, b in zip(w_xla, w_graph, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
