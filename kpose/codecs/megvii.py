"""Megvii heatmaps (CPN / MSPN / RSN targets), as batched TF ops that reproduce MMPose 1.3.2's
``MegviiHeatmap``, plus the bit-exact OpenCV Gaussian blur that Megvii and UDP decoding share.

Conventions: a keypoint at input pixel ``p`` lands on heatmap pixel ``int(p / s)`` with
``s = input_size / heatmap_size``. The target is that single pixel blurred with OpenCV's
``kernel_size`` Gaussian (mirrored borders) and scaled so the keypoint's pixel is 255. Decoding
blurs the prediction again, takes the argmax and, away from the border, adds
``0.25 * sign(gradient) + 0.5`` px; the score is ``max / 255 + 0.5``. Heatmaps are NHWC,
``(N, h, w, K)``, on MMPose's 0..255 scale; sizes are ``(w, h)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from kpose.codecs.msra import (
    FAR,
    as_float32,
    gaussian_kernel_1d,
    heatmap_maximum,
    neighbour_sampler,
)
from kpose.errors import ModelError


def _fma(a: tf.Tensor, weight: float, acc: tf.Tensor) -> tf.Tensor:
    """float32 ``a * weight + acc`` rounded once, as the FMA instructions of OpenCV's AVX2
    filters compute it. The float64 product is exact; rounding the sum to float64 first can
    differ from a true FMA only where that lands exactly halfway between two float32s."""
    exact = tf.cast(a, tf.float64) * weight + tf.cast(acc, tf.float64)
    return tf.cast(exact, tf.float32)


def cv2_gaussian_blur(maps, kernel_size: int, zero_border: bool = False) -> tf.Tensor:
    """``cv2.GaussianBlur(m, (k, k), 0)`` on every float32 channel of ``(N, h, w, K)`` maps,
    bit for bit as the opencv-python 4.11 wheels compute it on x86 with AVX2 (MMPose's
    reference; other builds and versions differ in the last bit here and there).

    OpenCV filters rows, then columns, in float32. The row pass accumulates the ``k`` taps
    left to right with fused multiply-adds; for k = 3 and 5 its small symmetric filter
    weights the sum of the two neighbours first, adds the centre by FMA, then the outer pair.
    The column pass starts from the centre row times its weight and adds each mirrored pair
    of rows, summed first, by FMA. The border mirrors without repeating the edge
    (``BORDER_REFLECT_101``), or is zero with ``zero_border`` (what MMPose's zero padding
    amounts to on the pixels it keeps).
    """
    maps = as_float32(maps)  # (N, h, w, K)
    if kernel_size == 1:
        return maps
    kernel = [float(v) for v in gaussian_kernel_1d(kernel_size)]
    r = kernel_size // 2
    centre, side = kernel[r], kernel[r + 1 :]  # side[t - 1] weighs the pixels t away
    mode = "CONSTANT" if zero_border else "REFLECT"
    padded = tf.pad(maps, [[0, 0], [r, r], [r, r], [0, 0]], mode=mode)  # (N, h+2r, w+2r, K)
    width = tf.shape(maps)[2]
    height = tf.shape(maps)[1]

    def tap(t: int) -> tf.Tensor:  # row pass input shifted by t - r columns
        return padded[:, :, t : t + width]

    if kernel_size == 3:
        rows = _fma(tap(1), centre, (tap(0) + tap(2)) * side[0])
    elif kernel_size == 5:
        inner = _fma(tap(2), centre, (tap(1) + tap(3)) * side[0])
        rows = _fma(tap(0) + tap(4), side[1], inner)
        if not zero_border:
            # OpenCV's scalar loop finishes an odd width: its last column takes the centre tap
            # first. (With MMPose's zero padding that column is padding, never kept.)
            scalar = _fma(tap(1) + tap(3), side[0], tap(2) * centre)
            scalar = _fma(tap(0) + tap(4), side[1], scalar)
            last = (tf.range(width) == width - 1) & (width % 2 == 1)  # (w,)
            rows = tf.where(last[:, None], scalar, rows)
    else:
        rows = tap(0) * kernel[0]
        for t in range(1, kernel_size):
            rows = _fma(tap(t), kernel[t], rows)
    # rows: (N, h + 2r, w, K)

    def mirrored(t: int) -> tf.Tensor:  # the rows t above plus the rows t below each output row
        return rows[:, r - t : r - t + height] + rows[:, r + t : r + t + height]

    out = rows[:, r : r + height] * centre
    for t in range(1, r + 1):
        out = _fma(mirrored(t), side[t - 1], out)
    return out  # (N, h, w, K)


def gaussian_blur_exact(heatmaps, kernel_size: int) -> tf.Tensor:
    """MMPose's ``gaussian_blur`` (DARK's heatmap modulation) on ``(N, h, w, K)`` heatmaps,
    bit for bit: ``cv2_gaussian_blur`` over a zero border, rescaled so each channel keeps its
    maximum. Channels whose blurred maximum is 0 come back as zeros (MMPose: NaN).

    Same contract as ``msra.gaussian_blur``, whose float32 convolution lands a few ulps off
    OpenCV; DARK-UDP's Newton step at the map's border magnifies those ulps (up to ~3e-4 px).
    """
    heatmaps = as_float32(heatmaps)
    blurred = cv2_gaussian_blur(heatmaps, kernel_size, zero_border=True)
    original_max = tf.reduce_max(heatmaps, axis=(1, 2), keepdims=True)  # (N, 1, 1, K)
    blurred_max = tf.reduce_max(blurred, axis=(1, 2), keepdims=True)
    return blurred * tf.math.divide_no_nan(original_max, blurred_max)


class MegviiHeatmap:
    """MMPose's ``MegviiHeatmap`` codec (MSPN / RSN; CPN's targets).

    Args:
        input_size: model input ``(w, h)`` in pixels.
        heatmap_size: heatmap ``(w, h)``; ``scale_factor = input_size / heatmap_size``.
        kernel_size: odd Gaussian kernel size, for the targets and for the decoding blur
            (MSPN/RSN use 11, 9, 7 and 5 for successive stages and decode with the last).

    Example:
        >>> codec = MegviiHeatmap((192, 256), (48, 64), kernel_size=5)
        >>> heatmaps, weights = codec.encode(keypoints, keypoints_visible)  # (N, 64, 48, K)
        >>> keypoints, scores = codec.decode(heatmaps)  # input-crop pixels, (N, K, 2)

    Both methods take numpy arrays or tensors, return float32 tensors and run inside
    ``tf.function`` (also with ``jit_compile=True``).
    """

    def __init__(self, input_size: Sequence[int], heatmap_size: Sequence[int], kernel_size: int):
        if len(input_size) != 2 or len(heatmap_size) != 2:
            raise ModelError(
                f"input_size and heatmap_size are (w, h) pairs, got {input_size} and {heatmap_size}"
            )
        gaussian_kernel_1d(kernel_size)  # validates the size
        self.input_size = tuple(int(v) for v in input_size)
        self.heatmap_size = tuple(int(v) for v in heatmap_size)
        if min(self.heatmap_size) <= kernel_size // 2:
            # tf.pad's mirror mode (OpenCV's default border) needs the radius inside the map.
            raise ModelError(
                f"kernel_size {kernel_size} needs heatmaps wider and taller than "
                f"{kernel_size // 2} px, got {self.heatmap_size}"
            )
        self.kernel_size = int(kernel_size)
        self.scale_factor = (
            np.asarray(self.input_size, np.float32) / np.asarray(self.heatmap_size, np.float32)
        ).astype(np.float32)  # (2,)

    def __repr__(self) -> str:
        return (
            f"MegviiHeatmap(input_size={self.input_size}, heatmap_size={self.heatmap_size}, "
            f"kernel_size={self.kernel_size})"
        )

    def encode(self, keypoints, keypoints_visible=None) -> tuple[tf.Tensor, tf.Tensor]:
        """Keypoints ``(N, K, 2)`` in input-crop pixels -> ``(heatmaps (N, h, w, K) in 0..255,
        weights (N, K))``, float32.

        Keypoints with visibility < 0.5 get an empty map and keep their visibility as weight;
        a labelled keypoint whose pixel ``int(p / s)`` is off the heatmap gets an empty map and
        weight 0; every other weight equals the visibility.
        """
        keypoints = as_float32(keypoints)[..., :2]
        if keypoints_visible is None:
            visible = tf.ones(tf.shape(keypoints)[:2], tf.float32)
        else:
            visible = as_float32(keypoints_visible)
        width, height = self.heatmap_size
        # float64 division rounded to float32 is numpy's float32 division, also under XLA
        # (which would otherwise multiply by the reciprocal of the constant).
        points = tf.cast(
            tf.cast(keypoints, tf.float64) / self.scale_factor.astype(np.float64), tf.float32
        )
        points = tf.where(tf.math.is_finite(points), tf.clip_by_value(points, -FAR, FAR), -FAR)
        pixel = tf.cast(points, tf.int32)  # (N, K, 2), truncated toward zero like astype(int)
        off_map = (
            (pixel[..., 0] < 0)
            | (pixel[..., 0] >= width)
            | (pixel[..., 1] < 0)
            | (pixel[..., 1] >= height)
        )
        labelled = visible >= 0.5
        active = labelled & ~off_map  # (N, K)
        one_hot = (
            tf.one_hot(pixel[..., 1], height, axis=1)[:, :, None]  # (N, h, 1, K)
            * tf.one_hot(pixel[..., 0], width, axis=1)[:, None]  # (N, 1, w, K)
        )  # (N, h, w, K)
        blurred = cv2_gaussian_blur(one_hot, self.kernel_size)
        peak = tf.reduce_sum(blurred * one_hot, axis=(1, 2), keepdims=True)  # at the keypoint
        heatmaps = tf.math.divide_no_nan(blurred, peak) * 255.0
        heatmaps = tf.where(active[:, None, None, :], heatmaps, 0.0)
        weights = tf.where(labelled & off_map, 0.0, visible)
        return heatmaps, weights

    def decode(self, heatmaps) -> tuple[tf.Tensor, tf.Tensor]:
        """Heatmaps ``(N, h, w, K)`` on the 0..255 scale -> ``(keypoints (N, K, 2) in
        input-crop pixels, scores (N, K))``.

        Blur (``gaussian_blur_exact``), argmax (first maximum wins), then for argmaxes with
        ``1 < x < w - 1`` and ``1 < y < h - 1``: ``+ 0.25 * sign(gradient) + 0.5`` on both axes;
        times ``scale_factor``. Scores are ``max / 255 + 0.5`` of the blurred map. A channel
        whose blurred maximum is <= 0 decodes to ``-scale_factor`` (MMPose: (0, 0) and a NaN
        score for an all-zero channel, whose blur divides 0 by 0).
        """
        blurred = gaussian_blur_exact(heatmaps, self.kernel_size)
        locations, values = heatmap_maximum(blurred)  # (N, K, 2), (N, K)
        x = tf.cast(locations[..., 0], tf.int32)
        y = tf.cast(locations[..., 1], tf.int32)
        at, height, width = neighbour_sampler(blurred, x, y)
        after = tf.stack([at(1, 0), at(0, 1)], axis=-1)  # (N, K, 2): right, below
        before = tf.stack([at(-1, 0), at(0, -1)], axis=-1)  # left, above
        # sign(after - before) by comparison: XLA may fuse the blur's rescaling into a
        # subtraction as an FMA, which turns equal neighbours into +-1 ulp and flips the step.
        sign = tf.cast(after > before, tf.float32) - tf.cast(after < before, tf.float32)
        inside = (1 < x) & (x < width - 1) & (1 < y) & (y < height - 1)
        shifted = locations + (sign * 0.25 + 0.5)
        locations = tf.where(inside[..., None], shifted, locations)
        # float64 division rounded to float32 is numpy's float32 division also under XLA.
        scores = tf.cast(tf.cast(values, tf.float64) / 255.0, tf.float32) + 0.5
        return locations * tf.constant(self.scale_factor), scores
