"""SCNet (Liu et al., 2020) as MMPose builds it (``mmpose/models/backbones/scnet.py``).

A ResNet (7x7 stem, ``resnet.py``) whose bottleneck splits into two branches of width
``out_channels / 8``: ``conv1`` + ``bn1`` + ReLU then a plain 3x3 conv + BN + ReLU (``k1``,
strided), and ``conv2`` + ``bn2`` + ReLU then a self-calibrated convolution (``scconv``). The
self-calibration gate is ``sigmoid(x + up(k2(x)))`` with ``k2`` a 4x4 stride-4 average pool
(floor) + 3x3 conv + BN and ``up`` PyTorch's default ``F.interpolate`` (nearest,
``src = floor(dst * in / out)``, also for sizes not divisible by 4: ``layers.Resample``); it
multiplies ``k3(x)`` (3x3 conv + BN), and ``k4`` (3x3 conv + BN + ReLU, strided) follows. The
branches are concatenated into ``conv3`` + ``bn3``, the shortcut added, then ReLU. The
backbone returns the last stage, ``(B, H / 32, W / 32, 2048)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from kpose.models.backbones.resnet import (
    EXPANSION,
    add_residual,
    check_arch,
    downsample,
    res_stages,
    stem,
)
from kpose.models.layers import Resample, batch_norm, conv2d, conv_module

# depth -> bottlenecks per stage
ARCH_SETTINGS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
POOLING_R = 4  # SCBottleneck.pooling_r


def sc_conv(x, name: str, stride: int = 1):
    """MMPose's ``SCConv`` (self-calibrated convolution), width kept:
    ``(B, H, W, C) -> (B, H / stride, W / stride, C)``."""
    channels = int(x.shape[-1])
    y = keras.layers.AveragePooling2D(POOLING_R, strides=POOLING_R, name=f"{name}.k2.0")(x)
    y = batch_norm(conv2d(y, channels, 3, f"{name}.k2.1", padding=1), f"{name}.k2.2")
    y = Resample("nearest", name=f"{name}.k2_up")([y, x])
    gate = keras.layers.Add(name=f"{name}.gate_add")([x, y])
    gate = keras.layers.Activation("sigmoid", name=f"{name}.gate")(gate)
    z = batch_norm(conv2d(x, channels, 3, f"{name}.k3.0", padding=1), f"{name}.k3.1")
    z = keras.layers.Multiply(name=f"{name}.calibrate")([z, gate])
    return conv_module(z, channels, 3, f"{name}.k4", stride, names=("0", "1", "2"))


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
        shortcut = downsample(x, out_channels, stride, name)
    a = conv_module(x, mid, 1, name, names=("conv1", "bn1", "bn1_relu"))
    a = conv_module(a, mid, 3, f"{name}.k1", stride, names=("0", "1", "2"))
    b = conv_module(x, mid, 1, name, names=("conv2", "bn2", "bn2_relu"))
    b = sc_conv(b, f"{name}.scconv", stride)
    y = keras.layers.Concatenate(name=f"{name}_concat")([a, b])
    y = conv2d(y, out_channels, 1, f"{name}.conv3")
    y = batch_norm(y, f"{name}.bn3", "zeros" if zero_init_residual else "ones")
    return add_residual(y, shortcut, name)


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
    check_arch("SCNet", depth, ARCH_SETTINGS, num_stages, strides)
    inputs = keras.Input((None, None, in_channels), name=f"{name}_input")
    x = stem(inputs, stem_channels, False, name)
    out_channels = base_channels * EXPANSION["bottleneck"]
    x = res_stages(
        x, sc_bottleneck, ARCH_SETTINGS[depth][:num_stages], out_channels, strides, name,
        zero_init_residual,
    )  # fmt: skip
    return keras.Model(inputs, x, name=name)


def scnet50(**kwargs) -> keras.Model:
    return scnet(50, **kwargs)


def scnet101(**kwargs) -> keras.Model:
    return scnet(101, **kwargs)
