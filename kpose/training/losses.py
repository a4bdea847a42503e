"""Heatmap losses with MMPose's reductions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import tensorflow as tf

from kpose.errors import ModelError, RecipeError


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


def keypoint_ohkm_mse_per_sample(
    pred: tf.Tensor, target: tf.Tensor, weights: tf.Tensor, topk: int = 8
) -> tf.Tensor:
    """MMPose's ``KeypointOHKMMSELoss(use_target_weight=True, topk)`` contribution of each
    sample (online hard keypoint mining, MSPN / RSN's last unit).

    Per keypoint the mean over h*w of ``(pred * w - target * w)**2``; each sample keeps the mean
    of its ``topk`` largest keypoint losses. pred, target: (B, h, w, K); weights: (B, K).
    MMPose's batch loss is the mean of the returned (B,) values.
    """
    pred = tf.cast(pred, tf.float32)
    w = weights[:, None, None, :]
    per_keypoint = tf.reduce_mean(tf.square(pred * w - target * w), axis=[1, 2])  # (B, K)
    if per_keypoint.shape[-1] is not None and per_keypoint.shape[-1] < topk:
        raise ModelError(f"OHKM topk {topk} is larger than the {per_keypoint.shape[-1]} keypoints")
    return tf.reduce_mean(tf.math.top_k(per_keypoint, k=topk, sorted=False).values, axis=-1)


@dataclass(frozen=True)
class StageLoss:
    """How one model output is supervised: against the targets of codec ``level`` with the
    ``loss`` ("mse" or "ohkm" keeping the ``topk`` hardest keypoints) scaled by ``weight``."""

    level: int = 0
    loss: Literal["mse", "ohkm"] = "mse"
    weight: float = 1.0
    topk: int = 8


def stage_losses(head_cfg, num_outputs: int) -> list[StageLoss]:
    """The supervision of each output of a model with ``head_cfg``, as MMPose's configs set it.

    Single- and multi-stage heatmap / CPM heads: every output against the one target, MSE
    weight 1 (CPMHead sums the stages). MSPN / RSN (``head.type: mspn``): output ``i`` against
    level ``level_indices[i]`` of the multi-level Megvii targets, MSE x 0.25 for every unit but
    the last of each stage, OHKM-MSE (top 8) x 1 for the last unit.
    """
    if head_cfg.type != "mspn":
        return [StageLoss() for _ in range(num_outputs)]
    args = dict(head_cfg.args)
    num_units = int(args.get("num_units", 4))
    levels = list(args.get("level_indices", range(num_outputs)))
    if len(levels) != num_outputs:
        raise RecipeError(
            f"key 'model.head.args.level_indices': expected one entry per model output "
            f"({num_outputs}), got {len(levels)}"
        )
    return [
        StageLoss(int(level), "ohkm", 1.0)
        if i % num_units == num_units - 1
        else StageLoss(int(level), "mse", 0.25)
        for i, level in enumerate(levels)
    ]
