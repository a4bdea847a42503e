"""tf.data input pipelines (host CPU): records -> instances -> augmentation -> batches.

Training: shards are read in a fixed order, parsed, flattened to person instances, filtered as
MMPose's top-down datasets do, shuffled with a per-epoch seed, and each instance's augmentation
is sampled and its coarse crop cut (``kpose.data.augment``; the exact warp and heatmap encoding
run later, batched inside the training step). Validation: each instance (GT box or detector
box) is cropped exactly as MMPose's ``TopdownAffine`` does (``kpose.geometry.reference``,
OpenCV's bilinear on uint8), ready for the model.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kpose.data import augment
from kpose.data.metainfo import DatasetInfo
from kpose.data.records import (
    decode_image,
    instance_bbox_xyxy,
    parse_example,
    split_files,
    topdown_valid,
)
from kpose.errors import RecipeError
from kpose.geometry import reference
from kpose.geometry.boxes import bbox_xywh_to_xyxy, bbox_xyxy_to_center_scale, fix_aspect_ratio
from kpose.recipe import DataConfig


def _read_records(files: list[str], deterministic: bool) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices(files)
    return ds.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), 8),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic,
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


def train_instances(
    root: str,
    split: str,
    info: DatasetInfo,
    input_context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """Valid training instances in a fixed order (this worker's shards only)."""
    files = split_files(root, split, info)
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
    spec = augment.TrainCropSpec.for_input(input_size, use_udp)
    ds = train_instances(root, split, info, input_context).enumerate()
    ds = ds.shuffle(cfg.shuffle_buffer, seed=seed * 100003 + epoch, reshuffle_each_iteration=True)
    ds = ds.repeat().skip(skip_batches * batch_size)

    def prepare(index, inst):
        aug = augment.sample_augmentation(
            inst, tf.stack([tf.cast(seed * 100003 + epoch, tf.int64), index]), cfg, info, input_size
        )
        image = decode_image(inst["encoded"], inst["format"])
        return augment.coarse_crop(image, aug, spec)

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------------------- validation


def val_instances(
    root: str, split: str, info: DatasetInfo, boxes: str = "gt", detections: dict | None = None
) -> tf.data.Dataset:
    """Instances to predict, in record order.

    ``boxes='gt'``: the valid GT instances, with their keypoints (K, 3) and head size for PCK
    metrics and their ``category_id`` for COCO results; ``'detections'`` (category 1, as
    MMPose's detection boxes): the detector boxes stored with the records, or ``detections``
    (``{image_id: (boxes_xywh, scores)}``, e.g. a detection file read at evaluation time).
    """
    if boxes not in ("gt", "detections"):
        raise RecipeError(f"data.val_boxes: expected 'gt' or 'detections', got {boxes!r}")
    k = info.num_keypoints
    ds = _read_records(split_files(root, split, info), deterministic=True)
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
        categories = ex["instance/category_id"]
        categories = tf.cond(
            tf.size(categories) == tf.size(ex["instance/area"]),
            lambda: categories,
            lambda: tf.ones_like(ex["instance/area"], tf.int64),
        )
        return _box_instances(
            ex,
            tf.boolean_mask(bbox, keep),
            tf.ones_like(tf.boolean_mask(ex["instance/area"], keep)),
            tf.boolean_mask(ex["instance/keypoints"], keep),
            tf.boolean_mask(heads, keep),
            tf.boolean_mask(categories, keep),
        )

    if boxes == "gt":
        return ds.flat_map(gt)
    if detections is None:
        return ds.flat_map(
            lambda ex: _box_instances(
                ex, bbox_xywh_to_xyxy(ex["detection/bbox"]), ex["detection/score"]
            )
        )
    lookup = _DetectionTable(detections)
    return ds.flat_map(lambda ex: _box_instances(ex, *lookup(ex["image/id"])))


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
        return bbox_xywh_to_xyxy(self.boxes[start:stop]), self.scores[start:stop]


def _box_instances(
    ex: dict,
    bbox_xyxy: tf.Tensor,
    scores: tf.Tensor,
    keypoints: tf.Tensor | None = None,
    head_size: tf.Tensor | None = None,
    category_id: tf.Tensor | None = None,
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
            "category_id": category_id if category_id is not None else tf.ones([n], tf.int64),
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
    box, its ``category_id``, and for GT boxes the GT keypoints and head size (see
    ``val_instances``)."""
    w, h = input_size

    def crop(inst):
        center, scale = bbox_xyxy_to_center_scale(inst["bbox"], cfg.bbox_padding)
        scale = fix_aspect_ratio(scale, w / h)
        image = decode_image(inst["encoded"], inst["format"])
        crop = _exact_crop(image, center, scale, input_size, use_udp)
        return {
            "image": crop,
            "center": center,
            "scale": scale,
            "image_id": inst["image_id"],
            "bbox_score": inst["bbox_score"],
            "bbox": inst["bbox"],
            "gt_keypoints": inst["gt_keypoints"],
            "head_size": inst["head_size"],
            "category_id": inst["category_id"],
        }

    boxes = "detections" if detections is not None else cfg.val_boxes
    ds = val_instances(root, split, info, boxes, detections)
    ds = ds.map(crop, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _exact_crop(
    image: tf.Tensor, center: tf.Tensor, scale: tf.Tensor, input_size, use_udp: bool
) -> tf.Tensor:
    """``reference.topdown_affine`` (no rotation) as a tf.data op: (H, W, 3) uint8 -> the
    (h, w, 3) uint8 crop, bit for bit MMPose's ``TopdownAffine``."""

    def crop(img, c, s):
        return reference.topdown_affine(img, c, s, 0.0, input_size, use_udp)[0]

    out = tf.numpy_function(crop, [image, center, scale], tf.uint8, stateful=False)
    w, h = input_size
    out.set_shape([h, w, 3])
    return out
