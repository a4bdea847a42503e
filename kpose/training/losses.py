"""Heatmap losses with MMPose's reductions."""

from __future__ import annotations

import tensorflow as tf


def keypoint_mse_per_sample(pred: tf.Tensor, target: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """MMPose's ``KeypointMSELoss(use_target_weight=True)`` contribution of each sample.

    pred, target: (B, h, w, K); weights: (B, K). MMPose's loss over a batch is the mean over
    B*K*h*w of ``(pred - target)**2 * weight`` (no 1/2 factor); this returns each sample's
    mean over K*h*w, so ``mean(keypoint_mse_per_sample(...))`` is MMPose's number and a
    distributed step can divide the sum by the global batch size.
    """
    pred = tf.cast(pred, tf.float32)
    sq = tf.square(pred - target) * weights[:, None, None, :]
    return tf.reduce_mean(sq, axis=[1, 2, 3])


def keypoint_mse(pred: tf.Tensor, target: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """MMPose's ``KeypointMSELoss(use_target_weight=True)`` for one batch."""
    return tf.reduce_mean(keypoint_mse_per_sample(pred, target, weights))
