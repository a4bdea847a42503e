"""tf.data input pipelines (host CPU): records -> instances -> augmentation -> batches.

Training: shards are read in a fixed order, parsed, flattened to person instances, filtered as
MMPose's top-down datasets do, shuffled with a per-epoch seed, and each instance's augmentation
is sampled and its coarse crop cut (``kpose.data.augment``; the exact warp and heatmap encoding
run later, batched inside the training step). Validation: each instance (GT box or detector
box) is cropped exactly as MMPose's ``TopdownAffine`` does (``kpose.geometry.reference``,
OpenCV's bilinear on uint8), ready for the model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from kpose.data import augment, pixel_transforms
from kpose.data.keypoint_mapping import KeypointMapping, keypoint_mapping
from kpose.data.metainfo import DatasetInfo
from kpose.data.records import (
    META_FILE,
    check_keypoints,
    count_train_instances,
    decode_image,
    instance_bbox_xyxy,
    parse_example,
    read_meta,
    records_info,
    split_files,
    topdown_valid,
)
from kpose.errors import DataError, RecipeError
from kpose.geometry import reference
from kpose.geometry.boxes import bbox_xywh_to_xyxy, bbox_xyxy_to_center_scale, fix_aspect_ratio
from kpose.recipe import DataConfig, TrainSetConfig


def _read_records(files: list[str], deterministic: bool) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices(files)
    return ds.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), 8),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic,
    )


def _instances(
    ex: dict, info: DatasetInfo, mapping: KeypointMapping | None = None
) -> tf.data.Dataset:
    """One image's valid instances as a dataset (image bytes repeated per instance); with
    ``mapping``, their keypoints as the mapping's targets (filtered before, as MMPose's
    sub-datasets filter before their KeypointConverter)."""
    bbox = instance_bbox_xyxy(ex, info)
    kpts = ex["instance/keypoints"]
    keep = topdown_valid(bbox, kpts, ex["instance/iscrowd"], ex["instance/num_keypoints"])
    n = tf.reduce_sum(tf.cast(keep, tf.int32))
    keypoints = tf.boolean_mask(kpts, keep)[..., :2]  # (n, K_records, 2)
    # MMPose: keypoints_visible = min(1, v)
    visible = tf.minimum(1.0, tf.boolean_mask(kpts, keep)[..., 2])
    if mapping is not None:
        keypoints, visible = mapping.apply(keypoints, visible)  # (n, K, 2), (n, K)
    return tf.data.Dataset.from_tensor_slices(
        {
            "encoded": tf.fill([n], ex["image/encoded"]),
            "format": tf.fill([n], ex["image/format"]),
            "width": tf.fill([n], tf.cast(ex["image/width"], tf.float32)),
            "bbox": tf.boolean_mask(bbox, keep),
            "keypoints": keypoints,
            "keypoints_visible": visible,
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


def train_set_instances(
    train_set: TrainSetConfig,
    info: DatasetInfo,
    input_context: tf.distribute.InputContext | None = None,
    *,
    where: str = "data.train_sets[0]",
) -> tf.data.Dataset:
    """One record set's valid training instances in a fixed order (this worker's shards),
    with ``info``'s keypoints: the set's ``keypoint_mapping`` maps its records' keypoints (as
    meta.json describes them) to them; without one the records must hold them. ``where`` names
    the set in errors."""
    root, split = train_set.root, train_set.split
    source = records_info(root)
    mapping = keypoint_mapping(train_set.keypoint_mapping, info.num_keypoints)
    if mapping is None:
        try:
            check_keypoints(read_meta(root), info, Path(root) / META_FILE)
        except DataError as exc:
            raise RecipeError(
                f"{where}: {exc}; or give the set a keypoint_mapping to the model's keypoints"
            ) from None
    elif mapping.num_sources_needed > source.num_keypoints:
        raise RecipeError(
            f"{where}.keypoint_mapping: source index {mapping.num_sources_needed - 1} is out "
            f"of range: the records in {root} hold the {source.num_keypoints} keypoints of "
            f"{source.name!r} (meta.json)"
        )
    files = split_files(root, split)
    if input_context is not None and input_context.num_input_pipelines > 1:
        files = files[input_context.input_pipeline_id :: input_context.num_input_pipelines]
    k = source.num_keypoints
    ds = _read_records(files, deterministic=True)
    ds = ds.map(
        lambda s: parse_example(s, k), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    ds = ds.flat_map(lambda ex: _instances(ex, source, mapping))
    return ds.repeat(train_set.repeat) if train_set.repeat > 1 else ds


def count_training_instances(cfg: DataConfig) -> int:
    """The instances of one pass over the training data: every set's valid instances (as its
    converter counted them into meta.json) times its ``repeat``."""
    return sum(count_train_instances(s.root, s.split) * s.repeat for s in cfg.train_record_sets)


def mixed_train_instances(
    cfg: DataConfig,
    info: DatasetInfo,
    *,
    seed: int,
    input_context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """One pass over the training data of ``cfg.train_record_sets``.

    One set: its instances in record order. Several (MMPose's CombinedDataset, which its
    sampler shuffles as one list): each next instance comes from set i with probability
    n_i / n (n_i its instances times its ``repeat``; ``seed`` draws them) until a set runs
    out, then from the others: every instance of every set once per pass, the sets mixed in
    proportion to their sizes throughout. The shuffle buffer of ``train_dataset`` then mixes
    within that stream as it does for one set.
    """
    sets = cfg.train_record_sets
    parts = [
        train_set_instances(s, info, input_context, where=f"data.train_sets[{i}]")
        for i, s in enumerate(sets)
    ]
    if len(parts) == 1:
        return parts[0]
    sizes = [count_train_instances(s.root, s.split) * s.repeat for s in sets]
    if not sum(sizes):
        raise DataError(f"data.train_sets: no training instances in {[s.root for s in sets]}")
    return tf.data.Dataset.sample_from_datasets(
        parts, weights=[n / sum(sizes) for n in sizes], seed=seed, stop_on_empty_dataset=False
    )


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

    ``root`` / ``split``: the records, unless ``cfg.train_sets`` lists several sets
    (``mixed_train_instances``). ``batch_size`` is the batch of this input pipeline (per
    worker). Elements:
    ``canvas`` uint8 (B, C, C, 3), ``matrix`` (B, 2, 3) canvas -> input, ``keypoints``
    (B, K, 2) in canvas pixels, ``keypoints_visible`` (B, K), and with ``cfg.pixel_transforms``
    their drawn parameters, ``pixel`` (one dict per transform).
    """
    spec = augment.TrainCropSpec.for_input(input_size, use_udp)
    if cfg.train_sets:
        ds = mixed_train_instances(
            cfg, info, seed=seed * 100003 + epoch, input_context=input_context
        )
    else:
        ds = train_instances(root, split, info, input_context)
    ds = ds.enumerate()
    ds = ds.shuffle(cfg.shuffle_buffer, seed=seed * 100003 + epoch, reshuffle_each_iteration=True)
    ds = ds.repeat().skip(skip_batches * batch_size)

    def prepare(index, inst):
        instance_seed = tf.stack([tf.cast(seed * 100003 + epoch, tf.int64), index])
        aug = augment.sample_augmentation(inst, instance_seed, cfg, info, input_size)
        image = decode_image(inst["encoded"], inst["format"])
        crop = augment.coarse_crop(image, aug, spec)
        if cfg.pixel_transforms:  # drawn here, applied to the warped crop in the train step
            crop["pixel"] = pixel_transforms.sample_pixel_params(
                cfg.pixel_transforms,
                tf.random.experimental.stateless_fold_in(instance_seed, 1),
                input_size,
            )
        return crop

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
