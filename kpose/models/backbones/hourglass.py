"""Stacked Hourglass networks (Newell et al., 2016) as MMPose builds them
(``mmpose/models/backbones/hourglass.py``).

A stride-4 stem (7x7 stride-2 conv + BN + ReLU, then a stride-2 BasicBlock to 256 channels)
feeds ``num_stacks`` hourglass modules. A module of depth ``d`` keeps a full-resolution branch
(``up1``) and a branch that halves the resolution with a stride-2 BasicBlock layer (``low1``),
recurses (``low2``: the module of depth ``d - 1``, or plain BasicBlocks at the bottom), returns
to its width (``low3``, the width change in its last block) and doubles the resolution with
nearest-neighbour upsampling (``up2``, pixel repetition as PyTorch's ``nn.Upsample``) before
the two branches are added. Each stack ends in a 3x3 conv module (``out_convs``) whose output is
that stack's feature map; between stacks, 1x1 conv + BN maps of the stack input
(``conv1x1s``) and of its output (``remap_convs``) are added, passed through ReLU and one
BasicBlock (``inters``). The BasicBlocks are ResNet's (``resnet.basic_block``). H and W must be
multiples of ``4 * 2 ** downsample_times`` (128 for Hourglass-52), as in PyTorch, where the
branch sum fails otherwise.

MMPose builds ``inters`` with ``max(1, num_stacks - 1)`` blocks, so single-stack Hourglass-52
checkpoints hold a BasicBlock (``backbone.inters.0``) that never runs; ``UnusedBasicBlock``
keeps its tensors so that checkpoints load strictly and round-trip. MMPose initialises every
convolution with ``Normal(std=0.001)``; here they keep ResNet's He init, as a BatchNorm follows
every one of them (the forward pass does not depend on their scale).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from kpose.errors import ModelError
from kpose.models.backbones.resnet import basic_block
from kpose.models.layers import (
    conv_kernel_from_torch,
    conv_kernel_to_torch,
    conv_module,
    kaiming_fan_out,
    relu,
    unchanged,
)

# The stem's output width, fixed in MMPose (stage_channels[0] must equal it).
STEM_CHANNELS = 256


def res_layer(
    x, num_blocks: int, out_channels: int, name: str, stride: int = 1, downsample_first: bool = True
):
    """MMPose's ``ResLayer`` of BasicBlocks ``name.0``, ``name.1``, ...: the first block strides
    and changes the width (``downsample_first``, ResNet's order) or the last one does
    (Hourglass' ``low3``)."""
    in_channels = int(x.shape[-1])
    changing = 0 if downsample_first else num_blocks - 1  # the block that strides / widens
    for i in range(num_blocks):
        channels = out_channels if downsample_first or i == changing else in_channels
        x = basic_block(x, channels, f"{name}.{i}", stride=stride if i == changing else 1)
    return x


def hourglass_module(
    x, depth: int, stage_channels: Sequence[int], stage_blocks: Sequence[int], name: str
):
    """MMPose's ``HourglassModule``: ``(B, H, W, stage_channels[0])`` -> the same shape, with
    ``depth`` nested halvings of the resolution (``name.up1``, ``.low1``, ``.low2``, ``.low3``).
    """
    channels, next_channels = stage_channels[0], stage_channels[1]
    up1 = res_layer(x, stage_blocks[0], channels, f"{name}.up1")
    low = res_layer(x, stage_blocks[0], next_channels, f"{name}.low1", stride=2)
    if depth > 1:
        low = hourglass_module(low, depth - 1, stage_channels[1:], stage_blocks[1:], f"{name}.low2")
    else:
        low = res_layer(low, stage_blocks[1], next_channels, f"{name}.low2")
    low = res_layer(low, stage_blocks[0], channels, f"{name}.low3", downsample_first=False)
    up2 = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{name}.up2")(low)
    return keras.layers.Add(name=f"{name}_add")([up1, up2])


@keras.saving.register_keras_serializable(package="kpose")
class UnusedBasicBlock(keras.layers.Layer):
    """The tensors of a ``channels -> channels`` BasicBlock that MMPose builds but never runs
    (``HourglassNet.inters.0`` of a single stack); passes its input through unchanged.

    Its state-dict keys are ``<layer name>.conv1.weight``, ``.bn1.{weight, bias, running_mean,
    running_var}``, ``.conv2.weight`` and ``.bn2.*``; the convolution and BN affine weights are
    trainable (MMPose counts them as parameters) but receive no gradient.
    """

    # state-dict suffixes of a BasicBlock without downsample, in MMPose's order
    TENSORS = (
        "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
        "conv2.weight", "bn2.weight", "bn2.bias", "bn2.running_mean", "bn2.running_var",
    )  # fmt: skip

    def __init__(self, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)

    def build(self, input_shape):
        c = self.channels
        for suffix in self.TENSORS:
            if suffix.startswith("conv"):
                shape, init = (3, 3, c, c), kaiming_fan_out()
            else:
                shape = (c,)
                init = "ones" if suffix.endswith(("weight", "running_var")) else "zeros"
            attribute = suffix.replace(".", "_")
            variable = self.add_weight(
                name=attribute, shape=shape, initializer=init, trainable="running" not in suffix
            )
            setattr(self, attribute, variable)

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def torch_tensors(self):
        """``(suffix, variable, torch->keras, keras->torch)`` for ``mmpose_weights``."""
        return [
            (
                suffix,
                getattr(self, suffix.replace(".", "_")),
                *(
                    (conv_kernel_from_torch, conv_kernel_to_torch)
                    if suffix.startswith("conv")
                    else (unchanged, unchanged)
                ),
            )
            for suffix in self.TENSORS
        ]

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


def hourglass(
    downsample_times: int = 5,
    num_stacks: int = 2,
    stage_channels: Sequence[int] = (256, 256, 384, 384, 384, 512),
    stage_blocks: Sequence[int] = (2, 2, 2, 2, 2, 4),
    feat_channel: int = 256,
    name: str = "backbone",
) -> keras.Model:
    """MMPose's ``HourglassNet``: ``(B, H, W, 3)`` -> ``num_stacks`` maps
    ``(B, H / 4, W / 4, feat_channel)``, first stack to last.

    Arguments mirror MMPose's (``stage_channels[0]`` must be 256, the stem's width). H and W
    must be multiples of ``4 * 2 ** downsample_times``. Inputs are normalised images (see
    ``kpose.models.build``).

    Example:
        >>> hourglass52()(np.zeros((1, 256, 256, 3), "float32"))[-1].shape
        TensorShape([1, 64, 64, 256])
    """
    if num_stacks < 1:
        raise ModelError(f"HourglassNet: num_stacks must be >= 1, got {num_stacks}")
    if len(stage_channels) != len(stage_blocks) or len(stage_channels) <= downsample_times:
        raise ModelError(
            f"HourglassNet: stage_channels {tuple(stage_channels)} and stage_blocks "
            f"{tuple(stage_blocks)} need the same length, more than downsample_times "
            f"({downsample_times})"
        )
    if stage_channels[0] != STEM_CHANNELS:
        raise ModelError(
            f"HourglassNet: stage_channels[0] must be {STEM_CHANNELS} (the stem's width), "
            f"got {stage_channels[0]}"
        )
    channels = stage_channels[0]
    inputs = keras.Input((None, None, 3), name=f"{name}_input")
    x = conv_module(inputs, 128, 7, f"{name}.stem.0", 2)
    inter = basic_block(x, STEM_CHANNELS, f"{name}.stem.1.0", stride=2)  # (B, H / 4, W / 4, 256)
    outputs = []
    for s in range(num_stacks):
        x = hourglass_module(
            inter, downsample_times, stage_channels, stage_blocks, f"{name}.hourglass_modules.{s}"
        )
        out = conv_module(x, feat_channel, 3, f"{name}.out_convs.{s}")
        outputs.append(out)
        if s < num_stacks - 1:
            skip = conv_module(inter, channels, 1, f"{name}.conv1x1s.{s}", act=None)
            remap = conv_module(out, channels, 1, f"{name}.remap_convs.{s}", act=None)
            inter = keras.layers.Add(name=f"{name}.stack{s}_add")([skip, remap])
            inter = relu(inter, f"{name}.relu{s}")
            inter = basic_block(inter, channels, f"{name}.inters.{s}")
    if num_stacks == 1:
        outputs[-1] = UnusedBasicBlock(channels, name=f"{name}.inters.0")(outputs[-1])
    return keras.Model(inputs, outputs, name=name)


def hourglass52(**kwargs) -> keras.Model:
    """Hourglass-52: one stack (MMPose's ``td-hm_hourglass52`` configs)."""
    return hourglass(num_stacks=1, **kwargs)
