"""UDP heatmaps (Huang et al., "The Devil is in the Details": unbiased data processing), as
batched TF ops that reproduce MMPose 1.3.2's ``UDPHeatmap``: ``heatmap_type="gaussian"`` and
``"combined"`` (the ``udp-regress`` recipes: per keypoint a binary disc around it plus x and y
offset maps, ``3 K`` channels).

UDP measures sizes in pixel intervals: a keypoint at input pixel ``p`` sits at heatmap pixel
``p / s`` with ``s = (input_size - 1) / (heatmap_size - 1)``, so the first and last pixel
centres of the crop and of the heatmap coincide and flipping is exact. Decoding refines the
argmax with DARK-UDP (one Newton step on the log of the blurred heatmap, +-1 px differences on
an edge-padded map) and maps back with ``x / (heatmap_size - 1) * input_size`` -- MMPose's
formula, *not* the inverse of ``s``: its back-projection to the image
(``kp / input_size * scale + centre - scale / 2``) expects exactly that. Heatmaps are NHWC,
``(N, h, w, K)`` (``(N, h, w, 3 K)`` combined: channels ``3k``, ``3k + 1``, ``3k + 2`` are
keypoint k's disc, x and y offsets, MMPose's order); sizes are ``(w, h)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from kpose.codecs.megvii import cv2_gaussian_blur, gaussian_blur_exact
from kpose.codecs.msra import FAR, as_float32, gaussian_kernel_1d, heatmap_maximum
from kpose.errors import ModelError


def _float64(x) -> tf.Tensor:
    return tf.cast(x, tf.float64)


def refine_keypoints_dark_udp(locations, heatmaps, blur_kernel_size: int) -> tf.Tensor:
    """DARK-UDP refinement (MMPose's ``refine_keypoints_dark_udp``) of argmax ``locations
    (N, K, 2)`` (integer-valued ``(x, y)`` heatmap pixels, ``(-1, -1)`` for channels whose
    maximum is <= 0) on ``(N, h, w, K)`` heatmaps; returns refined ``(N, K, 2)`` float32.

    The heatmaps are blurred (``gaussian_blur_exact``), clipped to [1e-3, 50] and logged, and
    edge-padded by one pixel. The gradient and Hessian come from the 3x3 neighbourhood (the
    cross term uses only the main diagonal, as MMPose does), and every location moves by
    ``-(H + eps I)^-1 grad`` with float32's eps -- there is no border test (a singular
    ``H + eps I``, where MMPose raises, leaves the location unchanged).
    Like MMPose, the neighbours are read from the padded maps of all K channels laid end to
    end, so the ``(-1, -1)`` of a dead channel reads the previous channel's last rows (the
    last channel's, for channel 0); with flat neighbourhoods that step is 0.

    Derivatives are float32 in MMPose's order; the log is rounded from float64 (numpy's
    float32 log is up to 4 ulps off that, the one remaining difference); the 2x2 solve is
    float64.
    """
    locations, heatmaps = as_float32(locations), as_float32(heatmaps)
    blurred = gaussian_blur_exact(heatmaps, blur_kernel_size)
    logs = tf.cast(tf.math.log(_float64(tf.clip_by_value(blurred, 1e-3, 50.0))), tf.float32)
    padded = tf.pad(logs, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")  # edge copy
    shape = tf.shape(padded)  # (N, h + 2, w + 2, K)
    row, block = shape[2], shape[1] * shape[2]
    flat = tf.reshape(tf.transpose(padded, (0, 3, 1, 2)), (shape[0], -1))  # (N, K*block)
    x = tf.cast(locations[..., 0], tf.int32)
    y = tf.cast(locations[..., 1], tf.int32)
    centre = (x + 1) + (y + 1) * row + tf.range(shape[3])[None] * block  # (N, K)

    def at(offset: tf.Tensor | int) -> tf.Tensor:  # numpy's negative indices wrap around
        return tf.gather(flat, tf.math.floormod(centre + offset, shape[3] * block), batch_dims=1)

    i_, ix1, ix1_ = at(0), at(1), at(-1)
    iy1, iy1_ = at(row), at(-row)
    ix1y1, ix1_y1_ = at(row + 1), at(-row - 1)
    dx = 0.5 * (ix1 - ix1_)  # (N, K) float32
    dy = 0.5 * (iy1 - iy1_)
    dxx = ix1 - 2.0 * i_ + ix1_
    dyy = iy1 - 2.0 * i_ + iy1_
    dxy = 0.5 * (ix1y1 - ix1 - iy1 + i_ + i_ - ix1_ - iy1_ + ix1_y1_)

    eps = float(np.finfo(np.float32).eps)
    a, b, d = _float64(dxx) + eps, _float64(dxy), _float64(dyy) + eps
    det = a * d - b * b
    solvable = det != 0.0  # (N, K); MMPose's np.linalg.inv raises on a singular matrix
    det = tf.where(solvable, det, 1.0)
    step_x = (d * _float64(dx) - b * _float64(dy)) / det
    step_y = (a * _float64(dy) - b * _float64(dx)) / det
    refined = tf.cast(_float64(locations) - tf.stack([step_x, step_y], axis=-1), tf.float32)
    return tf.where(solvable[..., None], refined, locations)


HEATMAP_TYPES = ("gaussian", "combined")


class UDPHeatmap:
    """MMPose's ``UDPHeatmap`` codec: sub-pixel Gaussian targets and DARK-UDP decoding.

    Args:
        input_size: model input ``(w, h)`` in pixels.
        heatmap_size: heatmap ``(w, h)``; keypoints map by ``(input - 1) / (heatmap - 1)``.
        heatmap_type: ``"gaussian"`` (one Gaussian per keypoint) or ``"combined"`` (per
            keypoint a binary disc of radius ``radius_factor * max(heatmap_size)`` and its x
            and y offset maps, in units of that radius: ``3 K`` channels).
        sigma: Gaussian sigma in heatmap pixels (2 for 256x192 inputs, 3 for 384x288).
        radius_factor: the combined disc's radius over the larger heatmap side (MMPose's
            0.0546875: 3.5 px on 48x64).
        blur_kernel_size: odd kernel of DARK-UDP's blur (11 pairs with sigma 2, 17 with 3);
            combined decoding blurs the discs with ``2 * blur_kernel_size + 1``.

    Example:
        >>> codec = UDPHeatmap((192, 256), (48, 64), sigma=2.0)
        >>> heatmaps, weights = codec.encode(keypoints, keypoints_visible)  # (N, 64, 48, K)
        >>> keypoints, scores = codec.decode(heatmaps)  # input-crop pixels, (N, K, 2)

    Both methods take numpy arrays or tensors, return float32 tensors and run inside
    ``tf.function`` (also with ``jit_compile=True``).
    """

    def __init__(
        self,
        input_size: Sequence[int],
        heatmap_size: Sequence[int],
        heatmap_type: str = "gaussian",
        sigma: float = 2.0,
        blur_kernel_size: int = 11,
        radius_factor: float = 0.0546875,
    ):
        if heatmap_type not in HEATMAP_TYPES:
            raise ModelError(
                f"UDPHeatmap(heatmap_type={heatmap_type!r}): expected one of {HEATMAP_TYPES}"
            )
        if radius_factor <= 0:
            raise ModelError(f"radius_factor must be positive, got {radius_factor}")
        if len(input_size) != 2 or len(heatmap_size) != 2:
            raise ModelError(
                f"input_size and heatmap_size are (w, h) pairs, got {input_size} and {heatmap_size}"
            )
        if min(heatmap_size) < 2:
            raise ModelError(f"UDP needs heatmaps of at least 2x2 pixels, got {heatmap_size}")
        if sigma <= 0:
            raise ModelError(f"sigma must be positive, got {sigma}")
        gaussian_kernel_1d(blur_kernel_size)  # validates the size
        self.input_size = tuple(int(v) for v in input_size)
        self.heatmap_size = tuple(int(v) for v in heatmap_size)
        self.heatmap_type = heatmap_type
        self.sigma = float(sigma)
        self.blur_kernel_size = int(blur_kernel_size)
        self.radius_factor = float(radius_factor)
        # the combined disc's radius in heatmap pixels (float64, as MMPose's Python float)
        self.radius = self.radius_factor * max(self.heatmap_size)
        self.scale_factor = (
            (np.asarray(self.input_size) - 1) / (np.asarray(self.heatmap_size) - 1)
        ).astype(np.float32)  # (2,), input pixels per heatmap pixel

        # MMPose's window: radius r = 3 sigma, np.arange(0, 2r + 1) (float32) around
        # (2r + 1) // 2 plus the sub-pixel offset of the keypoint from its rounded pixel.
        self._radius = 3.0 * self.sigma
        self._window = math.ceil(2 * self._radius + 1)
        self._centre = (2 * self._radius + 1) // 2

    def __repr__(self) -> str:
        return (
            f"UDPHeatmap(input_size={self.input_size}, heatmap_size={self.heatmap_size}, "
            f"heatmap_type={self.heatmap_type!r}, sigma={self.sigma}, "
            f"blur_kernel_size={self.blur_kernel_size}, radius_factor={self.radius_factor})"
        )

    def encode(self, keypoints, keypoints_visible=None) -> tuple[tf.Tensor, tf.Tensor]:
        """Keypoints ``(N, K, 2)`` in input-crop pixels -> ``(heatmaps (N, h, w, K), weights
        (N, K))``, float32 (MMPose's ``generate_udp_gaussian_heatmaps``).

        Each labelled keypoint gets ``exp(-d^2 / (2 sigma^2))`` around its exact heatmap
        position, cut to the window of radius ``3 sigma`` around its rounded pixel
        ``int(p + 0.5)`` (window ends truncated toward zero, as ``astype(int)`` does).
        Keypoints with visibility < 0.5 get an empty map and keep their visibility as weight;
        a labelled keypoint whose window misses the heatmap gets an empty map and weight 0;
        every other weight equals the visibility.

        ``heatmap_type="combined"``: ``(heatmaps (N, h, w, 3 K), weights (N, K))`` instead, see
        ``encode_combined``.
        """
        keypoints = as_float32(keypoints)[..., :2]
        if keypoints_visible is None:
            visible = tf.ones(tf.shape(keypoints)[:2], tf.float32)
        else:
            visible = as_float32(keypoints_visible)
        # float64 division rounded to float32 is numpy's float32 division, also under XLA
        # (which would otherwise multiply by the reciprocal of the constant).
        points = tf.cast(_float64(keypoints) / self.scale_factor.astype(np.float64), tf.float32)
        if self.heatmap_type == "combined":
            return self.encode_combined(points, visible)
        width, height = self.heatmap_size
        finite = tf.math.is_finite(points)
        points = tf.where(finite, tf.clip_by_value(points, -FAR, FAR), -FAR)  # (N, K, 2)
        mu = tf.cast(points + 0.5, tf.int32)  # the rounded pixel; int() truncates toward zero
        start = tf.cast(_float64(mu) - self._radius, tf.int32)  # left, top
        stop = tf.cast(_float64(mu) + self._radius + 1, tf.int32)  # right, bottom (exclusive)
        off_map = (
            (start[..., 0] >= width)
            | (start[..., 1] >= height)
            | (stop[..., 0] < 0)
            | (stop[..., 1] < 0)
        )
        # The Gaussian's centre in window coordinates. MMPose forms it in float64 and numpy
        # rounds it to float32 when subtracting it from the float32 window grid.
        centre = tf.cast(self._centre + (_float64(points) - _float64(mu)), tf.float32)

        def along(size: int, axis: int) -> tuple[tf.Tensor, tf.Tensor]:
            pixels = tf.range(size)[:, None, None]  # (size, 1, 1) vs (N, K)
            g = pixels - start[..., axis]  # (size, N, K): index into MMPose's window
            inside = (g >= 0) & (g < self._window) & (pixels < stop[..., axis])
            offset = tf.cast(g, tf.float32) - centre[..., axis]
            return tf.transpose(offset, (1, 0, 2)), tf.transpose(inside, (1, 0, 2))

        dx, in_x = along(width, 0)  # (N, w, K)
        dy, in_y = along(height, 1)  # (N, h, K)
        d2 = dx[:, None] * dx[:, None] + dy[:, :, None] * dy[:, :, None]  # (N, h, w, K)
        # Division and exp in float64, rounded once: numpy's float32 division exactly and its
        # exp to within its own error (<= 1 ulp here).
        exponent = tf.cast(-_float64(d2) / np.float64(np.float32(2 * self.sigma**2)), tf.float32)
        gaussian = tf.cast(tf.exp(_float64(exponent)), tf.float32)
        labelled = visible >= 0.5
        active = labelled & ~off_map  # (N, K)
        mask = in_x[:, None] & in_y[:, :, None] & active[:, None, None, :]
        heatmaps = tf.where(mask, gaussian, 0.0)
        weights = tf.where(labelled & off_map, 0.0, visible)
        return heatmaps, weights

    def encode_combined(self, points: tf.Tensor, visible: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """MMPose's ``generate_offset_heatmap`` of keypoints ``points (N, K, 2)`` in heatmap
        pixels: ``(heatmaps (N, h, w, 3 K), weights (N, K))``.

        With ``r = radius`` and pixel centres ``(x, y)``, keypoint k's channels are the disc
        ``((px - x)^2 + (py - y)^2) / r^2 <= 1`` (1 inside, 0 outside) and the offsets
        ``(px - x) / r``, ``(py - y) / r`` over the whole map (computed in float64, stored as
        float32, as MMPose's numpy does). Keypoints with visibility < 0.5 get three empty maps.
        Every weight is the visibility: unlike the Gaussian targets, a keypoint off the heatmap
        keeps its weight (and its offset maps).
        """
        width, height = self.heatmap_size
        finite = tf.math.is_finite(points)
        points = _float64(tf.where(finite, tf.clip_by_value(points, -FAR, FAR), -FAR))
        x = tf.range(width, dtype=tf.float64)[None, :, None]  # (1, w, 1) vs (N, K)
        y = tf.range(height, dtype=tf.float64)[None, :, None]  # (1, h, 1)
        dx = (points[:, None, :, 0] - x) / self.radius  # (N, w, K)
        dy = (points[:, None, :, 1] - y) / self.radius  # (N, h, K)
        disc = tf.cast(dx[:, None] ** 2 + dy[:, :, None] ** 2 <= 1.0, tf.float32)  # (N,h,w,K)
        shape = tf.shape(disc)
        offset_x = tf.broadcast_to(tf.cast(dx, tf.float32)[:, None], shape)
        offset_y = tf.broadcast_to(tf.cast(dy, tf.float32)[:, :, None], shape)
        maps = tf.stack([disc, offset_x, offset_y], axis=-1)  # (N, h, w, K, 3)
        maps = tf.where((visible >= 0.5)[:, None, None, :, None], maps, 0.0)
        return tf.reshape(maps, tf.concat([shape[:3], [3 * shape[3]]], 0)), visible

    def decode(self, heatmaps) -> tuple[tf.Tensor, tf.Tensor]:
        """Heatmaps ``(N, h, w, K)`` -> ``(keypoints (N, K, 2) in input-crop pixels, scores
        (N, K))``.

        Argmax (first maximum wins; the score is the unblurred maximum), DARK-UDP
        (``refine_keypoints_dark_udp``), then ``x / (heatmap_size - 1) * input_size``.
        A channel whose maximum is <= 0 starts from MMPose's ``(-1, -1)``; an all-zero channel
        then decodes to finite coordinates (MMPose: NaN, from its blur dividing 0 by 0).

        ``heatmap_type="combined"``: ``(N, h, w, 3 K)`` maps, see ``decode_combined``.
        """
        heatmaps = as_float32(heatmaps)
        if self.heatmap_type == "combined":
            locations, scores = self.decode_combined(heatmaps)
        else:
            locations, scores = heatmap_maximum(heatmaps)  # (N, K, 2), (N, K)
            locations = refine_keypoints_dark_udp(locations, heatmaps, self.blur_kernel_size)
        width, height = self.heatmap_size
        # MMPose divides, then multiplies, in float64
        locations = _float64(locations) / [width - 1, height - 1]
        return tf.cast(locations * np.asarray(self.input_size, np.float64), tf.float32), scores

    def decode_combined(self, heatmaps: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """MMPose's combined decoding of ``(N, h, w, 3 K)`` maps: ``(locations (N, K, 2) in
        heatmap pixels, scores (N, K))``.

        Each disc channel is blurred with OpenCV's ``2 * blur_kernel_size + 1`` Gaussian
        (mirrored border, no rescaling; ``cv2_gaussian_blur``); its argmax (first maximum) plus
        ``r`` times the x and y offsets read there is the keypoint, the blurred maximum its
        score. As in MMPose, a channel whose blurred maximum is <= 0 reads its offsets at
        ``(-1, -1)``: the flat index ``-1 - w + k h w`` of all K offset maps laid end to end
        (wrapping around for k = 0).
        """
        shape = tf.shape(heatmaps)
        n, height, width = shape[0], shape[1], shape[2]
        maps = tf.reshape(heatmaps, tf.stack([n, height, width, shape[3] // 3, 3]))
        blurred = cv2_gaussian_blur(maps[..., 0], 2 * self.blur_kernel_size + 1)
        locations, scores = heatmap_maximum(blurred)  # (N, K, 2), (N, K)
        k = tf.shape(locations)[1]
        block = height * width
        index = tf.cast(locations[..., 0], tf.int32) + tf.cast(locations[..., 1], tf.int32) * width
        index = tf.math.floormod(index + tf.range(k)[None] * block, k * block)  # (N, K)

        def offsets(j: int) -> tf.Tensor:  # (N, K): the offset map j at each keypoint's pixel
            flat = tf.reshape(tf.transpose(maps[..., j], (0, 3, 1, 2)), (n, -1))  # (N, K*h*w)
            value = tf.gather(flat, index, batch_dims=1)
            # float32 product then float32 sum, each rounded once (no fused multiply-add)
            return tf.cast(_float64(value) * self.radius, tf.float32)

        step = tf.stack([offsets(1), offsets(2)], axis=-1)  # (N, K, 2)
        return tf.cast(_float64(locations) + _float64(step), tf.float32), scores
