"""Heatmap losses with MMPose's reductions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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


# MMPose's AdaptiveWingLoss defaults
ADAPTIVE_WING_DEFAULTS = {"alpha": 2.1, "omega": 14.0, "epsilon": 1.0, "theta": 0.5}


def adaptive_wing_per_sample(
    pred: tf.Tensor,
    target: tf.Tensor,
    weights: tf.Tensor,
    alpha: float = 2.1,
    omega: float = 14.0,
    epsilon: float = 1.0,
    theta: float = 0.5,
) -> tf.Tensor:
    """MMPose's ``AdaptiveWingLoss(use_target_weight=True)`` contribution of each sample
    (Wang et al., ICCV 2019; the WFLW awing config).

    Both heatmaps are multiplied by the keypoint weights first, as MMPose does; with
    ``d = |target - pred|`` and the exponent ``a = alpha - target``, each pixel costs
    ``omega * log(1 + (d / epsilon) ** a)`` below ``theta`` and the linear continuation
    ``A * d - C`` above it. pred, target: (B, h, w, K); weights: (B, K); returns each sample's
    mean over K*h*w (the batch mean of which is MMPose's loss).
    """
    w = weights[:, None, None, :]
    pred = tf.cast(pred, tf.float32) * w
    target = target * w
    delta = tf.abs(target - pred)
    power = alpha - target
    ratio = theta / epsilon
    a = omega / (1.0 + tf.pow(ratio, power)) * power * tf.pow(ratio, power - 1.0) / epsilon
    c = theta * a - omega * tf.math.log1p(tf.pow(ratio, power))
    losses = tf.where(
        delta < theta, omega * tf.math.log1p(tf.pow(delta / epsilon, power)), a * delta - c
    )
    return tf.reduce_mean(losses, axis=[1, 2, 3])


@dataclass(frozen=True)
class StageLoss:
    """How one model output is supervised: against the targets of codec ``level`` with the
    ``loss`` ("mse", "ohkm" keeping the ``topk`` hardest keypoints, or "adaptive_wing" with
    ``args``) scaled by ``weight``."""

    level: int = 0
    loss: Literal["mse", "ohkm", "adaptive_wing"] = "mse"
    weight: float = 1.0
    topk: int = 8
    args: Mapping[str, float] = field(default_factory=dict)

    def per_sample(self, pred: tf.Tensor, target: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
        """This output's loss for each sample of the batch, (B,)."""
        if self.loss == "ohkm":
            return keypoint_ohkm_mse_per_sample(pred, target, weights, self.topk)
        if self.loss == "adaptive_wing":
            return adaptive_wing_per_sample(pred, target, weights, **self.args)
        return keypoint_mse_per_sample(pred, target, weights)


def stage_losses(head_cfg, num_outputs: int) -> list[StageLoss]:
    """The supervision of each output of a model with ``head_cfg``, as MMPose's configs set it.

    Single- and multi-stage heatmap / CPM heads: every output against the one target with
    ``head.loss`` (MSE, or AdaptiveWingLoss with ``head.loss_args``), weight 1 (CPMHead sums
    the stages). MSPN / RSN (``head.type: mspn``): output ``i`` against
    level ``level_indices[i]`` of the multi-level Megvii targets, MSE x 0.25 for every unit but
    the last of each stage, OHKM-MSE (top 8) x 1 for the last unit.
    """
    if head_cfg.type != "mspn":
        if head_cfg.loss == "mse" and not head_cfg.loss_args:
            return [StageLoss() for _ in range(num_outputs)]
        if head_cfg.loss == "mse":
            raise RecipeError("key 'model.head.loss_args': the MSE loss takes no arguments")
        unknown = sorted(set(head_cfg.loss_args) - set(ADAPTIVE_WING_DEFAULTS))
        if unknown:
            raise RecipeError(
                f"key 'model.head.loss_args.{unknown[0]}': AdaptiveWingLoss takes "
                f"{sorted(ADAPTIVE_WING_DEFAULTS)}"
            )
        args = {**ADAPTIVE_WING_DEFAULTS, **{k: float(v) for k, v in head_cfg.loss_args.items()}}
        return [StageLoss(loss=head_cfg.loss, args=args) for _ in range(num_outputs)]
    if head_cfg.loss != "mse":
        raise RecipeError(
            "key 'model.head.loss': MSPN / RSN heads use MMPose's MSE + OHKM losses; "
            f"got {head_cfg.loss!r}"
        )
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
