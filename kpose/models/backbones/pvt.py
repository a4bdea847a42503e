"""Pyramid Vision Transformer v1 and v2 as MMPose builds them
(``mmpose/models/backbones/pvt.py``: ``PyramidVisionTransformer``,
``PyramidVisionTransformerV2``; the ``td-hm_pvt-s`` / ``td-hm_pvtv2-b2`` COCO configs).

Four stages, each a patch embedding (a strided convolution + LayerNorm) then pre-norm encoder
layers on the stage's token map; stage ``i`` is ``embed_dims * num_heads[i]`` wide at stride
``prod(strides[:i + 1])`` (64-128-320-512 at 1/4 .. 1/32 for both seed configs). Attention is
*spatial-reduction* attention: queries come from every token, keys and values from the map
reduced by an ``sr_ratio`` x ``sr_ratio`` stride-``sr_ratio`` convolution + LayerNorm (8-4-2-1:
none in the last stage), through PyTorch's ``nn.MultiheadAttention`` (one packed
``in_proj_weight``, ``out_proj``). The FFN is 1x1 conv -> GELU -> 1x1 conv (mlp ratios
8-8-4-4); every LayerNorm has eps 1e-6; stochastic depth rises linearly over all layers to
``drop_path_rate`` (0.1) and is the identity at inference.

v1 (``pvt``): non-overlapping patches (4-2-2-2, no padding) and a learned absolute position
embedding per stage held at the pre-training grid (``pretrain_img_size // stride``: 56, 28,
14, 7) and resized *bilinearly* (PyTorch's ``align_corners=False``, no antialiasing) to the
stage's token grid at every forward pass, as MMPose does; the resize is a pair of constant
interpolation matrices here, so gradients reach the stored grid as in PyTorch.
v2 (``pvtv2``): overlapping patches (7x7 stride 4 pad 3, then 3x3 stride 2 pad 1), no position
embedding, a 3x3 depthwise convolution after the FFN's first 1x1 conv, and a LayerNorm after
each stage.

The token map stays NHWC throughout (LayerNorms, 1x1 convs and the FFN act per position), so
``(B, H, W, 3) -> (B, H / 32, W / 32, 512)`` for the configs' head, which reads stage 3 (MMPose
returns all four stages and its ``FeatureMapProcessor`` neck selects index 3; here
``out_indices`` defaults to ``(3,)``). Layer names are MMPose's state-dict paths
(``backbone.layers.2.1.3.attn.attn``: stage 2, its encoder list, entry 3; with a position
embedding, entry 0 is ``pos_embed`` and the encoder layers start at 1).
``convert_pvt_checkpoint`` maps the original PVT ImageNet checkpoints to these names, as
MMPose's ``pvt_convert`` does when the configs load ``pvt_small.pth`` / ``pvt_v2_b2.pth``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
import numpy as np
from keras import ops

from kpose.errors import ModelError
from kpose.models.layers import (
    DropPath,
    PositionEmbedding,
    bilinear_matrix,
    conv2d,
    dense,
    depthwise_conv2d,
    gelu,
    kaiming_fan_out,
    layer_norm,
    multi_head_attention,
)


@keras.saving.register_keras_serializable(package="kpose")
class ResizedPositionEmbedding(PositionEmbedding):
    """MMPose's PVT ``AbsolutePositionEmbedding``: a learned ``(1, gh * gw, C)`` embedding on
    the pre-training ``grid = (gh, gw)``, resized bilinearly (``align_corners=False``) to the
    token map it is added to: ``(B, H, W, C) -> (B, H, W, C)``. Its weight is the state dict's
    ``<layer name>`` entry (``backbone.layers.0.1.0.pos_embed``)."""

    def call(self, x):
        height, width, c = int(x.shape[1]), int(x.shape[2]), int(x.shape[3])
        rows = ops.convert_to_tensor(bilinear_matrix(self.grid[0], height), x.dtype)
        cols = ops.convert_to_tensor(bilinear_matrix(self.grid[1], width), x.dtype)
        pos = ops.reshape(ops.cast(self.pos_embed, x.dtype), (*self.grid, c))  # (gh, gw, C)
        pos = ops.einsum("hi,iwc->hwc", rows, pos)  # (H, gw, C)
        pos = ops.einsum("wj,hjc->hwc", cols, pos)  # (H, W, C)
        return x + pos[None]

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="kpose")
class PackedMultiheadAttention(keras.layers.Layer):
    """PyTorch's ``nn.MultiheadAttention`` without its output projection, on token maps:
    queries from ``x`` ``(B, H, W, C)``, keys and values from ``context`` ``(B, h, w, C)``
    (the spatially reduced map, or ``x`` itself) -> ``(B, H, W, C)``.

    Owns the packed input projection, ``in_proj_weight`` ``(3C, C)`` (rows: q, k, v) and
    ``in_proj_bias``; per head ``softmax(q k^T / sqrt(d)) v`` with head ``i`` on channels
    ``i * d .. (i + 1) * d``. Keras holds the kernel transposed, ``(C, 3C)``.
    """

    def __init__(self, num_heads: int, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)

    def build(self, input_shape):
        c = int(input_shape[0][-1])
        if c % self.num_heads:
            raise ModelError(f"{self.name}: width {c} is not divisible by {self.num_heads} heads")
        self.in_proj_kernel = self.add_weight(
            name="in_proj_kernel",
            shape=(c, 3 * c),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        )
        self.in_proj_bias = self.add_weight(
            name="in_proj_bias", shape=(3 * c,), initializer="zeros"
        )

    def call(self, inputs):
        x, context = inputs
        height, width, c = int(x.shape[1]), int(x.shape[2]), int(x.shape[3])
        heads, d = self.num_heads, c // self.num_heads
        n, m = height * width, int(context.shape[1]) * int(context.shape[2])
        kernel = ops.cast(self.in_proj_kernel, x.dtype)
        bias = ops.cast(self.in_proj_bias, x.dtype)
        q = ops.matmul(ops.reshape(x, (-1, n, c)), kernel[:, :c]) + bias[:c]  # (B, N, C)
        kv = ops.matmul(ops.reshape(context, (-1, m, c)), kernel[:, c:]) + bias[c:]  # (B, M, 2C)
        q = ops.transpose(ops.reshape(q, (-1, n, heads, d)), (0, 2, 1, 3))  # (B, heads, N, d)
        kv = ops.transpose(ops.reshape(kv, (-1, m, 2, heads, d)), (2, 0, 3, 1, 4))
        k, v = kv[0], kv[1]  # (B, heads, M, d)
        out = multi_head_attention(q, k, v)  # (B, N, heads, d)
        return ops.reshape(out, (-1, height, width, c))

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def torch_tensors(self):
        """``(suffix, variable, torch->keras, keras->torch)`` for the weight mapper."""

        def transpose(a):
            return np.asarray(a).T

        def identity(a):
            return np.asarray(a)

        return [
            ("in_proj_weight", self.in_proj_kernel, transpose, transpose),
            ("in_proj_bias", self.in_proj_bias, identity, identity),
        ]

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads}


def spatial_reduction_attention(x, num_heads: int, sr_ratio: int, name: str):
    """MMPose's ``SpatialReductionAttention`` without its residual: keys / values from the map
    reduced by an ``sr_ratio`` stride-``sr_ratio`` conv (``name.sr``, floor-sized) + LayerNorm
    (``name.norm``) when ``sr_ratio > 1``; ``(B, H, W, C) -> (B, H, W, C)``."""
    c = int(x.shape[-1])
    context = x
    if sr_ratio > 1:
        context = conv2d(x, c, sr_ratio, f"{name}.sr", stride=sr_ratio, use_bias=True)
        context = layer_norm(context, f"{name}.norm")
    y = PackedMultiheadAttention(num_heads, name=f"{name}.attn")([x, context])
    return dense(y, c, f"{name}.attn.out_proj")


def mix_ffn(x, feedforward_channels: int, use_conv: bool, name: str):
    """MMPose's ``MixFFN`` without its residual: 1x1 conv (``name.layers.0``), with
    ``use_conv`` a 3x3 depthwise conv (``.1``), GELU, 1x1 conv back (``.3``, or ``.4`` with
    ``use_conv``: the indices of MMPose's Sequential, dropouts included)."""
    c = int(x.shape[-1])
    y = conv2d(x, feedforward_channels, 1, f"{name}.layers.0", use_bias=True)
    if use_conv:
        y = depthwise_conv2d(
            y, 3, f"{name}.layers.1", padding=1, use_bias=True, kernel_initializer=kaiming_fan_out()
        )
    y = keras.layers.Activation(gelu, name=f"{name}.layers.{2 if use_conv else 1}")(y)
    return conv2d(y, c, 1, f"{name}.layers.{4 if use_conv else 3}", use_bias=True)


def encoder_layer(
    x,
    num_heads: int,
    feedforward_channels: int,
    sr_ratio: int,
    use_conv_ffn: bool,
    drop_path: float,
    name: str,
):
    """``PVTEncoderLayer``: ``x + attn(norm1(x))``, then ``x + ffn(norm2(x))``, each branch
    through stochastic depth; ``(B, H, W, C)``."""
    y = layer_norm(x, f"{name}.norm1")
    y = spatial_reduction_attention(y, num_heads, sr_ratio, f"{name}.attn")
    y = DropPath(drop_path, name=f"{name}.attn.dropout_layer")(y)
    x = keras.layers.Add(name=f"{name}.attn_add")([x, y])
    y = layer_norm(x, f"{name}.norm2")
    y = mix_ffn(y, feedforward_channels, use_conv_ffn, f"{name}.ffn")
    y = DropPath(drop_path, name=f"{name}.ffn.dropout_layer")(y)
    return keras.layers.Add(name=f"{name}.ffn_add")([x, y])


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    if len(value) == 1:
        return int(value[0]), int(value[0])
    return int(value[0]), int(value[1])


def pvt(
    img_size: Sequence[int] = (256, 192),
    pretrain_img_size: int | Sequence[int] = 224,
    in_channels: int = 3,
    embed_dims: int = 64,
    num_layers: Sequence[int] = (3, 4, 6, 3),
    num_heads: Sequence[int] = (1, 2, 5, 8),
    patch_sizes: Sequence[int] = (4, 2, 2, 2),
    strides: Sequence[int] = (4, 2, 2, 2),
    paddings: Sequence[int] = (0, 0, 0, 0),
    sr_ratios: Sequence[int] = (8, 4, 2, 1),
    out_indices: Sequence[int] = (3,),
    mlp_ratios: Sequence[int] = (8, 8, 4, 4),
    drop_path_rate: float = 0.1,
    use_abs_pos_embed: bool = True,
    norm_after_stage: bool = False,
    use_conv_ffn: bool = False,
    name: str = "backbone",
) -> keras.Model:
    """MMPose's ``PyramidVisionTransformer`` (qkv bias, GELU, no dropout):
    ``(B, H, W, in_channels)`` normalised crops, ``img_size = (H, W)`` -> the map of each
    stage in ``out_indices`` (one tensor for one index, else a list), stage ``i`` being
    ``(B, ~H / s_i, ~W / s_i, embed_dims * num_heads[i])`` with ``s_i = prod(strides[:i + 1])``.

    The arguments are MMPose's (``num_stages`` is ``len(num_layers)``); ``out_indices``
    defaults to ``(3,)``, the stage the configs' head reads. Stages after the last index are not
    built. ``pretrain_img_size`` sets the grid each position embedding is stored at,
    ``pretrain_img_size // prod(patch_sizes[:i + 1])``.

    Example:
        >>> backbone = pvt()   # PVT-S: (B, 256, 192, 3) -> (B, 8, 6, 512)
    """
    settings = (num_layers, num_heads, patch_sizes, strides, paddings, sr_ratios, mlp_ratios)
    num_stages = len(num_layers)
    if any(len(s) != num_stages for s in settings):
        raise ModelError(
            f"PVT: num_layers, num_heads, patch_sizes, strides, paddings, sr_ratios and "
            f"mlp_ratios need one entry per stage ({num_stages}), got "
            f"{[len(s) for s in settings]}"
        )
    out_indices = tuple(int(i) for i in out_indices)
    if not out_indices or any(not 0 <= i < num_stages for i in out_indices):
        raise ModelError(f"PVT: out_indices {out_indices} must name stages 0..{num_stages - 1}")
    height, width = (int(v) for v in img_size)
    pretrain = np.array(_pair(pretrain_img_size))

    inputs = keras.Input((height, width, in_channels), name=f"{name}_input")
    x = inputs
    rates = np.linspace(0, drop_path_rate, sum(num_layers))
    outputs = []
    first = 0
    for i in range(max(out_indices) + 1):
        stage = f"{name}.layers.{i}"
        width_i = embed_dims * num_heads[i]
        x = conv2d(
            x,
            width_i,
            patch_sizes[i],
            f"{stage}.0.projection",
            stride=strides[i],
            padding=paddings[i],
            use_bias=True,
        )  # (B, H_i, W_i, C_i)
        x = layer_norm(x, f"{stage}.0.norm")
        offset = 0
        if use_abs_pos_embed:
            grid = pretrain // int(np.prod(patch_sizes[: i + 1]))
            x = ResizedPositionEmbedding(grid, name=f"{stage}.1.0.pos_embed")(x)
            offset = 1
        for j in range(num_layers[i]):
            x = encoder_layer(
                x,
                num_heads[i],
                mlp_ratios[i] * width_i,
                sr_ratios[i],
                use_conv_ffn,
                float(rates[first + j]),
                f"{stage}.1.{j + offset}",
            )
        first += num_layers[i]
        if norm_after_stage:
            x = layer_norm(x, f"{stage}.2")
        if i in out_indices:
            outputs.append(x)
    return keras.Model(inputs, outputs[0] if len(outputs) == 1 else outputs, name=name)


def pvtv2(**kwargs) -> keras.Model:
    """MMPose's ``PyramidVisionTransformerV2``: ``pvt`` with overlapping patch embeddings
    (7-3-3-3, padding 3-1-1-1), no position embedding, a LayerNorm after each stage and the
    depthwise-conv FFN."""
    return pvt(
        patch_sizes=(7, 3, 3, 3),
        paddings=(3, 1, 1, 1),
        use_abs_pos_embed=False,
        norm_after_stage=True,
        use_conv_ffn=True,
        **kwargs,
    )


def convert_pvt_checkpoint(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """An original PVT / PVTv2 ImageNet checkpoint (``pvt_small.pth``, ``pvt_v2_b2.pth``) in
    MMPose's names and layouts, as MMPose's ``pvt_convert`` makes it: ``patch_embed{s}.proj``
    -> ``backbone.layers.{s-1}.0.projection``, ``pos_embed{s}`` -> ``layers.{s-1}.1.0.pos_embed``
    (a 50-token stage-4 embedding loses its class-token slot), ``block{s}.{j}`` ->
    ``layers.{s-1}.1.{j (+1 with position embeddings)}`` with ``attn.q`` and ``attn.kv``
    concatenated into ``attn.attn.in_proj_*``, ``attn.proj`` -> ``attn.attn.out_proj``, the
    MLP's linear layers as 1x1 convs ``ffn.layers.0`` / ``.3`` (``.4`` with the depthwise conv
    ``ffn.layers.1``), ``norm{s}`` -> ``layers.{s-1}.2``; the classifier (``head``, the final
    ``norm``, ``cls_token``) is dropped. Load with ``assign_state_dict(model, ...,
    strict=False)`` (the pose head is not in it).
    """
    has_pos = any(k.startswith("pos_embed") for k in state_dict)
    has_dwconv = any("dwconv" in k for k in state_dict)
    converted = {}
    for key, value in state_dict.items():
        value = np.asarray(value)
        if key.startswith(("head", "norm.", "cls_token")) or ".attn.kv." in key:
            continue
        if key.startswith("pos_embed"):
            stage = int(key[len("pos_embed") :])
            if stage == 4 and value.shape[1] == 50:  # class token + 7 x 7
                value = value[:, 1:]
            new = f"layers.{stage - 1}.1.0.pos_embed"
        elif key.startswith("patch_embed"):
            prefix, rest = key.split(".", 1)
            stage = int(prefix[len("patch_embed") :])
            new = f"layers.{stage - 1}.0.{rest.replace('proj.', 'projection.', 1)}"
        elif key.startswith("block"):
            prefix, index, rest = key.split(".", 2)
            stage = int(prefix[len("block") :])
            if rest.startswith("attn.q."):
                kv = state_dict[f"{prefix}.{index}.attn.kv.{rest[len('attn.q.') :]}"]
                value = np.concatenate([value, np.asarray(kv)], axis=0)
                rest = "attn.attn.in_proj_" + rest[len("attn.q.") :]
            elif rest.startswith("attn.proj."):
                rest = "attn.attn.out_proj." + rest[len("attn.proj.") :]
            elif rest.startswith("mlp."):
                if rest.endswith(("fc1.weight", "fc2.weight")):
                    value = value.reshape(*value.shape, 1, 1)
                fc2 = "4" if has_dwconv else "3"
                rest = (
                    rest.replace("mlp.", "ffn.layers.", 1)
                    .replace("fc1.", "0.")
                    .replace("dwconv.dwconv.", "1.")
                    .replace("fc2.", f"{fc2}.")
                )
            new = f"layers.{stage - 1}.1.{int(index) + has_pos}.{rest}"
        elif key.startswith("norm"):
            new = f"layers.{int(key[4]) - 1}.2{key[5:]}"
        else:
            new = key
        converted[f"backbone.{new}"] = value
    return converted


def pvt_s(**kwargs) -> keras.Model:
    """PVT-S of ``td-hm_pvt-s_8xb64-210e_coco-256x192`` (64-128-320-512 wide, 3-4-6-3 layers,
    heads 1-2-5-8): ``(B, 256, 192, 3) -> (B, 8, 6, 512)``."""
    return pvt(**kwargs)


def pvtv2_b2(**kwargs) -> keras.Model:
    """PVTv2-B2 of ``td-hm_pvtv2-b2_8xb64-210e_coco-256x192`` (64-128-320-512 wide, 3-4-6-3
    layers, heads 1-2-5-8): ``(B, 256, 192, 3) -> (B, 8, 6, 512)``."""
    return pvtv2(**kwargs)
