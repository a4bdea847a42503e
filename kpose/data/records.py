"""The TFRecord schema: one ``tf.train.Example`` per image with all its person instances.

Values are stored as the annotation file has them (COCO ``bbox`` is xywh, unclipped; keypoints
are ``(x, y, v)`` triples), so the ground truth a metric needs can be rebuilt exactly from the
records. Readers apply MMPose's clipping and filtering on top (``kpose.data.pipeline``).

Feature keys (contract for every converter):

========================  =======  ============================================================
key                        dtype    meaning
========================  =======  ============================================================
image/encoded             bytes    the original file bytes (JPEG or PNG), never re-encoded
image/format              bytes    ``jpeg`` or ``png``
image/file_name           bytes    path relative to the converter's ``--images`` folder
image/id                  int64    the annotation file's image id
image/width, image/height int64    from the annotation file, checked against the pixels
image/crowd_index         float    CrowdPose's crowdIndex (0 elsewhere)
image/video_id            bytes    PoseTrack18's ``vid_id`` ("" elsewhere)
image/frame_id            int64    PoseTrack18's ``frame_id`` (0 elsewhere)
instance/id               int64    [N] annotation ids
instance/bbox             float    [N*4] xywh as in the annotation file
instance/keypoints        float    [N*K*3] (x, y, visibility)
instance/area             float    [N] (-1 where the annotation file has none)
instance/iscrowd          int64    [N]
instance/num_keypoints    int64    [N]
instance/category_id      int64    [N]
instance/head_size        float    [N] MPII PCKh normaliser (empty elsewhere)
detection/bbox            float    [M*4] detector boxes, xywh (val sets with --detections)
detection/score           float    [M]
========================  =======  ============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf


@dataclass
class ImageRecord:
    """One image and its instances, in annotation-file conventions (numpy arrays)."""

    image_id: int
    file_name: str
    width: int
    height: int
    encoded: bytes
    image_format: str
    num_keypoints: int  # K of the dataset
    instance_ids: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))
    bbox_xywh: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    keypoints: np.ndarray | None = None  # (N, K, 3)
    area: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    iscrowd: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))
    instance_num_keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))
    category_id: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))
    head_size: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    crowd_index: float = 0.0
    video_id: str = ""
    frame_id: int = 0
    det_bbox_xywh: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    det_score: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))

    def __post_init__(self) -> None:
        if self.keypoints is None:
            self.keypoints = np.zeros((0, self.num_keypoints, 3), np.float32)


def _bytes(values: list[bytes]) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _floats(values: np.ndarray) -> tf.train.Feature:
    return tf.train.Feature(float_list=tf.train.FloatList(value=np.ravel(values).tolist()))


def _ints(values: np.ndarray) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=np.ravel(values).tolist()))


def to_example(rec: ImageRecord) -> tf.train.Example:
    feature = {
        "image/encoded": _bytes([rec.encoded]),
        "image/format": _bytes([rec.image_format.encode()]),
        "image/file_name": _bytes([rec.file_name.encode()]),
        "image/id": _ints(np.array([rec.image_id])),
        "image/width": _ints(np.array([rec.width])),
        "image/height": _ints(np.array([rec.height])),
        "image/crowd_index": _floats(np.array([rec.crowd_index])),
        "image/video_id": _bytes([rec.video_id.encode()]),
        "image/frame_id": _ints(np.array([rec.frame_id])),
        "instance/id": _ints(rec.instance_ids),
        "instance/bbox": _floats(rec.bbox_xywh),
        "instance/keypoints": _floats(rec.keypoints),
        "instance/area": _floats(rec.area),
        "instance/iscrowd": _ints(rec.iscrowd),
        "instance/num_keypoints": _ints(rec.instance_num_keypoints),
        "instance/category_id": _ints(rec.category_id),
        "instance/head_size": _floats(rec.head_size),
        "detection/bbox": _floats(rec.det_bbox_xywh),
        "detection/score": _floats(rec.det_score),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature))


_SCALARS = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/format": tf.io.FixedLenFeature([], tf.string),
    "image/file_name": tf.io.FixedLenFeature([], tf.string),
    "image/id": tf.io.FixedLenFeature([], tf.int64),
    "image/width": tf.io.FixedLenFeature([], tf.int64),
    "image/height": tf.io.FixedLenFeature([], tf.int64),
    "image/crowd_index": tf.io.FixedLenFeature([], tf.float32, default_value=0.0),
    "image/video_id": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "image/frame_id": tf.io.FixedLenFeature([], tf.int64, default_value=0),
}
_LISTS = {
    "instance/id": tf.int64,
    "instance/bbox": tf.float32,
    "instance/keypoints": tf.float32,
    "instance/area": tf.float32,
    "instance/iscrowd": tf.int64,
    "instance/num_keypoints": tf.int64,
    "instance/category_id": tf.int64,
    "instance/head_size": tf.float32,
    "detection/bbox": tf.float32,
    "detection/score": tf.float32,
}
FEATURES = {**_SCALARS, **{k: tf.io.VarLenFeature(v) for k, v in _LISTS.items()}}


def parse_example(serialized: tf.Tensor, num_keypoints: int) -> dict[str, tf.Tensor]:
    """Parse one serialized Example into dense tensors with instance axes restored."""
    ex = tf.io.parse_single_example(serialized, FEATURES)
    out = {k: ex[k] for k in _SCALARS}
    for key in _LISTS:
        out[key] = tf.sparse.to_dense(ex[key])
    out["instance/bbox"] = tf.reshape(out["instance/bbox"], [-1, 4])
    out["instance/keypoints"] = tf.reshape(out["instance/keypoints"], [-1, num_keypoints, 3])
    out["detection/bbox"] = tf.reshape(out["detection/bbox"], [-1, 4])
    return out


def from_example(serialized: bytes, num_keypoints: int) -> ImageRecord:
    """Parse one serialized Example back into an ImageRecord (numpy; for tests and tools)."""
    ex = {k: v.numpy() for k, v in parse_example(tf.constant(serialized), num_keypoints).items()}
    return ImageRecord(
        image_id=int(ex["image/id"]),
        file_name=ex["image/file_name"].decode(),
        width=int(ex["image/width"]),
        height=int(ex["image/height"]),
        encoded=ex["image/encoded"],
        image_format=ex["image/format"].decode(),
        num_keypoints=num_keypoints,
        instance_ids=ex["instance/id"],
        bbox_xywh=ex["instance/bbox"],
        keypoints=ex["instance/keypoints"],
        area=ex["instance/area"],
        iscrowd=ex["instance/iscrowd"],
        instance_num_keypoints=ex["instance/num_keypoints"],
        category_id=ex["instance/category_id"],
        head_size=ex["instance/head_size"],
        crowd_index=float(ex["image/crowd_index"]),
        video_id=ex["image/video_id"].decode(),
        frame_id=int(ex["image/frame_id"]),
        det_bbox_xywh=ex["detection/bbox"],
        det_score=ex["detection/score"],
    )
