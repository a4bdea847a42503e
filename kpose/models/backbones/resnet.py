"""ResNet (He et al., 2016) as MMPose builds it (``mmpose/models/backbones/resnet.py``).

The SimpleBaseline backbones of MMPose's ``td-hm_res{50,101,152}`` configs: a 7x7 stride-2 stem
with BN + ReLU and a 3x3 stride-2 max pool, then four stages of BasicBlocks (depth 18/34) or
Bottlenecks (50/101/152), ``style="pytorch"`` putting the stride on the 3x3 convolution. The
backbone returns the last stage's feature map (MMPose's default ``out_indices=(3,)``), stride 32.
Layer names are the MMPose state-dict paths (``backbone.layer1.0.conv1``, ...).
``basic_block`` and ``bottleneck`` are shared with HRNet, as in MMPose.

``ResNetV1d`` (``resnetv1d*``) replaces the stem by three 3x3 conv + BN + ReLU
(``backbone.stem.{0,1,2}``) and strides the shortcut with a 2x2 average pool (ceil mode, padding
not counted) before its 1x1 conv (``avg_down``). The bottleneck's ``groups`` /
``width_per_group`` (ResNeXt) and ``se_ratio`` (SEResNet's squeeze-and-excitation after the
last BN) are used by ``resnext.py`` and ``seresnet.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from kpose.errors import ModelError
from kpose.models.layers import batch_norm, conv2d, conv_module, max_pool2d, relu, se_layer

# depth -> (block, blocks per stage)
ARCH_SETTINGS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
EXPANSION = {"basic": 1, "bottleneck": 4}


def downsample(x, out_channels: int, stride: int, name: str, avg_down: bool = False):
    """MMPose's ResNet shortcut ``name.downsample``: 1x1 conv (stride) + BN, or with
    ``avg_down`` a stride x stride average pool (ceil mode, padding not counted: TF's "same"
    pooling) before a stride-1 conv."""
    index = 0
    if avg_down and stride != 1:
        x = keras.layers.AveragePooling2D(
            stride, strides=stride, padding="same", name=f"{name}.downsample.0"
        )(x)
        index, stride = 1, 1
    names = (str(index), str(index + 1), "")
    return conv_module(x, out_channels, 1, f"{name}.downsample", stride, act=None, names=names)


def _conv_bn(x, filters: int, kernel_size: int, name: str, index: int, stride=1, groups=1):
    """A block's ``conv{index}`` + ``bn{index}`` + ReLU (``bn{index}_relu``)."""
    names = (f"conv{index}", f"bn{index}", f"bn{index}_relu")
    return conv_module(x, filters, kernel_size, name, stride, groups=groups, names=names)


def add_residual(y, shortcut, name: str):
    """The end of every ResNet-style block: ``relu(y + shortcut)`` (``name_add``, ``name_relu``)."""
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return relu(y, f"{name}_relu")


def basic_block(x, out_channels: int, name: str, stride: int = 1, zero_init_residual=False):
    """3x3 conv (stride) -> BN -> ReLU -> 3x3 conv -> BN, plus the shortcut, then ReLU.

    A ``downsample`` (1x1 conv + BN) shortcut is added when the stride or width changes.
    ``(B, H, W, C) -> (B, H / stride, W / stride, out_channels)``.
    """
    shortcut = x
    if stride != 1 or x.shape[-1] != out_channels:
        shortcut = downsample(x, out_channels, stride, name)
    y = _conv_bn(x, out_channels, 3, name, 1, stride)
    y = conv2d(y, out_channels, 3, f"{name}.conv2", padding=1)
    y = batch_norm(y, f"{name}.bn2", "zeros" if zero_init_residual else "ones")
    return add_residual(y, shortcut, name)


def bottleneck_width(
    out_channels: int, groups: int = 1, width_per_group: int = 4, base_channels: int = 64
) -> int:
    """The inside width of a bottleneck of ``out_channels``: ``out_channels / 4``, for ResNeXt
    (``groups > 1``) ``groups * width_per_group * (out_channels / 4) / base_channels``."""
    mid = out_channels // EXPANSION["bottleneck"]
    return groups * width_per_group * mid // base_channels if groups != 1 else mid


def style_strides(style: str, stride: int, name: str) -> tuple[int, int]:
    """The strides of a bottleneck's first and middle conv: ``style="pytorch"`` strides the 3x3
    conv, ``"caffe"`` the first 1x1 conv."""
    if style not in ("pytorch", "caffe"):
        raise ModelError(f"{name}: style must be 'pytorch' or 'caffe', got {style!r}")
    return (1, stride) if style == "pytorch" else (stride, 1)


def bottleneck(
    x,
    out_channels: int,
    name: str,
    stride: int = 1,
    zero_init_residual=False,
    style: str = "pytorch",
    avg_down: bool = False,
    groups: int = 1,
    width_per_group: int = 4,
    base_channels: int = 64,
    se_ratio: int | None = None,
):
    """1x1 -> 3x3 -> 1x1 convolutions (each with BN, ReLU after the first two), width
    ``bottleneck_width(...)`` inside, plus the shortcut, then ReLU.

    ``style``: see ``style_strides``. ResNeXt (``groups > 1``): the 3x3 conv is grouped.
    ``se_ratio``: SEResNet's squeeze-and-excitation on the block's output before the shortcut
    is added. ``(B, H, W, C) -> (B, H / stride, W / stride, out_channels)``.
    """
    stride1, stride2 = style_strides(style, stride, name)
    mid = bottleneck_width(out_channels, groups, width_per_group, base_channels)
    shortcut = x
    if stride != 1 or x.shape[-1] != out_channels:
        shortcut = downsample(x, out_channels, stride, name, avg_down)
    y = _conv_bn(x, mid, 1, name, 1, stride1)
    y = _conv_bn(y, mid, 3, name, 2, stride2, groups)
    y = conv2d(y, out_channels, 1, f"{name}.conv3")
    y = batch_norm(y, f"{name}.bn3", "zeros" if zero_init_residual else "ones")
    if se_ratio:
        y = se_layer(y, se_ratio, f"{name}.se_layer")
    return add_residual(y, shortcut, name)


def stem(x, stem_channels: int, deep_stem: bool, name: str):
    """ResNet's stem, stride 4: a 7x7 stride-2 conv + BN + ReLU (``name.conv1`` / ``.bn1``), or
    with ``deep_stem`` (ResNetV1d, ResNeSt) three 3x3 ConvModules (``name.stem.{0,1,2}``, the
    first strided), then a 3x3 stride-2 max pool with padding 1."""
    if deep_stem:
        for i, (channels, stride) in enumerate(
            ((stem_channels // 2, 2), (stem_channels // 2, 1), (stem_channels, 1))
        ):
            x = conv_module(x, channels, 3, f"{name}.stem.{i}", stride)
    else:
        x = conv_module(x, stem_channels, 7, name, 2, names=("conv1", "bn1", "relu"))
    return max_pool2d(x, f"{name}.maxpool")


def res_layer(
    x,
    block,
    num_blocks: int,
    out_channels: int,
    name: str,
    stride: int = 1,
    style: str = "pytorch",
    zero_init_residual: bool = False,
    **block_args,
):
    """``num_blocks`` blocks named ``<name>.0``, ``<name>.1``, ...; the first one strides.

    ``block`` is "basic", "bottleneck" (``block_args`` and ``style`` go to ``bottleneck``:
    ``avg_down``, ``groups``, ``se_ratio``, ...) or another family's block function
    ``f(x, out_channels, name, stride, zero_init_residual, **block_args)`` (ResNeSt, SCNet).
    """
    if callable(block):
        make, kwargs = block, block_args
    elif block == "bottleneck":
        make, kwargs = bottleneck, {"style": style, **block_args}
    else:
        make, kwargs = basic_block, {}
    for i in range(num_blocks):
        x = make(
            x,
            out_channels,
            f"{name}.{i}",
            stride=stride if i == 0 else 1,
            zero_init_residual=zero_init_residual,
            **kwargs,
        )
    return x


def check_arch(
    family: str, depth: int, arch_settings: dict, num_stages: int, strides: Sequence[int]
) -> None:
    """The ``depth`` / ``num_stages`` / ``strides`` checks of MMPose's ResNet and its
    subclasses (ResNeSt, SCNet): a known depth, 1..4 stages with one stride each."""
    if depth not in arch_settings:
        raise ModelError(f"{family} depth must be one of {sorted(arch_settings)}, got {depth}")
    if not 1 <= num_stages <= 4 or len(strides) < num_stages:
        raise ModelError(
            f"{family}: num_stages must be 1..4 with one stride each, got {num_stages} / {strides}"
        )


def res_stages(
    x,
    block,
    stage_blocks: Sequence[int],
    out_channels: int,
    strides: Sequence[int],
    name: str,
    zero_init_residual: bool,
    **block_args,
):
    """ResNet's stages ``name.layer{i + 1}``: ``res_layer`` of ``stage_blocks[i]`` blocks with
    ``strides[i]``, the width doubling from ``out_channels`` at each stage."""
    for i, num_blocks in enumerate(stage_blocks):
        x = res_layer(
            x, block, num_blocks, out_channels, f"{name}.layer{i + 1}", stride=strides[i],
            zero_init_residual=zero_init_residual, **block_args,
        )  # fmt: skip
        out_channels *= 2
    return x


def resnet(
    depth: int = 50,
    in_channels: int = 3,
    stem_channels: int = 64,
    base_channels: int = 64,
    num_stages: int = 4,
    strides: Sequence[int] = (1, 2, 2, 2),
    style: str = "pytorch",
    zero_init_residual: bool = True,
    deep_stem: bool = False,
    avg_down: bool = False,
    groups: int = 1,
    width_per_group: int = 4,
    se_ratio: int | None = None,
    name: str = "backbone",
) -> keras.Model:
    """MMPose's ``ResNet(depth, ...)``: ``(B, H, W, in_channels)`` -> the last stage's map
    ``(B, H / 32, W / 32, base_channels * expansion * 2 ** (num_stages - 1))``.

    Arguments mirror MMPose's; ``zero_init_residual`` starts each block's last BN at gamma 0 (as
    MMPose initialises training from scratch); ``deep_stem`` / ``avg_down`` make ResNetV1d;
    ``groups`` / ``width_per_group`` (ResNeXt) and ``se_ratio`` (SEResNet) go to every
    bottleneck (BasicBlocks ignore them).
    Inputs are normalised images (see ``kpose.models.build``).

    Example:
        >>> backbone = resnet(50)           # (B, 256, 192, 3) -> (B, 8, 6, 2048)
    """
    check_arch("ResNet", depth, ARCH_SETTINGS, num_stages, strides)
    block, stage_blocks = ARCH_SETTINGS[depth]
    inputs = keras.Input((None, None, in_channels), name=f"{name}_input")
    x = stem(inputs, stem_channels, deep_stem, name)
    block_args = {}
    if block == "bottleneck":
        block_args = {
            "style": style, "avg_down": avg_down, "base_channels": base_channels,
            "groups": groups, "width_per_group": width_per_group, "se_ratio": se_ratio,
        }  # fmt: skip
    x = res_stages(
        x, block, stage_blocks[:num_stages], base_channels * EXPANSION[block], strides, name,
        zero_init_residual, **block_args,
    )  # fmt: skip
    return keras.Model(inputs, x, name=name)


def resnet18(**kwargs) -> keras.Model:
    return resnet(18, **kwargs)


def resnet34(**kwargs) -> keras.Model:
    return resnet(34, **kwargs)


def resnet50(**kwargs) -> keras.Model:
    return resnet(50, **kwargs)


def resnet101(**kwargs) -> keras.Model:
    return resnet(101, **kwargs)


def resnet152(**kwargs) -> keras.Model:
    return resnet(152, **kwargs)


def resnetv1d(depth: int = 50, **kwargs) -> keras.Model:
    """MMPose's ``ResNetV1d``: ``resnet`` with the deep stem and average-pool shortcuts."""
    return resnet(depth, deep_stem=True, avg_down=True, **kwargs)


def resnetv1d50(**kwargs) -> keras.Model:
    return resnetv1d(50, **kwargs)


def resnetv1d101(**kwargs) -> keras.Model:
    return resnetv1d(101, **kwargs)


def resnetv1d152(**kwargs) -> keras.Model:
    return resnetv1d(152, **kwargs)
