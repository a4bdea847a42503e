"""ShuffleNetV1 (Zhang et al., 2018) as MMPose builds it
(``mmpose/models/backbones/shufflenet_v1.py``).

A 3x3 stride-2 conv stem (BN, ReLU) and a 3x3 stride-2 max pool, then three stages of 4, 8 and
4 shuffle units: a grouped 1x1 conv to a quarter of the output width (BN, ReLU), a 3x3
depthwise conv (BN), a channel shuffle, a grouped 1x1 conv (BN). The first unit of a stage has
stride 2 and concatenates a 3x3 stride-2 average pool of its input (zero padding counted, as
PyTorch's ``AvgPool2d`` default) after the ReLU of its branch, whose width is the output width
minus the input width; the others add their input, then ReLU. The very first unit's
compressing 1x1 conv is not grouped (the stem has only 24 channels). The shuffle is PyTorch's
``view(B, g, C / g, H, W).transpose(1, 2)``: output channel ``j * g + i`` is input channel
``i * C / g + j`` (``layers.ChannelShuffle``). ``groups`` picks the widths (3:
240, 480, 960), ``widen_factor`` scales them; the configs take the last stage
(``out_indices=(2,)``), stride 32. Layer names are MMPose's state-dict paths
(``backbone.layers.1.0.g_conv_1x1_compress.conv``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from kpose.errors import ModelError
from kpose.models.layers import ChannelShuffle, conv_module, make_divisible, max_pool2d

# groups -> output widths of the three stages
CHANNELS = {
    1: (144, 288, 576),
    2: (200, 400, 800),
    3: (240, 480, 960),
    4: (272, 544, 1088),
    8: (384, 768, 1536),
}
STAGE_BLOCKS = (4, 8, 4)


def conv_unit(
    x,
    filters: int,
    kernel_size: int,
    name: str,
    stride: int = 1,
    groups: int = 1,
    act: str | None = "relu",
    stddev: float | None = None,
):
    """``conv_module`` with MMPose's ShuffleNet init from scratch: normal weights of std
    ``1 / (in / groups)`` (1 for depthwise convs; the stem's ``stddev`` is 0.01). ShuffleNetV2
    initialises the same way."""
    stddev = stddev or groups / int(x.shape[-1])
    init = keras.initializers.RandomNormal(stddev=stddev)
    return conv_module(x, filters, kernel_size, name, stride, groups=groups, act=act,
                       kernel_initializer=init)  # fmt: skip


def shuffle_unit(x, out_channels: int, groups: int, first_block: bool, combine: str, name: str):
    """MMPose's ``ShuffleUnit``. ``combine="add"``: stride 1, ``out_channels`` must be the input
    width; ``"concat"``: stride 2, the branch gives ``out_channels - C`` channels next to the
    average-pooled input. ``first_block`` leaves the compressing 1x1 conv ungrouped.
    ``(B, H, W, C) -> (B, H / stride, W / stride, out_channels)``."""
    in_channels = int(x.shape[-1])
    bottleneck = out_channels // 4
    if combine == "add":
        if in_channels != out_channels:
            raise ModelError(
                f"{name}: 'add' needs in == out channels, got {in_channels} / {out_channels}"
            )
        stride, branch_channels = 1, out_channels
    elif combine == "concat":
        stride, branch_channels = 2, out_channels - in_channels
    else:
        raise ModelError(f"{name}: combine must be 'add' or 'concat', got {combine!r}")
    conv = conv_unit
    y = conv(x, bottleneck, 1, f"{name}.g_conv_1x1_compress", groups=1 if first_block else groups)
    y = conv(y, bottleneck, 3, f"{name}.depthwise_conv3x3_bn", stride, bottleneck, None)
    if groups > 1:
        y = ChannelShuffle(groups, name=f"{name}_shuffle")(y)
    y = conv(y, branch_channels, 1, f"{name}.g_conv_1x1_expand", groups=groups, act=None)
    if combine == "concat":
        # AvgPool2d(3, 2, padding=1) counts the zero padding: pad, then a valid pool.
        shortcut = keras.layers.ZeroPadding2D(1, name=f"{name}.avgpool_pad")(x)
        shortcut = keras.layers.AveragePooling2D(3, strides=2, name=f"{name}.avgpool")(shortcut)
        y = keras.layers.ReLU(name=f"{name}.act")(y)
        return keras.layers.Concatenate(name=f"{name}_concat")([shortcut, y])
    y = keras.layers.Add(name=f"{name}_add")([x, y])
    return keras.layers.ReLU(name=f"{name}.act")(y)


def shufflenet_v1(
    groups: int = 3,
    widen_factor: float = 1.0,
    out_indices: Sequence[int] = (2,),
    in_channels: int = 3,
    name: str = "backbone",
) -> keras.Model:
    """MMPose's ``ShuffleNetV1(groups, widen_factor, out_indices)``: ``(B, H, W, in_channels)``
    normalised images -> the map of each stage in ``out_indices`` (0..2, strides 8, 16, 32), in
    stage order; one tensor for one index, else a list. Stages after the last index are not
    built (load MMPose checkpoints of such a model with ``strict=False``).

    Example:
        >>> backbone = shufflenet_v1(groups=3)  # (B, 256, 192, 3) -> (B, 8, 6, 960)
    """
    if groups not in CHANNELS:
        raise ModelError(f"ShuffleNetV1: groups must be one of {sorted(CHANNELS)}, got {groups}")
    out_indices = tuple(sorted({int(i) for i in out_indices}))
    if not out_indices or any(not 0 <= i <= 2 for i in out_indices):
        raise ModelError(f"ShuffleNetV1: out_indices {out_indices} must be in 0..2")
    channels = [make_divisible(c * widen_factor, 8) for c in CHANNELS[groups]]
    inputs = keras.Input((None, None, in_channels), name=f"{name}_input")
    x = conv_unit(inputs, int(24 * widen_factor), 3, f"{name}.conv1", stride=2, stddev=0.01)
    x = max_pool2d(x, f"{name}.maxpool")
    outputs = []
    for i in range(out_indices[-1] + 1):
        for j in range(STAGE_BLOCKS[i]):
            x = shuffle_unit(
                x,
                channels[i],
                groups,
                first_block=i == 0 and j == 0,
                combine="concat" if j == 0 else "add",
                name=f"{name}.layers.{i}.{j}",
            )
        if i in out_indices:
            outputs.append(x)
    return keras.Model(inputs, outputs[0] if len(outputs) == 1 else outputs, name=name)
