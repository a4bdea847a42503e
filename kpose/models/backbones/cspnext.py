"""CSPNeXt (RTMDet's backbone) as MMPose's ``cspnext-*_udp`` heatmap configs build it.

Mirrors mmdet's ``CSPNeXt`` (``mmdet/models/backbones/cspnext.py``) with its ``CSPLayer`` /
``CSPNeXtBlock`` (``mmdet/models/layers/csp_layer.py``), ``ChannelAttention``
(``mmdet/models/layers/se_layer.py``) and ``SPPBottleneck`` (``mmdet/models/backbones/
csp_darknet.py``). Every convolution is a ConvModule: conv without bias, BN, SiLU. A stem of
three 3x3 convs (the first strided) is followed by four stages (arch ``P5``; ``P6`` has five),
each a strided 3x3 conv, in the last stage an SPP block (parallel 5/9/13 max pools, stride 1,
PyTorch's implicit -inf padding), then a CSP layer: a 1x1 ``main_conv`` path through
CSPNeXt blocks (3x3 conv, then a depthwise-separable 5x5 conv, plus the identity) concatenated
with a 1x1 ``short_conv`` path, channel attention (global average -> 1x1 conv with bias ->
hard sigmoid ``relu6(x + 3) / 6``, scaling the channels), and a 1x1 ``final_conv``.
``widen_factor`` scales the widths (``int(c * widen_factor)``), ``deepen_factor`` the number of
blocks (``max(round(n * deepen_factor), 1)``). ``out_indices`` counts the stem as 0; MMPose's
configs read stage 4 only, stride 32.

BatchNorm: mmdet's own default is eps 1e-3 / momentum 0.03, but MMPose's configs set
``norm_cfg=dict(type='SyncBN')``, i.e. PyTorch's eps 1e-5 / momentum 0.1 — the default here.
Layer names are mmdet's state-dict paths (``backbone.stage2.1.blocks.0.conv2.depthwise_conv.conv``).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from kpose.errors import ModelError
from kpose.models.layers import (
    BN_EPSILON,
    conv2d,
    conv_module,
    depthwise_separable_conv_module,
)

# arch -> per stage (in_channels, out_channels, num_blocks, add_identity, use_spp)
ARCH_SETTINGS = {
    "P5": (
        (64, 128, 3, True, False),
        (128, 256, 6, True, False),
        (256, 512, 6, True, False),
        (512, 1024, 3, False, True),
    ),
    "P6": (
        (64, 128, 3, True, False),
        (128, 256, 6, True, False),
        (256, 512, 6, True, False),
        (512, 768, 3, True, False),
        (768, 1024, 3, False, True),
    ),
}
# (eps, momentum) of PyTorch's BatchNorm2d / SyncBN defaults, momentum in PyTorch's convention
# (``layers.batch_norm``'s Keras momentum 0.9).
TORCH_BN = (BN_EPSILON, 0.1)


def _conv_init() -> keras.initializers.Initializer:
    """mmdet's CSPNeXt init of every Conv2d: ``kaiming_uniform(a=sqrt(5), fan_in)``, i.e.
    uniform in +-sqrt(1 / fan_in) (PyTorch's default conv init)."""
    return keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")


def cspnext_conv(x, filters: int, kernel_size: int, name: str, stride: int = 1, norm=TORCH_BN):
    """mmcv's ``ConvModule`` with BN and SiLU (``layers.conv_module``) and CSPNeXt's init;
    ``norm = (eps, PyTorch momentum)``."""
    return conv_module(
        x, filters, kernel_size, name, stride, act="silu", kernel_initializer=_conv_init(),
        norm_epsilon=norm[0], norm_momentum=1.0 - norm[1],
    )  # fmt: skip


def cspnext_separable_conv(
    x, filters: int, kernel_size: int, name: str, stride: int = 1, norm=TORCH_BN
):
    """mmcv's ``DepthwiseSeparableConvModule`` with SiLU and CSPNeXt's init."""
    channels = int(x.shape[-1])
    return depthwise_separable_conv_module(
        x, filters, kernel_size, name, stride, act="silu",
        # fan_in of a depthwise kernel is kernel_size**2 in PyTorch, channels times more in Keras
        depthwise_initializer=keras.initializers.VarianceScaling(
            channels / 3.0, "fan_in", "uniform"
        ),
        pointwise_initializer=_conv_init(), norm_epsilon=norm[0], norm_momentum=1.0 - norm[1],
    )  # fmt: skip


def channel_attention(x, name: str):
    """mmdet's ``ChannelAttention``: global average (in float32, as mmdet disables autocast)
    -> 1x1 conv with bias (``name.fc``) -> hard sigmoid, scaling the input's channels."""
    channels = int(x.shape[-1])
    y = keras.layers.GlobalAveragePooling2D(
        keepdims=True, dtype="float32", name=f"{name}.global_avgpool"
    )(x)
    y = conv2d(y, channels, 1, f"{name}.fc", use_bias=True, kernel_initializer=_conv_init())
    y = keras.layers.Activation("hard_sigmoid", name=f"{name}.act")(y)
    return keras.layers.Multiply(name=f"{name}_scale")([x, y])


def spp_bottleneck(
    x, filters: int, name: str, kernel_sizes: Sequence[int] = (5, 9, 13), norm=TORCH_BN
):
    """mmdet's ``SPPBottleneck``: 1x1 conv to half the channels, concatenated with its stride-1
    max pools of each kernel size, then a 1x1 conv to ``filters``. TF's "same" pooling ignores
    the padding, as PyTorch's -inf padding does (SiLU outputs can be negative)."""
    x = cspnext_conv(x, int(x.shape[-1]) // 2, 1, f"{name}.conv1", norm=norm)
    pooled = [
        keras.layers.MaxPooling2D(k, strides=1, padding="same", name=f"{name}.poolings.{i}")(x)
        for i, k in enumerate(kernel_sizes)
    ]
    x = keras.layers.Concatenate(name=f"{name}_concat")([x, *pooled])
    return cspnext_conv(x, filters, 1, f"{name}.conv2", norm=norm)


def cspnext_block(
    x,
    filters: int,
    name: str,
    add_identity: bool = True,
    use_depthwise: bool = False,
    kernel_size: int = 5,
    norm=TORCH_BN,
):
    """mmdet's ``CSPNeXtBlock`` (expansion 1.0 inside a CSP layer): a 3x3 conv (``name.conv1``,
    depthwise-separable with ``use_depthwise``), a depthwise-separable ``kernel_size`` conv
    (``name.conv2``), plus the input when ``add_identity`` and the widths agree."""
    conv1 = cspnext_separable_conv if use_depthwise else cspnext_conv
    y = conv1(x, filters, 3, f"{name}.conv1", norm=norm)
    y = cspnext_separable_conv(y, filters, kernel_size, f"{name}.conv2", norm=norm)
    if add_identity and int(x.shape[-1]) == filters:
        y = keras.layers.Add(name=f"{name}_add")([y, x])
    return y


def csp_layer(
    x,
    filters: int,
    num_blocks: int,
    name: str,
    add_identity: bool = True,
    use_depthwise: bool = False,
    expand_ratio: float = 0.5,
    use_channel_attention: bool = True,
    norm=TORCH_BN,
):
    """mmdet's ``CSPLayer(use_cspnext_block=True)``: ``main_conv`` (1x1) -> ``num_blocks``
    CSPNeXt blocks, concatenated (main first) with ``short_conv`` (1x1), channel attention,
    ``final_conv`` (1x1) to ``filters``. Inner width ``int(filters * expand_ratio)``."""
    mid = int(filters * expand_ratio)
    short = cspnext_conv(x, mid, 1, f"{name}.short_conv", norm=norm)
    main = cspnext_conv(x, mid, 1, f"{name}.main_conv", norm=norm)
    for i in range(num_blocks):
        main = cspnext_block(
            main, mid, f"{name}.blocks.{i}", add_identity, use_depthwise, norm=norm
        )
    y = keras.layers.Concatenate(name=f"{name}_concat")([main, short])
    if use_channel_attention:
        y = channel_attention(y, f"{name}.attention")
    return cspnext_conv(y, filters, 1, f"{name}.final_conv", norm=norm)


def cspnext(
    arch: str = "P5",
    deepen_factor: float = 1.0,
    widen_factor: float = 1.0,
    out_indices: Sequence[int] = (4,),
    use_depthwise: bool = False,
    expand_ratio: float = 0.5,
    spp_kernel_sizes: Sequence[int] = (5, 9, 13),
    channel_attention: bool = True,
    norm_eps: float = TORCH_BN[0],
    norm_momentum: float = TORCH_BN[1],
    name: str = "backbone",
) -> keras.Model:
    """mmdet's ``CSPNeXt``: ``(B, H, W, 3)`` normalised images -> the maps of the stages in
    ``out_indices`` (0: stem, stride 2; stage i: stride ``2 ** (i + 1)``), a single tensor when
    there is one index (MMPose's ``(4,)``: ``(B, H / 32, W / 32, int(1024 * widen_factor))``
    for P5), else a list.

    Arguments mirror mmdet's (``channel_attention``: ChannelAttention in every CSP layer);
    ``norm_eps`` / ``norm_momentum`` (PyTorch's convention) are the BN settings of the
    config's ``norm_cfg`` (SyncBN defaults in MMPose's configs; mmdet's default 1e-3 / 0.03).

    Example:
        >>> backbone = cspnext(deepen_factor=0.67, widen_factor=0.75)  # (B, 8, 6, 768) at 256x192
    """
    if arch not in ARCH_SETTINGS:
        raise ModelError(f"CSPNeXt arch must be one of {sorted(ARCH_SETTINGS)}, got {arch!r}")
    settings = ARCH_SETTINGS[arch]
    if not out_indices or not set(out_indices) <= set(range(len(settings) + 1)):
        raise ModelError(
            f"CSPNeXt {arch}: out_indices must be in 0..{len(settings)}, got {tuple(out_indices)}"
        )
    norm = (float(norm_eps), float(norm_momentum))
    inputs = keras.Input((None, None, 3), name=f"{name}_input")
    stem = int(settings[0][0] * widen_factor // 2)
    x = cspnext_conv(inputs, stem, 3, f"{name}.stem.0", stride=2, norm=norm)
    x = cspnext_conv(x, stem, 3, f"{name}.stem.1", norm=norm)
    x = cspnext_conv(x, int(settings[0][0] * widen_factor), 3, f"{name}.stem.2", norm=norm)
    outputs = [x] if 0 in out_indices else []
    downsample = cspnext_separable_conv if use_depthwise else cspnext_conv
    for i, (_, channels, num_blocks, add_identity, use_spp) in enumerate(settings):
        prefix = f"{name}.stage{i + 1}"
        channels = int(channels * widen_factor)
        x = downsample(x, channels, 3, f"{prefix}.0", stride=2, norm=norm)
        if use_spp:
            x = spp_bottleneck(x, channels, f"{prefix}.1", spp_kernel_sizes, norm=norm)
        x = csp_layer(
            x,
            channels,
            max(round(num_blocks * deepen_factor), 1),
            f"{prefix}.{2 if use_spp else 1}",
            add_identity=add_identity,
            use_depthwise=use_depthwise,
            expand_ratio=expand_ratio,
            use_channel_attention=channel_attention,
            norm=norm,
        )
        if i + 1 in out_indices:
            outputs.append(x)
    return keras.Model(inputs, outputs[0] if len(outputs) == 1 else outputs, name=name)


# The (deepen_factor, widen_factor) of MMPose's cspnext-{tiny,s,m,l}_udp configs.
def cspnext_tiny(**kwargs) -> keras.Model:
    return cspnext(deepen_factor=0.167, widen_factor=0.375, **kwargs)


def cspnext_s(**kwargs) -> keras.Model:
    return cspnext(deepen_factor=0.33, widen_factor=0.5, **kwargs)


def cspnext_m(**kwargs) -> keras.Model:
    return cspnext(deepen_factor=0.67, widen_factor=0.75, **kwargs)


def cspnext_l(**kwargs) -> keras.Model:
    return cspnext(deepen_factor=1.0, widen_factor=1.0, **kwargs)
