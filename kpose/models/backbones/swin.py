"""Swin Transformer as MMPose builds it (``mmpose/models/backbones/swin.py``, the
``td-hm_swin-{t,b,l}-p4-w7`` configs).

A 4x4 stride-4 patch embedding (input zero-padded at the bottom / right to a multiple of 4,
then a LayerNorm), four stages of Swin blocks separated by patch merging, and a LayerNorm on
each returned stage: ``(B, H, W, 3) -> (B, H / 32, W / 32, 8 * embed_dims)`` for the seed
configs' ``out_indices=(3,)``. A block is pre-norm window attention then a GELU MLP, each with
a residual and stochastic depth (rising linearly over all blocks to ``drop_path_rate``).
Attention runs in 7x7 windows; the normalised feature map is first zero-padded at the bottom /
right to a multiple of the window (a 256x192 crop gives 64x48 tokens, padded to 70x49; the
padded tokens take part in attention as the qkv bias), every second block rolls the map by
``-window // 2`` and masks pairs of tokens from different regions with -100 (MMPose's shifted
windows), and a learned relative-position bias ``(13 * 13, heads)`` indexed by the
``relative_position_index`` buffer is added to the logits. Patch merging zero-pads odd maps at
the bottom / right, stacks each 2x2 block in ``nn.Unfold``'s order (channel-major, then row,
then column), applies a LayerNorm and a bias-free linear layer to twice the width.

Layer names are MMPose's state-dict paths (``backbone.stages.2.blocks.5.attn.w_msa.qkv``, ...).
MMPose initialises the backbone from the original Swin ImageNet checkpoints through
``swin_converter`` (``convert_weights=True``); ``convert_swin_checkpoint`` does the same here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
import numpy as np
from keras import ops

from kpose.errors import ModelError
from kpose.models.layers import DropPath, WindowAttention, dense, ffn, layer_norm, pad_bottom_right

LN_EPSILON = 1e-5  # mmcv's LN
# arch -> (embed_dims, depths, num_heads)
ARCHS = {
    "tiny": (96, (2, 2, 6, 2), (3, 6, 12, 24)),
    "small": (96, (2, 2, 18, 2), (3, 6, 12, 24)),
    "base": (128, (2, 2, 18, 2), (4, 8, 16, 32)),
    "large": (192, (2, 2, 18, 2), (6, 12, 24, 48)),
}


@keras.saving.register_keras_serializable(package="kpose")
class PatchMergingUnfold(keras.layers.Layer):
    """The sampling of MMPose's ``PatchMerging``: ``(B, H, W, C)`` -> ``(B, H / 2, W / 2, 4C)``
    with each 2x2 block's values in ``nn.Unfold``'s order (channel ``c`` at ``4c + 2i + j``
    for row ``i``, column ``j``); odd maps are first zero-padded at the bottom / right."""

    def call(self, x):
        height, width, c = int(x.shape[1]), int(x.shape[2]), int(x.shape[3])
        if height % 2 or width % 2:
            x = ops.pad(x, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)))
            height, width = height + height % 2, width + width % 2
        x = ops.reshape(x, (-1, height // 2, 2, width // 2, 2, c))
        x = ops.transpose(x, (0, 1, 3, 5, 2, 4))  # (B, H/2, W/2, C, 2, 2)
        return ops.reshape(x, (-1, height // 2, width // 2, 4 * c))

    def compute_output_shape(self, input_shape):
        _, h, w, c = input_shape
        return (input_shape[0], (h + 1) // 2, (w + 1) // 2, 4 * c)


def _layer_norm(x, name: str):
    return layer_norm(x, name, LN_EPSILON)


def swin_block(
    x, num_heads: int, window_size: int, shift: bool, mlp_ratio: float, drop_path: float, name: str
):
    """One ``SwinBlock`` on ``(B, H, W, C)``: ``x + sw_msa(norm1(x))``, ``x + ffn(norm2(x))``.

    The qkv and output projections are per token, so they run on the padded map around the
    weightless ``WindowAttention``; the padding is cropped after the output projection.
    """
    height, width, c = (int(s) for s in x.shape[1:])
    y = _layer_norm(x, f"{name}.norm1")
    y = pad_bottom_right(y, window_size, f"{name}.attn_pad")  # (B, Hp, Wp, C)
    y = dense(y, 3 * c, f"{name}.attn.w_msa.qkv")
    y = WindowAttention(
        num_heads, window_size, window_size // 2 if shift else 0, name=f"{name}.attn.w_msa"
    )(y)
    y = dense(y, c, f"{name}.attn.w_msa.proj")
    if y.shape[1] != height or y.shape[2] != width:
        y = keras.layers.Cropping2D(
            ((0, int(y.shape[1]) - height), (0, int(y.shape[2]) - width)), name=f"{name}.attn_crop"
        )(y)
    y = DropPath(drop_path, name=f"{name}.attn.drop")(y)
    x = keras.layers.Add(name=f"{name}.attn_add")([x, y])
    y = _layer_norm(x, f"{name}.norm2")
    y = ffn(y, int(mlp_ratio * c), drop_path, f"{name}.ffn")
    return keras.layers.Add(name=f"{name}.ffn_add")([x, y])


def patch_merging(x, name: str):
    """MMPose's ``PatchMerging``: 2x2 unfold, LayerNorm(4C), bias-free Linear(4C -> 2C)."""
    c = int(x.shape[-1])
    x = PatchMergingUnfold(name=f"{name}.sampler")(x)
    x = _layer_norm(x, f"{name}.norm")
    return dense(x, 2 * c, f"{name}.reduction", use_bias=False)


def _arch(arch: str | Mapping) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
    if isinstance(arch, str):
        if arch not in ARCHS:
            raise ModelError(f"Swin arch must be one of {sorted(ARCHS)} or a dict, got {arch!r}")
        return ARCHS[arch]
    try:
        embed_dims = int(arch["embed_dims"])
        depths = tuple(int(d) for d in arch["depths"])
        num_heads = tuple(int(h) for h in arch["num_heads"])
    except KeyError as exc:
        raise ModelError(f"Swin arch dict needs {exc}") from None
    if len(depths) != len(num_heads):
        raise ModelError(f"Swin: {len(depths)} depths but {len(num_heads)} num_heads")
    return embed_dims, depths, num_heads


def swin(
    arch: str | Mapping = "tiny",
    img_size: Sequence[int] = (256, 192),
    patch_size: int = 4,
    window_size: int = 7,
    mlp_ratio: float = 4,
    drop_path_rate: float = 0.1,
    out_indices: Sequence[int] = (3,),
    in_channels: int = 3,
    name: str = "backbone",
) -> keras.Model:
    """MMPose's ``SwinTransformer`` (patch norm, qkv bias, no absolute position embedding):
    ``(B, H, W, in_channels)`` normalised crops, ``img_size = (H, W)`` -> the normalised
    output of each stage in ``out_indices``, stage ``i`` being ``(B, ~H / 2^(i + 2),
    ~W / 2^(i + 2), embed_dims * 2^i)`` (one tensor for one index, else a list).

    ``arch``: ``"tiny"`` (96 wide, depths 2-2-6-2, heads 3-6-12-24), ``"small"``, ``"base"``
    (128, 2-2-18-2, 4-8-16-32), ``"large"`` (192, 2-2-18-2, 6-12-24-48) or a dict
    ``{embed_dims, depths, num_heads}``. MMPose's default ``drop_path_rate`` is 0.1; the seed
    configs use 0.2 (T), 0.3 (B), 0.5 (L), the defaults of ``swin_t`` / ``swin_b`` / ``swin_l``.

    Example:
        >>> backbone = swin("tiny", drop_path_rate=0.2)  # (B, 256, 192, 3) -> (B, 8, 6, 768)
    """
    embed_dims, depths, num_heads = _arch(arch)
    num_stages = len(depths)
    out_indices = tuple(int(i) for i in out_indices)
    if not out_indices or any(not 0 <= i < num_stages for i in out_indices):
        raise ModelError(f"Swin: out_indices {out_indices} must name stages 0..{num_stages - 1}")
    for i, heads in enumerate(num_heads):
        if (embed_dims * 2**i) % heads:
            raise ModelError(
                f"Swin: stage {i} width {embed_dims * 2**i} is not divisible by {heads} heads"
            )
    height, width = (int(v) for v in img_size)

    inputs = keras.Input((height, width, in_channels), name=f"{name}_input")
    x = pad_bottom_right(inputs, patch_size, f"{name}.patch_embed_pad")
    x = keras.layers.Conv2D(
        embed_dims,
        patch_size,
        strides=patch_size,
        use_bias=True,
        name=f"{name}.patch_embed.projection",
    )(x)  # (B, H/4, W/4, C)
    x = _layer_norm(x, f"{name}.patch_embed.norm")
    rates = np.linspace(0, drop_path_rate, sum(depths))
    outputs = []
    block = 0
    for i, depth in enumerate(depths):
        stage = f"{name}.stages.{i}"
        for j in range(depth):
            x = swin_block(
                x,
                num_heads[i],
                window_size,
                j % 2 == 1,
                mlp_ratio,
                float(rates[block]),
                f"{stage}.blocks.{j}",
            )
            block += 1
        if i in out_indices:
            outputs.append(_layer_norm(x, f"{name}.norm{i}"))
        if i < num_stages - 1:
            x = patch_merging(x, f"{stage}.downsample")
    return keras.Model(inputs, outputs[0] if len(outputs) == 1 else outputs, name=name)


def convert_swin_checkpoint(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """An original Swin checkpoint (``swin_tiny_patch4_window7_224.pth``'s ``model``) in
    MMPose's names and layouts, as ``swin_converter`` (``convert_weights=True``) makes it:
    ``layers`` -> ``backbone.stages``, ``attn`` -> ``attn.w_msa``, ``mlp.fc1/fc2`` ->
    ``ffn.layers.0.0/1``, ``patch_embed.proj`` -> ``patch_embed.projection``, the patch-merging
    weights reordered from the original's ``x0, x1, x2, x3`` concatenation to ``nn.Unfold``'s
    order; the classifier ``head`` is dropped. Keys MMPose's model has no place for (the
    ``attn_mask`` buffers, the classifier's final ``norm``) are dropped too: MMPose loads with
    ``strict=False``, so its ``norm3`` keeps its initial value. Load the result with
    ``assign_state_dict(model, ..., strict=False)`` (the head is not in it).
    """

    def reduction(w):  # (out, 4C): the original blocks are (0,0), (1,0), (0,1), (1,1)
        out, inp = w.shape
        return w.reshape(out, 4, inp // 4)[:, [0, 2, 1, 3]].transpose(0, 2, 1).reshape(out, inp)

    def norm(v):  # (4C,)
        return v.reshape(4, -1)[[0, 2, 1, 3]].T.reshape(-1)

    converted = {}
    for key, value in state_dict.items():
        value = np.asarray(value)
        if key.startswith("head") or key.startswith("norm.") or key.endswith("attn_mask"):
            continue
        if key.startswith("layers"):
            if "attn." in key:
                key = key.replace("attn.", "attn.w_msa.")
            elif "mlp.fc1." in key:
                key = key.replace("mlp.fc1.", "ffn.layers.0.0.")
            elif "mlp.fc2." in key:
                key = key.replace("mlp.fc2.", "ffn.layers.1.")
            elif "downsample.reduction." in key:
                value = reduction(value)
            elif "downsample.norm." in key:
                value = norm(value)
            key = key.replace("layers", "stages", 1)
        elif key.startswith("patch_embed.proj."):
            key = key.replace("proj", "projection", 1)
        converted[f"backbone.{key}"] = value
    return converted


def swin_t(drop_path_rate: float = 0.2, **kwargs) -> keras.Model:
    """Swin-T of ``td-hm_swin-t-p4-w7_8xb32-210e_coco-256x192`` (768 channels at 1/32)."""
    return swin("tiny", drop_path_rate=drop_path_rate, **kwargs)


def swin_b(drop_path_rate: float = 0.3, **kwargs) -> keras.Model:
    """Swin-B of ``td-hm_swin-b-p4-w7_8xb32-210e_coco-256x192`` (1024 channels at 1/32)."""
    return swin("base", drop_path_rate=drop_path_rate, **kwargs)


def swin_l(drop_path_rate: float = 0.5, **kwargs) -> keras.Model:
    """Swin-L of ``td-hm_swin-l-p4-w7_8xb32-210e_coco-256x192`` (1536 channels at 1/32)."""
    return swin("large", drop_path_rate=drop_path_rate, **kwargs)
