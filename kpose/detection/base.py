"""The detector protocol: an RGB image in, person boxes out.

A detector is any callable ``detector(image) -> boxes`` with ``image`` an ``(H, W, 3)`` uint8 RGB
array and ``boxes`` an ``(N, 5)`` float32 array: ``x1, y1, x2, y2`` in image pixels and a score,
best first. ``PoseEstimator.predict`` calls it for images given without boxes.

``select_boxes`` is the post-processing every adapter shares, MMPoseInferencer's after the
detector's own (``mmpose/apis/inferencers/pose2d_inferencer.py``): keep the wanted classes and
boxes scoring above ``score_thr``, then MMPose's NMS (``mmpose.evaluation.functional.nms``:
areas with the +1 pixel convention, a box is dropped when its IoU with a better one exceeds
``nms_thr``), at most ``max_boxes``. It runs as TF ops, in or out of a graph.
Detectors that can run inside a TF graph (for a SavedModel that detects and estimates in one
call) also provide ``detect_graph(image)``: a uint8 ``(H, W, 3)`` tensor -> ``(N, 5)`` tensor.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import tensorflow as tf


@runtime_checkable
class Detector(Protocol):
    def __call__(self, image: np.ndarray) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB -> ``(N, 5)`` float32 ``x1, y1, x2, y2, score``."""


@runtime_checkable
class GraphDetector(Detector, Protocol):
    def detect_graph(self, image: tf.Tensor) -> tf.Tensor:
        """The same as ``__call__`` as TF ops: uint8 ``(H, W, 3)`` -> float32 ``(N, 5)``."""


def select_boxes(
    boxes,
    scores,
    labels=None,
    *,
    classes=(0,),
    score_thr: float = 0.3,
    nms_thr: float = 0.3,
    max_boxes: int = 100,
):
    """Boxes ``(N, 4)`` xyxy with ``scores`` ``(N,)`` (and class ``labels`` ``(N,)``, kept when
    in ``classes``; ``None``: all boxes are of the wanted class) -> ``(M, 5)`` xyxy + score, best
    first, after the score threshold and NMS at IoU ``nms_thr``. TF tensors in and out."""
    boxes = tf.reshape(tf.cast(boxes, tf.float32), [-1, 4])
    scores = tf.reshape(tf.cast(scores, tf.float32), [-1])
    keep = scores > score_thr
    if labels is not None:
        labels = tf.reshape(tf.cast(labels, tf.int64), [-1])
        wanted = tf.constant(list(classes), tf.int64)
        keep &= tf.reduce_any(labels[:, None] == wanted[None, :], axis=1)
    boxes, scores = tf.boolean_mask(boxes, keep), tf.boolean_mask(scores, keep)
    # tf.image's NMS takes (y1, x1, y2, x2); IoU is symmetric in the axes, so xyxy works as is.
    # MMPose's +1 convention ((x2 - x1 + 1) widths, intersections alike) is x2 + 1, y2 + 1.
    plus_one = boxes + tf.constant([0.0, 0.0, 1.0, 1.0])
    index = tf.image.non_max_suppression(plus_one, scores, max_boxes, iou_threshold=nms_thr)
    return tf.concat([tf.gather(boxes, index), tf.gather(scores, index)[:, None]], axis=1)
