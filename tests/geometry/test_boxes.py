"""Box conversions: numpy and TensorFlow give the same float32 results, as MMPose computes them."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kpose.geometry.boxes import (
    bbox_xywh_to_xyxy,
    bbox_xyxy_to_center_scale,
    clip_bbox_xyxy,
    fix_aspect_ratio,
)


def test_fix_aspect_ratio_grows_the_short_side():
    scale = np.array([[100.0, 100.0], [30.0, 100.0], [300.0, 100.0]])
    fixed = fix_aspect_ratio(scale, 0.75)
    np.testing.assert_allclose(fixed, [[100, 100 / 0.75], [75, 100], [300, 400]])
    np.testing.assert_allclose(
        fix_aspect_ratio(scale.astype(np.float32), 0.75),
        fix_aspect_ratio(tf.constant(scale, tf.float32), 0.75).numpy(),
    )


def test_xywh_to_xyxy_and_clip_agree_for_arrays_and_tensors():
    xywh = np.array([[10.5, -4.0, 30.0, 20.0], [90.0, 50.0, 40.0, 80.0]], np.float32)
    xyxy = bbox_xywh_to_xyxy(xywh)
    assert isinstance(xyxy, np.ndarray) and xyxy.dtype == np.float32
    np.testing.assert_array_equal(xyxy, [[10.5, -4.0, 40.5, 16.0], [90.0, 50.0, 130.0, 130.0]])
    np.testing.assert_array_equal(bbox_xywh_to_xyxy(tf.constant(xywh)).numpy(), xyxy)
    clipped = clip_bbox_xyxy(xyxy, 100, 120)  # MMPose clips to [0, size - 1]
    np.testing.assert_array_equal(clipped, [[10.5, 0.0, 40.5, 16.0], [90.0, 50.0, 99.0, 119.0]])
    np.testing.assert_array_equal(
        clip_bbox_xyxy(tf.constant(xyxy), tf.constant(100, tf.int64), 120).numpy(), clipped
    )


def test_center_scale_of_a_box():
    center, scale = bbox_xyxy_to_center_scale(np.array([10.0, 20.0, 50.0, 100.0]), padding=1.25)
    np.testing.assert_allclose(center, [30.0, 60.0])
    np.testing.assert_allclose(scale, [50.0, 100.0])
