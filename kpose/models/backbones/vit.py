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

LN_EPSILON = 1e-6
# arch -> (embed_dims, num_layers, num_heads, feedforward_channels); ViTPose-S has 12 heads.
ARCHS = {
    "small": (384, 12, 12, 1536),
    "base": (768, 12, 12, 3072),
    "large": (1024, 24, 16, 4096),
    "huge": (1280, 32, 16, 5120),
}


def _cubic_weights(t: np.ndarray, a: float = -0.75) -> np.ndarray:
    """PyTorch's cubic-convolution weights of the 4 taps around a fractional offset ``t``."""

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


def _resize_axis(x: np.ndarray, out_size: int, axis: int) -> np.ndarray:
    """Bicubic resampling of one axis, ``align_corners=False``, borders clamped (PyTorch)."""
    in_size = x.shape[axis]
    scale = in_size / out_size
    src = (np.arange(out_size) + 0.5) * scale - 0.5
    base = np.floor(src).astype(np.int64)
    weights = _cubic_weights((src - base).astype(np.float32))  # (out, 4)
    taps = np.clip(base[:, None] + np.arange(-1, 3)[None], 0, in_size - 1)  # (out, 4)
    moved = np.moveaxis(x, axis, -1)  # (..., in)
    out = np.sum(moved[..., taps] * weights, axis=-1)  # (..., out)
    return np.moveaxis(out, -1, axis)


def resize_pos_embed(pos_embed: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """A checkpoint's ``(1, L, C)`` position embedding for a ``grid = (h, w)`` token grid.

    A leading class-token slot (``L = h * w + 1``, or a square grid + 1) is dropped; a square
    source grid of another size is resized bicubically, as mmpretrain's ``resize_pos_embed``.
    """
    h, w = grid
    tokens = pos_embed.shape[1]
    if tokens == h * w:
        return pos_embed
    if tokens == h * w + 1:
        return pos_embed[:, 1:]
    side = int(round(np.sqrt(tokens - 1))) if tokens - 1 > 0 else 0
    if side * side == tokens - 1:
        pos_embed = pos_embed[:, 1:]
    else:
        side = int(round(np.sqrt(tokens)))
        if side * side != tokens:
            raise ModelError(
                f"pos_embed with {tokens} tokens is not a square grid (+1 class "
                f"token); the model needs {h}x{w}"
            )
    c = pos_embed.shape[-1]
    src = pos_embed.reshape(side, side, c).astype(np.float32)
    out = _resize_axis(_resize_axis(src, h, 0), w, 1)
    return out.reshape(1, h * w, c).astype(pos_embed.dtype)


@keras.saving.register_keras_serializable(package="kpose")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned position embedding ``(1, N, C)`` to ``(B, N, C)`` tokens.

    Its weight is mmpretrain's ``backbone.pos_embed`` (the layer's own name); checkpoints on
    another grid are adapted by ``resize_pos_embed`` when loaded.
    """

    def __init__(self, grid: Sequence[int], **kwargs):
        super().__init__(**kwargs)
        self.grid = (int(grid[0]), int(grid[1]))

    def build(self, input_shape):
        self.pos_embed = self.add_weight(
            name="pos_embed",
            shape=(1, self.grid[0] * self.grid[1], int(input_shape[-1])),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        )

    def call(self, tokens):
        return tokens + ops.cast(self.pos_embed, tokens.dtype)

    def torch_tensors(self):
        """``(suffix, variable, torch->keras, keras->torch)``; the empty suffix means the
        state-dict key is the layer name itself."""

        def to_keras(array):
            return resize_pos_embed(np.asarray(array), self.grid)

        return [("", self.pos_embed, to_keras, lambda a: a)]

    def get_config(self):
        return {**super().get_config(), "grid": list(self.grid)}


@keras.saving.register_keras_serializable(package="kpose")
class SelfAttention(keras.layers.Layer):
    """The weightless core of multi-head self-attention: ``(B, N, 3C)`` packed q, k, v (the
    qkv projection's output, mmpretrain's head-major layout) -> ``(B, N, C)``,
    ``softmax(q k^T / sqrt(d)) v`` per head."""

    def __init__(self, num_heads: int, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)

    def call(self, qkv):
        n, c3 = ops.shape(qkv)[1], qkv.shape[-1]
        c = c3 // 3
        head_dim = c // self.num_heads
        qkv = ops.reshape(qkv, (-1, n, 3, self.num_heads, head_dim))
        qkv = ops.transpose(qkv, (2, 0, 3, 1, 4))  # (3, B, heads, N, d)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ops.matmul(q * (head_dim**-0.5), ops.transpose(k, (0, 1, 3, 2)))  # (B, h, N, N)
        attn = ops.softmax(attn, axis=-1)
        out = ops.transpose(ops.matmul(attn, v), (0, 2, 1, 3))  # (B, N, heads, d)
        return ops.reshape(out, (-1, n, c))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // 3)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads}


@keras.saving.register_keras_serializable(package="kpose")
class DropPath(keras.layers.Layer):
    """Stochastic depth: in training, zero a sample's residual branch with probability
    ``rate`` and scale the kept ones by ``1 / (1 - rate)``; identity at inference."""

    def __init__(self, rate: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed_generator = keras.random.SeedGenerator(0) if self.rate else None

    def call(self, x, training=None):
        if not training or not self.rate:
            return x
        keep = 1.0 - self.rate
        shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        mask = ops.floor(keep + keras.random.uniform(shape, seed=self.seed_generator))
        return x / keep * ops.cast(mask, x.dtype)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


@keras.saving.register_keras_serializable(package="kpose")
def gelu(x):
    """Exact GELU written as PyTorch's ``nn.GELU``: ``x / 2 * (1 + erf(x / sqrt(2)))`` (Keras'
    TF version uses ``erfc``, which ONNX has no operator for)."""
    return 0.5 * x * (1.0 + ops.erf(x * 0.7071067811865476))


def layer_norm(x, name: str):
    """LayerNorm with eps 1e-6 (mmpretrain's / MMPose's transformer norm_cfg)."""
    return keras.layers.LayerNormalization(epsilon=LN_EPSILON, name=name)(x)


def dense(x, units: int, name: str):
    """``nn.Linear`` with the transformers' trunc-normal(0.02) init."""
    return keras.layers.Dense(
        units, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02), name=name
    )(x)


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
    y = dense(y, feedforward_channels, f"{name}.ffn.layers.0.0")
    y = keras.layers.Activation(gelu, name=f"{name}.ffn.layers.0.1")(y)
    y = dense(y, c, f"{name}.ffn.layers.1")
    y = DropPath(drop_path, name=f"{name}.ffn.dropout_layer")(y)
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
