"""MSRA heatmaps ("Simple Baselines"; DARK when ``unbiased=True``): keypoints in input-crop
pixels <-> one Gaussian heatmap per keypoint, as batched TensorFlow ops that reproduce MMPose
1.3.2's ``MSRAHeatmap`` numerically, plus the flip-test helpers used before decoding.

Conventions (MMPose's "biased" mapping): a keypoint at input pixel ``p`` sits at heatmap pixel
``p / scale_factor`` with ``scale_factor = input_size / heatmap_size``; no half-pixel offset.
Heatmaps are NHWC, ``(N, h, w, K)``, one channel per keypoint; sizes are ``(w, h)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from kpose.errors import ModelError

# Keypoint coordinates are clipped to +-FAR heatmap pixels before float -> int casts so the
# casts stay defined; anything that far away is off the heatmap either way.
FAR = 1e6

# cv2.getGaussianKernel(k, sigma<=0) uses these fixed kernels for k <= 9 (OpenCV's
# small_gaussian_tab) instead of sampling a Gaussian.
_CV2_SMALL_KERNELS = {
    1: (1.0,),
    3: (0.25, 0.5, 0.25),
    5: (0.0625, 0.25, 0.375, 0.25, 0.0625),
    7: (0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125),
    9: tuple(v / 256 for v in (4, 13, 30, 51, 60, 51, 30, 13, 4)),
}


def as_float32(x) -> tf.Tensor:
    """``x`` (array or tensor) as a float32 tensor."""
    return tf.cast(tf.convert_to_tensor(x), tf.float32)


def _trunc_add(m: tf.Tensor, shift: float) -> tf.Tensor:
    """``int(m + shift)`` (truncation toward zero) for integer ``m``, exactly, without floats."""
    whole = math.floor(shift)
    base = m + whole
    if shift == whole:
        return base
    # m + shift lies strictly between base and base + 1.
    return tf.where(base >= 0, base, base + 1)


def gaussian_kernel_1d(kernel_size: int) -> np.ndarray:
    """``cv2.getGaussianKernel(kernel_size, 0)`` as float32, shape ``(kernel_size,)``.

    OpenCV derives ``sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8`` from the size (2.0 for k=11)
    and uses fixed binomial-like kernels for k <= 9.
    """
    if kernel_size < 1 or kernel_size % 2 != 1:
        raise ModelError(f"blur_kernel_size must be a positive odd integer, got {kernel_size}")
    if kernel_size in _CV2_SMALL_KERNELS:
        return np.asarray(_CV2_SMALL_KERNELS[kernel_size], np.float32)
    sigma = 0.3 * ((kernel_size - 1) * 0.5 - 1) + 0.8
    x = np.arange(kernel_size, dtype=np.float64) - (kernel_size - 1) * 0.5
    kernel = np.exp(-0.5 / (sigma * sigma) * x * x)
    return (kernel * (1.0 / kernel.sum())).astype(np.float32)


def gaussian_blur(heatmaps, kernel_size: int) -> tf.Tensor:
    """MMPose's ``gaussian_blur`` (DARK's heatmap modulation) on ``(N, h, w, K)`` heatmaps.

    Each channel is blurred with cv2's Gaussian kernel of ``kernel_size`` over a zero border
    (MMPose zero-pads by ``(k - 1) / 2`` before ``cv2.GaussianBlur``, so cv2's reflected
    border never reaches the kept pixels), then rescaled so its maximum equals the original
    maximum. Channels whose blurred maximum is 0 come back as zeros (MMPose gives NaN there).
    """
    heatmaps = as_float32(heatmaps)  # (N, h, w, K)
    kernel = tf.constant(gaussian_kernel_1d(kernel_size))
    channels = tf.shape(heatmaps)[-1]
    # cv2 filters rows first, then columns; keeping that order keeps rounding close.
    row = tf.tile(tf.reshape(kernel, (1, kernel_size, 1, 1)), [1, 1, channels, 1])
    col = tf.tile(tf.reshape(kernel, (kernel_size, 1, 1, 1)), [1, 1, channels, 1])
    blurred = tf.nn.depthwise_conv2d(heatmaps, row, [1, 1, 1, 1], "SAME")
    blurred = tf.nn.depthwise_conv2d(blurred, col, [1, 1, 1, 1], "SAME")
    original_max = tf.reduce_max(heatmaps, axis=(1, 2), keepdims=True)  # (N, 1, 1, K)
    blurred_max = tf.reduce_max(blurred, axis=(1, 2), keepdims=True)
    return blurred * tf.math.divide_no_nan(original_max, blurred_max)


def heatmap_maximum(heatmaps) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-channel maximum of ``(N, h, w, K)`` heatmaps (MMPose's ``get_heatmap_maximum``).

    Returns ``locations (N, K, 2)`` as float32 ``(x, y)`` heatmap pixels and ``values (N, K)``.
    On ties the first maximum in row-major order wins (``np.argmax`` of the flattened map);
    channels whose maximum is <= 0 get location ``(-1, -1)``.
    """
    heatmaps = as_float32(heatmaps)
    shape = tf.shape(heatmaps)
    height, width = shape[1], shape[2]
    flat = tf.reshape(tf.transpose(heatmaps, (0, 3, 1, 2)), (shape[0], shape[3], -1))  # (N,K,hw)
    values = tf.reduce_max(flat, axis=-1)  # (N, K)
    size = height * width
    # tf.argmax does not promise which of several maxima it returns; take the first explicitly.
    positions = tf.where(flat == values[..., None], tf.range(size), size)
    index = tf.minimum(tf.reduce_min(positions, axis=-1), size - 1)  # (N, K)
    locations = tf.cast(tf.stack([index % width, index // width], axis=-1), tf.float32)
    locations = tf.where((values <= 0.0)[..., None], -1.0, locations)
    return locations, values


def neighbour_sampler(heatmaps: tf.Tensor, x: tf.Tensor, y: tf.Tensor):
    """``at(dx, dy)`` -> ``heatmaps[n, y + dy, x + dx, k]`` for every (n, k), indices clamped."""
    shape = tf.shape(heatmaps)
    height, width = shape[1], shape[2]
    flat = tf.reshape(tf.transpose(heatmaps, (0, 3, 1, 2)), (shape[0], shape[3], -1))  # (N,K,hw)

    def at(dx: int, dy: int) -> tf.Tensor:
        xi = tf.clip_by_value(x + dx, 0, width - 1)
        yi = tf.clip_by_value(y + dy, 0, height - 1)
        return tf.gather(flat, yi * width + xi, batch_dims=2)  # (N, K)

    return at, height, width


def refine_keypoints(locations, heatmaps) -> tf.Tensor:
    """MMPose's quarter-pixel shift: move each argmax 0.25 px towards the higher neighbour.

    ``locations (N, K, 2)`` are integer-valued heatmap pixels from ``heatmap_maximum``. As in
    MMPose the x step needs ``1 < x < w - 1 and 0 < y < h`` and the y step needs
    ``1 < y < h - 1 and 0 < x < w`` (so x = 1 / y = 1 and row / column 0 are never refined).
    """
    locations, heatmaps = as_float32(locations), as_float32(heatmaps)
    x = tf.cast(locations[..., 0], tf.int32)
    y = tf.cast(locations[..., 1], tf.int32)
    at, height, width = neighbour_sampler(heatmaps, x, y)
    dx = tf.where((1 < x) & (x < width - 1) & (0 < y) & (y < height), at(1, 0) - at(-1, 0), 0.0)
    dy = tf.where((1 < y) & (y < height - 1) & (0 < x) & (x < width), at(0, 1) - at(0, -1), 0.0)
    return locations + 0.25 * tf.sign(tf.stack([dx, dy], axis=-1))


def refine_keypoints_dark(locations, heatmaps, blur_kernel_size: int) -> tf.Tensor:
    """DARK refinement (MMPose's ``refine_keypoints_dark``): one Newton step on the log of the
    blurred heatmap, ``x <- x - H^-1 grad``, for argmax locations with ``1 < x < w - 2`` and
    ``1 < y < h - 2`` and a non-singular Hessian; other locations are returned unchanged.

    Finite differences use +-1 px for the gradient and +-2 px for the Hessian, as MMPose does.
    The per-keypoint 2x2 solve runs in float64 with MMPose's (numpy) rounding order, so the
    result matches MMPose to float32 rounding; it is only ``(N, K)`` values.
    """
    locations, heatmaps = as_float32(locations), as_float32(heatmaps)
    logs = tf.math.log(tf.maximum(gaussian_blur(heatmaps, blur_kernel_size), 1e-10))
    x = tf.cast(locations[..., 0], tf.int32)
    y = tf.cast(locations[..., 1], tf.int32)
    at, height, width = neighbour_sampler(logs, x, y)

    def f64(t: tf.Tensor) -> tf.Tensor:
        return tf.cast(t, tf.float64)

    centre = f64(at(0, 0))
    dx = 0.5 * f64(at(1, 0) - at(-1, 0))
    dy = 0.5 * f64(at(0, 1) - at(0, -1))
    dxx = 0.25 * (f64(at(2, 0)) - 2.0 * centre + f64(at(-2, 0)))
    dyy = 0.25 * (f64(at(0, 2)) - 2.0 * centre + f64(at(0, -2)))
    dxy = 0.25 * f64(at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    det = dxx * dyy - dxy * dxy
    refine = (1 < x) & (x < width - 2) & (1 < y) & (y < height - 2) & (det != 0.0)
    det = tf.where(refine, det, 1.0)
    offset_x = -(dyy * dx - dxy * dy) / det
    offset_y = -(dxx * dy - dxy * dx) / det
    refined = f64(locations) + tf.stack([offset_x, offset_y], axis=-1)
    return tf.where(refine[..., None], tf.cast(refined, tf.float32), locations)


class MSRAHeatmap:
    """MMPose's ``MSRAHeatmap`` codec: Gaussian heatmap targets and argmax decoding.

    Args:
        input_size: model input ``(w, h)`` in pixels.
        heatmap_size: heatmap ``(w, h)``; ``scale_factor = input_size / heatmap_size``.
        sigma: Gaussian sigma in heatmap pixels (2 for 256x192 inputs, 3 for 384x288).
        unbiased: DARK: encode an exact sub-pixel Gaussian over the whole map and decode with
            ``refine_keypoints_dark``; otherwise centre the Gaussian on the rounded position
            (window of radius ``3 * sigma``) and decode with the quarter-pixel shift.
        blur_kernel_size: odd kernel size of DARK's heatmap blur (11 pairs with sigma 2).

    Example:
        >>> codec = MSRAHeatmap((192, 256), (48, 64), sigma=2.0)
        >>> heatmaps, weights = codec.encode(keypoints, keypoints_visible)  # (N, 64, 48, K)
        >>> keypoints, scores = codec.decode(heatmaps)  # input-crop pixels, (N, K, 2)

    Both methods take numpy arrays or tensors, return tensors and run inside ``tf.function``
    (also with ``jit_compile=True``).
    """

    def __init__(
        self,
        input_size: Sequence[int],
        heatmap_size: Sequence[int],
        sigma: float = 2.0,
        unbiased: bool = False,
        blur_kernel_size: int = 11,
    ):
        if len(input_size) != 2 or len(heatmap_size) != 2:
            raise ModelError(
                f"input_size and heatmap_size are (w, h) pairs, got {input_size} and {heatmap_size}"
            )
        if sigma <= 0:
            raise ModelError(f"sigma must be positive, got {sigma}")
        gaussian_kernel_1d(blur_kernel_size)  # validates the size
        self.input_size = tuple(int(v) for v in input_size)
        self.heatmap_size = tuple(int(v) for v in heatmap_size)
        self.sigma = float(sigma)
        self.unbiased = bool(unbiased)
        self.blur_kernel_size = int(blur_kernel_size)
        self.scale_factor = np.asarray(self.input_size, np.float32) / np.asarray(
            self.heatmap_size, np.float32
        )  # (2,) float32

        # MMPose's window: radius r = 3 sigma, gaussian = np.arange(0, 2r + 1) around
        # x0 = (2r + 1) // 2, evaluated in float32. Its values only depend on the integer
        # squared distance d2 = dx^2 + dy^2, so they are tabulated once here.
        self._radius = 3.0 * self.sigma
        self._window = math.ceil(2 * self._radius + 1)
        self._centre = int((2 * self._radius + 1) // 2)
        reach = max(self._centre, self._window - 1 - self._centre)
        d2 = np.arange(2 * reach * reach + 1, dtype=np.float32)
        self._two_sigma_sq = np.float32(2 * self.sigma**2)
        self._table = np.exp(-d2 / self._two_sigma_sq).astype(np.float32)

    def __repr__(self) -> str:
        return (
            f"MSRAHeatmap(input_size={self.input_size}, heatmap_size={self.heatmap_size}, "
            f"sigma={self.sigma}, unbiased={self.unbiased}, "
            f"blur_kernel_size={self.blur_kernel_size})"
        )

    def encode(self, keypoints, keypoints_visible=None) -> tuple[tf.Tensor, tf.Tensor]:
        """Keypoints ``(N, K, 2)`` in input-crop pixels -> ``(heatmaps (N, h, w, K), weights
        (N, K))``, float32.

        Keypoints with visibility < 0.5 get an empty map and keep their visibility as weight;
        a labelled keypoint whose Gaussian window misses the heatmap entirely gets weight 0;
        every other weight equals the visibility (MMPose's ``keypoint_weights``).
        """
        keypoints = as_float32(keypoints)[..., :2]
        if keypoints_visible is None:
            visible = tf.ones(tf.shape(keypoints)[:2], tf.float32)
        else:
            visible = as_float32(keypoints_visible)
        # XLA turns division by a constant into a multiplication by its reciprocal: exact for
        # MMPose's power-of-two strides, possibly one ulp off numpy's division otherwise.
        points = keypoints / tf.constant(self.scale_factor)  # (N, K, 2) heatmap pixels
        if self.unbiased:
            heatmaps, off_map = self._unbiased_heatmaps(points)
        else:
            heatmaps, off_map = self._window_heatmaps(points)
        labelled = visible >= 0.5
        active = labelled & ~off_map  # (N, K)
        heatmaps = tf.where(active[:, None, None, :], heatmaps, 0.0)
        weights = tf.where(labelled & off_map, 0.0, visible)
        return heatmaps, weights

    def _window_heatmaps(self, points: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Biased targets: the tabulated Gaussian pasted around ``int(points + 0.5)``."""
        width, height = self.heatmap_size
        finite = tf.math.is_finite(points)
        rounded = tf.where(finite, tf.clip_by_value(points + 0.5, -FAR, FAR), -FAR)
        mu = tf.cast(rounded, tf.int32)  # truncates toward zero, like int()
        start = _trunc_add(mu, -self._radius)  # (N, K, 2): left, top
        stop = _trunc_add(mu, self._radius + 1)  # right, bottom (exclusive)
        off_map = (
            (start[..., 0] >= width)
            | (start[..., 1] >= height)
            | (stop[..., 0] < 0)
            | (stop[..., 1] < 0)
        )

        def offsets(size: int, axis: int) -> tuple[tf.Tensor, tf.Tensor]:
            pixels = tf.range(size)[:, None, None]  # (size, 1, 1) vs (N, K)
            g = pixels - start[..., axis]  # (size, N, K): index into MMPose's window
            inside = (g >= 0) & (g < self._window) & (pixels < stop[..., axis])
            g = tf.clip_by_value(g, 0, self._window - 1) - self._centre
            return tf.transpose(g, (1, 0, 2)), tf.transpose(inside, (1, 0, 2))

        gx, in_x = offsets(width, 0)  # (N, w, K)
        gy, in_y = offsets(height, 1)  # (N, h, K)
        d2 = gx[:, None] ** 2 + gy[:, :, None] ** 2  # (N, h, w, K)
        values = tf.gather(tf.constant(self._table), d2)
        heatmaps = tf.where(in_x[:, None] & in_y[:, :, None], values, 0.0)
        return heatmaps, off_map

    def _unbiased_heatmaps(self, points: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """DARK targets: an exact sub-pixel Gaussian over the whole heatmap."""
        width, height = self.heatmap_size
        radius = tf.constant(self._radius, tf.float32)
        start = points - radius
        stop = (points + radius) + 1.0
        off_map = (
            (start[..., 0] >= width)
            | (start[..., 1] >= height)
            | (stop[..., 0] < 0)
            | (stop[..., 1] < 0)
            | ~tf.reduce_all(tf.math.is_finite(points), axis=-1)
        )
        points = tf.where(tf.math.is_finite(points), points, 0.0)
        dx = tf.range(width, dtype=tf.float32)[None, :, None] - points[:, None, :, 0]  # (N,w,K)
        dy = tf.range(height, dtype=tf.float32)[None, :, None] - points[:, None, :, 1]  # (N,h,K)
        d2 = dx[:, None] * dx[:, None] + dy[:, :, None] * dy[:, :, None]  # (N, h, w, K)
        heatmaps = tf.exp(-d2 / tf.constant(self._two_sigma_sq))
        return heatmaps, off_map

    def decode(self, heatmaps) -> tuple[tf.Tensor, tf.Tensor]:
        """Heatmaps ``(N, h, w, K)`` -> ``(keypoints (N, K, 2) in input-crop pixels, scores
        (N, K))``.

        Argmax (first maximum wins), then the quarter-pixel shift or, when ``unbiased``, DARK;
        times ``scale_factor``. A channel whose maximum is <= 0 decodes to ``-scale_factor``
        (MMPose's ``(-1, -1)`` heatmap location, scaled) with its maximum as score.
        """
        heatmaps = as_float32(heatmaps)
        locations, scores = heatmap_maximum(heatmaps)
        if self.unbiased:
            locations = refine_keypoints_dark(locations, heatmaps, self.blur_kernel_size)
        else:
            locations = refine_keypoints(locations, heatmaps)
        return locations * tf.constant(self.scale_factor), scores


FLIP_MODES = ("heatmap", "udp_combined")


def flip_heatmaps(
    heatmaps,
    flip_indices: Sequence[int] | None = None,
    shift_heatmap: bool = True,
    flip_mode: str = "heatmap",
) -> tf.Tensor:
    """Map heatmaps predicted on a horizontally flipped crop back onto the original crop.

    ``(N, h, w, K)`` -> same shape and dtype: reverse the w axis, take channel
    ``flip_indices[k]`` as channel k (left/right swap), and with ``shift_heatmap`` (MSRA/DARK
    models; UDP and Megvii use ``False``) shift one pixel towards +x, column 0 keeping its own
    value, as MMPose's ``flip_heatmaps`` does.

    ``flip_mode="udp_combined"`` (UDP combined maps, ``(N, h, w, 3 K)``): keypoint k's three
    channels ``3k .. 3k + 2`` move together to ``flip_indices[k]``, and the x offsets change
    sign (MMPose's ``flip_mode='udp_combined'``).
    """
    if flip_mode not in FLIP_MODES:
        raise ModelError(f"flip_mode must be one of {FLIP_MODES}, got {flip_mode!r}")
    heatmaps = tf.convert_to_tensor(heatmaps)
    heatmaps = tf.reverse(heatmaps, axis=[2])
    group = 3 if flip_mode == "udp_combined" else 1  # channels per keypoint
    channels = heatmaps.shape[-1]
    if channels is not None and channels % group:
        raise ModelError(
            f"flip_mode {flip_mode!r} needs 3 channels per keypoint, got {channels} channels"
        )
    if flip_indices is not None:
        if channels is not None and len(flip_indices) * group != channels:
            raise ModelError(
                f"flip_indices has {len(flip_indices)} entries but the heatmaps "
                f"have {channels} channels" + (" (3 per keypoint)" if group == 3 else "")
            )
        order = [group * k + j for k in flip_indices for j in range(group)]
        heatmaps = tf.gather(heatmaps, order, axis=-1)
    if group == 3:  # the x offset of every keypoint changes sign
        sign = tf.tile(tf.constant([1.0, -1.0, 1.0], heatmaps.dtype), [tf.shape(heatmaps)[-1] // 3])
        heatmaps = heatmaps * sign
    if shift_heatmap:
        heatmaps = tf.concat([heatmaps[:, :, :1], heatmaps[:, :, :-1]], axis=2)
    return heatmaps


def flip_test_average(heatmaps, flipped_back) -> tf.Tensor:
    """MMPose's flip-test fusion ``(heatmaps + flipped_back) * 0.5`` of two ``(N, h, w, K)``
    maps; ``flipped_back`` comes from ``flip_heatmaps``."""
    return (tf.convert_to_tensor(heatmaps) + tf.convert_to_tensor(flipped_back)) * 0.5
