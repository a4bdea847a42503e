"""MMPose's training augmentation, in two halves: sampled per instance on the host, applied
batched on the device.

Host half (inside tf.data, ``kpose.data.pipeline.train_dataset``): MMPose's train pipeline
``GetBBoxCenterScale -> RandomFlip -> RandomHalfBody -> RandomBBoxTransform`` is *sampled* for
each instance with stateless random ops keyed by (seed, epoch, instance index)
(``sample_augmentation``), so an epoch is reproducible and a resumed run can skip the batches
it already trained on; the decoded image is then cut to a coarse crop (a square "canvas" at the
output resolution, large enough for any rotation of the crop) around the augmented box,
flipped if the draw says so, with the rest of the warp folded into one 2x3 canvas -> input
matrix per instance (``coarse_crop``). Device half (inside the train step,
``make_training_batch``): the exact bilinear warp of the canvases to the model input, the same
affine applied to the keypoints, the recipe's pixel transforms of the warped crops
(``kpose.data.pixel_transforms``: dropout, blur, photometric distortion, drawn on the host with
the instance's seed) and the codec's heatmap encoding with target weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from kpose.data.metainfo import DatasetInfo
from kpose.data.pixel_transforms import apply_pixel_transforms
from kpose.geometry import affine
from kpose.geometry.boxes import bbox_xyxy_to_center_scale, fix_aspect_ratio
from kpose.recipe import DataConfig, PixelTransformConfig

_ONE_SIDED = math.erf(1.0 / math.sqrt(2.0))  # P(-1 < Z < 1) for a standard normal Z


# ---------------------------------------------------------------- host: sampling, coarse crop


def _truncnorm(seed: tf.Tensor, shape) -> tf.Tensor:
    """Standard normal truncated to [-1, 1] (scipy's truncnorm(-1, 1)) by inverse CDF."""
    u = tf.random.stateless_uniform(shape, seed, dtype=tf.float64)
    p = 0.5 * (1.0 - _ONE_SIDED) + u * _ONE_SIDED
    return tf.cast(tf.math.ndtri(p), tf.float32)


@dataclass(frozen=True)
class TrainCropSpec:
    input_size: tuple[int, int]  # (w, h) of the model input
    canvas_size: int  # side of the square coarse crop
    use_udp: bool = False  # MMPose's TopdownAffine(use_udp=True) for UDP codecs

    @classmethod
    def for_input(cls, input_size: tuple[int, int], use_udp: bool = False) -> TrainCropSpec:
        w, h = input_size
        return cls(tuple(input_size), int(math.ceil(math.hypot(w, h))) + 2, use_udp)


def sample_augmentation(
    inst: dict, seed: tf.Tensor, cfg: DataConfig, info: DatasetInfo, input_size: tuple[int, int]
) -> dict:
    """Draw MMPose's RandomFlip / RandomHalfBody / RandomBBoxTransform for one instance.

    Returns the (possibly flipped) keypoints and visibility, the augmented centre, the
    aspect-fixed scale and the rotation in degrees, plus the flip flag; all in the pixel
    coordinates of the (possibly flipped) full image.
    """
    seeds = tf.random.experimental.stateless_split(seed, 8)
    center, scale = bbox_xyxy_to_center_scale(inst["bbox"], cfg.bbox_padding)
    kpts, vis = inst["keypoints"], inst["keypoints_visible"]
    width = inst["width"]

    flip = tf.random.stateless_uniform([], seeds[0]) < cfg.flip_prob
    flip_indices = tf.constant(info.flip_indices, tf.int32)
    flipped_x = tf.stack([width - 1.0 - kpts[:, 0], kpts[:, 1]], axis=-1)
    kpts = tf.where(flip, tf.gather(flipped_x, flip_indices), kpts)
    vis = tf.where(flip, tf.gather(vis, flip_indices), vis)
    center = tf.where(flip, tf.stack([width - 1.0 - center[0], center[1]]), center)

    if cfg.half_body is not None:
        center, scale = _half_body(kpts, vis, center, scale, seeds[1], seeds[2], cfg, info)

    t = cfg.bbox_transform
    v = _truncnorm(seeds[3], [4])
    draws = tf.random.stateless_uniform([3], seeds[4])
    offset = tf.where(draws[0] < t.shift_prob, v[:2] * t.shift_factor, 0.0)
    lo, hi = t.scale_factor
    factor = tf.where(draws[1] < t.scale_prob, v[2] * (hi - lo) * 0.5 + (hi + lo) * 0.5, 1.0)
    rotation = tf.where(draws[2] < t.rotate_prob, v[3] * t.rotate_factor, 0.0)
    center = center + offset * scale
    scale = scale * factor
    w, h = input_size
    scale = fix_aspect_ratio(scale, w / h)
    return {
        "keypoints": kpts,
        "keypoints_visible": vis,
        "center": center,
        "scale": scale,
        "rotation": rotation,
        "flip": flip,
    }


def _half_body(kpts, vis, center, scale, seed_apply, seed_side, cfg: DataConfig, info: DatasetInfo):
    hb = cfg.half_body
    k = len(info.keypoint_names)
    upper = np.zeros(k, bool)
    upper[list(info.upper_body_ids)] = True
    lower = np.zeros(k, bool)
    lower[list(info.lower_body_ids)] = True
    visible = vis > 0
    upper_ids = visible & upper
    lower_ids = visible & lower
    n_upper = tf.reduce_sum(tf.cast(upper_ids, tf.int32))
    n_lower = tf.reduce_sum(tf.cast(lower_ids, tf.int32))
    draw = tf.random.stateless_uniform([], seed_apply)
    prefer_upper = tf.random.stateless_uniform([], seed_side) < hb.upper_prioritized_prob
    upper_ok = n_upper >= hb.min_upper_keypoints
    lower_ok = n_lower >= hb.min_lower_keypoints
    apply = (
        (tf.reduce_sum(vis) >= hb.min_total_keypoints) & (draw <= hb.prob) & (upper_ok | lower_ok)
    )
    use_upper = tf.where(upper_ok & lower_ok, prefer_upper, upper_ok)
    chosen = tf.where(use_upper, upper_ids, lower_ids)
    pts = tf.boolean_mask(kpts, chosen)
    pts = tf.where(tf.shape(pts)[0] > 0, pts, tf.zeros([1, 2]))
    hb_center = tf.reduce_mean(pts, axis=0)
    hb_scale = (tf.reduce_max(pts, axis=0) - tf.reduce_min(pts, axis=0)) * hb.padding
    return tf.where(apply, hb_center, center), tf.where(apply, hb_scale, scale)


def coarse_crop(image: tf.Tensor, aug: dict, spec: TrainCropSpec) -> dict:
    """Cut the canvas around the augmented box at the output resolution; map to the canvas.

    The canvas pixel u samples the (flipped) image at x = c + (u - (C - 1) / 2) / k, with
    k = input_w / scale_w, so the final warp from canvas to model input is a pure rotation
    and translation (see ``canvas_to_input_matrix``).
    """
    c = float(spec.canvas_size)
    height = tf.cast(tf.shape(image)[0], tf.float32)
    width = tf.cast(tf.shape(image)[1], tf.float32)
    k = spec.input_size[0] / aug["scale"][0]
    half = (c - 1.0) / (2.0 * k)
    cx, cy = aug["center"][0], aug["center"][1]
    x1, x2 = cx - half, cx + half
    # Unflip the sampling positions: the flipped image at x_f is the original at W - 1 - x_f.
    flip = aug["flip"]
    x1, x2 = tf.where(flip, width - 1.0 - x1, x1), tf.where(flip, width - 1.0 - x2, x2)
    boxes = tf.stack(
        [
            (cy - half) / (height - 1.0),
            x1 / (width - 1.0),
            (cy + half) / (height - 1.0),
            x2 / (width - 1.0),
        ]
    )[None]
    canvas = tf.image.crop_and_resize(
        image[None],  # uint8 in, float32 out: no float copy of the whole image
        boxes,
        [0],
        [spec.canvas_size, spec.canvas_size],
        method="bilinear",
        extrapolation_value=0.0,
    )[0]
    canvas = tf.cast(tf.clip_by_value(tf.round(canvas), 0.0, 255.0), tf.uint8)
    # image (flipped) -> canvas: u = (x - c) * k + (C - 1) / 2
    to_canvas = lambda p: (p - aug["center"]) * k + (c - 1.0) / 2.0  # noqa: E731
    return {
        "canvas": canvas,
        "matrix": canvas_to_input_matrix(aug, k, spec),
        "keypoints": to_canvas(aug["keypoints"]),
        "keypoints_visible": aug["keypoints_visible"],
    }


def canvas_to_input_matrix(aug: dict, k: tf.Tensor, spec: TrainCropSpec) -> tf.Tensor:
    """2x3 affine from canvas pixels to model-input pixels (MMPose's warp after the canvas)."""
    c = float(spec.canvas_size)
    warp = affine.get_udp_warp_matrix if spec.use_udp else affine.get_warp_matrix
    to_input = warp(
        aug["center"][None], aug["scale"][None], aug["rotation"][None], spec.input_size
    )[0]
    # canvas -> image: x = u / k + (center - (C - 1) / (2k))
    offset = aug["center"] - (c - 1.0) / (2.0 * k)
    canvas_to_image = tf.stack(
        [
            tf.stack([1.0 / k, 0.0, offset[0]]),
            tf.stack([0.0, 1.0 / k, offset[1]]),
            tf.constant([0.0, 0.0, 1.0]),
        ]
    )
    return tf.matmul(tf.cast(to_input, tf.float32), canvas_to_image)


# ------------------------------------------------------------- device: warp and encode


def make_training_batch(
    batch: dict,
    codec,
    input_size: tuple[int, int],
    pixel_transforms: Sequence[PixelTransformConfig] = (),
):
    """Canvases + matrices -> (images (B, h, w, 3) float 0..255, heatmaps (B, hh, hw, K),
    target weights (B, K)). ``codec`` may be a list (multi-level targets): then heatmaps is a
    list, one per codec, and the weights are the first codec's. ``pixel_transforms`` (the
    recipe's ``data.pixel_transforms``) run on the warped crops with the parameters drawn on
    the host (``batch["pixel"]``)."""
    canvas = tf.cast(batch["canvas"], tf.float32)  # (B, C, C, 3)
    matrix = tf.cast(batch["matrix"], tf.float32)  # (B, 2, 3), canvas -> input
    images = affine.warp_affine(canvas, matrix, input_size)  # (B, h, w, 3)
    if pixel_transforms:
        # MMPose's transforms after TopdownAffine see its uint8 crop
        images = tf.clip_by_value(tf.round(images), 0.0, 255.0)
        images = apply_pixel_transforms(images, batch["pixel"], pixel_transforms)
    keypoints = affine.transform_points(batch["keypoints"], matrix)  # (B, K, 2)
    if isinstance(codec, list | tuple):
        encoded = [c.encode(keypoints, batch["keypoints_visible"]) for c in codec]
        return images, [h for h, _ in encoded], encoded[0][1]
    heatmaps, weights = codec.encode(keypoints, batch["keypoints_visible"])
    return images, heatmaps, weights
