"""ResNeSt (Zhang et al., 2020) as MMPose builds it (``mmpose/models/backbones/resnest.py``).

A ResNetV1d (deep 3x3 stem, average-pool shortcuts; ``resnet.py``) whose bottleneck 3x3
convolution is a split-attention convolution (``backbone.layerN.i.conv2``): a grouped 3x3 conv
to ``radix`` splits of the block's inside width (``conv2.conv`` + ``conv2.bn0`` + ReLU); the
splits are summed, globally averaged and squeezed by two grouped 1x1 convs with bias
(``conv2.fc1`` + ``conv2.bn1`` + ReLU, ``conv2.fc2``) into one weight per split and channel,
normalised by a softmax over the splits (``RadixSoftmax``; a sigmoid for radix 1); the output is
the weighted sum of the splits (``RadixSum``). In a strided block the split-attention conv keeps
stride 1 and a 3x3 average pool (padding 1 counted as zeros) strides after it (``avd_layer``,
``avg_down_stride``). There is no BN + ReLU between ``conv2`` and ``conv3``. The backbone returns
the last stage, ``(B, H / 32, W / 32, 2048)``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import keras
from keras import ops

from kpose.models.backbones.resnet import (
    EXPANSION,
    add_residual,
    bottleneck_width,
    check_arch,
    downsample,
    res_stages,
    stem,
    style_strides,
)
from kpose.models.layers import batch_norm, conv2d, conv_module

# depth -> bottlenecks per stage
ARCH_SETTINGS = {
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
    200: (3, 24, 36, 3),
    269: (3, 30, 48, 8),
}


@keras.saving.register_keras_serializable(package="kpose")
class RadixSoftmax(keras.layers.Layer):
    """MMPose's ``RSoftmax``: split-attention logits -> split weights.

    ``(B, 1, 1, radix * C)`` in ``fc2``'s channel order (group, split, channel within group) ->
    ``(B, 1, 1, radix * C)`` in the splits' order (split, group, channel within group), softmax
    over the ``radix`` splits of each channel; a sigmoid when ``radix`` is 1.
    """

    def __init__(self, radix: int, groups: int, **kwargs):
        super().__init__(**kwargs)
        self.radix = int(radix)
        self.groups = int(groups)

    def call(self, logits):
        logits = ops.cast(logits, self.compute_dtype)
        if self.radix == 1:
            return ops.sigmoid(logits)
        channels = logits.shape[-1]
        x = ops.reshape(
            logits, (-1, self.groups, self.radix, channels // (self.groups * self.radix))
        )
        x = ops.transpose(ops.softmax(x, axis=2), (0, 2, 1, 3))  # (B, radix, groups, C / groups)
        return ops.reshape(x, (-1, 1, 1, channels))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "radix": self.radix, "groups": self.groups}


@keras.saving.register_keras_serializable(package="kpose")
class RadixSum(keras.layers.Layer):
    """``(B, H, W, radix * C) -> (B, H, W, C)``: the sum of the ``radix`` channel blocks."""

    def __init__(self, radix: int, **kwargs):
        super().__init__(**kwargs)
        self.radix = int(radix)

    def call(self, x):
        x = ops.cast(x, self.compute_dtype)
        channels = x.shape[-1] // self.radix
        out = x[..., :channels]
        for r in range(1, self.radix):
            out = out + x[..., r * channels : (r + 1) * channels]
        return out

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // self.radix)

    def get_config(self):
        return {**super().get_config(), "radix": self.radix}


def split_attention_conv2d(
    x,
    channels: int,
    name: str,
    stride: int = 1,
    groups: int = 1,
    radix: int = 2,
    reduction_factor: int = 4,
):
    """MMPose's ``SplitAttentionConv2d`` (3x3, padding 1): ``(B, H, W, C_in)`` ->
    ``(B, H / stride, W / stride, channels)``; the squeeze width is
    ``max(C_in * radix / reduction_factor, 32)``."""
    inter_channels = max(int(x.shape[-1]) * radix // reduction_factor, 32)
    x = conv_module(
        x, channels * radix, 3, name, stride, groups=groups * radix, names=("conv", "bn0", "relu")
    )  # (B, h, w, radix * C)
    gap = RadixSum(radix, name=f"{name}.splits_sum")(x) if radix > 1 else x
    gap = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}.gap")(gap)
    gap = conv_module(
        gap, inter_channels, 1, name, groups=groups, use_bias=True, names=("fc1", "bn1", "bn1_relu")
    )
    atten = conv2d(gap, channels * radix, 1, f"{name}.fc2", use_bias=True, groups=groups)
    atten = RadixSoftmax(radix, groups, name=f"{name}.rsoftmax")(atten)  # (B, 1, 1, radix * C)
    out = keras.layers.Multiply(name=f"{name}_weigh")([x, atten])
    return RadixSum(radix, name=f"{name}_sum")(out) if radix > 1 else out


def resnest_bottleneck(
    x,
    out_channels: int,
    name: str,
    stride: int = 1,
    style: str = "pytorch",
    groups: int = 1,
    width_per_group: int = 4,
    base_channels: int = 64,
    radix: int = 2,
    reduction_factor: int = 4,
    avg_down_stride: bool = True,
    zero_init_residual: bool = True,
):
    """ResNeSt's bottleneck: 1x1 conv + BN + ReLU -> split-attention 3x3 conv (-> 3x3 average
    pool that strides, with ``avg_down_stride``) -> 1x1 conv + BN, plus the average-pool
    shortcut, then ReLU. ``(B, H, W, C) -> (B, H / stride, W / stride, out_channels)``."""
    stride1, stride2 = style_strides(style, stride, name)
    mid = bottleneck_width(out_channels, groups, width_per_group, base_channels)
    avd = avg_down_stride and stride2 > 1
    shortcut = x
    if stride != 1 or x.shape[-1] != out_channels:
        shortcut = downsample(x, out_channels, stride, name, avg_down=True)
    y = conv_module(x, mid, 1, name, stride1, names=("conv1", "bn1", "bn1_relu"))
    y = split_attention_conv2d(
        y,
        mid,
        f"{name}.conv2",
        stride=1 if avd else stride2,
        groups=groups,
        radix=radix,
        reduction_factor=reduction_factor,
    )
    if avd:  # nn.AvgPool2d(3, stride, padding=1): the zero padding counts in the average
        y = keras.layers.ZeroPadding2D(1, name=f"{name}.avd_layer_pad")(y)
        y = keras.layers.AveragePooling2D(3, strides=stride2, name=f"{name}.avd_layer")(y)
    y = conv2d(y, out_channels, 1, f"{name}.conv3")
    y = batch_norm(y, f"{name}.bn3", "zeros" if zero_init_residual else "ones")
    return add_residual(y, shortcut, name)


def resnest(
    depth: int = 50,
    groups: int = 1,
    width_per_group: int = 4,
    radix: int = 2,
    reduction_factor: int = 4,
    avg_down_stride: bool = True,
    in_channels: int = 3,
    stem_channels: int = 64,
    base_channels: int = 64,
    num_stages: int = 4,
    strides: Sequence[int] = (1, 2, 2, 2),
    style: str = "pytorch",
    zero_init_residual: bool = True,
    name: str = "backbone",
) -> keras.Model:
    """MMPose's ``ResNeSt(depth, ...)``: ``(B, H, W, in_channels)`` -> the last stage's map
    ``(B, H / 32, W / 32, base_channels * 4 * 2 ** (num_stages - 1))``.

    Arguments mirror MMPose's (the deep stem and average-pool shortcuts of ResNetV1d are always
    on, as in MMPose); ``groups`` / ``width_per_group`` widen the inside of the blocks as in
    ResNeXt; ``radix`` splits, squeezed by ``reduction_factor`` (at least 32 channels).
    Inputs are normalised images (see ``kpose.models.build``).

    Example:
        >>> backbone = resnest(50)          # (B, 256, 192, 3) -> (B, 8, 6, 2048)
    """
    check_arch("ResNeSt", depth, ARCH_SETTINGS, num_stages, strides)
    inputs = keras.Input((None, None, in_channels), name=f"{name}_input")
    x = stem(inputs, stem_channels, True, name)
    out_channels = base_channels * EXPANSION["bottleneck"]
    block = functools.partial(
        resnest_bottleneck,
        style=style,
        groups=groups,
        width_per_group=width_per_group,
        base_channels=base_channels,
        radix=radix,
        reduction_factor=reduction_factor,
        avg_down_stride=avg_down_stride,
    )
    x = res_stages(
        x, block, ARCH_SETTINGS[depth][:num_stages], out_channels, strides, name,
        zero_init_residual,
    )  # fmt: skip
    return keras.Model(inputs, x, name=name)


def resnest50(**kwargs) -> keras.Model:
    return resnest(50, **kwargs)


def resnest101(**kwargs) -> keras.Model:
    return resnest(101, **kwargs)


def resnest200(**kwargs) -> keras.Model:
    return resnest(200, **kwargs)


def resnest269(**kwargs) -> keras.Model:
    return resnest(269, **kwargs)
