"""ShuffleNetV2 (Ma et al., 2018) as MMPose builds it
(``mmpose/models/backbones/shufflenet_v2.py``).

A 3x3 stride-2 conv stem to 24 channels (BN, ReLU) and a 3x3 stride-2 max pool, three stages
of 4, 8 and 4 units, and a final 1x1 conv (BN, ReLU; ``backbone.layers.3``). A unit's branch 2
is 1x1 conv (BN, ReLU) -> 3x3 depthwise (BN) -> 1x1 conv (BN, ReLU), half the output width.
The first unit of a stage has stride 2 and a branch 1 on the whole input (3x3 depthwise stride
2 (BN) -> 1x1 conv (BN, ReLU)); the others split the channels in two halves, keep the first
and feed the second to branch 2. Both halves are concatenated (branch 1 first) and shuffled in
two groups as PyTorch's ``channel_shuffle`` does (``layers.ChannelShuffle``).
``widen_factor`` picks the widths (1.0: 116, 232, 464, final 1024); the configs take the final
conv (``out_indices=(3,)``), stride 32. Layer names are MMPose's state-dict paths
(``backbone.layers.0.0.branch2.1.conv``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from kpose.errors import ModelError
from kpose.models.layers import ChannelShuffle, ChannelSplit, conv_module, max_pool2d

# widen_factor -> widths of the three stages and of the final 1x1 conv
CHANNELS = {
    0.5: (48, 96, 192, 1024),
    1.0: (116, 232, 464, 1024),
    1.5: (176, 352, 704, 1024),
    2.0: (244, 488, 976, 2048),
}
STAGE_BLOCKS = (4, 8, 4)
STEM_CHANNELS = 24


def _conv(x, filters, kernel_size, name, stride=1, groups=1, act="relu", stddev=None):
    """``conv_module`` with MMPose's ShuffleNet init from scratch: normal weights of std
    ``groups / in_channels`` (the stem's ``stddev`` is 0.01)."""
    init = keras.initializers.RandomNormal(stddev=stddev or groups / int(x.shape[-1]))
    return conv_module(x, filters, kernel_size, name, stride, groups=groups, act=act,
                       kernel_initializer=init)  # fmt: skip


def inverted_residual(x, out_channels: int, stride: int, name: str):
    """MMPose's ShuffleNetV2 ``InvertedResidual``: ``(B, H, W, C) -> (B, H / stride,
    W / stride, out_channels)``; stride 1 needs ``C == out_channels``."""
    in_channels = int(x.shape[-1])
    branch = out_channels // 2
    if stride == 1 and in_channels != 2 * branch:
        raise ModelError(f"{name}: stride 1 needs {2 * branch} input channels, got {in_channels}")
    conv = _conv
    if stride > 1:
        left = conv(x, in_channels, 3, f"{name}.branch1.0", stride, in_channels, None)
        left = conv(left, branch, 1, f"{name}.branch1.1")
        right = x
    else:
        left, right = ChannelSplit([branch, branch], name=f"{name}_split")(x)
    right = conv(right, branch, 1, f"{name}.branch2.0")
    right = conv(right, branch, 3, f"{name}.branch2.1", stride, branch, None)
    right = conv(right, branch, 1, f"{name}.branch2.2")
    y = keras.layers.Concatenate(name=f"{name}_concat")([left, right])
    return ChannelShuffle(2, name=f"{name}_shuffle")(y)


def shufflenet_v2(
    widen_factor: float = 1.0,
    out_indices: Sequence[int] = (3,),
    in_channels: int = 3,
    name: str = "backbone",
) -> keras.Model:
    """MMPose's ``ShuffleNetV2(widen_factor, out_indices)``: ``(B, H, W, in_channels)``
    normalised images -> the map of each index in ``out_indices`` (0..2: the stages, strides
    8, 16, 32; 3: the final 1x1 conv), in stage order; one tensor for one index, else a list.
    Layers after the last index are not built (load MMPose checkpoints of such a model with
    ``strict=False``).

    Example:
        >>> backbone = shufflenet_v2()      # (B, 256, 192, 3) -> (B, 8, 6, 1024)
    """
    if widen_factor not in CHANNELS:
        raise ModelError(
            f"ShuffleNetV2: widen_factor must be one of {sorted(CHANNELS)}, got {widen_factor}"
        )
    out_indices = tuple(sorted({int(i) for i in out_indices}))
    if not out_indices or any(not 0 <= i <= 3 for i in out_indices):
        raise ModelError(f"ShuffleNetV2: out_indices {out_indices} must be in 0..3")
    channels = CHANNELS[widen_factor]
    inputs = keras.Input((None, None, in_channels), name=f"{name}_input")
    x = _conv(inputs, STEM_CHANNELS, 3, f"{name}.conv1", stride=2, stddev=0.01)
    x = max_pool2d(x, f"{name}.maxpool")
    outputs = []
    for i in range(min(out_indices[-1] + 1, len(STAGE_BLOCKS))):
        for j in range(STAGE_BLOCKS[i]):
            x = inverted_residual(x, channels[i], 2 if j == 0 else 1, f"{name}.layers.{i}.{j}")
        if i in out_indices:
            outputs.append(x)
    if 3 in out_indices:
        outputs.append(_conv(x, channels[3], 1, f"{name}.layers.3"))
    return keras.Model(inputs, outputs[0] if len(outputs) == 1 else outputs, name=name)
