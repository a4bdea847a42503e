"""Heatmap losses with MMPose's reductions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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


def combined_target_mse_per_sample(
    pred: tf.Tensor, target: tf.Tensor, weights: tf.Tensor
) -> tf.Tensor:
    """MMPose's ``CombinedTargetMSELoss(use_target_weight=True)`` contribution of each sample
    (UDP's combined targets, ``kpose.codecs.UDPHeatmap(heatmap_type="combined")``).

    pred, target: (B, h, w, 3K), channel 3k keypoint k's disc, 3k + 1 and 3k + 2 its x and y
    offsets; weights: (B, K). Per keypoint, half the mean squared error of the weighted discs
    plus half that of each offset map masked by the weighted target disc (offsets count only
    inside it); the mean over keypoints of that sum. Returns (B,), whose mean is MMPose's loss.
    """
    pred = tf.cast(pred, tf.float32)
    w = weights[:, None, None, :]  # (B, 1, 1, K)
    disc = target[..., 0::3] * w  # the weighted target disc, (B, h, w, K)
    terms = tf.square(pred[..., 0::3] * w - disc)
    terms += tf.square(disc * pred[..., 1::3] - disc * target[..., 1::3])
    terms += tf.square(disc * pred[..., 2::3] - disc * target[..., 2::3])
    return 0.5 * tf.reduce_mean(terms, axis=[1, 2, 3])


def combined_target_mse(pred: tf.Tensor, target: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """MMPose's ``CombinedTargetMSELoss(use_target_weight=True)`` for one batch."""
    return tf.reduce_mean(combined_target_mse_per_sample(pred, target, weights))


def visibility_bce_per_sample(
    probabilities: tf.Tensor, labels: tf.Tensor, label_weights: tf.Tensor | None = None
) -> tf.Tensor:
    """MMPose's ``BCELoss(use_sigmoid=True, use_target_weight=True)`` of ``VisPredictHead``
    for each sample: the mean over K of ``-(y log p + (1 - y) log(1 - p)) * weight``, each log
    clamped at -100 as PyTorch's ``binary_cross_entropy`` does.

    probabilities: the visibility output (B, K), after its sigmoid; labels: (B, K), MMPose's
    keypoint weights of the targets (1: labelled and on the heatmap); label_weights: (B, K),
    MMPose's ``keypoints_visible_weights`` (default ones: every label counts). Returns (B,),
    whose mean is MMPose's loss before its ``loss_weight``.
    """
    p = tf.cast(probabilities, tf.float32)
    y = tf.cast(labels, tf.float32)
    log_p = tf.maximum(tf.math.log(p), -100.0)
    log_q = tf.maximum(tf.math.log(1.0 - p), -100.0)
    losses = -(y * log_p + (1.0 - y) * log_q)
    if label_weights is not None:
        losses *= tf.cast(label_weights, tf.float32)
    return tf.reduce_mean(losses, axis=-1)


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
    ``loss`` ("mse", "ohkm" keeping the ``topk`` hardest keypoints, "adaptive_wing" with
    ``args``, "combined_mse" for UDP's combined targets, or "bce": a visibility output against
    the target weights) scaled by ``weight``."""

    level: int = 0
    loss: Literal["mse", "ohkm", "adaptive_wing", "combined_mse", "bce"] = "mse"
    weight: float = 1.0
    topk: int = 8
    args: Mapping[str, float] = field(default_factory=dict)

    def per_sample(self, pred: tf.Tensor, target: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
        """This output's loss for each sample of the batch, (B,)."""
        if self.loss == "ohkm":
            return keypoint_ohkm_mse_per_sample(pred, target, weights, self.topk)
        if self.loss == "adaptive_wing":
            return adaptive_wing_per_sample(pred, target, weights, **self.args)
        if self.loss == "combined_mse":
            return combined_target_mse_per_sample(pred, target, weights)
        if self.loss == "bce":  # the visibility labels are the target weights
            return visibility_bce_per_sample(pred, weights)
        return keypoint_mse_per_sample(pred, target, weights)


def stage_losses(head_cfg, num_outputs: int) -> list[StageLoss]:
    """The supervision of each output of a model with ``head_cfg``, as MMPose's configs set it.

    Single- and multi-stage heatmap / CPM heads: every output against the one target with
    ``head.loss`` (MSE, CombinedTargetMSELoss for UDP's combined targets, or AdaptiveWingLoss
    with ``head.loss_args``), weight 1 (CPMHead sums the stages). ``VisPredictHead``
    (``head.type: vis``): its heatmaps so, then its visibility output (the last) with BCE x
    ``head.args.visibility_loss_weight`` against the target weights. MSPN / RSN
    (``head.type: mspn``): output ``i`` against
    level ``level_indices[i]`` of the multi-level Megvii targets, MSE x 0.25 for every unit but
    the last of each stage, OHKM-MSE (top 8) x 1 for the last unit.
    """
    if head_cfg.type == "vis":
        heatmaps = stage_losses(replace(head_cfg, type="heatmap"), num_outputs - 1)
        weight = float(head_cfg.args.get("visibility_loss_weight", 1.0))
        return heatmaps + [StageLoss(loss="bce", weight=weight)]
    if head_cfg.type != "mspn":
        if head_cfg.loss in ("mse", "combined_mse"):
            if head_cfg.loss_args:
                name = {"mse": "MSE", "combined_mse": "CombinedTargetMSE"}[head_cfg.loss]
                raise RecipeError(f"key 'model.head.loss_args': the {name} loss takes no arguments")
            return [StageLoss(loss=head_cfg.loss) for _ in range(num_outputs)]
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
