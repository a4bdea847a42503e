"""ViPNAS-MobileNetV3 (Xu et al., 2021) as MMPose builds it
(``mmpose/models/backbones/vipnas_mbv3.py``).

The MobileNetV3 layout that ViPNAS' architecture search tuned per stage: a 3x3 stride-2 stem
ConvModule (16 channels, hard swish), then six stages of MMPose's inverted residuals (1x1
expansion ConvModule, left out for ratio 1 -> ``kernel_size`` grouped conv with the stride ->
optional squeeze-and-excitation -> linear 1x1 ConvModule; the input is added when the stride is
1 and the width kept). Widths, expansion ratios, depths, kernel sizes, group counts (depthwise
only where a stage's groups equal its inner width), SE and activations (ReLU or hard swish) are
the searched ones; the output is the last block's map, stride 32, 160 channels. The SE is
MMPose's ``SELayer(ratio=4)`` with a ReLU and mmcv's ``HSigmoid(bias=1, divisor=2)``, i.e.
``clip((x + 1) / 2, 0, 1)``. Blocks are numbered across stages as in MMPose
(``backbone.layer1`` .. ``backbone.layer21``).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from kpose.errors import ModelError
from kpose.models.layers import conv_module


@keras.saving.register_keras_serializable(package="kpose")
class HardSigmoid(keras.layers.Layer):
    """mmcv's ``HSigmoid(bias, divisor, min_value, max_value)``:
    ``clip((x + bias) / divisor, min_value, max_value)`` (Keras' ``hard_sigmoid`` is the
    ``bias=3, divisor=6`` one). Any shape in and out."""

    def __init__(
        self,
        bias: float = 3.0,
        divisor: float = 6.0,
        min_value: float = 0.0,
        max_value: float = 1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if divisor == 0:
            raise ModelError(f"{self.name}: divisor must not be 0")
        self.bias, self.divisor = float(bias), float(divisor)
        self.min_value, self.max_value = float(min_value), float(max_value)

    def call(self, x):
        return ops.clip((x + self.bias) / self.divisor, self.min_value, self.max_value)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "bias": self.bias,
            "divisor": self.divisor,
            "min_value": self.min_value,
            "max_value": self.max_value,
        }


def squeeze_excitation(x, ratio: int, name: str):
    """MMPose's ``SELayer(C, ratio, act_cfg=(ReLU, HSigmoid(bias=1, divisor=2)))``: global
    average -> 1x1 conv (``int(C / ratio)``, bias) + ReLU -> 1x1 conv (C, bias) + hard sigmoid,
    scaling the input channels (``name.conv1.conv``, ``name.conv2.conv``)."""
    channels = int(x.shape[-1])
    y = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}.global_avgpool")(x)
    y = conv_module(y, int(channels / ratio), 1, f"{name}.conv1", norm=False)
    y = conv_module(y, channels, 1, f"{name}.conv2", norm=False, act=None)
    y = HardSigmoid(1.0, 2.0, name=f"{name}.conv2.activate")(y)
    return keras.layers.Multiply(name=f"{name}_scale")([x, y])


def inverted_residual(
    x,
    out_channels: int,
    mid_channels: int,
    name: str,
    kernel_size: int = 3,
    groups: int | None = None,
    stride: int = 1,
    se_ratio: int | None = None,
    act: str = "relu",
    with_expand_conv: bool = True,
):
    """MMPose's ``InvertedResidual`` (``mmpose/models/backbones/utils``): a 1x1 ConvModule to
    ``mid_channels`` (``name.expand_conv``; without ``with_expand_conv`` there is none and
    ``mid_channels`` must be the input width) -> ``kernel_size`` ConvModule with ``groups``
    (None: depthwise) and the stride (``name.depthwise_conv``) -> ``squeeze_excitation`` with
    ``se_ratio`` (``name.se``) -> 1x1 ConvModule without activation (``name.linear_conv``),
    plus the input when the stride is 1 and the width kept. ``act`` follows each ConvModule but
    the last.
    ``(B, H, W, C) -> (B, H / stride, W / stride, out_channels)``.
    """
    in_channels = int(x.shape[-1])
    groups = mid_channels if groups is None else int(groups)
    if stride not in (1, 2) or mid_channels % groups:
        raise ModelError(
            f"{name}: stride must be 1 or 2 and {mid_channels} channels divide into groups, "
            f"got stride {stride}, groups {groups}"
        )
    if not with_expand_conv and mid_channels != in_channels:
        raise ModelError(
            f"{name}: without an expansion conv the inner width {mid_channels} must be the "
            f"input width {in_channels} (expand ratio 1 needs the previous stage's width)"
        )
    y = x
    if with_expand_conv:
        y = conv_module(y, mid_channels, 1, f"{name}.expand_conv", act=act)
    y = conv_module(
        y, mid_channels, kernel_size, f"{name}.depthwise_conv", stride, groups=groups, act=act
    )
    if se_ratio:
        y = squeeze_excitation(y, se_ratio, f"{name}.se")
    y = conv_module(y, out_channels, 1, f"{name}.linear_conv", act=None)
    if stride == 1 and in_channels == out_channels:
        y = keras.layers.Add(name=f"{name}_add")([x, y])
    return y


def vipnas_mbv3(
    in_channels: int = 3,
    stem_channels: int = 16,
    stem_kernel_size: int = 3,
    stem_stride: int = 2,
    stem_act: str = "hard_silu",
    stage_widths: Sequence[int] = (16, 24, 40, 80, 112, 160),
    expand_ratios: Sequence[int] = (1, 5, 4, 5, 5, 6),
    stage_blocks: Sequence[int] = (1, 4, 4, 4, 4, 4),
    kernel_sizes: Sequence[int] = (3, 7, 7, 5, 7, 5),
    groups: Sequence[int] = (8, 120, 20, 100, 280, 240),
    attention: Sequence[bool] = (True, True, False, True, True, True),
    strides: Sequence[int] = (1, 2, 2, 2, 1, 2),
    activations: Sequence[str] = ("relu", "relu", "relu", "hard_silu", "hard_silu", "hard_silu"),
    name: str = "backbone",
) -> keras.Model:
    """MMPose's ``ViPNAS_MobileNetV3()``: ``(B, H, W, in_channels)`` normalised images ->
    the last block's map, by default ``(B, H / 32, W / 32, 160)``.

    MMPose's searched lists ``wid``, ``expan``, ``dep``, ``ks``, ``group``, ``att``,
    ``stride``, ``act`` hold the stem's entry first and one entry per stage after it; here the
    stem's are ``stem_*`` and the stages' the per-stage sequences. A stage's inner width is
    ``stage_widths[i] * expand_ratios[i]`` (ratio 1: no expansion conv). Activations are Keras
    names: ``"relu"``, ``"hard_silu"`` (mmcv's HSwish, ``x * relu6(x + 3) / 6``). Convolutions
    start as mmcv's ConvModule initialises them (Kaiming, fan-out), BN at gamma 1.

    Example:
        >>> backbone = vipnas_mbv3()        # (B, 256, 192, 3) -> (B, 8, 6, 160)
    """
    per_stage = (
        stage_widths, expand_ratios, stage_blocks, kernel_sizes, groups, attention, strides,
        activations,
    )  # fmt: skip
    if len({len(values) for values in per_stage}) != 1:
        raise ModelError(
            "ViPNAS_MobileNetV3: stage_widths, expand_ratios, stage_blocks, kernel_sizes, "
            "groups, attention, strides and activations need one entry per stage, got lengths "
            f"{[len(values) for values in per_stage]}"
        )
    inputs = keras.Input((None, None, in_channels), name=f"{name}_input")
    x = conv_module(
        inputs, stem_channels, stem_kernel_size, f"{name}.conv1", stem_stride, act=stem_act
    )
    index = 0
    for width, ratio, blocks, kernel, group, att, stride, act in zip(*per_stage, strict=True):
        mid = width * ratio
        for j in range(blocks):
            index += 1
            x = inverted_residual(
                x, width, mid, f"{name}.layer{index}", kernel, group, stride if j == 0 else 1,
                se_ratio=4 if att else None, act=act, with_expand_conv=ratio != 1,
            )  # fmt: skip
    return keras.Model(inputs, x, name=name)
