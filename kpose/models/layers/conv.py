"""Convolution, normalisation and activation blocks with PyTorch's numerics in Keras.

MMPose checkpoints only give MMPose's heatmaps if every layer computes what its PyTorch twin
computes: BatchNorm with PyTorch's epsilon, convolutions with PyTorch's symmetric zero padding
(Keras' ``"same"`` pads one pixel more at the end for stride 2), and transposed convolutions
cropped the way PyTorch's ``padding`` / ``output_padding`` crop. The helpers add functional
layers named after the MMPose module path they mirror (``name``); the padding and cropping
layers they add carry no weights and are named ``<name>_pad`` / ``<name>_crop``.
``conv_module`` is mmcv's ``ConvModule`` (conv + norm + activation), the one builder every
family uses; ``depthwise_separable_conv_module`` is mmcv's ``DepthwiseSeparableConvModule``.
Initialisers only matter when training from scratch: each defaults to mmcv's Kaiming fan-out
init and a family passes its own MMPose ``init_cfg`` where it differs.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kpose.errors import ModelError

# PyTorch's BatchNorm2d defaults (Keras: epsilon 1e-3, momentum 0.99; PyTorch's momentum 0.1
# weighs the new batch, Keras' momentum weighs the running value).
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9
# mmcv's ConvModule sub-module names; ``nn.Sequential`` blocks use ("0", "1", "2").
CONV_MODULE_NAMES = ("conv", "bn", "activate")


def conv_kernel_from_torch(weight: np.ndarray) -> np.ndarray:
    """A PyTorch ``Conv2d`` weight ``(out, in, kh, kw)`` as a Keras kernel ``(kh, kw, in, out)``
    (for layers whose ``torch_tensors`` map their own variables)."""
    return np.transpose(weight, (2, 3, 1, 0))


def conv_kernel_to_torch(kernel: np.ndarray) -> np.ndarray:
    """The inverse of ``conv_kernel_from_torch``."""
    return np.transpose(kernel, (3, 2, 0, 1))


def unchanged(array: np.ndarray) -> np.ndarray:
    """The layout map of tensors PyTorch and Keras store alike (biases, norm parameters)."""
    return array


def kaiming_fan_out() -> keras.initializers.Initializer:
    """mmcv's ``kaiming_init`` of ResNet/HRNet convolutions (normal, fan_out, gain sqrt(2)).

    A new instance per layer: an unseeded Keras initializer instance draws the same values on
    every call.
    """
    return keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")


def _torch_padding(x, kernel_size: int, stride: int, padding: int, name: str):
    """``(x, keras padding mode)`` sampling PyTorch's grid: stride-1 convolutions whose padding
    keeps the size use ``"same"`` (symmetric then); every other padded convolution gets an
    explicit ``ZeroPadding2D`` named ``<name>_pad``."""
    if padding and not (stride == 1 and 2 * padding == kernel_size - 1):
        return keras.layers.ZeroPadding2D(padding, name=f"{name}_pad")(x), "valid"
    return x, "same" if padding else "valid"


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

    ``kernel_initializer`` defaults to ``kaiming_fan_out()``.
    """
    x, mode = _torch_padding(x, kernel_size, stride, padding, name)
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


def depthwise_conv2d(
    x,
    kernel_size: int,
    name: str,
    stride: int = 1,
    padding: int = 0,
    use_bias: bool = False,
    kernel_initializer: keras.initializers.Initializer | None = None,
):
    """``torch.nn.Conv2d(C, C, kernel_size, stride, padding, groups=C)`` as a
    ``DepthwiseConv2D`` (weight ``(C, 1, k, k)`` in PyTorch), padded like ``conv2d``.

    ``kernel_initializer`` defaults to mmcv's Kaiming fan-out init: PyTorch's fan-out of a
    depthwise kernel ``(C, 1, k, k)`` is ``C * k * k``, which is Keras' fan-in of
    ``(k, k, C, 1)``.
    """
    x, mode = _torch_padding(x, kernel_size, stride, padding, name)
    if kernel_initializer is None:
        kernel_initializer = keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal")
    return keras.layers.DepthwiseConv2D(
        kernel_size,
        strides=stride,
        padding=mode,
        use_bias=use_bias,
        depthwise_initializer=kernel_initializer,
        name=name,
    )(x)


@keras.saving.register_keras_serializable(package="kpose")
class BatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` whose inference on NHWC float32 feature maps is one
    ``FusedBatchNormV3`` op (``is_training=False``) instead of Keras' element-wise ops: TF's
    graph optimiser (and oneDNN on a CPU) fuses it with the convolution before it and the
    activation after it, as PyTorch folds BatchNorm at inference. In training the same op
    computes the batch statistics (and its fused gradient), and the running variance is
    updated with the unbiased batch variance as PyTorch's BatchNorm2d does (Keras' own layer
    uses the biased one). Same formula, same weights; masks, other ranks and dtypes take Keras'
    own path. The class keeps Keras' name:
    ``.weights.h5`` files name their groups after it, so files saved with either load."""

    def call(self, inputs, training=None, mask=None):
        fusable = (
            mask is None
            and len(inputs.shape) == 4
            and self.axis in (3, -1)
            and self.scale
            and self.center
            and inputs.dtype == "float32"
            and self.compute_dtype == "float32"
        )
        if not fusable:
            return super().call(inputs, training=training, mask=mask)
        batch_statistics = bool(training and self.trainable)
        # The raw op: tf.nn.fused_batch_norm raises epsilon to 1.001e-5 (cuDNN's old minimum),
        # which would move PyTorch's 1e-5 for channels of tiny variance.
        outputs, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=inputs,
            scale=self.gamma,
            offset=self.beta,
            mean=self.moving_mean if not batch_statistics else tf.zeros([0]),
            variance=self.moving_variance if not batch_statistics else tf.zeros([0]),
            epsilon=self.epsilon,
            data_format="NHWC",
            is_training=batch_statistics,
        )
        if batch_statistics:
            # the op's variance is the unbiased one, as PyTorch's running_var update uses
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1 - self.momentum))
            self.moving_variance.assign(
                self.moving_variance * self.momentum + variance * (1 - self.momentum)
            )
        return outputs


def batch_norm(
    x,
    name: str,
    gamma_initializer="ones",
    epsilon: float = BN_EPSILON,
    momentum: float = BN_MOMENTUM,
):
    """``torch.nn.BatchNorm2d`` (eps 1e-5, momentum 0.1 in PyTorch's convention; ``momentum``
    here is Keras', ``1 -`` PyTorch's)."""
    return BatchNormalization(
        epsilon=epsilon, momentum=momentum, gamma_initializer=gamma_initializer, name=name
    )(x)


def activation(x, act: str, name: str):
    """``"relu"`` / ``"relu6"`` as ``keras.layers.ReLU``, any other Keras activation name (or
    registered function) as ``keras.layers.Activation``."""
    if act == "relu":
        return keras.layers.ReLU(name=name)(x)
    if act == "relu6":
        return keras.layers.ReLU(max_value=6.0, name=name)(x)
    return keras.layers.Activation(act, name=name)(x)


def relu(x, name: str):
    return keras.layers.ReLU(name=name)(x)


def conv_module(
    x,
    filters: int,
    kernel_size: int,
    name: str,
    stride: int = 1,
    padding: int | None = None,
    groups: int = 1,
    use_bias: bool | None = None,
    norm: bool = True,
    act: str | None = "relu",
    kernel_initializer: keras.initializers.Initializer | None = None,
    norm_epsilon: float = BN_EPSILON,
    norm_momentum: float = BN_MOMENTUM,
    names: Sequence[str] = CONV_MODULE_NAMES,
):
    """mmcv's ``ConvModule``: conv ``name.conv`` -> BN ``name.bn`` -> activation
    ``name.activate``; ``(B, H, W, C) -> (B, H / stride, W / stride, filters)``.

    ``padding`` defaults to ``kernel_size // 2``; ``use_bias`` to mmcv's ``"auto"`` (a bias
    only without the norm); ``groups`` equal to the input width and ``filters`` makes the conv
    depthwise (a ``DepthwiseConv2D``). ``act``: see ``activation``, None for none.
    ``norm_momentum`` is Keras' (``1 -`` PyTorch's). ``names`` are the three sub-module names
    (``("0", "1", "2")`` for an ``nn.Sequential`` of conv, BN, activation).

    Example:
        >>> y = conv_module(x, 64, 3, "backbone.stem.0", stride=2)   # conv + BN + ReLU
    """
    conv_name, norm_name, act_name = (f"{name}.{n}" for n in names)
    padding = kernel_size // 2 if padding is None else padding
    use_bias = not norm if use_bias is None else use_bias
    if groups > 1 and groups == int(x.shape[-1]) == filters:
        x = depthwise_conv2d(
            x, kernel_size, conv_name, stride, padding, use_bias, kernel_initializer
        )
    else:
        x = conv2d(
            x, filters, kernel_size, conv_name, stride, padding, use_bias, kernel_initializer,
            groups,
        )  # fmt: skip
    if norm:
        x = batch_norm(x, norm_name, epsilon=norm_epsilon, momentum=norm_momentum)
    return x if act is None else activation(x, act, act_name)


def depthwise_separable_conv_module(
    x,
    filters: int,
    kernel_size: int,
    name: str,
    stride: int = 1,
    act: str | None = "relu",
    depthwise_initializer: keras.initializers.Initializer | None = None,
    pointwise_initializer: keras.initializers.Initializer | None = None,
    norm_epsilon: float = BN_EPSILON,
    norm_momentum: float = BN_MOMENTUM,
):
    """mmcv's ``DepthwiseSeparableConvModule``: a depthwise ``kernel_size`` ConvModule (stride,
    padding ``kernel_size // 2``; ``name.depthwise_conv``), then a 1x1 ConvModule to
    ``filters`` (``name.pointwise_conv``), both with BN and ``act``."""
    norm_args = {"norm_epsilon": norm_epsilon, "norm_momentum": norm_momentum, "act": act}
    channels = int(x.shape[-1])
    x = conv_module(
        x, channels, kernel_size, f"{name}.depthwise_conv", stride, groups=channels,
        kernel_initializer=depthwise_initializer, **norm_args,
    )  # fmt: skip
    return conv_module(
        x, filters, 1, f"{name}.pointwise_conv", kernel_initializer=pointwise_initializer,
        **norm_args,
    )  # fmt: skip


def separable_conv_bn(
    x,
    filters: int,
    name: str,
    stride: int = 1,
    act: bool = True,
    depthwise_use_bias: bool = False,
    depthwise_initializer: keras.initializers.Initializer | None = None,
    pointwise_initializer: keras.initializers.Initializer | None = None,
):
    """The ``nn.Sequential`` depthwise-separable 3x3 conv of LiteHRNet and HRFormer: depthwise
    conv (``name.0``, padding 1) + BN (``.1``) + 1x1 conv (``.2``) + BN (``.3``) [+ ReLU
    (``.4``)]; ``(B, H, W, C) -> (B, H / stride, W / stride, filters)``."""
    channels = int(x.shape[-1])
    x = conv_module(
        x, channels, 3, name, stride, groups=channels, use_bias=depthwise_use_bias, act=None,
        kernel_initializer=depthwise_initializer, names=("0", "1", ""),
    )  # fmt: skip
    return conv_module(
        x, filters, 1, name, act="relu" if act else None,
        kernel_initializer=pointwise_initializer, names=("2", "3", "4"),
    )  # fmt: skip


def max_pool2d(x, name: str, pool_size: int = 3, stride: int = 2, padding: int = 1):
    """``nn.MaxPool2d(pool_size, stride, padding)`` after a ReLU: zero padding (``<name>_pad``)
    gives the maxima of PyTorch's -inf padding when the inputs are not negative."""
    if padding:
        x = keras.layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
    return keras.layers.MaxPooling2D(pool_size, strides=stride, name=name)(x)


def se_layer(x, ratio: int, name: str):
    """MMPose's ``SELayer``: global average -> 1x1 conv (C / ratio, bias) + ReLU -> 1x1 conv (C,
    bias) + sigmoid, scaling the input channels (``name.conv1.conv``, ``name.conv2.conv``)."""
    channels = int(x.shape[-1])
    y = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}.global_avgpool")(x)
    y = conv_module(y, int(channels / ratio), 1, f"{name}.conv1", norm=False)
    y = conv_module(y, channels, 1, f"{name}.conv2", norm=False, act="sigmoid")
    return keras.layers.Multiply(name=f"{name}_scale")([x, y])


@keras.saving.register_keras_serializable(package="kpose")
class Conv2DTranspose(keras.layers.Conv2DTranspose):
    """``keras.layers.Conv2DTranspose`` computing the SimpleBaseline deconvolution (kernel 4,
    stride 2, ``"same"``: PyTorch's ``padding=1``) as four 2x2 convolutions, one per output
    phase, interleaved by ``depth_to_space``: the same sums without the zeros a transposed
    convolution multiplies, and oneDNN's convolution kernels instead of TF's slower
    ``Conv2DBackpropInput`` (batch 8, 32x24, 256 -> 256 on a 2-core CPU: 220 -> 120 ms;
    PyTorch 169 ms). Other shapes take Keras' own path; the class keeps Keras' name, so
    ``.weights.h5`` files load either way.

    Output row ``2m + r`` of the full transposed convolution cropped by one is
    ``x[m - 1] w[3] + x[m] w[1]`` for ``r = 0`` and ``x[m] w[2] + x[m + 1] w[0]`` for ``r = 1``:
    a 2-tap correlation of the once-padded input at offset ``r`` with taps ``(3, 1)`` or
    ``(2, 0)`` (the same in columns).
    """

    def call(self, inputs):
        phased = (
            tuple(self.kernel_size) == (4, 4)
            and tuple(self.strides) == (2, 2)
            and self.padding == "same"
            and tuple(self.dilation_rate) == (1, 1)
            and self.data_format == "channels_last"
            and self.output_padding is None
        )
        if not phased:
            return super().call(inputs)
        kernel = ops.cast(self.kernel, inputs.dtype)  # (4, 4, out, in)
        height, width = inputs.shape[1], inputs.shape[2]
        if height is None or width is None:
            height, width = tf.shape(inputs)[1], tf.shape(inputs)[2]
        padded = tf.pad(inputs, [[0, 0], [1, 1], [1, 1], [0, 0]])
        taps = (slice(3, None, -2), slice(2, None, -2))  # rows / columns (3, 1) and (2, 0)
        phases = []
        for ry in (0, 1):
            for rx in (0, 1):
                k = tf.transpose(kernel[taps[ry], taps[rx]], (0, 1, 3, 2))  # (2, 2, in, out)
                window = padded[:, ry : ry + height + 1, rx : rx + width + 1, :]
                phases.append(tf.nn.conv2d(window, k, 1, "VALID"))
        outputs = tf.nn.depth_to_space(tf.concat(phases, axis=-1), 2)
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, ops.cast(self.bias, outputs.dtype))
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs


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
        raise ModelError(
            f"{name}: output_padding {output_padding} > padding {padding} is not supported"
        )
    crop_end = padding - output_padding
    same = kernel_size - stride == padding + crop_end and (kernel_size - stride) // 2 == padding
    x = Conv2DTranspose(
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


def make_divisible(
    value: float, divisor: int, min_value: int | None = None, min_ratio: float = 0.9
) -> int:
    """mmcv's ``make_divisible``: ``value`` rounded to the nearest multiple of ``divisor`` (at
    least ``min_value``, default ``divisor``), one ``divisor`` more if rounding lost over
    ``1 - min_ratio`` (MobileNetV2 / ShuffleNetV1 widths)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < min_ratio * value else rounded
