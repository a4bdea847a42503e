"""SCNet (Liu et al., 2020) as MMPose builds it (``mmpose/models/backbones/scnet.py``).

A ResNet (7x7 stem, ``resnet.py``) whose bottleneck splits into two branches of width
``out_channels / 8``: ``conv1`` + ``bn1`` + ReLU then a plain 3x3 conv + BN + ReLU (``k1``,
strided), and ``conv2`` + ``bn2`` + ReLU then a self-calibrated convolution (``scconv``). The
self-calibration gate is ``sigmoid(x + up(k2(x)))`` with ``k2`` a 4x4 stride-4 average pool
(floor) + 3x3 conv + BN and ``up`` PyTorch's default ``F.interpolate`` (nearest,
``src = floor(dst * in / out)``, also for sizes not divisible by 4: ``NearestResizeLike``); it
multiplies ``k3(x)`` (3x3 conv + BN), and ``k4`` (3x3 conv + BN + ReLU, strided) follows. The
branches are concatenated into ``conv3`` + ``bn3``, the shortcut added, then ReLU. The
backbone returns the last stage, ``(B, H / 32, W / 32, 2048)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from kpose.errors import ModelError
from kpose.models.backbones.resnet import EXPANSION, _downsample, res_layer, stem
from kpose.models.layers import batch_norm, conv2d, relu

# depth -> bottlenecks per stage
ARCH_SETTINGS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
POOLING_R = 4  # SCBottleneck.pooling_r


@keras.saving.register_keras_serializable(package="kpose")
class NearestResizeLike(keras.layers.Layer):
    """``F.interpolate(x, size=reference.shape[2:])`` (mode ``"nearest"``) on NHWC.

    ``[x (B, h, w, C), reference (B, H, W, ...)] -> (B, H, W, C)``; output row ``i`` reads input
    row ``min(floor(i * (h / H)), h - 1)`` in float32 arithmetic, as PyTorch's nearest kernel.
    """

    def call(self, inputs):
        x, reference = inputs
        x = ops.cast(x, self.compute_dtype)
        for axis in (1, 2):
            in_size, out_size = ops.shape(x)[axis], ops.shape(reference)[axis]
            scale = ops.cast(in_size, "float32") / ops.cast(out_size, "float32")
            src = ops.floor(ops.cast(ops.arange(out_size), "float32") * scale)
            src = ops.minimum(ops.cast(src, "int32"), in_size - 1)
            x = ops.take(x, src, axis=axis)
        return x

    def compute_output_shape(self, input_shapes):
        x, reference = input_shapes
        return (x[0], reference[1], reference[2], x[3])


def sc_conv(x, name: str, stride: int = 1):
    """MMPose's ``SCConv`` (self-calibrated convolution), width kept:
    ``(B, H, W, C) -> (B, H / stride, W / stride, C)``."""
    channels = int(x.shape[-1])
    y = keras.layers.AveragePooling2D(POOLING_R, strides=POOLING_R, name=f"{name}.k2.0")(x)
    y = batch_norm(conv2d(y, channels, 3, f"{name}.k2.1", padding=1), f"{name}.k2.2")
    y = NearestResizeLike(name=f"{name}.k2_up")([y, x])
    gate = keras.layers.Add(name=f"{name}.gate_add")([x, y])
    gate = keras.layers.Activation("sigmoid", name=f"{name}.gate")(gate)
    z = batch_norm(conv2d(x, channels, 3, f"{name}.k3.0", padding=1), f"{name}.k3.1")
    z = keras.layers.Multiply(name=f"{name}.calibrate")([z, gate])
    z = conv2d(z, channels, 3, f"{name}.k4.0", stride=stride, padding=1)
    return relu(batch_norm(z, f"{name}.k4.1"), f"{name}.k4.2")


def sc_bottleneck(
    x, out_channels: int, name: str, stride: int = 1, zero_init_residual: bool = True
):
    """MMPose's ``SCBottleneck``: two branches of width ``out_channels / 8`` (plain 3x3 conv;
    self-calibrated conv), both strided, concatenated into a 1x1 conv + BN, plus the shortcut
    (1x1 conv with the stride + BN), then ReLU.
    ``(B, H, W, C) -> (B, H / stride, W / stride, out_channels)``."""
    mid = out_channels // EXPANSION["bottleneck"] // 2
    shortcut = x
    if stride != 1 or x.shape[-1] != out_channels:
        shortcut = _downsample(x, out_channels, stride, name)
    a = relu(batch_norm(conv2d(x, mid, 1, f"{name}.conv1"), f"{name}.bn1"), f"{name}.bn1_relu")
    a = conv2d(a, mid, 3, f"{name}.k1.0", stride=stride, padding=1)
    a = relu(batch_norm(a, f"{name}.k1.1"), f"{name}.k1.2")
    b = relu(batch_norm(conv2d(x, mid, 1, f"{name}.conv2"), f"{name}.bn2"), f"{name}.bn2_relu")
    b = sc_conv(b, f"{name}.scconv", stride)
    y = keras.layers.Concatenate(name=f"{name}_concat")([a, b])
    y = conv2d(y, out_channels, 1, f"{name}.conv3")
    y = batch_norm(y, f"{name}.bn3", "zeros" if zero_init_residual else "ones")
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return relu(y, f"{name}_relu")


def scnet(
    depth: int = 50,
    in_channels: int = 3,
    stem_channels: int = 64,
    base_channels: int = 64,
    num_stages: int = 4,
    strides: Sequence[int] = (1, 2, 2, 2),
    zero_init_residual: bool = True,
    name: str = "backbone",
) -> keras.Model:
    """MMPose's ``SCNet(depth, ...)``: ``(B, H, W, in_channels)`` -> the last stage's map
    ``(B, H / 32, W / 32, base_channels * 4 * 2 ** (num_stages - 1))``.

    Arguments mirror MMPose's ``ResNet`` ones that SCNet's bottleneck honours. Every feature
    map a block sees must be at least 4 x 4 (the self-calibration pool; MMPose fails too), e.g.
    inputs of 128 x 128 or more. Inputs are normalised images (see ``kpose.models.build``).

    Example:
        >>> backbone = scnet(50)            # (B, 256, 192, 3) -> (B, 8, 6, 2048)
    """
    if depth not in ARCH_SETTINGS:
        raise ModelError(f"SCNet depth must be one of {sorted(ARCH_SETTINGS)}, got {depth}")
    if not 1 <= num_stages <= 4 or len(strides) < num_stages:
        raise ModelError(
            f"SCNet: num_stages must be 1..4 with one stride each, got {num_stages} / {strides}"
        )
    inputs = keras.Input((None, None, in_channels), name=f"{name}_input")
    x = stem(inputs, stem_channels, False, name)
    out_channels = base_channels * EXPANSION["bottleneck"]
    for i in range(num_stages):
        x = res_layer(
            x,
            sc_bottleneck,
            ARCH_SETTINGS[depth][i],
            out_channels,
            f"{name}.layer{i + 1}",
            stride=strides[i],
            zero_init_residual=zero_init_residual,
        )
        out_channels *= 2
    return keras.Model(inputs, x, name=name)


def scnet50(**kwargs) -> keras.Model:
    return scnet(50, **kwargs)


def scnet101(**kwargs) -> keras.Model:
    return scnet(101, **kwargs)
