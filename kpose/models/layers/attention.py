"""Multi-head attention for the transformer backbones (ViT, Swin, PVT, HRFormer) and the window
operations Swin and HRFormer share.

``multi_head_attention`` is the one attention core: ``softmax(q k^T / sqrt(d) [+ bias]) v`` per
head. ``split_qkv`` unpacks a ``qkv`` projection's output in mmcv / mmpretrain's head-major
layout. ``WindowAttention`` is the weightless-but-for-the-bias core of Swin's
``ShiftWindowMSA`` and HRFormer's ``WindowMSA``: attention inside non-overlapping windows, with
an optional learned relative-position bias and Swin's shifted windows; its ``qkv`` and
``proj`` linear layers are Dense layers around it, named after MMPose's modules.
``WindowCenterPad`` / ``CenterCropLike`` (HRFormer) and ``pad_bottom_right`` (Swin) pad maps
to whole windows.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kpose.errors import ModelError

MASK_VALUE = -100.0  # MMPose's logit for token pairs from different shifted regions


def multi_head_attention(q, k, v, add_bias: Callable | None = None):
    """``q (B, heads, N, d)``, ``k, v (B, heads, M, d)`` -> ``(B, N, heads, d)``:
    ``softmax(q k^T / sqrt(d) + bias) v``, the bias added to the ``(B, heads, N, M)`` logits by
    ``add_bias`` (None: no bias). The queries are scaled before the product, as PyTorch does."""
    head_dim = int(q.shape[-1])
    logits = tf.linalg.matmul(q * (head_dim**-0.5), k, transpose_b=True)
    if add_bias is not None:
        logits = add_bias(logits)
    weights = ops.softmax(logits, axis=-1)
    return ops.transpose(ops.matmul(weights, v), (0, 2, 1, 3))


def split_qkv(qkv, num_heads: int):
    """Packed ``(B, N, 3C)`` q, k, v (``[q | k | v]``, each head-major) -> three
    ``(B, heads, N, C / heads)``."""
    n, c3 = ops.shape(qkv)[1], int(qkv.shape[-1])
    head_dim = c3 // 3 // num_heads
    qkv = ops.reshape(qkv, (-1, n, 3, num_heads, head_dim))
    q, k, v = tf.unstack(ops.transpose(qkv, (2, 0, 3, 1, 4)))  # each (B, heads, N, d)
    return q, k, v


def relative_position_index(window_size: int) -> np.ndarray:
    """MMPose's ``relative_position_index`` buffer ``(N, N)``, ``N = window_size ** 2``: for
    tokens ``a = (i1, j1)`` and ``b = (i2, j2)`` of a window, the row of the bias table,
    ``(i1 - i2 + w - 1) * (2w - 1) + (j1 - j2 + w - 1)``."""
    w = window_size
    i, j = np.divmod(np.arange(w * w), w)
    return (i[:, None] - i[None, :] + w - 1) * (2 * w - 1) + (j[:, None] - j[None, :] + w - 1)


def shifted_window_mask(height: int, width: int, window_size: int, shift: int) -> np.ndarray:
    """MMPose's shifted-window attention mask ``(num_windows, N, N)`` for a padded
    ``height x width`` map rolled by ``-shift``: 0 for token pairs from the same region, -100
    otherwise. Regions split each axis at ``size - window_size`` and ``size - shift``."""

    def regions(size):
        return np.searchsorted([size - window_size, size - shift], np.arange(size), "right")

    labels = regions(height)[:, None] * 3 + regions(width)[None, :]  # (H, W)
    w = window_size
    windows = labels.reshape(height // w, w, width // w, w).transpose(0, 2, 1, 3)
    windows = windows.reshape(-1, w * w)  # (nW, N)
    same = windows[:, :, None] == windows[:, None, :]
    return np.where(same, 0.0, MASK_VALUE).astype(np.float32)


@keras.saving.register_keras_serializable(package="kpose")
class WindowAttention(keras.layers.Layer):
    """Window self-attention on packed q, k, v of a window-padded map: ``(B, Hp, Wp, 3C)`` (the
    ``qkv`` projection's output, head-major) -> ``(B, Hp, Wp, C)``.

    The map is rolled by ``-shift_size`` (Swin's shifted windows; needs static sizes), cut into
    ``window_size`` windows; per window and head, ``softmax(q k^T / sqrt(d) + bias + mask) v``;
    windows are put back and the roll undone. With ``with_rpe`` the bias is the
    ``relative_position_bias_table`` ``((2w - 1)^2, heads)`` row of each token pair, given by
    the ``relative_position_index`` buffer (a non-trainable weight, loaded from the checkpoint
    as PyTorch does); the mask gives -100 to pairs from different shifted regions.
    """

    def __init__(
        self,
        num_heads: int,
        window_size: int = 7,
        shift_size: int = 0,
        with_rpe: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.window_size = int(window_size)
        self.shift_size = int(shift_size)
        self.with_rpe = bool(with_rpe)
        if not 0 <= self.shift_size < self.window_size:
            raise ModelError(f"{self.name}: shift_size {shift_size} must be in [0, {window_size})")

    def build(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        w = self.window_size
        if (height is not None and height % w) or (width is not None and width % w):
            raise ModelError(
                f"{self.name}: a {height}x{width} map is not padded to multiples of the window {w}"
            )
        if self.with_rpe:
            self.relative_position_bias_table = self.add_weight(
                name="relative_position_bias_table",
                shape=((2 * w - 1) ** 2, self.num_heads),
                initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            )
            self.relative_position_index = self.add_weight(
                name="relative_position_index",
                shape=(w * w, w * w),
                dtype="int32",
                initializer=keras.initializers.Constant(relative_position_index(w)),
                trainable=False,
            )
        self.mask = None
        if self.shift_size:
            if height is None or width is None:
                raise ModelError(f"{self.name}: shifted windows need a static map size")
            self.mask = shifted_window_mask(int(height), int(width), w, self.shift_size)

    def _roll(self, x, shift):  # torch.roll over H and W
        s = shift % int(x.shape[1])
        x = ops.concatenate([x[:, s:], x[:, :s]], axis=1) if s else x
        s = shift % int(x.shape[2])
        return ops.concatenate([x[:, :, s:], x[:, :, :s]], axis=2) if s else x

    def _add_bias(self, attn):
        """``(B * nW, heads, N, N)`` logits + the relative-position bias (+ the shift mask)."""
        heads, n = self.num_heads, self.window_size**2
        if self.with_rpe:
            index = ops.reshape(self.relative_position_index, (-1,))
            table = ops.cast(self.relative_position_bias_table, attn.dtype)
            bias = ops.reshape(ops.take(table, index, axis=0), (n, n, heads))
            attn = attn + ops.transpose(bias, (2, 0, 1))[None]  # + (1, heads, N, N)
        if self.mask is not None:
            attn = ops.reshape(attn, (-1, self.mask.shape[0], heads, n, n))
            attn = attn + ops.cast(self.mask[None, :, None], attn.dtype)
            attn = ops.reshape(attn, (-1, heads, n, n))
        return attn

    def call(self, qkv):
        if self.shift_size:
            qkv = self._roll(qkv, self.shift_size)
        shape = ops.shape(qkv)
        c3 = int(qkv.shape[-1])
        w, c = self.window_size, c3 // 3
        nh, nw = shape[1] // w, shape[2] // w
        x = ops.reshape(qkv, (-1, nh, w, nw, w, c3))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))  # (B, nh, nw, w, w, 3C)
        q, k, v = split_qkv(ops.reshape(x, (-1, w * w, c3)), self.num_heads)
        out = multi_head_attention(q, k, v, self._add_bias)  # (B * nW, N, heads, d)
        out = ops.reshape(out, (-1, nh, nw, w, w, c))
        out = ops.transpose(out, (0, 1, 3, 2, 4, 5))
        out = ops.reshape(out, (-1, shape[1], shape[2], c))  # (B, Hp, Wp, C)
        if self.shift_size:
            out = self._roll(out, -self.shift_size)
        return out

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // 3)

    def torch_tensors(self):
        """``(suffix, variable, torch->keras, keras->torch)`` for the weight mapper: the
        ``relative_position_bias_table`` and the ``relative_position_index`` buffer (int64 in
        PyTorch, checked to index inside the table)."""
        if not self.with_rpe:
            return []
        rows = int(self.relative_position_bias_table.shape[0])

        def index_to_keras(array):
            array = np.asarray(array)
            if array.size and (array.min() < 0 or array.max() >= rows):
                raise ModelError(
                    f"{self.name}.relative_position_index: values outside the bias table's "
                    f"{rows} rows"
                )
            return array.astype(np.int32)

        return [
            ("relative_position_bias_table", self.relative_position_bias_table,
             lambda a: a, lambda a: a),
            ("relative_position_index", self.relative_position_index,
             index_to_keras, lambda a: np.asarray(a).astype(np.int64)),
        ]  # fmt: skip

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "window_size": self.window_size,
            "shift_size": self.shift_size,
            "with_rpe": self.with_rpe,
        }


def pad_bottom_right(x, multiple: int, name: str):
    """Zero-pad ``(B, H, W, C)`` (static sizes) at the bottom / right to multiples of
    ``multiple`` (Swin's patch embedding and window padding)."""
    height, width = int(x.shape[1]), int(x.shape[2])
    pad_b, pad_r = -height % multiple, -width % multiple
    if not pad_b and not pad_r:
        return x
    return keras.layers.ZeroPadding2D(((0, pad_b), (0, pad_r)), name=name)(x)


def _padded(size, window_size: int):
    """``size`` rounded up to a multiple of ``window_size`` (None stays None)."""
    return None if size is None else -(-int(size) // window_size) * window_size


@keras.saving.register_keras_serializable(package="kpose")
class WindowCenterPad(keras.layers.Layer):
    """Zero-pads ``(B, H, W, C)`` to multiples of ``window_size`` with ``pad // 2`` rows /
    columns before and the rest after (MMPose's ``LocalWindowSelfAttention`` padding)."""

    def __init__(self, window_size: int, **kwargs):
        super().__init__(**kwargs)
        self.window_size = int(window_size)

    def call(self, x):
        shape = ops.shape(x)
        pad_h, pad_w = (-shape[1]) % self.window_size, (-shape[2]) % self.window_size
        return ops.pad(
            x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0))
        )

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, _padded(h, self.window_size), _padded(w, self.window_size), c)

    def get_config(self):
        return {**super().get_config(), "window_size": self.window_size}


@keras.saving.register_keras_serializable(package="kpose")
class CenterCropLike(keras.layers.Layer):
    """Undoes ``WindowCenterPad``: crops ``padded`` ``(B, Hp, Wp, C)`` to the height and width
    of ``reference`` ``(B, H, W, ...)``, dropping ``(Hp - H) // 2`` rows at the top (columns at
    the left) and the rest at the bottom (right)."""

    def call(self, inputs):
        padded, reference = inputs
        padded_shape, shape = ops.shape(padded), ops.shape(reference)
        top = (padded_shape[1] - shape[1]) // 2
        left = (padded_shape[2] - shape[2]) // 2
        return padded[:, top : top + shape[1], left : left + shape[2]]

    def compute_output_shape(self, input_shape):
        padded, reference = input_shape
        return (padded[0], reference[1], reference[2], padded[3])
