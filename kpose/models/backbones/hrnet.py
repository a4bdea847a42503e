"""HRNet (Sun et al., 2019) as MMPose builds it (``mmpose/models/backbones/hrnet.py``).

A stem of two 3x3 stride-2 convolutions (64 channels, 1/4 resolution), stage 1 of Bottlenecks
(``layer1``), then stages 2-4 of high-resolution modules with 2, 3 and 4 parallel branches of
widths ``width * (1, 2, 4, 8)``. Each module runs BasicBlocks on every branch and fuses them:
1x1 conv + BN + nearest upsampling from lower resolutions, chains of 3x3 stride-2 conv + BN
from higher ones, sum, ReLU. Transitions between stages add the new lowest-resolution branch.
As in MMPose's top-down configs the last module fuses only into the 1/4-resolution branch
(``multiscale_output=False``), which is the backbone's output ``(B, H / 4, W / 4, width)``.
Layer names are the MMPose state-dict paths (``backbone.stage2.0.fuse_layers.1.0.0.0``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from kpose.errors import ModelError
from kpose.models.backbones.resnet import EXPANSION, basic_block, bottleneck
from kpose.models.layers import batch_norm, conv2d, relu


def _conv_bn(x, filters: int, kernel_size: int, name: str, stride: int = 1, act: bool = True):
    """Conv (``name.0``) + BN (``name.1``) [+ ReLU], MMPose's ``nn.Sequential`` of the three."""
    x = conv2d(x, filters, kernel_size, f"{name}.0", stride=stride, padding=kernel_size // 2)
    x = batch_norm(x, f"{name}.1")
    return relu(x, f"{name}.2") if act else x


def transition(xs: list, channels: Sequence[int], name: str) -> list:
    """Branches of the next stage from the outputs of the previous one.

    Existing branches keep their tensor (a 3x3 conv + BN + ReLU when the width changes); each
    new branch is a chain of 3x3 stride-2 conv + BN + ReLU from the lowest-resolution branch.
    """
    pre_channels = [int(x.shape[-1]) for x in xs]
    out = []
    for i, ch in enumerate(channels):
        if i < len(xs):
            y = xs[i]
            if pre_channels[i] != ch:
                y = _conv_bn(y, ch, 3, f"{name}.{i}")
        else:
            y = xs[-1]
            steps = i + 1 - len(xs)
            for j in range(steps):
                width = ch if j == steps - 1 else pre_channels[-1]
                y = _conv_bn(y, width, 3, f"{name}.{i}.{j}", stride=2)
        out.append(y)
    return out


def hr_module(
    xs: list, channels: Sequence[int], num_blocks: int, name: str, multiscale_output: bool = True
) -> list:
    """One high-resolution module: ``num_blocks`` BasicBlocks per branch, then the fuse.

    ``xs[i]``: ``(B, H / 2**i, W / 2**i, C_i)``; returns every branch fused
    (``multiscale_output``) or only branch 0.
    """
    ys = []
    for i, (x, ch) in enumerate(zip(xs, channels, strict=True)):
        for b in range(num_blocks):
            x = basic_block(x, ch, f"{name}.branches.{i}.{b}")
        ys.append(x)
    fused = []
    for i in range(len(ys) if multiscale_output else 1):
        terms = []
        for j, y in enumerate(ys):
            prefix = f"{name}.fuse_layers.{i}.{j}"
            if j > i:  # lower resolution: 1x1 conv + BN, nearest upsampling
                y = _conv_bn(y, channels[i], 1, prefix, act=False)
                y = keras.layers.UpSampling2D(
                    2 ** (j - i), interpolation="nearest", name=f"{prefix}.2"
                )(y)
            elif j < i:  # higher resolution: (i - j) stride-2 3x3 convs
                for k in range(i - j):
                    last = k == i - j - 1
                    y = _conv_bn(
                        y,
                        channels[i] if last else channels[j],
                        3,
                        f"{prefix}.{k}",
                        stride=2,
                        act=not last,
                    )
            terms.append(y)
        y = keras.layers.Add(name=f"{name}.fuse_layers.{i}_add")(terms)
        fused.append(relu(y, f"{name}.fuse_layers.{i}_relu"))
    return fused


def hrnet(
    width: int = 32,
    num_modules: Sequence[int] = (1, 4, 3),
    num_blocks: Sequence[int] = (4, 4, 4),
    stage1_blocks: int = 4,
    stage1_channels: int = 64,
    in_channels: int = 3,
    stem_channels: int = 64,
    name: str = "backbone",
) -> keras.Model:
    """MMPose's ``HRNet(extra)`` for top-down pose: ``(B, H, W, in_channels)`` ->
    ``(B, H / 4, W / 4, width)``.

    Arguments:
        width: channels of the 1/4-resolution branch; branch i has ``width * 2**i``.
        num_modules: high-resolution modules in stages 2, 3 and 4 (MMPose: 1, 4, 3).
        num_blocks: BasicBlocks per branch in each module of stages 2, 3 and 4.
        stage1_blocks / stage1_channels: Bottlenecks of stage 1 and their inner width
            (output ``4 * stage1_channels``).
        stem_channels: width of the two stride-2 stem convolutions (64 in every MMPose
            HRNet; smaller only for CPU-sized models).

    Example:
        >>> backbone = hrnet(32)            # HRNet-W32: (B, 256, 192, 3) -> (B, 64, 48, 32)
    """
    if len(num_modules) != 3 or len(num_blocks) != 3 or min(*num_modules, *num_blocks) < 1:
        raise ModelError(
            "HRNet: num_modules and num_blocks need one positive value per stage 2, 3, 4; "
            f"got {tuple(num_modules)} / {tuple(num_blocks)}"
        )
    inputs = keras.Input((None, None, in_channels), name=f"{name}_input")
    x = conv2d(inputs, stem_channels, 3, f"{name}.conv1", stride=2, padding=1)
    x = relu(batch_norm(x, f"{name}.bn1"), f"{name}.bn1_relu")
    x = conv2d(x, stem_channels, 3, f"{name}.conv2", stride=2, padding=1)
    x = relu(batch_norm(x, f"{name}.bn2"), f"{name}.bn2_relu")
    for b in range(stage1_blocks):
        x = bottleneck(x, stage1_channels * EXPANSION["bottleneck"], f"{name}.layer1.{b}")
    xs = [x]
    for stage, (modules, blocks) in enumerate(zip(num_modules, num_blocks, strict=True)):
        channels = [width * 2**i for i in range(stage + 2)]
        xs = transition(xs, channels, f"{name}.transition{stage + 1}")
        for m in range(modules):
            last = stage == 2 and m == modules - 1
            xs = hr_module(
                xs, channels, blocks, f"{name}.stage{stage + 2}.{m}", multiscale_output=not last
            )
    return keras.Model(inputs, xs[0], name=name)


def hrnet_w32(**kwargs) -> keras.Model:
    """HRNet-W32 of ``coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py``."""
    return hrnet(32, **kwargs)


def hrnet_w48(**kwargs) -> keras.Model:
    """HRNet-W48 of ``coco/td-hm_hrnet-w48_8xb32-210e_coco-256x192.py``."""
    return hrnet(48, **kwargs)


def hrnet_small(
    width: int = 16,
    num_modules: Sequence[int] = (1, 1, 1),
    num_blocks: Sequence[int] = (2, 2, 2),
    stage1_blocks: int = 2,
    stage1_channels: int = 32,
    **kwargs,
) -> keras.Model:
    """A small HRNet (not an MMPose model) for CPU training and tests."""
    return hrnet(width, num_modules, num_blocks, stage1_blocks, stage1_channels, **kwargs)
