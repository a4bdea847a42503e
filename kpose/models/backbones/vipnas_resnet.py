"""ViPNAS-ResNet (Xu et al., 2021) as MMPose builds it
(``mmpose/models/backbones/vipnas_resnet.py``).

The ResNet-50 layout that ViPNAS' architecture search tuned per stage: a stride-2 stem conv
(7x7, 48 channels) + BN + ReLU and ResNet's 3x3 stride-2 max pool, then four stages of
bottlenecks whose width, depth, expansion, middle kernel size, group count and attention are
searched (defaults: widths 80/160/304/608, 4/6/7/3 blocks, expansion 1, kernels 3/5/5/5,
16 groups, GCNet attention in stages 1, 3 and 4). A block is 1x1 -> grouped kxk (the stride,
``style="pytorch"``) -> 1x1, each with BN (ReLU after the first two), then optionally a GCNet
``ContextBlock`` on the block's output before the shortcut is added. Output: the last stage,
stride 32 (608 channels by default). Layer names are MMPose's state-dict paths
(``backbone.layer1.0.conv2``, ``backbone.layer1.0.attention.conv_mask``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from kpose.errors import ModelError
from kpose.models.backbones.resnet import add_residual, style_strides
from kpose.models.layers import (
    BN_EPSILON,
    conv_kernel_from_torch,
    conv_kernel_to_torch,
    conv_module,
    max_pool2d,
    unchanged,
)

# PyTorch's LayerNorm epsilon (the ContextBlock's norm); Keras' default is 1e-3.
LN_EPSILON_TORCH = BN_EPSILON


def conv_init() -> keras.initializers.Initializer:
    """MMPose's ViPNAS ``init_cfg`` of every plain Conv2d: normal, std 0.001 (biases at zero).
    A new instance per layer (an unseeded instance draws the same values on every call)."""
    return keras.initializers.RandomNormal(stddev=0.001)


@keras.saving.register_keras_serializable(package="kpose")
class ContextBlock(keras.layers.Layer):
    """mmcv's GCNet ``ContextBlock(C, ratio)`` with attention pooling and channel-add fusion:
    a softmax over the positions of a 1x1 conv's logits (``conv_mask``, C -> 1) weighs the
    input into one context vector, which 1x1 conv (``int(C * ratio)``) -> LayerNorm -> ReLU ->
    1x1 conv (C) turns into a per-channel term added to every position.
    ``(B, H, W, C)`` in and out.

    State-dict keys under the layer's name: ``conv_mask.{weight, bias}`` and
    ``channel_add_conv.{0, 1, 3}.{weight, bias}`` (``.1`` is the LayerNorm, whose PyTorch
    tensors have shape ``(planes, 1, 1)``).

    Example:
        >>> y = ContextBlock(ratio=0.2, name="backbone.layer1.0.attention")(x)
    """

    def __init__(self, ratio: float, **kwargs):
        super().__init__(**kwargs)
        self.ratio = float(ratio)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.planes = int(channels * self.ratio)
        if self.planes < 1:
            raise ModelError(f"{self.name}: ratio {self.ratio} leaves no channels of {channels}")

        def conv(filters: int, name: str) -> keras.layers.Conv2D:
            return keras.layers.Conv2D(
                filters, 1, kernel_initializer=conv_init(), dtype=self.dtype_policy, name=name
            )

        self.conv_mask = conv(1, "conv_mask")
        self.add_conv_0 = conv(self.planes, "channel_add_conv_0")
        self.add_norm = keras.layers.LayerNormalization(
            epsilon=LN_EPSILON_TORCH, dtype=self.dtype_policy, name="channel_add_conv_1"
        )
        self.add_conv_3 = conv(channels, "channel_add_conv_3")
        self.conv_mask.build((None, None, None, channels))
        self.add_conv_0.build((None, 1, 1, channels))
        self.add_norm.build((None, 1, 1, self.planes))
        self.add_conv_3.build((None, 1, 1, self.planes))

    def call(self, x):
        shape = ops.shape(x)
        channels = x.shape[-1]
        logits = ops.reshape(self.conv_mask(x), (shape[0], -1))  # (B, H * W)
        weights = ops.softmax(ops.cast(logits, "float32"), axis=-1)
        values = ops.reshape(x, (shape[0], -1, channels))  # (B, H * W, C)
        context = ops.einsum("bn,bnc->bc", ops.cast(weights, x.dtype), values)
        context = ops.reshape(context, (-1, 1, 1, channels))  # (B, 1, 1, C)
        term = self.add_conv_3(ops.relu(self.add_norm(self.add_conv_0(context))))
        return x + term

    def compute_output_shape(self, input_shape):
        return input_shape

    def torch_tensors(self):
        """``(suffix, variable, torch->keras, keras->torch)`` for the weight mapper."""
        planes = self.planes

        def norm_to_keras(a):
            return a.reshape(planes)

        def norm_to_torch(a):
            return a.reshape(planes, 1, 1)

        conv = (conv_kernel_from_torch, conv_kernel_to_torch)
        tensors = []
        for prefix, layer in (
            ("conv_mask", self.conv_mask),
            ("channel_add_conv.0", self.add_conv_0),
            ("channel_add_conv.3", self.add_conv_3),
        ):
            tensors += [
                (f"{prefix}.weight", layer.kernel, *conv),
                (f"{prefix}.bias", layer.bias, unchanged, unchanged),
            ]
        tensors += [
            ("channel_add_conv.1.weight", self.add_norm.gamma, norm_to_keras, norm_to_torch),
            ("channel_add_conv.1.bias", self.add_norm.beta, norm_to_keras, norm_to_torch),
        ]
        return tensors

    def get_config(self):
        return {**super().get_config(), "ratio": self.ratio}


def attention_ratio(channels: int) -> float:
    """The ContextBlock ratio of a ViPNAS block of ``channels``: a bottleneck of at least 16
    channels (``max(1 / 16, 16 / channels)``)."""
    return max(1.0 / 16, 16.0 / channels)


def vipnas_bottleneck(
    x,
    out_channels: int,
    name: str,
    stride: int = 1,
    expansion: int = 1,
    kernel_size: int = 3,
    groups: int = 1,
    attention: bool = False,
    style: str = "pytorch",
):
    """MMPose's ``ViPNAS_Bottleneck``: 1x1 conv -> ``kernel_size`` conv with ``groups`` ->
    1x1 conv (``name.conv{1,2,3}`` + ``name.bn{1,2,3}``, ReLU after the first two), width
    ``out_channels / expansion`` inside; with ``attention`` a ``ContextBlock``
    (``name.attention``) on the result; a 1x1 conv + BN shortcut (``name.downsample.{0,1}``)
    when the stride or width changes; then ``relu(y + shortcut)``.
    ``(B, H, W, C) -> (B, H / stride, W / stride, out_channels)``.
    """
    if out_channels % expansion:
        raise ModelError(f"{name}: {out_channels} channels do not divide by expansion {expansion}")
    mid = out_channels // expansion
    stride1, stride2 = style_strides(style, stride, name)
    shortcut = x
    if stride != 1 or x.shape[-1] != out_channels:
        shortcut = conv_module(
            x, out_channels, 1, f"{name}.downsample", stride, act=None, names=("0", "1", ""),
            kernel_initializer=conv_init(),
        )  # fmt: skip
    y = x
    for index, (filters, kernel, stride_i, groups_i) in enumerate(
        ((mid, 1, stride1, 1), (mid, kernel_size, stride2, groups)), start=1
    ):
        y = conv_module(
            y, filters, kernel, name, stride_i, groups=groups_i, kernel_initializer=conv_init(),
            names=(f"conv{index}", f"bn{index}", f"bn{index}_relu"),
        )  # fmt: skip
    y = conv_module(
        y, out_channels, 1, name, act=None, kernel_initializer=conv_init(),
        names=("conv3", "bn3", ""),
    )  # fmt: skip
    if attention:
        y = ContextBlock(attention_ratio(out_channels), name=f"{name}.attention")(y)
    return add_residual(y, shortcut, name)


def _per_stage(name: str, values: Sequence, num_stages: int) -> tuple:
    if len(values) < num_stages:
        raise ModelError(
            f"ViPNAS_ResNet: {name} needs one value per stage ({num_stages}), got {tuple(values)}"
        )
    return tuple(values[:num_stages])


def vipnas_resnet(
    depth: int = 50,
    in_channels: int = 3,
    num_stages: int = 4,
    strides: Sequence[int] = (1, 2, 2, 2),
    out_indices: Sequence[int] = (3,),
    style: str = "pytorch",
    stem_channels: int = 48,
    stem_kernel_size: int = 7,
    stage_widths: Sequence[int] = (80, 160, 304, 608),
    expansions: Sequence[int] = (1, 1, 1, 1),
    stage_blocks: Sequence[int] = (4, 6, 7, 3),
    kernel_sizes: Sequence[int] = (3, 5, 5, 5),
    groups: Sequence[int] = (16, 16, 16, 16),
    attention: Sequence[bool] = (True, False, True, True),
    name: str = "backbone",
) -> keras.Model:
    """MMPose's ``ViPNAS_ResNet(depth=50)``: ``(B, H, W, in_channels)`` normalised images ->
    the map of each stage in ``out_indices`` (one tensor for one index, else a list); by
    default ``(B, H / 32, W / 32, 608)``.

    MMPose's searched lists ``wid``, ``expan``, ``dep``, ``ks``, ``group``, ``att`` hold the
    stem's entry first (``wid[0]``, ``ks[0]``) and one entry per stage after it; here they are
    ``stem_channels`` / ``stem_kernel_size`` and the per-stage ``stage_widths``,
    ``expansions``, ``stage_blocks``, ``kernel_sizes``, ``groups``, ``attention``. A stage's
    output width is ``stage_widths[i] * expansions[i]``. Plain convolutions start as MMPose's
    ``init_cfg`` (normal, std 0.001), BN at gamma 1. ``depth`` only names the searched
    layout (50, MMPose's one setting).

    Example:
        >>> backbone = vipnas_resnet()      # (B, 256, 192, 3) -> (B, 8, 6, 608)
    """
    if depth != 50:
        raise ModelError(f"ViPNAS_ResNet: depth must be 50 (MMPose's one setting), got {depth}")
    if not 1 <= num_stages <= 4:
        raise ModelError(f"ViPNAS_ResNet: num_stages must be 1..4, got {num_stages}")
    settings = zip(
        *(
            _per_stage(key, values, num_stages)
            for key, values in (
                ("strides", strides), ("stage_widths", stage_widths),
                ("expansions", expansions), ("stage_blocks", stage_blocks),
                ("kernel_sizes", kernel_sizes), ("groups", groups), ("attention", attention),
            )
        ),
        strict=True,
    )  # fmt: skip
    out_indices = tuple(sorted({int(i) for i in out_indices}))
    if not out_indices or any(not 0 <= i < num_stages for i in out_indices):
        raise ModelError(f"ViPNAS_ResNet: out_indices {out_indices} must be in 0..{num_stages - 1}")
    inputs = keras.Input((None, None, in_channels), name=f"{name}_input")
    x = conv_module(
        inputs, stem_channels, stem_kernel_size, name, 2, kernel_initializer=conv_init(),
        names=("conv1", "bn1", "relu"),
    )  # fmt: skip
    x = max_pool2d(x, f"{name}.maxpool")
    outputs = []
    for i, (stride, width, expansion, blocks, kernel, group, att) in enumerate(settings):
        for j in range(blocks):
            x = vipnas_bottleneck(
                x, width * expansion, f"{name}.layer{i + 1}.{j}", stride if j == 0 else 1,
                expansion, kernel, group, bool(att), style,
            )  # fmt: skip
        if i in out_indices:
            outputs.append(x)
    return keras.Model(inputs, outputs[0] if len(outputs) == 1 else outputs, name=name)


def vipnas_resnet50(**kwargs) -> keras.Model:
    return vipnas_resnet(50, **kwargs)
