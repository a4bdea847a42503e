"""MobileNetV2 (Sandler et al., 2018) as MMPose builds it
(``mmpose/models/backbones/mobilenet_v2.py``).

A 3x3 stride-2 conv stem, seven stages of inverted residuals (a 1x1 expansion, a 3x3
depthwise conv carrying the stride, a linear 1x1 projection; a residual when stride and width
are kept) and a final 1x1 conv to 1280 channels, every conv followed by BN and (except the
projections) ReLU6. ``widen_factor`` scales the stage widths, rounded by ``make_divisible``;
``out_indices`` counts the seven stages and the final conv (7, the configs' choice): stride 32,
1280 channels for ``widen_factor <= 1``. Depthwise convs are ``DepthwiseConv2D`` layers (PyTorch
``Conv2d(groups=C)``, weight ``(C, 1, 3, 3)``). Layer names are MMPose's state-dict paths
(``backbone.layer2.1.conv.1.conv``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from kpose.errors import ModelError
from kpose.models.layers import conv_module, make_divisible

# (expand_ratio, channels, num_blocks, stride) of layer1 .. layer7
ARCH_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def inverted_residual(x, out_channels: int, stride: int, expand_ratio: float, name: str):
    """1x1 expansion to ``round(C * expand_ratio)`` (left out for ratio 1) -> 3x3 depthwise
    (stride) -> linear 1x1 projection, each with BN, ReLU6 after the first two; the input is
    added when ``stride == 1`` and the width is kept (``name.conv.<i>``).
    ``(B, H, W, C) -> (B, H / stride, W / stride, out_channels)``."""
    in_channels = int(x.shape[-1])
    hidden = int(round(in_channels * expand_ratio))
    y, index = x, 0
    if expand_ratio != 1:
        y = conv_module(y, hidden, 1, f"{name}.conv.0", act="relu6")
        index = 1
    y = conv_module(y, hidden, 3, f"{name}.conv.{index}", stride, groups=hidden, act="relu6")
    y = conv_module(y, out_channels, 1, f"{name}.conv.{index + 1}", act=None)
    if stride == 1 and in_channels == out_channels:
        y = keras.layers.Add(name=f"{name}_add")([x, y])
    return y


def mobilenet_v2(
    widen_factor: float = 1.0,
    out_indices: Sequence[int] = (7,),
    in_channels: int = 3,
    name: str = "backbone",
) -> keras.Model:
    """MMPose's ``MobileNetV2(widen_factor, out_indices)``: ``(B, H, W, in_channels)``
    normalised images -> the map of each index in ``out_indices`` (0..6: ``layer1`` ..
    ``layer7``, 7: the final 1x1 conv ``conv2``), in stage order; one tensor for one index,
    else a list. The final conv has ``int(1280 * widen_factor)`` channels for
    ``widen_factor > 1``, else 1280. The layers after the last index are not built (load MMPose
    checkpoints of such a model with ``strict=False``).

    Example:
        >>> backbone = mobilenet_v2()       # (B, 256, 192, 3) -> (B, 8, 6, 1280)
    """
    out_indices = tuple(sorted({int(i) for i in out_indices}))
    if not out_indices or any(not 0 <= i <= 7 for i in out_indices):
        raise ModelError(f"MobileNetV2: out_indices {out_indices} must be in 0..7")
    inputs = keras.Input((None, None, in_channels), name=f"{name}_input")
    x = conv_module(
        inputs, make_divisible(32 * widen_factor, 8), 3, f"{name}.conv1", 2, act="relu6"
    )
    outputs = []
    for i, (expand_ratio, channels, num_blocks, stride) in enumerate(ARCH_SETTINGS):
        if i > out_indices[-1]:
            break
        out_channels = make_divisible(channels * widen_factor, 8)
        for j in range(num_blocks):
            x = inverted_residual(
                x, out_channels, stride if j == 0 else 1, expand_ratio, f"{name}.layer{i + 1}.{j}"
            )
        if i in out_indices:
            outputs.append(x)
    if 7 in out_indices:
        last = int(1280 * widen_factor) if widen_factor > 1.0 else 1280
        outputs.append(conv_module(x, last, 1, f"{name}.conv2", act="relu6"))
    return keras.Model(inputs, outputs[0] if len(outputs) == 1 else outputs, name=name)
