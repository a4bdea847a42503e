"""Lite-HRNet (Yu et al., 2021) as MMPose builds it (``mmpose/models/backbones/litehrnet.py``).

HRNet's parallel multi-resolution branches made cheap: a ShuffleNet-style stem (3x3 stride-2
conv, then one half of the channels through a depthwise stride-2 branch, the other through
expand / depthwise / linear convs, concatenated and channel-shuffled; 1/4 resolution), then
stages of Lite-HR modules. A "LITE" module runs conditional channel weighting blocks: each
branch's channels are split in half; the second halves are weighted across resolutions (all
adaptively average-pooled to the smallest branch's size, concatenated, 1x1 conv + BN + ReLU,
1x1 conv + BN + sigmoid, split, nearest-resized back to each branch and multiplied), then get
a depthwise 3x3 conv + BN and a spatial (squeeze-and-excitation) weighting; the halves are
concatenated and channel-shuffled. ("NAIVE" modules use ShuffleNetV2 units instead.) The fuse
is HRNet's with depthwise-separable stride-2 downsampling; as in MMPose's forward the
1/4-resolution term enters every fused sum twice and the other branches read the fused (pre
ReLU) 1/4-resolution sum, a side effect of MMPose's in-place ``y += ...``. Transitions are
depthwise-separable. With ``with_head`` (every MMPose config) an iterative head runs from the
lowest resolution up (bilinear upsampling, ``align_corners=True``, added to the next branch,
then a depthwise-separable conv); the backbone returns the 1/4-resolution map
``(B, H / 4, W / 4, num_channels[-1][0])``. Resampling follows PyTorch's index rules
(``adaptive_avg_pool2d`` bins for sizes that do not divide, ``nearest`` index rounding).
MMPose's ``with_cp`` (activation checkpointing) and ``norm_eval`` change neither the model nor
its outputs and are not mirrored. Layer names are the MMPose state-dict paths
(``backbone.stage0.0.layers.1.cross_resolution_weighting.conv1.conv``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from kpose.errors import ModelError
from kpose.models.backbones.hrnet import transition
from kpose.models.layers import (
    ChannelShuffle,
    ChannelSplit,
    Resample,
    conv_module,
    relu,
    se_layer,
    separable_conv_bn,
)

MODULE_TYPES = ("LITE", "NAIVE")


def _init() -> keras.initializers.Initializer:
    """MMPose's LiteHRNet ``init_cfg``: convolutions drawn from N(0, 0.001)."""
    return keras.initializers.RandomNormal(stddev=0.001)


def _halves(x, name: str) -> list:
    """``x.chunk(2, dim=1)``: the first and the second half of the channels."""
    channels = int(x.shape[-1])
    if channels % 2:
        raise ModelError(f"{name}: LiteHRNet splits channels in half, got {channels} channels")
    return ChannelSplit([channels // 2] * 2, name=f"{name}_split")(x)


def _conv_module(x, name: str, filters: int | None = None, stride: int = 1, act=None):
    """mmcv's ``ConvModule`` with BN and LiteHRNet's init: a 1x1 conv to ``filters`` channels
    (without ``filters``: a 3x3 depthwise conv) ``name.conv``, BN ``name.bn`` [+ ReLU / sigmoid
    ``name.activate``]."""
    if filters is None:
        channels = int(x.shape[-1])
        return conv_module(x, channels, 3, name, stride, groups=channels, act=act,
                           kernel_initializer=_init())  # fmt: skip
    return conv_module(x, filters, 1, name, act=act, kernel_initializer=_init())


def _separable(x, filters: int, name: str, stride: int = 1, act: bool = True):
    """``separable_conv_bn`` with LiteHRNet's init: the transitions' and fuse layers' unit."""
    return separable_conv_bn(
        x, filters, name, stride, act, depthwise_initializer=_init(), pointwise_initializer=_init()
    )


def _concat_shuffle(parts: list, name: str):
    x = keras.layers.Concatenate(name=f"{name}_concat")(parts)
    return ChannelShuffle(2, name=f"{name}_shuffle")(x)


def stem(x, stem_channels: int, out_channels: int, expand_ratio: float, name: str):
    """MMPose's ``Stem``: ``(B, H, W, C) -> (B, H / 4, W / 4, out_channels)``."""
    x = conv_module(x, stem_channels, 3, f"{name}.conv1", 2, kernel_initializer=_init())
    x1, x2 = _halves(x, name)
    branch_channels = stem_channels // 2
    same = stem_channels == out_channels
    x1 = _conv_module(x1, f"{name}.branch1.0", stride=2)
    inc_channels = out_channels - (branch_channels if same else stem_channels)
    x1 = _conv_module(x1, f"{name}.branch1.1", inc_channels, act="relu")
    mid = int(round(stem_channels * expand_ratio))
    x2 = _conv_module(x2, f"{name}.expand_conv", mid, act="relu")
    x2 = _conv_module(x2, f"{name}.depthwise_conv", stride=2)
    x2 = _conv_module(
        x2, f"{name}.linear_conv", branch_channels if same else stem_channels, act="relu"
    )
    return _concat_shuffle([x1, x2], name)


def cross_resolution_weighting(xs: list, ratio: int, name: str) -> list:
    """Every branch's channels weighted by a gate computed from all branches pooled to the
    smallest one's size; ``xs[i]``: ``(B, H_i, W_i, C_i)``, shapes unchanged."""
    channels = [int(x.shape[-1]) for x in xs]
    total = sum(channels)
    smallest = xs[-1]
    pooled = [
        Resample("adaptive_avg", name=f"{name}_pool{i}")([x, smallest])
        for i, x in enumerate(xs[:-1])
    ]
    y = keras.layers.Concatenate(name=f"{name}_concat")([*pooled, smallest])
    y = _conv_module(y, f"{name}.conv1", int(total / ratio), act="relu")
    y = _conv_module(y, f"{name}.conv2", total, act="sigmoid")
    gates = ChannelSplit(channels, name=f"{name}_split")(y)
    return [
        keras.layers.Multiply(name=f"{name}_scale{i}")(
            [x, Resample("nearest", name=f"{name}_resize{i}")([gate, x])]
        )
        for i, (x, gate) in enumerate(zip(xs, gates, strict=True))
    ]


def conditional_channel_weighting(xs: list, reduce_ratio: int, name: str) -> list:
    """MMPose's ``ConditionalChannelWeighting`` (stride 1): shapes unchanged."""
    halves = [_halves(x, f"{name}.branch{i}") for i, x in enumerate(xs)]
    x2 = cross_resolution_weighting(
        [h[1] for h in halves], reduce_ratio, f"{name}.cross_resolution_weighting"
    )
    out = []
    for i, ((x1, _), y) in enumerate(zip(halves, x2, strict=True)):
        y = _conv_module(y, f"{name}.depthwise_convs.{i}")
        y = se_layer(y, 4, f"{name}.spatial_weighting.{i}")
        out.append(_concat_shuffle([x1, y], f"{name}.branch{i}"))
    return out


def shuffle_unit(x, name: str):
    """MMPose's ``ShuffleUnit`` with stride 1 (ShuffleNetV2): the second half of the channels
    through 1x1 conv + BN + ReLU, 3x3 depthwise + BN, 1x1 conv + BN + ReLU; concat, shuffle."""
    x1, x2 = _halves(x, name)
    width = int(x2.shape[-1])
    x2 = _conv_module(x2, f"{name}.branch2.0", width, act="relu")
    x2 = _conv_module(x2, f"{name}.branch2.1")
    x2 = _conv_module(x2, f"{name}.branch2.2", width, act="relu")
    return _concat_shuffle([x1, x2], name)


def _fuse(xs: list, name: str) -> list:
    """HRNet's fuse with depthwise-separable downsampling, as MMPose's forward computes it.

    MMPose starts branch 0's sum as ``y = out[0]`` and adds in place, so ``out[0]`` is counted
    twice there and becomes that (pre-ReLU) sum, which the other branches then read; they in
    turn start from and re-add branch 0's term (also twice).
    """
    channels = [int(x.shape[-1]) for x in xs]
    fused = []
    first_sum = None
    for i in range(len(xs)):
        terms = []
        for j, x in enumerate(xs):
            prefix = f"{name}.fuse_layers.{i}.{j}"
            if j == 0 and i > 0:
                x = first_sum
            if j > i:  # lower resolution: 1x1 conv + BN, nearest upsampling
                x = conv_module(x, channels[i], 1, prefix, act=None, kernel_initializer=_init(),
                                names=("0", "1", "2"))  # fmt: skip
                x = keras.layers.UpSampling2D(
                    2 ** (j - i), interpolation="nearest", name=f"{prefix}.2"
                )(x)
            elif j < i:  # higher resolution: (i - j) depthwise-separable stride-2 steps
                for k in range(i - j):
                    last = k == i - j - 1
                    x = _separable(
                        x, channels[i] if last else channels[j], f"{prefix}.{k}", 2, not last
                    )
            terms.extend([x, x] if j == 0 else [x])
        y = keras.layers.Add(name=f"{name}.fuse_layers.{i}_add")(terms)
        if i == 0:
            first_sum = y
        fused.append(relu(y, f"{name}.fuse_layers.{i}_relu"))
    return fused


def lite_hr_module(
    xs: list, num_blocks: int, reduce_ratio: int, module_type: str, with_fuse: bool, name: str
) -> list:
    """MMPose's ``LiteHRModule``: ``num_blocks`` weighting blocks ("LITE") or ShuffleUnits per
    branch ("NAIVE"), then the fuse. ``xs[i]``: ``(B, H / 2**i, W / 2**i, C_i)``."""
    if module_type == "LITE":
        for b in range(num_blocks):
            xs = conditional_channel_weighting(xs, reduce_ratio, f"{name}.layers.{b}")
    else:
        branches = []
        for i, x in enumerate(xs):
            for b in range(num_blocks):
                x = shuffle_unit(x, f"{name}.layers.{i}.{b}")
            branches.append(x)
        xs = branches
    return _fuse(xs, name) if with_fuse else xs


def iterative_head(xs: list, name: str):
    """MMPose's ``IterativeHead``: from the lowest resolution up, each branch plus the previous
    result (bilinear, ``align_corners=True``) through a depthwise-separable conv (ReLU after
    the pointwise conv) to the next branch's width; returns the highest-resolution result."""
    xs = xs[::-1]
    channels = [int(x.shape[-1]) for x in xs]
    last = None
    for i, x in enumerate(xs):
        prefix = f"{name}.projects.{i}"
        if last is not None:
            up = Resample("bilinear", name=f"{prefix}_resize")([last, x])
            x = keras.layers.Add(name=f"{prefix}_add")([x, up])
        x = _conv_module(x, f"{prefix}.depthwise_conv")
        out = channels[i + 1] if i + 1 < len(xs) else channels[i]
        last = _conv_module(x, f"{prefix}.pointwise_conv", out, act="relu")
    return last


def litehrnet(
    num_modules: Sequence[int] = (2, 4, 2),
    num_branches: Sequence[int] = (2, 3, 4),
    num_blocks: Sequence[int] = (2, 2, 2),
    module_type: Sequence[str] = ("LITE", "LITE", "LITE"),
    with_fuse: Sequence[bool] = (True, True, True),
    reduce_ratios: Sequence[int] = (8, 8, 8),
    num_channels: Sequence[Sequence[int]] = ((40, 80), (40, 80, 160), (40, 80, 160, 320)),
    stem_channels: int = 32,
    stem_out_channels: int = 32,
    expand_ratio: float = 1.0,
    with_head: bool = True,
    in_channels: int = 3,
    name: str = "backbone",
) -> keras.Model:
    """MMPose's ``LiteHRNet(extra)``: ``(B, H, W, in_channels)`` ->
    ``(B, H / 4, W / 4, num_channels[-1][0])``.

    Arguments are the fields of MMPose's ``extra`` dict, flattened: ``stages_spec``'s
    per-stage tuples (their length is ``num_stages``), ``extra.stem``'s ``stem_channels`` /
    ``out_channels`` (here ``stem_out_channels``) / ``expand_ratio``, and ``with_head``.
    Defaults are LiteHRNet-18. With fuse layers, H and W must be multiples of
    ``4 * 2 ** (num_branches - 1)`` (MMPose's upsampling fails otherwise too).

    Example:
        >>> backbone = litehrnet()          # LiteHRNet-18: (B, 256, 192, 3) -> (B, 64, 48, 40)
    """
    spec = {
        "num_modules": num_modules, "num_branches": num_branches, "num_blocks": num_blocks,
        "module_type": module_type, "with_fuse": with_fuse, "reduce_ratios": reduce_ratios,
        "num_channels": num_channels,
    }  # fmt: skip
    num_stages = len(num_modules)
    if num_stages < 1 or any(len(v) != num_stages for v in spec.values()):
        raise ModelError(
            "LiteHRNet: the stage settings need one value per stage, got "
            + ", ".join(f"{k}={tuple(v)}" for k, v in spec.items())
        )
    for i in range(num_stages):
        if module_type[i].upper() not in MODULE_TYPES:
            raise ModelError(f"LiteHRNet: module_type[{i}] must be 'LITE' or 'NAIVE', got "
                             f"{module_type[i]!r}")  # fmt: skip
        if not 2 <= num_branches[i] == len(num_channels[i]):
            raise ModelError(
                f"LiteHRNet stage {i}: num_branches {num_branches[i]} must be >= 2 and match "
                f"num_channels {tuple(num_channels[i])}"
            )
    inputs = keras.Input((None, None, in_channels), name=f"{name}_input")
    xs = [stem(inputs, stem_channels, stem_out_channels, expand_ratio, f"{name}.stem")]
    for i in range(num_stages):
        xs = transition(xs, num_channels[i], f"{name}.transition{i}", _separable)
        for m in range(num_modules[i]):
            xs = lite_hr_module(
                xs,
                num_blocks[i],
                reduce_ratios[i],
                module_type[i].upper(),
                bool(with_fuse[i]),
                f"{name}.stage{i}.{m}",
            )
    x = iterative_head(xs, f"{name}.head_layer") if with_head else xs[0]
    return keras.Model(inputs, x, name=name)


def litehrnet_18(**kwargs) -> keras.Model:
    """LiteHRNet-18 of ``coco/td-hm_litehrnet-18_8xb64-210e_coco-256x192.py``."""
    kwargs.setdefault("num_modules", (2, 4, 2))
    return litehrnet(**kwargs)


def litehrnet_30(**kwargs) -> keras.Model:
    """LiteHRNet-30 of ``coco/td-hm_litehrnet-30_8xb64-210e_coco-256x192.py``."""
    kwargs.setdefault("num_modules", (3, 8, 3))
    return litehrnet(**kwargs)
