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
from keras import ops

from kpose.errors import ModelError
from kpose.models.backbones.hrnet import transition
from kpose.models.backbones.resnet import EXPANSION, bottleneck
from kpose.models.backbones.swin import relative_position_index, relative_position_tensors
from kpose.models.backbones.vit import DropPath, dense, gelu, layer_norm
from kpose.models.layers import batch_norm, conv2d, relu

UPSAMPLE_MODES = ("bilinear", "nearest")  # MMPose's upsample mode (align_corners=False)


def _padded(size, window_size: int):
    """``size`` rounded up to a multiple of ``window_size`` (None stays None)."""
    return None if size is None else -(-int(size) // window_size) * window_size


@keras.saving.register_keras_serializable(package="kpose")
class WindowCenterPad(keras.layers.Layer):
    """Zero-pads ``(B, H, W, C)`` to multiples of ``window_size`` with ``pad // 2`` rows /
    columns before and the rest after (MMPose's ``LocalWindowSelfAttention`` padding)."""

    def __init__(self, window_size: int, **kwargs):
        super().__init__(**kwargs)
        self.window_size = int(window_size)

    def call(self, x):
        shape = ops.shape(x)
        pad_h, pad_w = (-shape[1]) % self.window_size, (-shape[2]) % self.window_size
        return ops.pad(
            x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0))
        )

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, _padded(h, self.window_size), _padded(w, self.window_size), c)

    def get_config(self):
        return {**super().get_config(), "window_size": self.window_size}


@keras.saving.register_keras_serializable(package="kpose")
class CenterCropLike(keras.layers.Layer):
    """Undoes ``WindowCenterPad``: crops ``padded`` ``(B, Hp, Wp, C)`` to the height and width
    of ``reference`` ``(B, H, W, ...)``, dropping ``(Hp - H) // 2`` rows at the top (columns at
    the left) and the rest at the bottom (right)."""

    def call(self, inputs):
        padded, reference = inputs
        padded_shape, shape = ops.shape(padded), ops.shape(reference)
        top = (padded_shape[1] - shape[1]) // 2
        left = (padded_shape[2] - shape[2]) // 2
        return padded[:, top : top + shape[1], left : left + shape[2]]

    def compute_output_shape(self, input_shape):
        padded, reference = input_shape
        return (padded[0], reference[1], reference[2], padded[3])


@keras.saving.register_keras_serializable(package="kpose")
class WindowMSA(keras.layers.Layer):
    """The weightless core of MMPose's ``WindowMSA`` (its ``qkv`` and ``proj`` linear layers are
    Dense layers around it): packed q, k, v of a window-padded map ``(B, Hp, Wp, 3C)``
    (head-major, as the ``qkv`` projection packs them) -> ``(B, Hp, Wp, C)``.

    Per ``window_size`` window and head, ``softmax(q k^T / sqrt(d) + bias) v``; with ``with_rpe``
    the bias is the ``relative_position_bias_table`` ``((2w - 1)^2, heads)`` row of each token
    pair, given by the ``relative_position_index`` buffer (a non-trainable weight, loaded from
    the checkpoint as PyTorch does).
    """

    def __init__(self, num_heads: int, window_size: int = 7, with_rpe: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.window_size = int(window_size)
        self.with_rpe = bool(with_rpe)

    def build(self, input_shape):
        if not self.with_rpe:
            return
        w = self.window_size
        self.relative_position_bias_table = self.add_weight(
            name="relative_position_bias_table",
            shape=((2 * w - 1) ** 2, self.num_heads),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        )
        self.relative_position_index = self.add_weight(
            name="relative_position_index",
            shape=(w * w, w * w),
            dtype="int32",
            initializer=keras.initializers.Constant(relative_position_index(w)),
            trainable=False,
        )

    def call(self, qkv):
        shape = ops.shape(qkv)
        c3 = int(qkv.shape[-1])
        w, heads = self.window_size, self.num_heads
        c = c3 // 3
        head_dim = c // heads
        n = w * w
        nh, nw = shape[1] // w, shape[2] // w
        x = ops.reshape(qkv, (-1, nh, w, nw, w, c3))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))  # (B, nh, nw, w, w, 3C)
        x = ops.reshape(x, (-1, n, 3, heads, head_dim))
        x = ops.transpose(x, (2, 0, 3, 1, 4))  # (3, B * nW, heads, N, d)
        q, k, v = x[0], x[1], x[2]
        attn = ops.matmul(q * (head_dim**-0.5), ops.transpose(k, (0, 1, 3, 2)))
        if self.with_rpe:
            index = ops.reshape(self.relative_position_index, (-1,))
            table = ops.cast(self.relative_position_bias_table, attn.dtype)
            bias = ops.reshape(ops.take(table, index, axis=0), (n, n, heads))
            attn = attn + ops.transpose(bias, (2, 0, 1))[None]  # + (1, heads, N, N)
        attn = ops.softmax(attn, axis=-1)
        out = ops.transpose(ops.matmul(attn, v), (0, 2, 1, 3))  # (B * nW, N, heads, d)
        out = ops.reshape(out, (-1, nh, nw, w, w, c))
        out = ops.transpose(out, (0, 1, 3, 2, 4, 5))
        return ops.reshape(out, (-1, shape[1], shape[2], c))  # (B, Hp, Wp, C)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // 3)

    def torch_tensors(self):
        """``(suffix, variable, torch->keras, keras->torch)`` for the weight mapper."""
        return relative_position_tensors(self) if self.with_rpe else []

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "window_size": self.window_size,
            "with_rpe": self.with_rpe,
        }


def _depthwise(x, stride: int, name: str, use_bias: bool):
    """``nn.Conv2d(C, C, 3, stride, padding=1, groups=C)`` as a ``DepthwiseConv2D``."""
    if stride != 1:
        x = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    return keras.layers.DepthwiseConv2D(
        3,
        strides=stride,
        padding="same" if stride == 1 else "valid",
        use_bias=use_bias,
        depthwise_initializer=keras.initializers.VarianceScaling(
            2.0, "fan_out", "untruncated_normal"
        ),
        name=name,
    )(x)


def _gelu(x, name: str):
    return keras.layers.Activation(gelu, name=name)(x)


def cross_ffn(x, hidden: int, name: str):
    """MMPose's ``CrossFFN`` on ``(B, H, W, C)``: each of the 1x1 (``fc1``, to ``hidden``),
    depthwise 3x3 (``dw3x3``) and 1x1 (``fc2``, back to C) convolutions is followed by BN
    (``norm1..3``) and GELU."""
    c = int(x.shape[-1])
    x = conv2d(x, hidden, 1, f"{name}.fc1", use_bias=True)
    x = _gelu(batch_norm(x, f"{name}.norm1"), f"{name}.act1")
    x = _depthwise(x, 1, f"{name}.dw3x3", use_bias=True)
    x = _gelu(batch_norm(x, f"{name}.norm2"), f"{name}.act2")
    x = conv2d(x, c, 1, f"{name}.fc2", use_bias=True)
    return _gelu(batch_norm(x, f"{name}.norm3"), f"{name}.act3")


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
    y = WindowMSA(num_heads, window_size, with_rpe, name=f"{name}.attn.attn")(y)
    y = CenterCropLike(name=f"{name}.attn_crop")([y, x])  # (B, H, W, C)
    y = dense(y, c, f"{name}.attn.attn.proj")
    y = DropPath(drop_path, name=f"{name}.attn_drop_path")(y)
    x = keras.layers.Add(name=f"{name}.attn_add")([x, y])
    y = layer_norm(x, f"{name}.norm2")
    y = cross_ffn(y, int(c * mlp_ratio), f"{name}.ffn")
    y = DropPath(drop_path, name=f"{name}.ffn_drop_path")(y)
    return keras.layers.Add(name=f"{name}.ffn_add")([x, y])


def _fuse(ys: list, i: int, upsample_mode: str, name: str):
    """Branch ``i`` of a module's fuse: the sum of every branch brought to its resolution and
    width, then ReLU. Lower resolutions: 1x1 conv + BN + upsampling; higher ones: links of
    depthwise 3x3 stride-2 conv + BN + 1x1 conv + BN (+ ReLU except after the last)."""
    channels = [int(y.shape[-1]) for y in ys]
    terms = []
    for j, y in enumerate(ys):
        prefix = f"{name}.fuse_layers.{i}.{j}"
        if j > i:
            y = conv2d(y, channels[i], 1, f"{prefix}.0")
            y = batch_norm(y, f"{prefix}.1")
            y = keras.layers.UpSampling2D(
                2 ** (j - i), interpolation=upsample_mode, name=f"{prefix}.2"
            )(y)
        elif j < i:
            for k in range(i - j):
                last = k == i - j - 1
                link = f"{prefix}.{k}"
                y = _depthwise(y, 2, f"{link}.0", use_bias=False)
                y = batch_norm(y, f"{link}.1")
                y = conv2d(y, channels[i] if last else channels[j], 1, f"{link}.2")
                y = batch_norm(y, f"{link}.3")
                if not last:
                    y = relu(y, f"{link}.4")
        terms.append(y)
    y = keras.layers.Add(name=f"{name}.fuse_layers.{i}_add")(terms)
    return relu(y, f"{name}.fuse_layers.{i}_relu")


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
    return [_fuse(ys, i, upsample_mode, name) for i in range(len(ys) if multiscale_output else 1)]


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
    if len(num_modules) != 3 or len(num_blocks) != 3 or min(*num_modules, *num_blocks) < 1:
        raise ModelError(
            "HRFormer: num_modules and num_blocks need one positive value per stage 2, 3, 4; "
            f"got {tuple(num_modules)} / {tuple(num_blocks)}"
        )
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
    x = conv2d(inputs, stem_channels, 3, f"{name}.conv1", stride=2, padding=1)
    x = relu(batch_norm(x, f"{name}.bn1"), f"{name}.bn1_relu")
    x = conv2d(x, stem_channels, 3, f"{name}.conv2", stride=2, padding=1)
    x = relu(batch_norm(x, f"{name}.bn2"), f"{name}.bn2_relu")
    for b in range(stage1_blocks):
        x = bottleneck(x, stage1_channels * EXPANSION["bottleneck"], f"{name}.layer1.{b}")
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
