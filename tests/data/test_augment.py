"""The host half of the training augmentation: draws follow MMPose's distributions and rules."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from kpose.data import augment
from kpose.data.metainfo import get_dataset_info
from kpose.recipe import DataConfig


def test_truncated_normal_draws_match_mmpose_distribution():
    v = augment._truncnorm(tf.constant([1, 2], tf.int64), [200000]).numpy()
    assert v.min() >= -1 and v.max() <= 1
    # scipy.stats.truncnorm(-1, 1): mean 0, std 0.5379
    assert abs(v.mean()) < 0.01 and abs(v.std() - 0.5379) < 0.005


def test_half_body_picks_visible_half():
    info = get_dataset_info("coco")
    cfg = DataConfig(
        half_body=dataclasses.replace(DataConfig().half_body, prob=1.0, upper_prioritized_prob=1.0)
    )
    kpts = tf.constant(np.stack([np.arange(17) * 10.0, np.arange(17) * 5.0], -1), tf.float32)
    vis = tf.ones([17])
    center, scale = augment._half_body(
        kpts,
        vis,
        tf.zeros([2]),
        tf.ones([2]),
        tf.constant([0, 1], tf.int64),
        tf.constant([0, 2], tf.int64),
        cfg,
        info,
    )
    upper = kpts.numpy()[list(info.upper_body_ids)]
    np.testing.assert_allclose(center.numpy(), upper.mean(0), rtol=1e-6)
    np.testing.assert_allclose(scale.numpy(), (upper.max(0) - upper.min(0)) * 1.5, rtol=1e-6)
