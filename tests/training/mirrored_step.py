"""Run by test_distributed.py in a fresh process: TF must see two logical CPUs before start-up.

Trains the same tiny model for a few steps on the same global batch with one replica and with
two replicas (MirroredStrategy over two logical CPU devices) and prints the largest weight
difference as JSON.
"""

import json
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

import keras  # noqa: E402

from kpose.codecs import MSRAHeatmap  # noqa: E402
from kpose.training.schedules import WarmupMultiStep  # noqa: E402
from kpose.training.trainer import make_train_step  # noqa: E402

INPUT = (32, 48)
K, B, C = 5, 8, 60


def tiny_model():
    inputs = keras.Input((INPUT[1], INPUT[0], 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(K, 3, strides=2, padding="same")(x)
    return keras.Model(inputs, x)


def batch():
    rng = np.random.default_rng(0)
    angle = rng.uniform(-0.5, 0.5, B)
    matrix = np.stack(
        [
            np.stack([np.cos(angle), -np.sin(angle), rng.uniform(-10, 0, B)], -1),
            np.stack([np.sin(angle), np.cos(angle), rng.uniform(-8, 0, B)], -1),
        ],
        1,
    )
    return {
        "canvas": rng.integers(0, 255, (B, C, C, 3)).astype(np.uint8),
        "matrix": matrix.astype(np.float32),
        "keypoints": rng.uniform(10, 40, (B, K, 2)).astype(np.float32),
        "keypoints_visible": (rng.random((B, K)) > 0.2).astype(np.float32),
    }


def train(devices, steps=3):
    strategy = tf.distribute.MirroredStrategy(devices)
    keras.utils.set_random_seed(1)
    with strategy.scope():
        model = tiny_model()
        opt = keras.optimizers.Adam(WarmupMultiStep(1e-2, 10, (), 0.1, 0, 1.0))
        opt.build(model.trainable_variables)
    codec = MSRAHeatmap(INPUT, (INPUT[0] // 4, INPUT[1] // 4), sigma=2.0)
    step = make_train_step(strategy, model, opt, codec, INPUT, B)
    data = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(batch()).repeat())
    iterator = iter(data)
    losses = [float(step(iterator)) for _ in range(steps)]
    return [w.numpy() for w in model.trainable_variables], losses


one, loss_one = train(["/cpu:0"])
two, loss_two = train(["/cpu:0", "/cpu:1"])
diff = max(float(np.max(np.abs(a - b))) for a, b in zip(one, two, strict=True))
change = max(float(np.max(np.abs(a))) for a in one)
json.dump(
    {"max_weight_diff": diff, "loss_one": loss_one, "loss_two": loss_two, "max_weight": change},
    sys.stdout,
)
