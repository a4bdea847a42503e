"""Box conversions: COCO xywh -> xyxy, clipping to the image, and box -> centre/scale.

Boxes are (..., 4) in image pixels, ``xywh`` (top-left corner and size, as COCO files store
them) or ``xyxy`` (corners). Every function takes numpy arrays or TensorFlow tensors and
returns the same kind, with the same float32 arithmetic either way.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def bbox_xywh_to_xyxy(bbox_xywh):
    """(..., 4) xywh boxes -> (..., 4) xyxy (x2 = x + w, y2 = y + h)."""
    xy, wh = bbox_xywh[..., :2], bbox_xywh[..., 2:]
    if isinstance(bbox_xywh, np.ndarray):
        return np.concatenate([xy, xy + wh], axis=-1)
    return tf.concat([xy, xy + wh], axis=-1)


def clip_bbox_xyxy(bbox_xyxy, width, height):
    """Clip (..., 4) xyxy boxes to [0, width - 1] x [0, height - 1] (MMPose's COCO parse)."""
    if isinstance(bbox_xyxy, np.ndarray):
        w = np.float32(width) - np.float32(1.0)
        h = np.float32(height) - np.float32(1.0)
        return np.clip(bbox_xyxy, np.float32(0.0), np.array([w, h, w, h], np.float32))
    w = tf.cast(width, tf.float32) - 1.0
    h = tf.cast(height, tf.float32) - 1.0
    return tf.clip_by_value(bbox_xyxy, 0.0, tf.stack([w, h, w, h]))


def bbox_xyxy_to_center_scale(bbox_xyxy, padding: float = 1.25):
    """(..., 4) boxes -> centre (..., 2) and padded scale (..., 2) (``GetBBoxCenterScale``)."""
    x1y1, x2y2 = bbox_xyxy[..., :2], bbox_xyxy[..., 2:]
    return (x1y1 + x2y2) * 0.5, (x2y2 - x1y1) * padding


def fix_aspect_ratio(scale, aspect_ratio: float):
    """Grow the shorter side of (..., 2) scales so that w / h == aspect_ratio (``TopdownAffine``).

    Follows MMPose: if w > h * r then h = w / r, else w = h * r.
    """
    w, h = scale[..., 0], scale[..., 1]
    wide = w > h * aspect_ratio
    if isinstance(scale, np.ndarray):
        return np.stack(
            [np.where(wide, w, h * aspect_ratio), np.where(wide, w / aspect_ratio, h)], axis=-1
        )
    return tf.stack(
        [tf.where(wide, w, h * aspect_ratio), tf.where(wide, w / aspect_ratio, h)], axis=-1
    )
