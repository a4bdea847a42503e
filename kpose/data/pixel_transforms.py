"""Pixel-level transforms of the warped input crop: albumentations' CoarseDropout, GridDropout,
Blur and MedianBlur (as MMPose's ``Albumentation`` wrapper runs them, albumentations 1.3) and
MMPose's PhotometricDistortion, the transforms MMPose's configs put between ``TopdownAffine``
and ``GenerateTarget``.

Like the rest of the training augmentation (``kpose.data.augment``) each transform is split in
two: ``sample_pixel_params`` draws one instance's parameters on the host with stateless random
ops (the draw of albumentations / MMPose, from a seed: reproducible per seed), and
``apply_pixel_transforms`` applies a batch's parameters to the warped crops inside the train
step. The crops are RGB with integer values in 0..255 (MMPose's uint8 crops), and every step
that MMPose does in uint8 (clipping and truncation, OpenCV's 8-bit HSV conversions, box and
median filters) is redone here so that fixed parameters give MMPose's pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from kpose.recipe import (
    BlurConfig,
    CoarseDropoutConfig,
    GridDropoutConfig,
    MedianBlurConfig,
    PhotometricDistortionConfig,
    PixelTransformConfig,
)

# ------------------------------------------------------------------ host: one instance's draw


def _uniform(seed, shape=(), low=0.0, high=1.0) -> tf.Tensor:
    return tf.random.stateless_uniform(shape, seed, low, high, dtype=tf.float64)


def _randint(seed, low, high, shape=()) -> tf.Tensor:
    """Integers in [low, high] (both included, Python's ``random.randint``); bounds may be
    tensors of ``shape``."""
    low = tf.cast(low, tf.float64)
    span = tf.cast(high, tf.float64) - low + 1.0
    return tf.cast(low + tf.floor(_uniform(seed, shape) * span), tf.int32)


def _applies(t, seed) -> tf.Tensor:
    """albumentations' ``random.random() < p or always_apply``."""
    return (_uniform(seed) < t.p) | tf.constant(t.always_apply)


def _sample_coarse_dropout(t: CoarseDropoutConfig, seed, input_size) -> dict:
    w, h = input_size
    s = tf.random.experimental.stateless_split(seed, 6)
    n = t.max_holes
    count = _randint(s[1], t.min_holes, t.max_holes)
    if type(t.max_height) is int:
        hole_h = _randint(s[2], t.min_height, t.max_height, [n])
        hole_w = _randint(s[3], t.min_width, t.max_width, [n])
    else:  # fractions of the crop side, truncated as albumentations' int(height * uniform)
        hole_h = tf.cast(h * _uniform(s[2], [n], t.min_height, t.max_height), tf.int32)
        hole_w = tf.cast(w * _uniform(s[3], [n], t.min_width, t.max_width), tf.int32)
    y1 = _randint(s[4], 0, h - hole_h, [n])
    x1 = _randint(s[5], 0, w - hole_w, [n])
    active = _applies(t, s[0]) & (tf.range(n) < count)
    holes = tf.stack([x1, y1, x1 + hole_w, y1 + hole_h], -1)
    return {"holes": tf.where(active[:, None], holes, 0)}  # (max_holes, 4) x1 y1 x2 y2


def _sample_grid_dropout(t: GridDropoutConfig, seed, input_size) -> dict:
    w, h = input_size
    s = tf.random.experimental.stateless_split(seed, 4)
    if t.unit_size_min is not None:
        # albumentations 1.3 draws randint(min, max + 1): max + 1 included
        unit_w = unit_h = _randint(s[1], t.unit_size_min, t.unit_size_max + 1)
    else:
        unit_w = tf.constant(w // t.holes_number_x if t.holes_number_x else max(2, w // 10))
        unit_h = tf.constant(
            h // t.holes_number_y if t.holes_number_y else max(min(int(unit_w), h), 2)
        )
    unit = tf.stack([unit_w, unit_h])
    hole = tf.cast(tf.floor(tf.cast(unit, tf.float64) * t.ratio), tf.int32)
    hole = tf.minimum(tf.maximum(hole, 1), unit - 1)
    if t.random_offset:
        shift = tf.stack(
            [_randint(s[2], 0, unit[0] - hole[0]), _randint(s[3], 0, unit[1] - hole[1])]
        )
    else:
        given = tf.constant([t.shift_x or 0, t.shift_y or 0])
        shift = tf.minimum(given, unit - hole)
    return {"apply": _applies(t, s[0]), "unit": unit, "hole": hole, "shift": shift}


def _sample_blur(t: BlurConfig | MedianBlurConfig, seed, input_size) -> dict:
    s = tf.random.experimental.stateless_split(seed, 2)
    pick = _randint(s[1], 0, len(_kernel_sizes(t)) - 1)
    # index into _kernel_sizes(t) + 1; 0: not applied
    return {"kernel": tf.where(_applies(t, s[0]), pick + 1, 0)}


def _sample_photometric(t: PhotometricDistortionConfig, seed, input_size) -> dict:
    s = tf.random.experimental.stateless_split(seed, 10)
    # MMPose's _random_flags: numpy's randint(n) is 0..n-1, randint(-d, d) is -d..d-1
    flags = tf.stack(
        [
            _randint(s[0], 0, 1),  # contrast_mode (1: contrast before and after HSV)
            _randint(s[1], 0, 1),  # brightness_flag
            _randint(s[2], 0, 1),  # contrast_flag
            _randint(s[3], 0, 3),  # hsv_mode: 1 saturation, 2 hue, 3 both
            _randint(s[4], 0, 1),  # swap_flag
        ]
    )
    deltas = tf.stack(
        [
            _uniform(s[5], (), -t.brightness_delta, t.brightness_delta),
            _uniform(s[6], (), *t.contrast_range),
            _uniform(s[7], (), *t.saturation_range),
        ]
    )
    # A uniform permutation of the RGB channels (MMPose permutes BGR channels: the same law).
    order = tf.argsort(_uniform(s[9], [3]))
    return {
        "flags": flags,
        "deltas": tf.cast(deltas, tf.float32),  # brightness beta, contrast / saturation alpha
        "hue_delta": _randint(s[8], -t.hue_delta, t.hue_delta - 1),
        "channel_order": tf.cast(order, tf.int32),
    }


_SAMPLERS = {
    CoarseDropoutConfig: _sample_coarse_dropout,
    GridDropoutConfig: _sample_grid_dropout,
    BlurConfig: _sample_blur,
    MedianBlurConfig: _sample_blur,
    PhotometricDistortionConfig: _sample_photometric,
}


def sample_pixel_params(
    transforms: Sequence[PixelTransformConfig], seed: tf.Tensor, input_size: tuple[int, int]
) -> tuple[dict, ...]:
    """One instance's parameters for each of ``transforms`` (``data.pixel_transforms``), from
    the stateless ``seed`` (2,); ``input_size`` is the (w, h) of the crop they apply to."""
    if not transforms:
        return ()
    seeds = tf.random.experimental.stateless_split(seed, len(transforms))
    return tuple(
        _SAMPLERS[type(t)](t, seeds[i], tuple(input_size)) for i, t in enumerate(transforms)
    )


# ------------------------------------------------------------------- device: a batch's crops


def _pixel_grid(images) -> tuple[tf.Tensor, tf.Tensor]:
    shape = tf.shape(images)
    return tf.range(shape[2])[None, None, :], tf.range(shape[1])[None, :, None]  # x, y


def coarse_dropout(images: tf.Tensor, holes: tf.Tensor, fill_value: float = 0.0) -> tf.Tensor:
    """Fill ``holes`` (B, N, 4) x1, y1, x2, y2 (pixels, x2 / y2 excluded; empty: unused) of
    ``images`` (B, h, w, C) with ``fill_value``."""
    x, y = _pixel_grid(images)
    x1, y1, x2, y2 = (tf.cast(holes[..., i], tf.int32)[..., None, None] for i in range(4))
    inside = (x1 <= x[:, None]) & (x[:, None] < x2) & (y1 <= y[:, None]) & (y[:, None] < y2)
    mask = tf.reduce_any(inside, axis=1)  # (B, h, w)
    return tf.where(mask[..., None], tf.cast(fill_value, images.dtype), images)


def grid_dropout(images: tf.Tensor, params: dict, fill_value: float = 0.0) -> tf.Tensor:
    """albumentations' GridDropout holes: from (shift_x, shift_y) on, every unit's top-left
    hole x hole square is filled; ``params`` of a batch: ``apply`` (B,), ``unit``, ``hole``,
    ``shift`` (B, 2) in (x, y)."""
    x, y = _pixel_grid(images)
    unit, hole, shift = (tf.cast(params[k], tf.int32) for k in ("unit", "hole", "shift"))

    def along(coord, i):
        d = coord - shift[:, i, None, None]
        return (d >= 0) & (tf.math.floormod(d, unit[:, i, None, None]) < hole[:, i, None, None])

    mask = along(x, 0) & along(y, 1) & params["apply"][:, None, None]  # (B, h, w)
    return tf.where(mask[..., None], tf.cast(fill_value, images.dtype), images)


def box_blur(image: tf.Tensor, ksize: int) -> tf.Tensor:
    """OpenCV's ``blur`` (normalised box filter, BORDER_REFLECT_101) of one (h, w, C) image
    of integer values, rounded as OpenCV rounds 8-bit results."""
    r = ksize // 2
    padded = tf.pad(image, [[r, r], [r, r], [0, 0]], mode="REFLECT")  # REFLECT is reflect-101
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    rows = tf.add_n([padded[dy : dy + h] for dy in range(ksize)])
    total = tf.add_n([rows[:, dx : dx + w] for dx in range(ksize)])  # exact integer sums
    return tf.round(total * tf.constant(1.0 / (ksize * ksize), tf.float32))


def median_blur(image: tf.Tensor, ksize: int) -> tf.Tensor:
    """OpenCV's ``medianBlur`` (BORDER_REPLICATE) of one (h, w, C) image."""
    r = ksize // 2
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    rows = tf.clip_by_value(tf.range(-r, h + r), 0, h - 1)
    cols = tf.clip_by_value(tf.range(-r, w + r), 0, w - 1)
    padded = tf.gather(tf.gather(image, rows, axis=0), cols, axis=1)
    window = tf.stack(
        [padded[dy : dy + h, dx : dx + w] for dy in range(ksize) for dx in range(ksize)], -1
    )  # (h, w, C, ksize^2)
    return tf.math.top_k(window, k=(ksize * ksize + 1) // 2, sorted=True).values[..., -1]


def _filter_each(images: tf.Tensor, kernel: tf.Tensor, filters: list) -> tf.Tensor:
    """Per instance: ``filters[kernel - 1]`` of the image, or the image when ``kernel`` is 0
    (only the drawn filter runs)."""

    def one(args):
        image, index = args
        branches = [lambda: image] + [lambda f=f: f(image) for f in filters]
        return tf.switch_case(index, branches)

    return tf.map_fn(one, (images, tf.cast(kernel, tf.int32)), fn_output_signature=images.dtype)


# OpenCV's 8-bit BGR -> HSV division tables (hsv_shift 12, H in 0..179), rounded as cvRound.
_HSV_SHIFT = 12
_SDIV = np.concatenate([[0], np.rint((255 << _HSV_SHIFT) / np.arange(1.0, 256))]).astype(np.int32)
_HDIV = np.concatenate([[0], np.rint((180 << _HSV_SHIFT) / (6.0 * np.arange(1.0, 256)))])
_HDIV = _HDIV.astype(np.int32)


def rgb_to_hsv_u8(images: tf.Tensor) -> tf.Tensor:
    """OpenCV's 8-bit ``cvtColor(RGB2HSV)`` (H in 0..179, S and V in 0..255) of integer-valued
    RGB (..., 3) images, in its fixed-point arithmetic; float32 out."""
    rgb = tf.cast(images, tf.int32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    v = tf.maximum(tf.maximum(b, g), r)
    diff = v - tf.minimum(tf.minimum(b, g), r)
    half = 1 << (_HSV_SHIFT - 1)
    s = tf.bitwise.right_shift(diff * tf.gather(_SDIV, v) + half, _HSV_SHIFT)
    h = tf.where(v == r, g - b, tf.where(v == g, b - r + 2 * diff, r - g + 4 * diff))
    h = tf.math.floordiv(h * tf.gather(_HDIV, diff) + half, 1 << _HSV_SHIFT)
    h = tf.where(h < 0, h + 180, h)
    return tf.cast(tf.stack([h, s, v], -1), tf.float32)


def hsv_to_rgb_u8(hsv: tf.Tensor) -> tf.Tensor:
    """OpenCV's 8-bit ``cvtColor(HSV2RGB)`` of (..., 3) H, S, V values (H of 180 and above
    wraps, as OpenCV's does), in the float32 arithmetic of its vectorised x86 loop; float32
    out. Equal to OpenCV's for every input when run eagerly or in a ``tf.function``; XLA's
    CPU compiler fuses other products and sums, which moves 0.6 % of the colours by one."""
    hsv = tf.cast(hsv, tf.float32)
    h = hsv[..., 0] * tf.constant(6.0 / 180.0, tf.float32)
    s = hsv[..., 1] * tf.constant(1.0 / 255.0, tf.float32)
    v = hsv[..., 2] * tf.constant(1.0 / 255.0, tf.float32)
    pre_sector = tf.floor(h)
    h = h - pre_sector
    sector = pre_sector - tf.floor(pre_sector * tf.constant(1.0 / 6.0, tf.float32)) * 6.0

    # OpenCV's build contracts 1 - s * h into one fused multiply-add (a single rounding):
    # the product is exact in float64, the difference rounded once to float32
    def one_minus(a, b):
        return tf.cast(1.0 - tf.cast(a, tf.float64) * tf.cast(b, tf.float64), tf.float32)

    tab = tf.stack([v, v * (1.0 - s), v * one_minus(s, h), v * one_minus(s, 1.0 - h)], -1)
    # OpenCV's sector table gives (b, g, r) as entries of tab for sectors 0..5
    pick = tf.constant([[1, 3, 0], [1, 0, 2], [3, 0, 1], [0, 2, 1], [0, 1, 3], [2, 1, 0]])
    index = tf.gather(pick, tf.reshape(tf.cast(sector, tf.int32), [-1]))  # (N, 3)
    bgr = tf.gather(tf.reshape(tab, [-1, 4]), index, batch_dims=1)
    rgb = tf.reshape(tf.reverse(bgr, [-1]), tf.shape(hsv))
    # OpenCV's vectorised loop truncates (its scalar tail for the last width % (4 x SIMD
    # lanes) pixels of a row rounds); crop widths that are multiples of 32 (192, 288) run
    # vectorised only
    return tf.floor(rgb * 255.0)


def photometric_distortion(images: tf.Tensor, params: dict) -> tf.Tensor:
    """MMPose's PhotometricDistortion with a batch's drawn ``params`` (``flags`` (B, 5):
    contrast_mode, brightness_flag, contrast_flag, hsv_mode, swap_flag; ``deltas`` (B, 3):
    brightness beta, contrast alpha, saturation alpha; ``hue_delta`` (B,);
    ``channel_order`` (B, 3) of the RGB channels) on integer-valued RGB images, in MMPose's
    order and uint8 arithmetic (float32 products, clipped and truncated)."""
    flags = tf.cast(params["flags"], tf.int32)
    deltas = tf.cast(params["deltas"], tf.float32)

    def per_image(values):
        return values[:, None, None, None]

    def convert(img, alpha=1.0, beta=0.0):
        return tf.floor(tf.clip_by_value(img * alpha + beta, 0.0, 255.0))

    img = tf.cast(images, tf.float32)
    img = tf.where(per_image(flags[:, 1] == 1), convert(img, beta=per_image(deltas[:, 0])), img)
    # MMPose tests contrast_mode == 1 both before and after the HSV step (never for mode 0)
    contrast = per_image((flags[:, 0] == 1) & (flags[:, 2] == 1))
    alpha = per_image(deltas[:, 1])
    img = tf.where(contrast, convert(img, alpha=alpha), img)
    hsv_mode = flags[:, 3]
    hsv = rgb_to_hsv_u8(img)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    sat = tf.where(
        ((hsv_mode == 1) | (hsv_mode == 3))[:, None, None],
        convert(sat, alpha=deltas[:, 2, None, None]),
        sat,
    )
    # MMPose writes int(h) + delta back into the uint8 image: modulo 256
    hue_delta = tf.cast(params["hue_delta"], tf.float32)[:, None, None]
    hue = tf.where(
        ((hsv_mode == 2) | (hsv_mode == 3))[:, None, None],
        tf.math.floormod(hue + hue_delta, 256.0),
        hue,
    )
    img = tf.where(per_image(hsv_mode > 0), hsv_to_rgb_u8(tf.stack([hue, sat, val], -1)), img)
    img = tf.where(contrast, convert(img, alpha=alpha), img)
    swapped = tf.gather(img, tf.cast(params["channel_order"], tf.int32), axis=-1, batch_dims=1)
    return tf.where(per_image(flags[:, 4] == 1), swapped, img)


def _kernel_sizes(t: BlurConfig | MedianBlurConfig) -> list[int]:
    return list(range(t.blur_limit[0], t.blur_limit[1] + 1, 2))


def apply_pixel_transforms(
    images: tf.Tensor, params: Sequence[dict], transforms: Sequence[PixelTransformConfig]
) -> tf.Tensor:
    """Apply ``transforms`` in order with a batch of drawn ``params`` (``sample_pixel_params``
    of each instance, batched) to ``images`` (B, h, w, 3) RGB of integer values 0..255."""
    images = tf.cast(images, tf.float32)
    for t, p in zip(transforms, params, strict=True):
        if isinstance(t, CoarseDropoutConfig):
            images = coarse_dropout(images, p["holes"], t.fill_value)
        elif isinstance(t, GridDropoutConfig):
            images = grid_dropout(images, p, t.fill_value)
        elif isinstance(t, BlurConfig):
            filters = [lambda x, k=k: box_blur(x, k) for k in _kernel_sizes(t)]
            images = _filter_each(images, p["kernel"], filters)
        elif isinstance(t, MedianBlurConfig):
            filters = [lambda x, k=k: median_blur(x, k) for k in _kernel_sizes(t)]
            images = _filter_each(images, p["kernel"], filters)
        elif isinstance(t, PhotometricDistortionConfig):
            images = photometric_distortion(images, p)
    return images
