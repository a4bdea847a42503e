"""Resampling with PyTorch's index rules, for layers whose MMPose twin calls ``F.interpolate``
or ``F.adaptive_avg_pool2d`` (and the checkpoint-time resizing of position embeddings).

``ResizeAlignCorners`` (MSPN / RSN) and ``Resample("bilinear")`` (LiteHRNet) both compute
``align_corners=True`` bilinear resizing; they add the two taps in different orders (a linear
interpolation vs a ``(out, in)`` weight matrix), which differ in the last bit, and each family
keeps the form its parity was measured with. ``bilinear_matrix`` (PVT) and ``resize_bicubic``
(ViT's checkpoint hook) are the ``align_corners=False`` linear and cubic kernels in NumPy.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from kpose.errors import ModelError

RESAMPLE_MODES = ("adaptive_avg", "nearest", "bilinear", "bilinear_half_pixel")


def nearest_indices(in_size, out_size):
    """``F.interpolate(mode="nearest")``'s source rows: ``min(floor(dst * (in / out)),
    in - 1)`` in float32 arithmetic, as PyTorch's kernel computes them."""
    scale = ops.cast(in_size, "float32") / ops.cast(out_size, "float32")
    src = ops.floor(ops.cast(ops.arange(out_size), "float32") * scale)
    return ops.minimum(ops.cast(src, "int32"), in_size - 1)


def _axis_matrix(mode: str, in_size, out_size):
    """``(out_size, in_size)`` float32 weights resampling one axis as PyTorch does."""
    src = ops.arange(out_size, dtype="int32")
    pixels = ops.arange(in_size, dtype="int32")
    if mode == "adaptive_avg":  # bin i covers [floor(i * in / out), ceil((i + 1) * in / out))
        start = (src * in_size) // out_size
        end = ((src + 1) * in_size + out_size - 1) // out_size
        inside = (pixels[None] >= start[:, None]) & (pixels[None] < end[:, None])
        return ops.cast(inside, "float32") / ops.cast(end - start, "float32")[:, None]
    if mode == "bilinear_half_pixel":  # align_corners=False: src = (dst + 0.5) * in / out - 0.5
        scale = ops.cast(in_size, "float32") / ops.cast(out_size, "float32")
        position = ops.maximum((ops.cast(src, "float32") + 0.5) * scale - 0.5, 0.0)
    else:  # bilinear, align_corners=True: src = dst * (in - 1) / (out - 1)
        scale = ops.cast(in_size - 1, "float32") / ops.cast(ops.maximum(out_size - 1, 1), "float32")
        position = ops.cast(src, "float32") * scale
    low = ops.cast(position, "int32")
    high = ops.minimum(low + 1, in_size - 1)
    frac = (position - ops.cast(low, "float32"))[:, None]
    return (1.0 - frac) * ops.cast(pixels[None] == low[:, None], "float32") + frac * ops.cast(
        pixels[None] == high[:, None], "float32"
    )


@keras.saving.register_keras_serializable(package="kpose")
class Resample(keras.layers.Layer):
    """``x`` resampled to the height and width of ``like`` the way PyTorch does it.

    ``mode``: ``"nearest"`` (``F.interpolate(size=...)``'s default mode, ``nearest_indices``),
    ``"adaptive_avg"`` (``F.adaptive_avg_pool2d``: possibly overlapping bins when the sizes do
    not divide), ``"bilinear"`` (``F.interpolate(..., mode="bilinear", align_corners=True)``,
    a ``(out, in)`` weight matrix per axis built from the runtime sizes) or
    ``"bilinear_half_pixel"`` (the same with ``align_corners=False``).
    Shapes: ``[(B, h, w, C), (B, H, W, *)] -> (B, H, W, C)``.

    Example:
        >>> Resample("nearest")([gate, features])   # gate resized to features' size
    """

    def __init__(self, mode: str, **kwargs):
        super().__init__(**kwargs)
        if mode not in RESAMPLE_MODES:
            raise ModelError(
                f"{self.name}: unknown resampling mode {mode!r}; expected one of {RESAMPLE_MODES}"
            )
        self.mode = mode

    def call(self, inputs):
        x, like = inputs
        if self.mode == "nearest":
            x = ops.cast(x, self.compute_dtype)
            for axis in (1, 2):
                x = ops.take(x, nearest_indices(ops.shape(x)[axis], ops.shape(like)[axis]), axis)
            return x
        in_h, in_w = ops.shape(x)[1], ops.shape(x)[2]
        out_h, out_w = ops.shape(like)[1], ops.shape(like)[2]
        rows = ops.cast(_axis_matrix(self.mode, in_h, out_h), x.dtype)
        cols = ops.cast(_axis_matrix(self.mode, in_w, out_w), x.dtype)
        x = ops.einsum("oh,bhwc->bowc", rows, x)
        return ops.einsum("pw,bowc->bopc", cols, x)

    def compute_output_shape(self, input_shape):
        x_shape, like_shape = input_shape
        return (x_shape[0], like_shape[1], like_shape[2], x_shape[3])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="kpose")
class ResizeAlignCorners(keras.layers.Layer):
    """``F.interpolate(x, size, mode="bilinear", align_corners=True)`` on NHWC maps.

    Output pixel ``o`` samples input position ``o * (n_in - 1) / (n_out - 1)`` (corner pixels
    coincide), interpolating the width first, then the height, as PyTorch's CPU kernel does.
    With ``size = (h, w)`` the output has that fixed size; without, the layer takes
    ``[x, like]`` and resizes ``x`` to ``like``'s height and width (dynamic shapes work).
    ``(B, h, w, C) -> (B, H, W, C)``.

    Example:
        >>> ResizeAlignCorners((64, 48))(features)           # (B, 8, 6, C) -> (B, 64, 48, C)
        >>> ResizeAlignCorners()([coarse, fine])             # coarse resized to fine's size
    """

    def __init__(self, size: Sequence[int] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.size = None if size is None else (int(size[0]), int(size[1]))

    @staticmethod
    def _resize_axis(x, out_size, axis: int):
        in_size = ops.shape(x)[axis]
        in_last = ops.cast(in_size - 1, "float32")
        out_last = ops.cast(out_size - 1, "float32")
        scale = ops.where(out_last > 0, in_last / ops.maximum(out_last, 1.0), 0.0)
        source = ops.arange(out_size, dtype="float32") * scale  # (out,)
        lower = ops.minimum(ops.cast(ops.floor(source), "int32"), in_size - 1)
        upper = ops.minimum(lower + 1, in_size - 1)
        frac = source - ops.cast(lower, "float32")
        shape = [1, 1, 1, 1]
        shape[axis] = -1
        frac = ops.reshape(ops.cast(frac, x.dtype), shape)
        return ops.take(x, lower, axis=axis) * (1 - frac) + ops.take(x, upper, axis=axis) * frac

    def call(self, inputs):
        if self.size is None:
            x, like = inputs
            height, width = ops.shape(like)[1], ops.shape(like)[2]
        else:
            x = inputs
            height, width = self.size
        x = ops.cast(x, self.compute_dtype)
        x = self._resize_axis(x, width, 2)
        return self._resize_axis(x, height, 1)

    def compute_output_shape(self, input_shape):
        if self.size is None:
            shape, like = input_shape
            return (shape[0], like[1], like[2], shape[3])
        return (input_shape[0], *self.size, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "size": None if self.size is None else list(self.size)}


def bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
    """``(out_size, in_size)`` weights of PyTorch's 1-D linear interpolation with
    ``align_corners=False`` and no antialiasing: output ``o`` samples the input at
    ``max((o + 0.5) * in / out - 0.5, 0)`` between its two neighbours (the last one clamped)."""
    src = np.maximum((np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5, 0.0)
    low = np.floor(src).astype(np.int64)
    high = np.minimum(low + 1, in_size - 1)
    frac = src - low
    matrix = np.zeros((out_size, in_size), np.float64)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, low), 1.0 - frac)
    np.add.at(matrix, (rows, high), frac)
    return matrix.astype(np.float32)


def _cubic_weights(t: np.ndarray, a: float = -0.75) -> np.ndarray:
    """PyTorch's cubic-convolution weights of the 4 taps around a fractional offset ``t``."""

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


def resize_bicubic(x: np.ndarray, out_size: int, axis: int) -> np.ndarray:
    """Bicubic resampling of one axis of a NumPy array as PyTorch's ``F.interpolate(mode=
    "bicubic", align_corners=False)`` (cubic convolution a = -0.75, borders clamped)."""
    in_size = x.shape[axis]
    scale = in_size / out_size
    src = (np.arange(out_size) + 0.5) * scale - 0.5
    base = np.floor(src).astype(np.int64)
    weights = _cubic_weights((src - base).astype(np.float32))  # (out, 4)
    taps = np.clip(base[:, None] + np.arange(-1, 3)[None], 0, in_size - 1)  # (out, 4)
    moved = np.moveaxis(x, axis, -1)  # (..., in)
    out = np.sum(moved[..., taps] * weights, axis=-1)  # (..., out)
    return np.moveaxis(out, -1, axis)
