"""MSPN (Li et al., 2019) as MMPose builds it (``mmpose/models/backbones/mspn.py``).

A ResNet stem (``top``: 7x7 stride-2 conv + BN + ReLU, 3x3 stride-2 max pool, 64 channels) and
``num_stages`` hourglass-like single-stage networks. Each stage has a downsample module
(``num_units`` ResNet layers of bottlenecks, strides 1, 2, 2, ..., the shortcut a ``ConvModule``
named ``downsample.conv`` / ``downsample.bn``) and an upsample module: unit ``i`` (coarse to
fine) maps its skip-in feature to ``unit_channels`` (1x1 conv + BN) and adds the previous unit's
output, bilinearly resized with PyTorch's ``align_corners=True`` and passed through a 1x1 conv +
BN, then ReLU. Every stage but the last also emits cross-stage connections: ``out_skip1`` (of
the skip-in feature) and ``out_skip2`` (of the unit output), each 1x1 conv + BN + ReLU, are added
to the next stage's layer outputs, and ``cross_conv`` on the finest unit output (1x1 conv + BN +
ReLU to 64 channels) is the next stage's input. The backbone returns every stage's unit outputs,
flattened stage by stage, coarse to fine (MMPose's ``out_feats[stage][unit]`` order), each with
``unit_channels`` channels. ``rsn.py`` reuses the stem, the upsample module and the stage loop
with its residual-steps blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras

from kpose.errors import ModelError
from kpose.models.layers import (
    ResizeAlignCorners,
    batch_norm,
    conv2d,
    conv_module,
    max_pool2d,
    relu,
)

EXPANSION = 4  # MSPN's bottleneck: out_channels * 4 channels out


def resnet_top(x, name: str, channels: int = 64):
    """MSPN/RSN's ``ResNetTop``: 7x7 stride-2 ConvModule (``name.top.0``) and a 3x3 stride-2
    max pool (padding 1): ``(B, H, W, 3) -> (B, H / 4, W / 4, channels)``."""
    x = conv_module(x, channels, 7, f"{name}.top.0", 2)
    return max_pool2d(x, f"{name}.top.1")


def bottleneck(x, channels: int, name: str, stride: int = 1):
    """MMPose's ResNet ``Bottleneck`` as MSPN builds it: 1x1 (``channels``) -> 3x3 (stride) ->
    1x1 (``4 * channels``) convs with BN, ReLU after the first two, plus the shortcut (a 1x1
    ConvModule without activation when the stride or width changes), then ReLU."""
    out_channels = channels * EXPANSION
    shortcut = x
    if stride != 1 or x.shape[-1] != out_channels:
        shortcut = conv_module(x, out_channels, 1, f"{name}.downsample", stride, act=None)
    y = conv_module(x, channels, 1, name, names=("conv1", "bn1", "bn1_relu"))
    y = conv_module(y, channels, 3, name, stride, names=("conv2", "bn2", "bn2_relu"))
    y = conv2d(y, out_channels, 1, f"{name}.conv3")
    y = batch_norm(y, f"{name}.bn3")
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return relu(y, f"{name}_relu")


def downsample_module(
    x, block: Callable, num_blocks: Sequence[int], in_channels: int, name: str, skips=None
):
    """``len(num_blocks)`` layers ``name.layer{i+1}`` of ``block(x, in_channels * 2**i, name,
    stride)``, the first unstrided; with ``skips`` (the previous stage's ``(skip1, skip2)``,
    fine to coarse) both are added to each layer's output. Returns the layer outputs, coarse
    to fine."""
    outs = []
    for i, blocks in enumerate(num_blocks):
        for j in range(blocks):
            stride = 2 if i > 0 and j == 0 else 1
            x = block(x, in_channels * 2**i, f"{name}.layer{i + 1}.{j}", stride)
        if skips is not None:
            x = keras.layers.Add(name=f"{name}.layer{i + 1}_skip")([x, skips[0][i], skips[1][i]])
        outs.append(x)
    return outs[::-1]


def upsample_module(
    feats,
    unit_channels: int,
    name: str,
    gen_skip: bool,
    gen_cross_conv: bool,
    cross_channels: int = 64,
):
    """MMPose's upsample module on the downsample outputs ``feats`` (coarse to fine).

    Returns ``(outs coarse to fine, skips (skip1, skip2) fine to coarse or None, cross_conv or
    None)``; every output has ``unit_channels`` channels and its skip-in feature's size."""
    outs, skip1, skip2 = [], [], []
    for i, x in enumerate(feats):
        unit = f"{name}.up{i + 1}"
        out = conv_module(x, unit_channels, 1, f"{unit}.in_skip", act=None)
        if i > 0:
            up = ResizeAlignCorners(name=f"{unit}.interpolate")([outs[-1], out])
            up = conv_module(up, unit_channels, 1, f"{unit}.up_conv", act=None)
            out = keras.layers.Add(name=f"{unit}_add")([out, up])
        out = relu(out, f"{unit}.relu")
        if gen_skip:
            skip1.append(conv_module(x, int(x.shape[-1]), 1, f"{unit}.out_skip1"))
            skip2.append(conv_module(out, int(x.shape[-1]), 1, f"{unit}.out_skip2"))
        outs.append(out)
    cross = None
    if gen_cross_conv:
        cross = conv_module(outs[-1], cross_channels, 1, f"{name}.up{len(feats)}.cross_conv")
    skips = (skip1[::-1], skip2[::-1]) if gen_skip else None
    return outs, skips, cross


def multi_stage_network(
    block: Callable,
    stages_name: str,
    unit_channels: int,
    num_stages: int,
    num_blocks: Sequence[int],
    res_top_channels: int,
    name: str,
) -> keras.Model:
    """The MSPN/RSN body: ``resnet_top``, then ``num_stages`` single-stage networks
    ``name.<stages_name>.{s}`` (downsample module of ``block`` + upsample module) linked by
    the cross-stage skips and the cross conv. Outputs every stage's unit outputs, flattened
    stage by stage, coarse to fine."""
    if num_stages < 1 or len(num_blocks) < 2:
        raise ModelError(
            f"{stages_name}: need num_stages >= 1 and num_units >= 2, got {num_stages} stages "
            f"and num_blocks {tuple(num_blocks)}"
        )
    inputs = keras.Input((None, None, 3), name=f"{name}_input")
    x = resnet_top(inputs, f"{name}.top", res_top_channels)
    skips, outputs = None, []
    for s in range(num_stages):
        prefix = f"{name}.{stages_name}.{s}"
        last = s == num_stages - 1
        feats = downsample_module(
            x, block, num_blocks, res_top_channels, f"{prefix}.downsample", skips
        )
        outs, skips, x = upsample_module(
            feats,
            unit_channels,
            f"{prefix}.upsample",
            gen_skip=not last,
            gen_cross_conv=not last,
            cross_channels=res_top_channels,
        )
        outputs.extend(outs)
    return keras.Model(inputs, outputs, name=name)


def mspn(
    unit_channels: int = 256,
    num_stages: int = 4,
    num_units: int = 4,
    num_blocks: Sequence[int] = (2, 2, 2, 2),
    res_top_channels: int = 64,
    name: str = "backbone",
) -> keras.Model:
    """MMPose's ``MSPN``: ``(B, H, W, 3)`` normalised images -> ``num_stages * num_units``
    maps ``(B, H / 2**(num_units + 1 - u), ..., unit_channels)`` for unit ``u = 1..num_units``
    of each stage (coarse to fine; the last is at stride 4).

    ``num_blocks`` has one bottleneck count per unit. MMPose fixes the stem and the cross conv
    at 64 channels; ``res_top_channels`` other than 64 builds a consistent model that no
    MMPose checkpoint fits.

    Example:
        >>> backbone = mspn(num_stages=1, num_blocks=(3, 4, 6, 3))  # MSPN-50: 4 outputs,
        >>> [o.shape[1:3] for o in backbone(images)]               # 8x6 .. 64x48 at 256x192
    """
    if len(num_blocks) != num_units:
        raise ModelError(
            f"MSPN: num_blocks {tuple(num_blocks)} needs num_units={num_units} entries"
        )
    return multi_stage_network(
        bottleneck,
        "multi_stage_mspn",
        unit_channels,
        num_stages,
        num_blocks,
        res_top_channels,
        name,
    )
