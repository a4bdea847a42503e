"""The small pieces of the transformer backbones (ViT, Swin, PVT, HRFormer): LayerNorm and
``nn.Linear`` with the transformers' initialisation, PyTorch's exact GELU, stochastic depth
(``DropPath``) and a learned position embedding whose checkpoint grid is adapted on load.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kpose.errors import ModelError
from kpose.models.layers.resize import resize_bicubic

LN_EPSILON = 1e-6  # mmpretrain's / MMPose's transformer norm_cfg (mmcv's LN default is 1e-5)


# The two layers below keep Keras' class names: ``.weights.h5`` files name their groups after
# the class, so files saved with Keras' own layers load into these and the other way round.


@keras.saving.register_keras_serializable(package="kpose")
class LayerNormalization(keras.layers.LayerNormalization):
    """``keras.layers.LayerNormalization`` over the last axis computed as PyTorch's two-pass
    formula ``(x - mean) * rsqrt(var + eps) * gamma + beta`` in fewer element-wise ops than
    Keras' (on a CPU, 3.8 vs 5.3 ms for ViTPose-S's (8, 192, 384) tokens). Other axes, RMS
    scaling and non-float32 inputs take Keras' own path."""

    def call(self, inputs):
        rank = len(inputs.shape)
        last = [int(a) % rank for a in np.ravel(self.axis)] == [rank - 1]
        float32 = inputs.dtype == "float32" and self.compute_dtype == "float32"
        if not (last and float32 and self.scale and self.center) or self.rms_scaling:
            return super().call(inputs)
        mean = tf.reduce_mean(inputs, axis=-1, keepdims=True)
        centred = inputs - mean
        variance = tf.reduce_mean(tf.square(centred), axis=-1, keepdims=True)
        return centred * tf.math.rsqrt(variance + self.epsilon) * self.gamma + self.beta


@keras.saving.register_keras_serializable(package="kpose")
class Dense(keras.layers.Dense):
    """``keras.layers.Dense`` that applies itself to tokens ``(B, ..., C)`` as one 2-D
    ``MatMul`` + ``BiasAdd`` over the flattened rows: Keras' broadcast ``BatchMatMulV2`` + ``Add``
    runs 1.6x slower on a CPU (ViTPose-S's fc1 at batch 8: 34 vs 22 ms) and cannot be fused."""

    def call(self, inputs, training=None):
        if len(inputs.shape) <= 2:
            return super().call(inputs, training=training)
        leading = tf.shape(inputs)[:-1]
        x = ops.matmul(tf.reshape(inputs, (-1, inputs.shape[-1])), self.kernel)
        if self.bias is not None:
            x = tf.nn.bias_add(x, ops.cast(self.bias, x.dtype))
        if self.activation is not None:
            x = self.activation(x)
        return tf.reshape(x, tf.concat([leading, [self.units]], axis=0))


def layer_norm(x, name: str, epsilon: float = LN_EPSILON):
    """``nn.LayerNorm`` over the channels, eps 1e-6 unless given."""
    return LayerNormalization(epsilon=epsilon, name=name)(x)


def dense(x, units: int, name: str, use_bias: bool = True):
    """``nn.Linear`` with the transformers' trunc-normal(0.02) init."""
    return Dense(
        units,
        use_bias=use_bias,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        name=name,
    )(x)


@keras.saving.register_keras_serializable(package="kpose")
def gelu(x):
    """Exact GELU written as PyTorch's ``nn.GELU``: ``x / 2 * (1 + erf(x / sqrt(2)))`` (Keras'
    TF version uses ``erfc``, which ONNX has no operator for)."""
    return 0.5 * x * (1.0 + ops.erf(x * 0.7071067811865476))


@keras.saving.register_keras_serializable(package="kpose")
class DropPath(keras.layers.Layer):
    """Stochastic depth: in training, zero a sample's residual branch with probability
    ``rate`` and scale the kept ones by ``1 / (1 - rate)``; identity at inference and when
    frozen (``trainable = False``, as PyTorch's ``eval()`` of a frozen stage)."""

    def __init__(self, rate: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed_generator = keras.random.SeedGenerator(0) if self.rate else None

    def call(self, x, training=None):
        if not training or not self.rate or not self.trainable:
            return x
        keep = 1.0 - self.rate
        shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        mask = ops.floor(keep + keras.random.uniform(shape, seed=self.seed_generator))
        return x / keep * ops.cast(mask, x.dtype)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


def ffn(x, feedforward_channels: int, drop_path: float, name: str):
    """mmcv's ``FFN`` branch without its residual on ``(B, ..., C)`` tokens: Linear to
    ``feedforward_channels`` (``name.layers.0.0``), GELU (``.layers.0.1``), Linear back
    (``.layers.1``), stochastic depth (``name.dropout_layer``)."""
    c = int(x.shape[-1])
    y = dense(x, feedforward_channels, f"{name}.layers.0.0")
    y = keras.layers.Activation(gelu, name=f"{name}.layers.0.1")(y)
    y = dense(y, c, f"{name}.layers.1")
    return DropPath(drop_path, name=f"{name}.dropout_layer")(y)


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
    out = resize_bicubic(resize_bicubic(src, h, 0), w, 1)
    return out.reshape(1, h * w, c).astype(pos_embed.dtype)


@keras.saving.register_keras_serializable(package="kpose")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned position embedding ``(1, N, C)`` to ``(B, N, C)`` tokens.

    Its weight is the state dict's ``<layer name>`` entry (mmpretrain's ``backbone.pos_embed``);
    checkpoints on another grid are adapted by ``resize_pos_embed`` when loaded.
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
