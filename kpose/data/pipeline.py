"""tf.data input pipelines (host CPU): records -> instances -> augmentation parameters -> crops.

Training (DESIGN.md step 2): shards are read in a fixed order, parsed, flattened to person
instances, filtered as MMPose's top-down datasets do, shuffled with a per-epoch seed, and for
each instance the augmentation of MMPose's train pipeline is *sampled* here —
``GetBBoxCenterScale -> RandomFlip -> RandomHalfBody -> RandomBBoxTransform`` — with stateless
random ops keyed by (seed, epoch, instance index), so an epoch is reproducible and a resumed
run can skip the batches it already trained on. The image is decoded and a coarse crop (a
"canvas" at the output resolution, large enough for any rotation of the crop) is cut around
the augmented box, flipped if the draw says so. The exact affine warp, keypoint transform and
heatmap encoding then run batched inside the training step (``kpose.data.augment``).

Validation: each instance (GT box or detector box) is cropped exactly as MMPose's
``TopdownAffine`` does (cv2-exact bilinear on uint8), ready for the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from kpose import geometry
from kpose.data.convert import split_files
from kpose.data.metainfo import DatasetInfo
from kpose.data.records import parse_example
from kpose.recipe import DataConfig

_ONE_SIDED = math.erf(1.0 / math.sqrt(2.0))  # P(-1 < Z < 1) for a standard normal Z


def decode_image(encoded: tf.Tensor, image_format: tf.Tensor) -> tf.Tensor:
    """RGB uint8 (H, W, 3). JPEG uses the accurate integer DCT, as OpenCV/libjpeg do."""
    return tf.cond(
        tf.equal(image_format, "png"),
        lambda: tf.io.decode_png(encoded, channels=3),
        lambda: tf.io.decode_jpeg(encoded, channels=3, dct_method="INTEGER_ACCURATE"),
    )


# MMPose clips the boxes of COCO-style files to the image; MPII's boxes come from the file's
# centre and scale and are used as they are.
_UNCLIPPED_BOXES = ("mpii",)


def instance_bbox_xyxy(ex: dict, info: DatasetInfo) -> tf.Tensor:
    """The (N, 4) xyxy boxes MMPose's loader builds for a record's instances."""
    if info.name in _UNCLIPPED_BOXES:
        xywh = ex["instance/bbox"]
        return tf.concat([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=-1)
    return clip_bbox_xyxy(ex["instance/bbox"], ex["image/width"], ex["image/height"])


def clip_bbox_xyxy(bbox_xywh: tf.Tensor, width: tf.Tensor, height: tf.Tensor) -> tf.Tensor:
    """MMPose's COCO parse: xywh -> xyxy clipped to [0, size - 1]."""
    w = tf.cast(width, tf.float32) - 1.0
    h = tf.cast(height, tf.float32) - 1.0
    x, y, bw, bh = tf.unstack(bbox_xywh, axis=-1)
    return tf.stack(
        [
            tf.clip_by_value(x, 0.0, w),
            tf.clip_by_value(y, 0.0, h),
            tf.clip_by_value(x + bw, 0.0, w),
            tf.clip_by_value(y + bh, 0.0, h),
        ],
        axis=-1,
    )


def topdown_valid(
    bbox_xyxy: tf.Tensor, keypoints: tf.Tensor, iscrowd: tf.Tensor, num_keypoints: tf.Tensor
) -> tf.Tensor:
    """MMPose's ``_is_valid_instance``: not crowd, has keypoints, positive box, max(kpts) > 0.

    ``keypoints`` is (N, K, 3) (x, y, v); like MMPose, the last test looks at x and y only.
    """
    wh = bbox_xyxy[..., 2:] - bbox_xyxy[..., :2]
    xy = tf.reshape(keypoints[..., :2], [tf.shape(keypoints)[0], -1])
    return (
        tf.equal(iscrowd, 0)
        & tf.not_equal(num_keypoints, 0)
        & tf.reduce_all(wh > 0, axis=-1)
        & (tf.reduce_max(xy, axis=-1) > 0)
    )


def _instances(ex: dict, info: DatasetInfo) -> tf.data.Dataset:
    """One image's valid instances as a dataset (image bytes repeated per instance)."""
    bbox = instance_bbox_xyxy(ex, info)
    kpts = ex["instance/keypoints"]
    keep = topdown_valid(bbox, kpts, ex["instance/iscrowd"], ex["instance/num_keypoints"])
    n = tf.reduce_sum(tf.cast(keep, tf.int32))
    return tf.data.Dataset.from_tensor_slices(
        {
            "encoded": tf.fill([n], ex["image/encoded"]),
            "format": tf.fill([n], ex["image/format"]),
            "width": tf.fill([n], tf.cast(ex["image/width"], tf.float32)),
            "bbox": tf.boolean_mask(bbox, keep),
            "keypoints": tf.boolean_mask(kpts, keep)[..., :2],
            # MMPose: keypoints_visible = min(1, v)
            "keypoints_visible": tf.minimum(1.0, tf.boolean_mask(kpts, keep)[..., 2]),
        }
    )


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
    bbox = inst["bbox"]
    center = (bbox[:2] + bbox[2:]) * 0.5
    scale = (bbox[2:] - bbox[:2]) * cfg.bbox_padding
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
    scale = geometry.fix_aspect_ratio(scale, w / h)
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
        tf.cast(image, tf.float32)[None],
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
    warp = geometry.get_udp_warp_matrix if spec.use_udp else geometry.get_warp_matrix
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


def _read_records(files: list[str], deterministic: bool) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices(files)
    return ds.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), 8),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic,
    )


def train_instances(
    root: str,
    split: str,
    info: DatasetInfo,
    input_context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """Valid training instances in a fixed order (this worker's shards only)."""
    files = split_files(root, split)
    if input_context is not None and input_context.num_input_pipelines > 1:
        files = files[input_context.input_pipeline_id :: input_context.num_input_pipelines]
    k = info.num_keypoints
    ds = _read_records(files, deterministic=True)
    ds = ds.map(
        lambda s: parse_example(s, k), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    return ds.flat_map(lambda ex: _instances(ex, info))


def train_dataset(
    root: str,
    split: str,
    cfg: DataConfig,
    info: DatasetInfo,
    input_size: tuple[int, int],
    batch_size: int,
    *,
    seed: int,
    epoch: int,
    skip_batches: int = 0,
    input_context: tf.distribute.InputContext | None = None,
    use_udp: bool = False,
) -> tf.data.Dataset:
    """An endless, reproducible stream of training batches for ``epoch``.

    ``batch_size`` is the batch of this input pipeline (per worker). Elements:
    ``canvas`` uint8 (B, C, C, 3), ``matrix`` (B, 2, 3) canvas -> input, ``keypoints``
    (B, K, 2) in canvas pixels, ``keypoints_visible`` (B, K).
    """
    spec = TrainCropSpec.for_input(input_size, use_udp)
    ds = train_instances(root, split, info, input_context).enumerate()
    ds = ds.shuffle(cfg.shuffle_buffer, seed=seed * 100003 + epoch, reshuffle_each_iteration=True)
    ds = ds.repeat().skip(skip_batches * batch_size)

    def prepare(index, inst):
        aug = sample_augmentation(
            inst, tf.stack([tf.cast(seed * 100003 + epoch, tf.int64), index]), cfg, info, input_size
        )
        image = decode_image(inst["encoded"], inst["format"])
        return coarse_crop(image, aug, spec)

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def count_train_instances(root: str, split: str, info: DatasetInfo) -> int:
    """Number of valid training instances (read from meta.json, counted by the converter)."""
    from kpose.data.convert import read_meta

    return int(read_meta(root)["splits"][split]["topdown_instances"])


# ---------------------------------------------------------------------------- validation


def val_instances(
    root: str, split: str, info: DatasetInfo, boxes: str = "gt", detections: dict | None = None
) -> tf.data.Dataset:
    """Instances to predict, in record order.

    ``boxes='gt'``: the valid GT instances, with their keypoints (K, 3) and head size for PCK
    metrics; ``'detections'``: the detector boxes stored with the records, or ``detections``
    (``{image_id: (boxes_xywh, scores)}``, e.g. a detection file read at evaluation time).
    """
    if boxes not in ("gt", "detections"):
        raise ValueError(f"data.val_boxes: expected 'gt' or 'detections', got {boxes!r}")
    k = info.num_keypoints
    ds = _read_records(split_files(root, split), deterministic=True)
    ds = ds.map(lambda s: parse_example(s, k), num_parallel_calls=tf.data.AUTOTUNE)

    def gt(ex):
        bbox = instance_bbox_xyxy(ex, info)
        keep = topdown_valid(
            bbox, ex["instance/keypoints"], ex["instance/iscrowd"], ex["instance/num_keypoints"]
        )
        heads = ex["instance/head_size"]
        heads = tf.cond(
            tf.size(heads) > 0, lambda: heads, lambda: tf.zeros_like(ex["instance/area"])
        )
        return _box_instances(
            ex,
            tf.boolean_mask(bbox, keep),
            tf.ones_like(tf.boolean_mask(ex["instance/area"], keep)),
            tf.boolean_mask(ex["instance/keypoints"], keep),
            tf.boolean_mask(heads, keep),
        )

    if boxes == "gt":
        return ds.flat_map(gt)
    if detections is None:
        return ds.flat_map(
            lambda ex: _box_instances(
                ex, _xywh_to_xyxy(ex["detection/bbox"]), ex["detection/score"]
            )
        )
    lookup = _DetectionTable(detections)
    return ds.flat_map(lambda ex: _box_instances(ex, *lookup(ex["image/id"])))


def _xywh_to_xyxy(xywh: tf.Tensor) -> tf.Tensor:
    return tf.concat([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=-1)


class _DetectionTable:
    """Detector boxes per image id as constant tensors, looked up inside tf.data."""

    def __init__(self, detections: dict):
        ids = sorted(detections)
        boxes = [np.asarray(detections[i][0], np.float32).reshape(-1, 4) for i in ids]
        scores = [np.asarray(detections[i][1], np.float32).reshape(-1) for i in ids]
        counts = np.array([len(b) for b in boxes], np.int64)
        self.offsets = tf.constant(np.concatenate([[0], np.cumsum(counts)]), tf.int64)
        self.boxes = tf.constant(np.concatenate(boxes + [np.zeros((0, 4), np.float32)]))
        self.scores = tf.constant(np.concatenate(scores + [np.zeros((0,), np.float32)]))
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(ids, tf.int64), tf.range(len(ids), dtype=tf.int64)
            ),
            -1,
        )

    def __call__(self, image_id: tf.Tensor):
        row = self.table.lookup(tf.cast(image_id, tf.int64))
        start = tf.where(row >= 0, self.offsets[tf.maximum(row, 0)], 0)
        stop = tf.where(row >= 0, self.offsets[tf.maximum(row, 0) + 1], 0)
        return _xywh_to_xyxy(self.boxes[start:stop]), self.scores[start:stop]


def _box_instances(
    ex: dict,
    bbox_xyxy: tf.Tensor,
    scores: tf.Tensor,
    keypoints: tf.Tensor | None = None,
    head_size: tf.Tensor | None = None,
) -> tf.data.Dataset:
    n = tf.shape(bbox_xyxy)[0]
    k = tf.shape(ex["instance/keypoints"])[1]
    return tf.data.Dataset.from_tensor_slices(
        {
            "encoded": tf.fill([n], ex["image/encoded"]),
            "format": tf.fill([n], ex["image/format"]),
            "image_id": tf.fill([n], ex["image/id"]),
            "bbox": bbox_xyxy,
            "bbox_score": scores,
            "gt_keypoints": keypoints if keypoints is not None else tf.zeros([n, k, 3]),
            "head_size": head_size if head_size is not None else tf.zeros([n]),
        }
    )


def val_dataset(
    root: str,
    split: str,
    cfg: DataConfig,
    info: DatasetInfo,
    input_size: tuple[int, int],
    batch_size: int,
    *,
    use_udp: bool = False,
    detections: dict | None = None,
) -> tf.data.Dataset:
    """Exact MMPose val crops: ``image`` uint8 (B, h, w, 3) plus center/scale/ids/scores, the
    box, and for GT boxes the GT keypoints and head size (see ``val_instances``)."""
    w, h = input_size

    def crop(inst):
        center, scale = geometry.bbox_xyxy_to_center_scale(inst["bbox"], cfg.bbox_padding)
        scale = geometry.fix_aspect_ratio(scale, w / h)
        image = decode_image(inst["encoded"], inst["format"])
        crop, _ = geometry.topdown_affine(image, center, scale, input_size, use_udp)
        return {
            "image": crop,
            "center": center,
            "scale": scale,
            "image_id": inst["image_id"],
            "bbox_score": inst["bbox_score"],
            "bbox": inst["bbox"],
            "gt_keypoints": inst["gt_keypoints"],
            "head_size": inst["head_size"],
        }

    boxes = "detections" if detections is not None else cfg.val_boxes
    ds = val_instances(root, split, info, boxes, detections)
    ds = ds.map(crop, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
