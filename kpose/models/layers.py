"""Layers that reproduce PyTorch's Conv2d, ConvTranspose2d and BatchNorm2d numerics in Keras.

MMPose checkpoints only give MMPose's heatmaps if every layer computes what its PyTorch twin
computes: BatchNorm with PyTorch's epsilon, convolutions with PyTorch's symmetric zero padding
(Keras' ``"same"`` pads one pixel more at the end for stride 2), and transposed convolutions
cropped the way PyTorch's ``padding`` / ``output_padding`` crop. The helpers here add functional
layers named after the MMPose module path they mirror (``name``); the padding and cropping
layers they add carry no weights and are named ``<name>_pad`` / ``<name>_crop``.
``ChannelShuffle`` and ``ChannelSplit`` are PyTorch's NCHW channel shuffle / split on NHWC
tensors (ShuffleNet, LiteHRNet).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

# PyTorch's BatchNorm2d defaults (Keras: epsilon 1e-3, momentum 0.99; PyTorch's momentum 0.1
# weighs the new batch, Keras' momentum weighs the running value).
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9


def kaiming_fan_out() -> keras.initializers.Initializer:
    """mmcv's ``kaiming_init`` of ResNet/HRNet convolutions (normal, fan_out, gain sqrt(2)).

    A new instance per layer: an unseeded Keras initializer instance draws the same values on
    every call.
    """
    return keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")


def conv2d(
    x,
    filters: int,
    kernel_size: int,
    name: str,
    stride: int = 1,
    padding: int = 0,
    use_bias: bool = False,
    kernel_initializer: keras.initializers.Initializer | None = None,
    groups: int = 1,
):
    """``torch.nn.Conv2d(kernel_size, stride, padding, groups)`` on an NHWC tensor.

    Stride-1 convolutions whose padding keeps the size use ``"same"`` (symmetric then); every
    other padded convolution gets an explicit ``ZeroPadding2D`` so that the sampled grid is
    PyTorch's. ``kernel_initializer`` defaults to ``kaiming_fan_out()``.
    """
    if padding and not (stride == 1 and 2 * padding == kernel_size - 1):
        x = keras.layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
        mode = "valid"
    else:
        mode = "same" if padding else "valid"
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=stride,
        padding=mode,
        use_bias=use_bias,
        kernel_initializer=kernel_initializer or kaiming_fan_out(),
        groups=groups,
        name=name,
    )(x)


def batch_norm(x, name: str, gamma_initializer="ones"):
    """``torch.nn.BatchNorm2d`` (eps 1e-5, momentum 0.1 in PyTorch's convention)."""
    return keras.layers.BatchNormalization(
        epsilon=BN_EPSILON, momentum=BN_MOMENTUM, gamma_initializer=gamma_initializer, name=name
    )(x)


def relu(x, name: str):
    return keras.layers.ReLU(name=name)(x)


def conv_transpose2d(
    x,
    filters: int,
    kernel_size: int,
    name: str,
    stride: int = 2,
    padding: int = 0,
    output_padding: int = 0,
    use_bias: bool = False,
    kernel_initializer="glorot_uniform",
):
    """``torch.nn.ConvTranspose2d(kernel_size, stride, padding, output_padding)`` on NHWC.

    The full ("valid") transposed convolution has ``(H - 1) * stride + kernel_size`` rows;
    PyTorch drops ``padding`` rows at the start and ``padding - output_padding`` at the end, so
    the output has ``(H - 1) * stride - 2 * padding + kernel_size + output_padding`` rows.
    TF's ``"same"`` (output ``H * stride``, ``(kernel_size - stride) // 2`` rows dropped at the
    start) is used when it drops the same rows (k=4, s=2, p=1: the SimpleBaseline head), as it
    is faster than cropping; otherwise a ``Cropping2D`` follows the full transposed conv.
    """
    if output_padding > padding:
        raise ValueError(
            f"{name}: output_padding {output_padding} > padding {padding} is not supported"
        )
    crop_end = padding - output_padding
    same = kernel_size - stride == padding + crop_end and (kernel_size - stride) // 2 == padding
    x = keras.layers.Conv2DTranspose(
        filters,
        kernel_size,
        strides=stride,
        padding="same" if same else "valid",
        use_bias=use_bias,
        kernel_initializer=kernel_initializer,
        name=name,
    )(x)
    if not same and (padding or crop_end):
        x = keras.layers.Cropping2D(
            ((padding, crop_end), (padding, crop_end)), name=f"{name}_crop"
        )(x)
    return x


@keras.saving.register_keras_serializable(package="kpose")
class Normalize(keras.layers.Layer):
    """``(x - mean) / std`` per channel with fixed statistics (no weights).

    MMPose's ``PoseDataPreprocessor`` does this on 0..255 RGB pixels; kpose does it inside the
    model so that callers pass raw pixels. Shape: ``(B, H, W, C)`` in and out.

    Example:
        >>> Normalize((123.675, 116.28, 103.53), (58.395, 57.12, 57.375))(images_rgb_0_255)
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], **kwargs):
        super().__init__(**kwargs)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        if len(self.mean) != len(self.std) or any(s <= 0 for s in self.std):
            raise ValueError(f"{self.name}: mean {self.mean} / std {self.std} do not fit")

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        mean = ops.convert_to_tensor(self.mean, dtype=self.compute_dtype)
        std = ops.convert_to_tensor(self.std, dtype=self.compute_dtype)
        return (inputs - mean) / std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mean": list(self.mean), "std": list(self.std)}


@keras.saving.register_keras_serializable(package="kpose")
class ChannelShuffle(keras.layers.Layer):
    """ShuffleNet's channel shuffle: channel ``g * per_group + i`` moves to ``i * groups + g``
    (PyTorch's NCHW ``view / transpose / view`` applied to NHWC). ``(B, H, W, C)`` in and out."""

    def __init__(self, groups: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.groups = int(groups)

    def call(self, x):
        shape = ops.shape(x)
        channels = x.shape[-1]
        x = ops.reshape(x, (-1, shape[1], shape[2], self.groups, channels // self.groups))
        x = ops.transpose(x, (0, 1, 2, 4, 3))
        return ops.reshape(x, (-1, shape[1], shape[2], channels))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


@keras.saving.register_keras_serializable(package="kpose")
class ChannelSplit(keras.layers.Layer):
    """``torch.split(x, sizes, dim=1)`` on NHWC: a list of ``(B, H, W, sizes[i])``."""

    def __init__(self, sizes: Sequence[int], **kwargs):
        super().__init__(**kwargs)
        self.sizes = [int(s) for s in sizes]

    def call(self, x):
        return ops.split(x, np.cumsum(self.sizes)[:-1].tolist(), axis=-1)

    def compute_output_shape(self, input_shape):
        return [(*input_shape[:-1], size) for size in self.sizes]

    def get_config(self):
        return {**super().get_config(), "sizes": self.sizes}
