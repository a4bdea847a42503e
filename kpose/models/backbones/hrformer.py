"""HRFormer (Yuan et al., 2021) as MMPose builds it (``mmpose/models/backbones/hrformer.py``,
the ``td-hm_hrformer-{small,base}`` configs).

HRNet's scaffold (``hrnet.py``: the two stride-2 stem convolutions, a stage of Bottlenecks, the
transitions that add a half-resolution branch per stage) with transformer blocks in the
branches of stages 2-4. An ``HRFormerBlock`` on a ``(B, H, W, C)`` branch is
``x + attn(norm1(x))`` then ``x + ffn(norm2(x))`` (LayerNorm eps 1e-6; stochastic depth rising
linearly over the blocks of all modules to ``drop_path_rate``). The attention runs in
non-overlapping ``window x window`` windows of the map zero-padded *centrally* to multiples of
the window (top / left get ``pad // 2``, so 64x48 becomes 70x49 with 3 rows above, 3 below and 1
column right; the padded tokens enter the qkv projection and take part in attention, as in
MMPose without ``with_pad_mask``), adds a learned relative-position bias ``((2w - 1)^2, heads)``
picked by the ``relative_position_index`` buffer (``with_rpe``), and is cropped back. The FFN
(``CrossFFN``) is convolutional: 1x1 conv -> BN -> GELU, depthwise 3x3 -> BN -> GELU, 1x1 conv
-> BN -> GELU (every conv with a bias, GELU in the exact erf form). The modules' fuse layers
differ from HRNet's: lower resolutions are brought up by 1x1 conv + BN + *bilinear* upsampling
(``align_corners=False``), higher ones down by chains of depthwise 3x3 stride-2 conv + BN +
1x1 conv + BN (+ ReLU between links). The last module fuses into the 1/4-resolution branch only,
the backbone's output ``(B, H / 4, W / 4, num_channels[0])``.

Layer names are MMPose's state-dict paths (``backbone.stage3.1.branches.2.0.attn.attn.qkv``,
``backbone.stage4.0.fuse_layers.0.3.0``, ...). Spatial sizes may be left open: the window
padding and cropping follow the traced map size.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from kpose.errors import ModelError
from kpose.models.backbones.hrnet import check_stages, fuse, stem, transition
from kpose.models.layers import (
    CenterCropLike,
    DropPath,
    WindowAttention,
    WindowCenterPad,
    conv_module,
    dense,
    gelu,
    layer_norm,
    separable_conv_bn,
)

UPSAMPLE_MODES = ("bilinear", "nearest")  # MMPose's upsample mode (align_corners=False)


def _depthwise_init() -> keras.initializers.Initializer:
    """The Kaiming fan-out init kpose gives HRFormer's depthwise convs (Keras' fan-out of a
    ``(3, 3, C, 1)`` kernel)."""
    return keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")


def cross_ffn(x, hidden: int, name: str):
    """MMPose's ``CrossFFN`` on ``(B, H, W, C)``: each of the 1x1 (``fc1``, to ``hidden``),
    depthwise 3x3 (``dw3x3``) and 1x1 (``fc2``, back to C) convolutions (with bias) is followed
    by BN (``norm1..3``) and GELU (``act1..3``)."""
    c = int(x.shape[-1])
    x = conv_module(x, hidden, 1, name, use_bias=True, act=gelu, names=("fc1", "norm1", "act1"))
    x = conv_module(
        x, hidden, 3, name, groups=hidden, use_bias=True, act=gelu,
        kernel_initializer=_depthwise_init(), names=("dw3x3", "norm2", "act2"),
    )  # fmt: skip
    return conv_module(x, c, 1, name, use_bias=True, act=gelu, names=("fc2", "norm3", "act3"))


def hrformer_block(
    x,
    num_heads: int,
    window_size: int,
    mlp_ratio: float,
    drop_path: float,
    name: str,
    with_rpe: bool = True,
):
    """One ``HRFormerBlock`` on ``(B, H, W, C)``: ``x + lsa(norm1(x))``, ``x + ffn(norm2(x))``.

    The local-window self-attention pads the normalised map centrally, projects every token
    (padding included) to q, k, v, attends per window, crops and projects back; the per-token
    output projection commutes with the crop, so it runs on the cropped map.
    """
    c = int(x.shape[-1])
    y = layer_norm(x, f"{name}.norm1")
    y = WindowCenterPad(window_size, name=f"{name}.attn_pad")(y)  # (B, Hp, Wp, C)
    y = dense(y, 3 * c, f"{name}.attn.attn.qkv")
    y = WindowAttention(num_heads, window_size, with_rpe=with_rpe, name=f"{name}.attn.attn")(y)
    y = CenterCropLike(name=f"{name}.attn_crop")([y, x])  # (B, H, W, C)
    y = dense(y, c, f"{name}.attn.attn.proj")
    y = DropPath(drop_path, name=f"{name}.attn_drop_path")(y)
    x = keras.layers.Add(name=f"{name}.attn_add")([x, y])
    y = layer_norm(x, f"{name}.norm2")
    y = cross_ffn(y, int(c * mlp_ratio), f"{name}.ffn")
    y = DropPath(drop_path, name=f"{name}.ffn_drop_path")(y)
    return keras.layers.Add(name=f"{name}.ffn_add")([x, y])


def _fuse_link(x, filters: int, name: str, stride: int = 2, act: bool = True):
    """A fuse layer's downsampling link: depthwise 3x3 stride-2 conv + BN + 1x1 conv + BN
    (+ ReLU)."""
    return separable_conv_bn(x, filters, name, stride, act, depthwise_initializer=_depthwise_init())


def hrformer_module(
    xs: list,
    num_blocks: int,
    num_heads: Sequence[int],
    window_sizes: Sequence[int],
    mlp_ratios: Sequence[float],
    drop_paths: Sequence[float],
    name: str,
    multiscale_output: bool = True,
    with_rpe: bool = True,
    upsample_mode: str = "bilinear",
) -> list:
    """MMPose's ``HRFomerModule``: ``num_blocks`` HRFormer blocks on every branch (block ``b``
    with stochastic depth ``drop_paths[b]``), then the fuse into every branch
    (``multiscale_output``) or only branch 0. ``xs[i]``: ``(B, H / 2**i, W / 2**i, C_i)``."""
    ys = []
    for i, x in enumerate(xs):
        for b in range(num_blocks):
            x = hrformer_block(
                x,
                num_heads[i],
                window_sizes[i],
                mlp_ratios[i],
                drop_paths[b],
                f"{name}.branches.{i}.{b}",
                with_rpe,
            )
        ys.append(x)
    return [
        fuse(ys, i, name, _fuse_link, upsample_mode)
        for i in range(len(ys) if multiscale_output else 1)
    ]


def _per_branch(values: Sequence, count: int, what: str) -> tuple:
    values = tuple(values)
    if len(values) != count:
        raise ModelError(f"HRFormer: {what} needs one value per branch ({count}), got {values}")
    return values


def hrformer(
    num_channels: Sequence[int] = (32, 64, 128, 256),
    num_heads: Sequence[int] = (1, 2, 4, 8),
    num_modules: Sequence[int] = (1, 4, 2),
    num_blocks: Sequence[int] = (2, 2, 2),
    window_sizes: Sequence[int] = (7, 7, 7, 7),
    mlp_ratios: Sequence[float] = (4, 4, 4, 4),
    drop_path_rate: float = 0.1,
    with_rpe: bool = True,
    upsample_mode: str = "bilinear",
    stage1_blocks: int = 2,
    stage1_channels: int = 64,
    stem_channels: int = 64,
    in_channels: int = 3,
    name: str = "backbone",
) -> keras.Model:
    """MMPose's ``HRFormer(extra)`` for top-down pose: ``(B, H, W, in_channels)`` normalised
    crops -> ``(B, H / 4, W / 4, num_channels[0])``.

    Arguments (MMPose's ``extra``; per-branch values are stage 4's, stage ``s`` uses the
    first ``s`` of them):
        num_channels: widths of the four branches (small: 32-64-128-256, base: 78-156-312-624).
        num_heads: attention heads per branch (small: 1-2-4-8, base: 2-4-8-16).
        num_modules / num_blocks: modules in stages 2, 3, 4 and HRFormer blocks per branch in
            each of their modules.
        window_sizes / mlp_ratios: attention window and FFN expansion per branch.
        drop_path_rate: stochastic depth of the last block (0 for the first, linear between,
            counted over the blocks of one branch through all modules).
        with_rpe: the relative-position bias in the window attention.
        upsample_mode: fuse-layer upsampling, ``"bilinear"`` (HRFormer's, align_corners=False)
            or ``"nearest"``.
        stage1_blocks / stage1_channels: Bottlenecks of stage 1 and their inner width
            (output ``4 * stage1_channels``).
        stem_channels: width of the stride-2 stem convolutions (64 in MMPose).

    Example:
        >>> backbone = hrformer()      # HRFormer-S: (B, 256, 192, 3) -> (B, 64, 48, 32)
    """
    num_channels = _per_branch(num_channels, 4, "num_channels")
    num_heads = _per_branch(num_heads, 4, "num_heads")
    window_sizes = _per_branch(window_sizes, 4, "window_sizes")
    mlp_ratios = _per_branch(mlp_ratios, 4, "mlp_ratios")
    check_stages("HRFormer", num_modules, num_blocks)
    for ch, heads in zip(num_channels, num_heads, strict=True):
        if ch % heads:
            raise ModelError(f"HRFormer: branch width {ch} is not divisible by {heads} heads")
    if upsample_mode not in UPSAMPLE_MODES:
        raise ModelError(
            f"HRFormer: upsample_mode must be one of {UPSAMPLE_MODES}, got {upsample_mode!r}"
        )
    depths = [m * b for m, b in zip(num_modules, num_blocks, strict=True)]
    rates = np.linspace(0, drop_path_rate, sum(depths))

    inputs = keras.Input((None, None, in_channels), name=f"{name}_input")
    x = stem(inputs, stem_channels, stage1_blocks, stage1_channels, name)
    xs = [x]
    block = 0
    for stage, (modules, blocks) in enumerate(zip(num_modules, num_blocks, strict=True)):
        branches = stage + 2
        xs = transition(xs, num_channels[:branches], f"{name}.transition{stage + 1}")
        for m in range(modules):
            xs = hrformer_module(
                xs,
                blocks,
                num_heads[:branches],
                window_sizes[:branches],
                mlp_ratios[:branches],
                [float(r) for r in rates[block : block + blocks]],
                f"{name}.stage{stage + 2}.{m}",
                multiscale_output=not (stage == 2 and m == modules - 1),
                with_rpe=with_rpe,
                upsample_mode=upsample_mode,
            )
            block += blocks
    return keras.Model(inputs, xs[0], name=name)


def hrformer_small(drop_path_rate: float = 0.1, **kwargs) -> keras.Model:
    """HRFormer-S of ``coco/td-hm_hrformer-small_8xb32-210e_coco-256x192.py`` (32 channels at
    1/4)."""
    return hrformer(drop_path_rate=drop_path_rate, **kwargs)


def hrformer_base(drop_path_rate: float = 0.2, **kwargs) -> keras.Model:
    """HRFormer-B of ``coco/td-hm_hrformer-base_8xb32-210e_coco-256x192.py`` (78 channels at
    1/4)."""
    kwargs.setdefault("num_channels", (78, 156, 312, 624))
    kwargs.setdefault("num_heads", (2, 4, 8, 16))
    return hrformer(drop_path_rate=drop_path_rate, **kwargs)
