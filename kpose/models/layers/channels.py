"""Channel rearrangements of PyTorch's NCHW code on NHWC tensors: ShuffleNet's channel shuffle
and ``torch.split`` along the channels (ShuffleNet, LiteHRNet), and the input normalisation
every model starts with."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from kpose.errors import ModelError


@keras.saving.register_keras_serializable(package="kpose")
class ChannelShuffle(keras.layers.Layer):
    """ShuffleNet's channel shuffle: channel ``g * per_group + i`` moves to ``i * groups + g``
    (PyTorch's NCHW ``view / transpose / view`` applied to NHWC). ``(B, H, W, C)`` in and out."""

    def __init__(self, groups: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.groups = int(groups)

    def call(self, x):
        shape = ops.shape(x)
        channels = x.shape[-1]
        x = ops.reshape(x, (-1, shape[1], shape[2], self.groups, channels // self.groups))
        x = ops.transpose(x, (0, 1, 2, 4, 3))
        return ops.reshape(x, (-1, shape[1], shape[2], channels))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


@keras.saving.register_keras_serializable(package="kpose")
class ChannelSplit(keras.layers.Layer):
    """``torch.split(x, sizes, dim=1)`` on NHWC: a list of ``(B, H, W, sizes[i])``."""

    def __init__(self, sizes: Sequence[int], **kwargs):
        super().__init__(**kwargs)
        self.sizes = [int(s) for s in sizes]

    def call(self, x):
        return ops.split(x, np.cumsum(self.sizes)[:-1].tolist(), axis=-1)

    def compute_output_shape(self, input_shape):
        return [(*input_shape[:-1], size) for size in self.sizes]

    def get_config(self):
        return {**super().get_config(), "sizes": self.sizes}


@keras.saving.register_keras_serializable(package="kpose")
class Normalize(keras.layers.Layer):
    """``(x - mean) / std`` per channel with fixed statistics (no weights).

    MMPose's ``PoseDataPreprocessor`` does this on 0..255 RGB pixels; kpose does it inside the
    model so that callers pass raw pixels. Shape: ``(B, H, W, C)`` in and out.

    Example:
        >>> Normalize((123.675, 116.28, 103.53), (58.395, 57.12, 57.375))(images_rgb_0_255)
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], **kwargs):
        super().__init__(**kwargs)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        if len(self.mean) != len(self.std) or any(s <= 0 for s in self.std):
            raise ModelError(f"{self.name}: mean {self.mean} / std {self.std} do not fit")

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        mean = ops.convert_to_tensor(self.mean, dtype=self.compute_dtype)
        std = ops.convert_to_tensor(self.std, dtype=self.compute_dtype)
        return (inputs - mean) / std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mean": list(self.mean), "std": list(self.std)}
