"""Shared building blocks of the backbones and heads (as ``timm/layers`` and keras-hub's
``src/layers/modeling``): ``conv`` (mmcv's ConvModule and PyTorch-exact conv / BN / pooling),
``resize`` (PyTorch-exact resampling), ``attention`` (the attention core and window ops),
``transformer`` (LayerNorm / Linear helpers, GELU, DropPath, position embedding) and
``channels`` (channel shuffle / split, input normalisation). Families import from here, never
from each other's private helpers."""

from kpose.models.layers.attention import (
    CenterCropLike,
    WindowAttention,
    WindowCenterPad,
    multi_head_attention,
    pad_bottom_right,
    relative_position_index,
    shifted_window_mask,
    split_qkv,
)
from kpose.models.layers.channels import ChannelShuffle, ChannelSplit, Normalize
from kpose.models.layers.conv import (
    BN_EPSILON,
    BN_MOMENTUM,
    activation,
    batch_norm,
    conv2d,
    conv_kernel_from_torch,
    conv_kernel_to_torch,
    conv_module,
    conv_transpose2d,
    depthwise_conv2d,
    depthwise_separable_conv_module,
    kaiming_fan_out,
    make_divisible,
    max_pool2d,
    relu,
    se_layer,
    separable_conv_bn,
    unchanged,
)
from kpose.models.layers.resize import (
    Resample,
    ResizeAlignCorners,
    bilinear_matrix,
    nearest_indices,
    resize_bicubic,
)
from kpose.models.layers.transformer import (
    LN_EPSILON,
    DropPath,
    PositionEmbedding,
    dense,
    ffn,
    gelu,
    layer_norm,
    resize_pos_embed,
)

__all__ = [
    "BN_EPSILON", "BN_MOMENTUM", "LN_EPSILON", "CenterCropLike", "ChannelShuffle",
    "ChannelSplit", "DropPath", "Normalize", "PositionEmbedding", "Resample",
    "ResizeAlignCorners", "WindowAttention", "WindowCenterPad", "activation", "batch_norm",
    "bilinear_matrix", "conv2d", "conv_kernel_from_torch", "conv_kernel_to_torch",
    "conv_module", "conv_transpose2d", "depthwise_conv2d",
    "depthwise_separable_conv_module", "dense", "ffn", "gelu", "kaiming_fan_out", "layer_norm",
    "make_divisible", "max_pool2d", "multi_head_attention", "nearest_indices",
    "pad_bottom_right", "relative_position_index", "relu", "resize_bicubic",
    "resize_pos_embed", "se_layer", "separable_conv_bn", "shifted_window_mask", "split_qkv",
    "unchanged",
]  # fmt: skip
