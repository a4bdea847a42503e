"""HRNet (Sun et al., 2019) as MMPose builds it (``mmpose/models/backbones/hrnet.py``).

A stem of two 3x3 stride-2 convolutions (64 channels, 1/4 resolution), stage 1 of Bottlenecks
(``layer1``), then stages 2-4 of high-resolution modules with 2, 3 and 4 parallel branches of
widths ``width * (1, 2, 4, 8)``. Each module runs BasicBlocks on every branch and fuses them:
1x1 conv + BN + nearest upsampling from lower resolutions, chains of 3x3 stride-2 conv + BN
from higher ones, sum, ReLU. Transitions between stages add the new lowest-resolution branch.
As in MMPose's body configs the last module fuses only into the 1/4-resolution branch
(``multiscale_output=False``), which is the backbone's output ``(B, H / 4, W / 4, width)``;
HRNetV2 (the face and hand configs: ``multiscale_output=True``, bilinear upsampling in the fuse)
outputs all four branches, which the ``FeatureMapProcessor`` neck concatenates.
Layer names are the MMPose state-dict paths (``backbone.stage2.0.fuse_layers.1.0.0.0``, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras

from kpose.errors import ModelError
from kpose.models.backbones.resnet import EXPANSION, basic_block, bottleneck
from kpose.models.layers import conv_module, relu


def conv_bn(x, filters: int, name: str, stride: int = 1, act: bool = True, kernel_size: int = 3):
    """Conv (``name.0``) + BN (``name.1``) [+ ReLU (``name.2``)], MMPose's ``nn.Sequential`` of
    the three: HRNet's transition and fuse unit."""
    act = "relu" if act else None
    return conv_module(x, filters, kernel_size, name, stride, act=act, names=("0", "1", "2"))


def stem(x, stem_channels: int, stage1_blocks: int, stage1_channels: int, name: str):
    """HRNet's stem and stage 1: two 3x3 stride-2 conv + BN + ReLU (``name.conv1`` / ``.bn1``,
    ``.conv2`` / ``.bn2``), then ``stage1_blocks`` Bottlenecks (``name.layer1.{b}``) of output
    width ``4 * stage1_channels``: ``(B, H, W, C) -> (B, H / 4, W / 4, 4 * stage1_channels)``."""
    for i in (1, 2):
        x = conv_module(x, stem_channels, 3, name, 2, names=(f"conv{i}", f"bn{i}", f"bn{i}_relu"))
    for b in range(stage1_blocks):
        x = bottleneck(x, stage1_channels * EXPANSION["bottleneck"], f"{name}.layer1.{b}")
    return x


def transition(xs: list, channels: Sequence[int], name: str, unit: Callable = conv_bn) -> list:
    """Branches of the next stage from the outputs of the previous one.

    Existing branches keep their tensor (``unit(x, filters, name)`` when the width changes);
    each new branch is a chain of ``unit(x, filters, name, stride=2)`` from the
    lowest-resolution branch. HRNet's unit is a 3x3 conv + BN + ReLU (``conv_bn``).
    """
    pre_channels = [int(x.shape[-1]) for x in xs]
    out = []
    for i, ch in enumerate(channels):
        if i < len(xs):
            y = xs[i]
            if pre_channels[i] != ch:
                y = unit(y, ch, f"{name}.{i}")
        else:
            y = xs[-1]
            steps = i + 1 - len(xs)
            for j in range(steps):
                width = ch if j == steps - 1 else pre_channels[-1]
                y = unit(y, width, f"{name}.{i}.{j}", stride=2)
        out.append(y)
    return out


def fuse(
    ys: list,
    i: int,
    name: str,
    down_unit: Callable = conv_bn,
    upsample_mode: str = "nearest",
):
    """Branch ``i`` of a module's fuse (``name.fuse_layers.{i}.{j}``): the sum of every branch
    brought to branch ``i``'s resolution and width, then ReLU. Lower resolutions: 1x1 conv + BN
    + upsampling (``upsample_mode``); higher ones: ``i - j`` stride-2 links
    ``down_unit(x, filters, name, stride=2, act=not last)`` (HRNet: 3x3 conv + BN + ReLU)."""
    channels = [int(y.shape[-1]) for y in ys]
    terms = []
    for j, y in enumerate(ys):
        prefix = f"{name}.fuse_layers.{i}.{j}"
        if j > i:  # lower resolution: 1x1 conv + BN, upsampling
            y = conv_bn(y, channels[i], prefix, act=False, kernel_size=1)
            y = keras.layers.UpSampling2D(
                2 ** (j - i), interpolation=upsample_mode, name=f"{prefix}.2"
            )(y)
        elif j < i:  # higher resolution: (i - j) stride-2 links
            for k in range(i - j):
                last = k == i - j - 1
                width = channels[i] if last else channels[j]
                y = down_unit(y, width, f"{prefix}.{k}", stride=2, act=not last)
        terms.append(y)
    y = keras.layers.Add(name=f"{name}.fuse_layers.{i}_add")(terms)
    return relu(y, f"{name}.fuse_layers.{i}_relu")


def hr_module(
    xs: list,
    channels: Sequence[int],
    num_blocks: int,
    name: str,
    multiscale_output: bool = True,
    upsample_mode: str = "nearest",
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
    return [
        fuse(ys, i, name, upsample_mode=upsample_mode)
        for i in range(len(ys) if multiscale_output else 1)
    ]


def check_stages(family: str, num_modules: Sequence[int], num_blocks: Sequence[int]) -> None:
    """HRNet-style stages 2, 3, 4: one positive module and block count each."""
    if len(num_modules) != 3 or len(num_blocks) != 3 or min(*num_modules, *num_blocks) < 1:
        raise ModelError(
            f"{family}: num_modules and num_blocks need one positive value per stage 2, 3, 4; "
            f"got {tuple(num_modules)} / {tuple(num_blocks)}"
        )


def hrnet(
    width: int = 32,
    num_modules: Sequence[int] = (1, 4, 3),
    num_blocks: Sequence[int] = (4, 4, 4),
    stage1_blocks: int = 4,
    stage1_channels: int = 64,
    in_channels: int = 3,
    stem_channels: int = 64,
    multiscale_output: bool = False,
    upsample_mode: str = "nearest",
    name: str = "backbone",
) -> keras.Model:
    """MMPose's ``HRNet(extra)`` for top-down pose: ``(B, H, W, in_channels)`` ->
    ``(B, H / 4, W / 4, width)``, or with ``multiscale_output`` the four branches
    ``[(B, H / 4 / 2**i, W / 4 / 2**i, width * 2**i) for i in 0..3]``.

    Arguments:
        width: channels of the 1/4-resolution branch; branch i has ``width * 2**i``.
        num_modules: high-resolution modules in stages 2, 3 and 4 (MMPose: 1, 4, 3).
        num_blocks: BasicBlocks per branch in each module of stages 2, 3 and 4.
        stage1_blocks / stage1_channels: Bottlenecks of stage 1 and their inner width
            (output ``4 * stage1_channels``).
        stem_channels: width of the two stride-2 stem convolutions (64 in every MMPose
            HRNet; smaller only for CPU-sized models).
        multiscale_output: the last module of stage 4 fuses into every branch and the model
            returns all four (MMPose's ``stage4.multiscale_output``; HRNetV2).
        upsample_mode: the fuse's upsampling, ``"nearest"`` or ``"bilinear"``
            (``align_corners=False``; MMPose's ``extra.upsample``).

    Example:
        >>> backbone = hrnet(32)            # HRNet-W32: (B, 256, 192, 3) -> (B, 64, 48, 32)
    """
    check_stages("HRNet", num_modules, num_blocks)
    if upsample_mode not in ("nearest", "bilinear"):
        raise ModelError(
            f"HRNet: upsample_mode must be 'nearest' or 'bilinear', got {upsample_mode!r}"
        )
    inputs = keras.Input((None, None, in_channels), name=f"{name}_input")
    x = stem(inputs, stem_channels, stage1_blocks, stage1_channels, name)
    xs = [x]
    for stage, (modules, blocks) in enumerate(zip(num_modules, num_blocks, strict=True)):
        channels = [width * 2**i for i in range(stage + 2)]
        xs = transition(xs, channels, f"{name}.transition{stage + 1}")
        for m in range(modules):
            last = stage == 2 and m == modules - 1
            xs = hr_module(
                xs,
                channels,
                blocks,
                f"{name}.stage{stage + 2}.{m}",
                multiscale_output=multiscale_output or not last,
                upsample_mode=upsample_mode,
            )
    return keras.Model(inputs, xs if multiscale_output else xs[0], name=name)


def hrnet_w32(**kwargs) -> keras.Model:
    """HRNet-W32 of ``coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py``."""
    return hrnet(32, **kwargs)


def hrnet_w48(**kwargs) -> keras.Model:
    """HRNet-W48 of ``coco/td-hm_hrnet-w48_8xb32-210e_coco-256x192.py``."""
    return hrnet(48, **kwargs)


def hrnetv2(width: int = 18, **kwargs) -> keras.Model:
    """HRNetV2 (the face and hand configs' ``HRNet`` with ``stage4.multiscale_output=True`` and
    bilinear fuse upsampling): all four branches out, for the ``FeatureMapProcessor`` neck."""
    kwargs.setdefault("multiscale_output", True)
    kwargs.setdefault("upsample_mode", "bilinear")
    return hrnet(width, **kwargs)


def hrnetv2_w18(**kwargs) -> keras.Model:
    """HRNetV2-W18 of the face and hand configs (``td-hm_hrnetv2-w18_*.py``)."""
    return hrnetv2(18, **kwargs)


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
