"""Vision Transformer as ViTPose uses it (mmpretrain's ``VisionTransformer`` in MMPose's
``td-hm_ViTPose-*`` configs).

Patch embedding: a 16x16 stride-16 convolution with padding 2 (a 256x192 crop gives a 16x12
token grid, shifted by 2 px), no class token, a learned position embedding, then pre-norm
transformer blocks (LayerNorm eps 1e-6; multi-head self-attention with a qkv bias; an MLP with
exact GELU; stochastic depth rising linearly to ``drop_path_rate``), a final LayerNorm, and
the tokens reshaped back to the grid: ``(B, H, W, 3) -> (B, H / 16, W / 16, C)``.

Layer names are mmpretrain's state-dict paths (``backbone.layers.3.attn.qkv``, ...). A
checkpoint's ``pos_embed`` with a class-token slot or on another grid (an MAE checkpoint's
14x14) is adapted as mmpretrain's load hook does: the slot is dropped and the grid resized
bicubically (PyTorch's ``align_corners=False`` cubic convolution, a = -0.75).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from kpose.errors import ModelError
from kpose.models.layers import (
    DropPath,
    PositionEmbedding,
    dense,
    ffn,
    layer_norm,
    multi_head_attention,
    split_qkv,
)

# arch -> (embed_dims, num_layers, num_heads, feedforward_channels); ViTPose-S has 12 heads.
ARCHS = {
    "small": (384, 12, 12, 1536),
    "base": (768, 12, 12, 3072),
    "large": (1024, 24, 16, 4096),
    "huge": (1280, 32, 16, 5120),
}


@keras.saving.register_keras_serializable(package="kpose")
class SelfAttention(keras.layers.Layer):
    """The weightless core of multi-head self-attention: ``(B, N, 3C)`` packed q, k, v (the
    qkv projection's output, mmpretrain's head-major layout) -> ``(B, N, C)``,
    ``softmax(q k^T / sqrt(d)) v`` per head."""

    def __init__(self, num_heads: int, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)

    def call(self, qkv):
        n, c = ops.shape(qkv)[1], int(qkv.shape[-1]) // 3
        out = multi_head_attention(*split_qkv(qkv, self.num_heads))  # (B, N, heads, d)
        return ops.reshape(out, (-1, n, c))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // 3)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads}


def encoder_layer(x, num_heads: int, feedforward_channels: int, drop_path: float, name: str):
    """One pre-norm block: ``x + attn(ln1(x))``, then ``x + ffn(ln2(x))``; ``(B, N, C)``."""
    c = int(x.shape[-1])
    y = layer_norm(x, f"{name}.ln1")
    y = dense(y, 3 * c, f"{name}.attn.qkv")
    y = SelfAttention(num_heads, name=f"{name}.attn.core")(y)
    y = dense(y, c, f"{name}.attn.proj")
    y = DropPath(drop_path, name=f"{name}.attn.out_drop")(y)
    x = keras.layers.Add(name=f"{name}.attn_add")([x, y])
    y = layer_norm(x, f"{name}.ln2")
    y = ffn(y, feedforward_channels, drop_path, f"{name}.ffn")
    return keras.layers.Add(name=f"{name}.ffn_add")([x, y])


def vit(
    arch: str | dict = "base",
    img_size: Sequence[int] = (256, 192),
    patch_size: int = 16,
    patch_padding: int = 2,
    drop_path_rate: float = 0.0,
    in_channels: int = 3,
    name: str = "backbone",
) -> keras.Model:
    """ViTPose's backbone: ``(B, H, W, in_channels)`` normalised crops, ``img_size = (H, W)``
    -> ``(B, h, w, embed_dims)`` with ``h = (H + 2 * patch_padding - patch_size) // patch_size
    + 1`` (16x12 for 256x192).

    ``arch``: ``"small"`` (ViTPose's: 384 wide, 12 layers, 12 heads), ``"base"``, ``"large"``,
    ``"huge"``, or a dict ``{embed_dims, num_layers, num_heads, feedforward_channels}``.

    Example:
        >>> backbone = vit("small", drop_path_rate=0.1)   # (B, 256, 192, 3) -> (B, 16, 12, 384)
    """
    if isinstance(arch, str):
        if arch not in ARCHS:
            raise ModelError(f"ViT arch must be one of {sorted(ARCHS)} or a dict, got {arch!r}")
        embed_dims, num_layers, num_heads, ffn = ARCHS[arch]
    else:
        try:
            embed_dims, num_layers, num_heads, ffn = (
                int(arch[k])
                for k in ("embed_dims", "num_layers", "num_heads", "feedforward_channels")
            )
        except KeyError as exc:
            raise ModelError(f"ViT arch dict needs {exc}") from None
    if embed_dims % num_heads:
        raise ModelError(f"ViT: embed_dims {embed_dims} is not divisible by {num_heads} heads")
    height, width = (int(v) for v in img_size)
    grid = tuple((s + 2 * patch_padding - patch_size) // patch_size + 1 for s in (height, width))

    inputs = keras.Input((height, width, in_channels), name=f"{name}_input")
    x = inputs
    if patch_padding:
        x = keras.layers.ZeroPadding2D(patch_padding, name=f"{name}.patch_embed_pad")(x)
    x = keras.layers.Conv2D(
        embed_dims,
        patch_size,
        strides=patch_size,
        use_bias=True,
        name=f"{name}.patch_embed.projection",
    )(x)  # (B, h, w, C)
    x = keras.layers.Reshape((grid[0] * grid[1], embed_dims), name=f"{name}.tokens")(x)
    x = PositionEmbedding(grid, name=f"{name}.pos_embed")(x)
    rates = np.linspace(0, drop_path_rate, num_layers)
    for i in range(num_layers):
        x = encoder_layer(x, num_heads, ffn, float(rates[i]), f"{name}.layers.{i}")
    x = layer_norm(x, f"{name}.ln1")
    x = keras.layers.Reshape((*grid, embed_dims), name=f"{name}.featmap")(x)  # (B, h, w, C)
    return keras.Model(inputs, x, name=name)


def vit_small(**kwargs) -> keras.Model:
    return vit("small", **kwargs)


def vit_base(**kwargs) -> keras.Model:
    return vit("base", **kwargs)


def vit_large(**kwargs) -> keras.Model:
    return vit("large", **kwargs)


def vit_huge(**kwargs) -> keras.Model:
    return vit("huge", **kwargs)
