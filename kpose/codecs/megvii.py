"""Megvii heatmaps (MSPN / RSN), as batched TF ops that reproduce MMPose 1.3.2's
``MegviiHeatmap``.

Encoding puts a 1 at ``int(p / s)`` (``s = input_size / heatmap_size``) and blurs it with
OpenCV's Gaussian kernel of ``kernel_size`` (sigma from the size, reflected borders), scaled so
the keypoint's pixel is 255. Decoding blurs the prediction (zero border, maximum kept), takes
the argmax and, away from the border, moves it by ``0.25 * sign(gradient) + 0.5`` px; the score
is ``max / 255 + 0.5``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from kpose.codecs.msra import _FAR, _float32, gaussian_blur, gaussian_kernel_1d, heatmap_maximum


class MegviiHeatmap:
    """MMPose's ``MegviiHeatmap`` codec.

    Args:
        input_size: model input ``(w, h)``.
        heatmap_size: heatmap ``(w, h)``.
        kernel_size: odd Gaussian kernel size (MSPN/RSN use 15, 11, 9, 7 and 5 per stage).

    Heatmaps are on MMPose's 0..255 scale. ``encode``/``decode`` take and return the same
    layouts as ``MSRAHeatmap``.
    """

    def __init__(self, input_size: Sequence[int], heatmap_size: Sequence[int], kernel_size: int):
        self.kernel = gaussian_kernel_1d(kernel_size)
        self.input_size = tuple(int(v) for v in input_size)
        self.heatmap_size = tuple(int(v) for v in heatmap_size)
        if min(self.heatmap_size) <= kernel_size // 2:
            raise ValueError(f"kernel_size {kernel_size} is too large for heatmaps of "
                             f"{self.heatmap_size}")
        self.kernel_size = int(kernel_size)
        self.scale_factor = (np.asarray(self.input_size) / self.heatmap_size).astype(np.float32)

    def __repr__(self) -> str:
        return (f"MegviiHeatmap(input_size={self.input_size}, "
                f"heatmap_size={self.heatmap_size}, kernel_size={self.kernel_size})")

    def encode(self, keypoints, keypoints_visible=None) -> tuple[tf.Tensor, tf.Tensor]:
        """Keypoints ``(N, K, 2)`` in input pixels -> ``(heatmaps (N, h, w, K), weights (N, K))``.

        Visibility < 0.5: an empty map, weight = visibility; a pixel off the map: weight 0.
        """
        keypoints = _float32(keypoints)[..., :2]
        visible = (tf.ones(tf.shape(keypoints)[:2]) if keypoints_visible is None
                   else _float32(keypoints_visible))
        points = keypoints / tf.constant(self.scale_factor)
        points = tf.where(tf.math.is_finite(points), tf.clip_by_value(points, -_FAR, _FAR), -_FAR)
        pixel = tf.cast(points, tf.int32)  # truncation toward zero, as numpy's astype(int64)
        width, height = self.heatmap_size
        off_map = ((pixel[..., 0] < 0) | (pixel[..., 0] >= width)
                   | (pixel[..., 1] < 0) | (pixel[..., 1] >= height))
        labelled = visible >= 0.5
        active = labelled & ~off_map  # (N, K)
        one_hot = (tf.one_hot(pixel[..., 1], height, axis=1)[:, :, None]
                   * tf.one_hot(pixel[..., 0], width, axis=1)[:, None])  # (N, h, w, K)
        blurred = self._reflect_blur(one_hot)
        peak = tf.reduce_max(blurred * one_hot, axis=(1, 2), keepdims=True)  # value at pixel
        heatmaps = tf.math.divide_no_nan(blurred, peak) * 255.0
        heatmaps = tf.where(active[:, None, None, :], heatmaps, 0.0)
        weights = tf.where(labelled & off_map, 0.0, visible)
        return heatmaps, weights

    def _reflect_blur(self, maps: tf.Tensor) -> tf.Tensor:
        """``cv2.GaussianBlur(map, (k, k), 0)`` per channel: separable, reflect-101 borders."""
        r = self.kernel_size // 2
        channels = tf.shape(maps)[-1]
        padded = tf.pad(maps, [[0, 0], [r, r], [r, r], [0, 0]], mode="REFLECT")
        kernel = tf.constant(self.kernel)
        row = tf.tile(tf.reshape(kernel, (1, -1, 1, 1)), [1, 1, channels, 1])
        col = tf.tile(tf.reshape(kernel, (-1, 1, 1, 1)), [1, 1, channels, 1])
        out = tf.nn.depthwise_conv2d(padded, row, [1, 1, 1, 1], "VALID")
        return tf.nn.depthwise_conv2d(out, col, [1, 1, 1, 1], "VALID")

    def decode(self, heatmaps) -> tuple[tf.Tensor, tf.Tensor]:
        """Heatmaps ``(N, h, w, K)`` (0..255) -> ``(keypoints (N, K, 2) in input pixels,
        scores (N, K))``."""
        blurred = gaussian_blur(_float32(heatmaps), self.kernel_size)
        locations, values = heatmap_maximum(blurred)
        shape = tf.shape(blurred)
        height, width = shape[1], shape[2]
        flat = tf.reshape(tf.transpose(blurred, (0, 3, 1, 2)), (shape[0], shape[3], -1))
        x = tf.cast(locations[..., 0], tf.int32)
        y = tf.cast(locations[..., 1], tf.int32)

        def at(dx: int, dy: int) -> tf.Tensor:
            xi = tf.clip_by_value(x + dx, 0, width - 1)
            yi = tf.clip_by_value(y + dy, 0, height - 1)
            return tf.gather(flat, yi * width + xi, batch_dims=2)

        diff = tf.stack([at(1, 0) - at(-1, 0), at(0, 1) - at(0, -1)], axis=-1)
        inside = (1 < x) & (x < width - 1) & (1 < y) & (y < height - 1)
        locations = tf.where(inside[..., None], locations + (tf.sign(diff) * 0.25 + 0.5),
                             locations)
        scores = values / 255.0 + 0.5
        return locations * tf.constant(self.scale_factor), scores
