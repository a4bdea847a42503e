"""UDP heatmaps ("The Devil is in the Details", unbiased data processing), as batched TF ops
that reproduce MMPose 1.3.2's ``UDPHeatmap`` (``heatmap_type='gaussian'``).

UDP measures sizes in pixel intervals: a keypoint at input pixel ``p`` sits at heatmap pixel
``p / s`` with ``s = (input_size - 1) / (heatmap_size - 1)``, and decoding maps back with
``x / (heatmap_size - 1) * input_size`` (MMPose's decode; the back-projection to the image then
uses the plain ``input_size`` formula, which together are exact for UDP crops made with
``get_udp_warp_matrix``). Decoding refines the argmax with DARK-UDP: a Newton step on the log
of the blurred heatmap with +-1 px finite differences on an edge-padded map.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from kpose.codecs.msra import _FAR, _float32, gaussian_blur, gaussian_kernel_1d, heatmap_maximum
from kpose.errors import ModelError


def refine_keypoints_dark_udp(locations, heatmaps, blur_kernel_size: int) -> tf.Tensor:
    """MMPose's ``refine_keypoints_dark_udp`` on ``(N, h, w, K)`` heatmaps.

    The blurred map is clipped to [1e-3, 50] and logged; neighbours outside the map repeat
    the edge. Derivatives are float32 as in MMPose, the 2x2 solve (Hessian + float32 eps) is
    float64. Channels whose maximum is <= 0 keep MMPose's (-1, -1) location (MMPose itself
    returns NaN there, from blurring an all-zero map).
    """
    locations, heatmaps = _float32(locations), _float32(heatmaps)
    blurred = gaussian_blur(heatmaps, blur_kernel_size, accumulate=tf.float64)
    logs = tf.math.log(tf.clip_by_value(blurred, 1e-3, 50.0))
    shape = tf.shape(logs)
    height, width = shape[1], shape[2]
    flat = tf.reshape(tf.transpose(logs, (0, 3, 1, 2)), (shape[0], shape[3], -1))  # (N, K, hw)
    x = tf.cast(locations[..., 0], tf.int32)
    y = tf.cast(locations[..., 1], tf.int32)

    def at(dx: int, dy: int) -> tf.Tensor:  # edge padding == clamped indices
        xi = tf.clip_by_value(x + dx, 0, width - 1)
        yi = tf.clip_by_value(y + dy, 0, height - 1)
        return tf.gather(flat, yi * width + xi, batch_dims=2)  # (N, K)

    i_, ix1, iy1 = at(0, 0), at(1, 0), at(0, 1)
    ix1_, iy1_ = at(-1, 0), at(0, -1)
    ix1y1, ix1_y1_ = at(1, 1), at(-1, -1)
    dx = 0.5 * (ix1 - ix1_)
    dy = 0.5 * (iy1 - iy1_)
    dxx = ix1 - 2 * i_ + ix1_
    dyy = iy1 - 2 * i_ + iy1_
    dxy = 0.5 * (ix1y1 - ix1 - iy1 + i_ + i_ - ix1_ - iy1_ + ix1_y1_)
    eps = float(np.finfo(np.float32).eps)
    a = tf.cast(dxx, tf.float64) + eps
    b = tf.cast(dxy, tf.float64)
    d = tf.cast(dyy, tf.float64) + eps
    det = a * d - b * b
    gx, gy = tf.cast(dx, tf.float64), tf.cast(dy, tf.float64)
    step_x = (d * gx - b * gy) / det
    step_y = (a * gy - b * gx) / det
    refined = tf.cast(tf.cast(locations, tf.float64) - tf.stack([step_x, step_y], -1), tf.float32)
    valid = (locations[..., 0] >= 0) & tf.math.is_finite(refined[..., 0]) & tf.math.is_finite(
        refined[..., 1])
    return tf.where(valid[..., None], refined, locations)


class UDPHeatmap:
    """MMPose's ``UDPHeatmap`` codec with ``heatmap_type='gaussian'``.

    Args:
        input_size: model input ``(w, h)``.
        heatmap_size: heatmap ``(w, h)``.
        sigma: Gaussian sigma in heatmap pixels.
        blur_kernel_size: odd kernel of DARK-UDP's blur (11 for sigma 2, 17 for sigma 3).
        heatmap_type: only ``"gaussian"``; MMPose's ``"combined"`` (offset maps) is not
            provided.

    ``encode``/``decode`` take and return the same layouts as ``MSRAHeatmap``.
    """

    def __init__(self, input_size: Sequence[int], heatmap_size: Sequence[int],
                 sigma: float = 2.0, blur_kernel_size: int = 11,
                 heatmap_type: str = "gaussian"):
        if heatmap_type != "gaussian":
            raise ModelError(f"UDPHeatmap heatmap_type {heatmap_type!r}: only 'gaussian' is "
                             "supported (MMPose's 'combined' offset maps are not)")
        if sigma <= 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        gaussian_kernel_1d(blur_kernel_size)
        self.input_size = tuple(int(v) for v in input_size)
        self.heatmap_size = tuple(int(v) for v in heatmap_size)
        self.sigma = float(sigma)
        self.blur_kernel_size = int(blur_kernel_size)
        self.scale_factor = ((np.asarray(self.input_size) - 1)
                             / (np.asarray(self.heatmap_size) - 1)).astype(np.float32)
        self._radius = 3.0 * self.sigma
        self._size = 2 * self._radius + 1  # MMPose's gaussian_size (a float)
        self._length = len(np.arange(0, self._size, 1))
        self._centre = self._size // 2

    def __repr__(self) -> str:
        return (f"UDPHeatmap(input_size={self.input_size}, heatmap_size={self.heatmap_size}, "
                f"sigma={self.sigma}, blur_kernel_size={self.blur_kernel_size})")

    def encode(self, keypoints, keypoints_visible=None) -> tuple[tf.Tensor, tf.Tensor]:
        """Keypoints ``(N, K, 2)`` in input pixels -> ``(heatmaps (N, h, w, K), weights (N, K))``.

        MMPose's ``generate_udp_gaussian_heatmaps``: a window of radius ``3 sigma`` around
        ``int(p + 0.5)`` holding a Gaussian centred on the exact sub-pixel position;
        visibility < 0.5 gives an empty map (weight = visibility), a window entirely off the
        map gives weight 0.
        """
        keypoints = _float32(keypoints)[..., :2]
        visible = (tf.ones(tf.shape(keypoints)[:2]) if keypoints_visible is None
                   else _float32(keypoints_visible))
        points = keypoints / tf.constant(self.scale_factor)  # (N, K, 2) heatmap pixels
        finite = tf.math.is_finite(points)
        points = tf.where(finite, tf.clip_by_value(points, -_FAR, _FAR), -_FAR)
        mu = tf.cast(points + 0.5, tf.int64)  # truncation toward zero, as numpy's astype
        start = tf.cast(tf.cast(mu, tf.float64) - self._radius, tf.int64)  # left, top
        stop = tf.cast(tf.cast(mu, tf.float64) + self._radius + 1, tf.int64)  # right, bottom
        width, height = self.heatmap_size
        off_map = ((start[..., 0] >= width) | (start[..., 1] >= height)
                   | (stop[..., 0] < 0) | (stop[..., 1] < 0))
        # The window's centre in window pixels, rounded to float32 as numpy does when it
        # subtracts a float64 scalar from the float32 grid.
        centre = tf.cast(self._centre + (tf.cast(points, tf.float64) - tf.cast(mu, tf.float64)),
                         tf.float32)  # (N, K, 2)

        def axis(size: int, i: int):
            pixels = tf.range(size, dtype=tf.int64)[:, None, None]  # (size, 1, 1) vs (N, K)
            g = pixels - start[..., i]
            inside = (g >= 0) & (g < self._length) & (pixels < stop[..., i])
            delta = tf.cast(g, tf.float32) - centre[..., i]
            return tf.transpose(delta, (1, 0, 2)), tf.transpose(inside, (1, 0, 2))

        dx, in_x = axis(width, 0)  # (N, w, K)
        dy, in_y = axis(height, 1)  # (N, h, K)
        d2 = dx[:, None] ** 2 + dy[:, :, None] ** 2  # (N, h, w, K)
        gaussian = tf.exp(-d2 / np.float32(2 * self.sigma**2))
        labelled = visible >= 0.5
        active = labelled & ~off_map
        mask = in_x[:, None] & in_y[:, :, None] & active[:, None, None, :]
        heatmaps = tf.where(mask, gaussian, 0.0)
        weights = tf.where(labelled & off_map, 0.0, visible)
        return heatmaps, weights

    def decode(self, heatmaps) -> tuple[tf.Tensor, tf.Tensor]:
        """Heatmaps ``(N, h, w, K)`` -> ``(keypoints (N, K, 2) in input pixels, scores (N, K))``:
        argmax, DARK-UDP, then ``x / (heatmap_size - 1) * input_size``."""
        heatmaps = _float32(heatmaps)
        locations, scores = heatmap_maximum(heatmaps)
        locations = refine_keypoints_dark_udp(locations, heatmaps, self.blur_kernel_size)
        width, height = self.heatmap_size
        scale = np.asarray(self.input_size, np.float64) / [width - 1, height - 1]
        return tf.cast(tf.cast(locations, tf.float64) * scale, tf.float32), scores
