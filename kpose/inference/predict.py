"""The one top-down predict path, MMPose's test step as batched TensorFlow: person boxes ->
MMPose's crops (``crop_boxes``) -> the heatmap model, with flip test -> the codec's decode
(``make_predict_fn``) -> keypoints in original-image pixels (``to_image_coords``).
``PoseEstimator``, the evaluator (whose crops come from the val pipeline) and the serving
SavedModel are all built from these three functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from kpose.codecs import flip_heatmaps, flip_test_average
from kpose.geometry import cv2_exact
from kpose.geometry.boxes import bbox_xyxy_to_center_scale, fix_aspect_ratio
from kpose.models.build import predicts_visibility


@tf.function(reduce_retracing=True)
def crop_boxes(
    images, image_index, boxes_xyxy, input_size: tuple[int, int], padding: float, use_udp: bool
):
    """MMPose's top-down crops of person boxes, bit for bit as its OpenCV crop.

    Per box: centre/scale of the box (``padding`` x, aspect ratio of ``input_size``), MMPose's
    warp matrix (the UDP one with ``use_udp``) and OpenCV's fixed-point bilinear warp.

    Args:
        images: ``(B, H, W, 3)`` uint8 RGB (zero-padded to one size).
        image_index: ``(N,)`` int32, the image of each box.
        boxes_xyxy: ``(N, 4)`` float32 boxes in image pixels.
        input_size: the model's ``(w, h)``.

    Returns:
        ``(crops (N, h, w, 3) uint8, centers (N, 2), scales (N, 2))`` in image pixels.
    """
    # Not XLA: the float64 matrix arithmetic must round as OpenCV's does (no fused mul-add).
    center, scale = bbox_xyxy_to_center_scale(boxes_xyxy, padding)
    scale = fix_aspect_ratio(scale, input_size[0] / input_size[1])
    if use_udp:
        matrices = cv2_exact.get_udp_warp_matrix(center, scale, input_size)
    else:
        matrices = cv2_exact.get_warp_matrix(center, scale, input_size)
    crops = cv2_exact.warp_affine(images, image_index, matrices, input_size)
    return crops, center, scale


def outputs_with_flip(
    model: keras.Model,
    crops,
    flip_indices: Sequence[int],
    flip_test: bool,
    shift_heatmap: bool,
    output_keypoint_indices: Sequence[int] | None = None,
    flip_mode: str = "heatmap",
):
    """The model's float32 ``(heatmaps (B, h', w', K), visibility (B, K) or None)`` of crops
    ``(B, h, w, 3)`` (uint8 or float RGB 0..255); the visibility is the keypoint visibility
    probability of a model that predicts it (a ``vis`` head, MMPose's ``VisPredictHead``),
    else None. With ``flip_test`` the model also sees the mirrored crops; their heatmaps
    are flipped back (``flip_indices``, the model's keypoints, ``shift_heatmap``,
    ``flip_mode``: "udp_combined" for UDP's combined maps) and averaged in, and so is their
    visibility (keypoints swapped by ``flip_indices``). ``output_keypoint_indices`` (MMPose's
    test_cfg): only these keypoints are returned, in this order (K of them; their 3 channels
    each with "udp_combined"). TF ops, traced inside the caller's ``tf.function``."""
    crops = tf.cast(crops, tf.float32)
    heatmaps, visibility = _outputs(model, crops)  # (B, h, w, K_model), (B, K_model) | None
    if flip_test:
        flipped, flipped_visibility = _outputs(model, tf.reverse(crops, axis=[2]))
        flipped = flip_heatmaps(flipped, flip_indices, shift_heatmap, flip_mode)
        heatmaps = flip_test_average(heatmaps, flipped)
        if visibility is not None:
            flipped_visibility = tf.gather(flipped_visibility, list(flip_indices), axis=-1)
            visibility = (visibility + flipped_visibility) * 0.5
    if output_keypoint_indices is not None:
        group = 3 if flip_mode == "udp_combined" else 1  # channels per keypoint
        channels = [group * k + j for k in output_keypoint_indices for j in range(group)]
        heatmaps = tf.gather(heatmaps, channels, axis=-1)  # (B, h, w, K)
        if visibility is not None:
            visibility = tf.gather(visibility, list(output_keypoint_indices), axis=-1)
    return heatmaps, visibility


def _outputs(model: keras.Model, crops):
    outputs = model(crops, training=False)
    if predicts_visibility(model):
        heatmaps, visibility = outputs
        return tf.cast(heatmaps, tf.float32), tf.cast(visibility, tf.float32)
    return tf.cast(outputs, tf.float32), None


def heatmaps_with_flip(
    model: keras.Model,
    crops,
    flip_indices: Sequence[int],
    flip_test: bool,
    shift_heatmap: bool,
    output_keypoint_indices: Sequence[int] | None = None,
    flip_mode: str = "heatmap",
):
    """The heatmaps of ``outputs_with_flip``: float32 ``(B, h', w', K)``."""
    return outputs_with_flip(
        model, crops, flip_indices, flip_test, shift_heatmap, output_keypoint_indices, flip_mode
    )[0]


def make_heatmap_fn(
    model: keras.Model,
    flip_indices: Sequence[int],
    *,
    flip_test: bool = True,
    shift_heatmap: bool = True,
    jit_compile: bool = False,
    output_keypoint_indices: Sequence[int] | None = None,
    flip_mode: str = "heatmap",
):
    """``outputs_with_flip`` compiled once for every batch size: crops ``(B, h, w, 3)`` (uint8
    or float RGB 0..255) -> float32 heatmaps ``(B, h', w', K)``, or ``(heatmaps, visibility
    (B, K))`` for a model that predicts visibility (a TF graph takes any batch; under XLA each
    batch size still compiles once)."""
    spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)
    with_visibility = predicts_visibility(model)

    @tf.function(input_signature=[spec], jit_compile=jit_compile)
    def compiled(crops):
        heatmaps, visibility = outputs_with_flip(
            model,
            crops,
            flip_indices,
            flip_test,
            shift_heatmap,
            output_keypoint_indices,
            flip_mode,
        )
        return (heatmaps, visibility) if with_visibility else heatmaps

    return lambda crops: compiled(tf.cast(crops, tf.float32))


def make_predict_fn(
    model: keras.Model,
    codec,
    flip_indices: Sequence[int],
    *,
    flip_test: bool = True,
    shift_heatmap: bool = True,
    jit_compile: bool = False,
    jit_decode: bool = False,
    output_keypoint_indices: Sequence[int] | None = None,
    flip_mode: str = "heatmap",
):
    """A compiled function: crops ``(B, h, w, 3)`` (uint8 or float RGB 0..255) ->
    ``(keypoints (B, K, 2) in input-crop pixels, scores (B, K))``, and for a model that
    predicts visibility a third element, ``keypoints_visible (B, K)`` (MMPose's
    ``VisPredictHead`` predictions): ``outputs_with_flip`` and the codec's decode in one
    ``tf.function`` (what the evaluator and the SavedModel run). ``jit_compile`` compiles the
    whole function with XLA; ``jit_decode`` only the decode (``kpose.devices``: on a CPU the
    model runs best as a TF graph, decoding under XLA)."""
    decode = tf.function(codec.decode, jit_compile=True) if jit_decode else codec.decode

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def predict(crops):
        heatmaps, visibility = outputs_with_flip(
            model,
            crops,
            flip_indices,
            flip_test,
            shift_heatmap,
            output_keypoint_indices,
            flip_mode,
        )
        keypoints, scores = decode(heatmaps)
        return (keypoints, scores) if visibility is None else (keypoints, scores, visibility)

    return predict


def to_image_coords(keypoints_in, center, scale, input_size: tuple[int, int]):
    """MMPose's back-projection ``kp / input_size * scale + center - scale / 2``: keypoints
    ``(N, K, 2)`` in input-crop pixels -> original-image pixels, for the boxes' ``center`` and
    ``scale`` ``(N, 2)``. Numpy arrays or TF tensors (in the keypoints' dtype)."""
    if isinstance(keypoints_in, np.ndarray):
        size = np.asarray(input_size, keypoints_in.dtype)
    else:
        size = tf.constant(input_size, keypoints_in.dtype)
    scale, center = scale[:, None, :], center[:, None, :]
    return keypoints_in / size * scale + center - 0.5 * scale
