"""MMPose's ViPNAS heatmap head (``mmpose/models/heads/heatmap_heads/vipnas_head.py``).

``vipnas_head`` is ``HeatmapHead`` (``heads/heatmap.py``) whose stride-2 transposed
convolutions are grouped (``deconv_num_groups``; ViPNAS-ResNet's head: 608 -> 144 channels in
16 groups, ViPNAS-MobileNetV3's: 160 -> 160 depthwise). Keras' ``Conv2DTranspose`` has no
groups, so ``GroupedConv2DTranspose`` computes PyTorch's grouped ``ConvTranspose2d`` as the
correlation it equals: the input spread out by the stride (zeros between pixels), padded by
``kernel - 1 - padding`` (plus ``output_padding`` at the end), then a grouped (or depthwise)
convolution with the spatially flipped kernel.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from kpose.errors import ModelError
from kpose.models.heads.heatmap import (
    DECONV_PADDING,
    check_convs,
    check_deconvs,
    convs_and_final,
    head_init,
)
from kpose.models.layers import batch_norm, relu


@keras.saving.register_keras_serializable(package="kpose")
class GroupedConv2DTranspose(keras.layers.Layer):
    """``torch.nn.ConvTranspose2d(C, filters, kernel_size, stride, padding, output_padding,
    groups, bias=False)`` on NHWC: ``(B, H, W, C) -> (B, H', W', filters)`` with
    ``H' = (H - 1) * stride - 2 * padding + kernel_size + output_padding``.

    The kernel is stored as the equivalent correlation's, ``(k, k, C / groups, filters)``
    (flipped, output channel ``g * filters / groups + j`` of group ``g``); ``torch_tensors``
    converts from and to PyTorch's ``(C, filters / groups, k, k)``. ``output_padding`` must
    not exceed ``padding`` nor ``kernel_size - 1 - padding`` be negative (as for every deconv
    of MMPose's heads).

    Example:
        >>> y = GroupedConv2DTranspose(144, 4, groups=16, padding=1, name="head.deconv_layers.0")(x)
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int,
        stride: int = 2,
        padding: int = 0,
        output_padding: int = 0,
        groups: int = 1,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.stride = int(filters), int(kernel_size), int(stride)
        self.padding, self.output_padding = int(padding), int(output_padding)
        self.groups = int(groups)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        if self.filters % self.groups:
            raise ModelError(f"{self.name}: {self.filters} filters do not divide by {self.groups}")
        if self.output_padding > self.padding or self.kernel_size - 1 - self.padding < 0:
            raise ModelError(
                f"{self.name}: kernel {self.kernel_size}, padding {self.padding}, output_padding "
                f"{self.output_padding} are not supported"
            )

    def build(self, input_shape):
        channels = int(input_shape[-1])
        if channels % self.groups:
            raise ModelError(
                f"{self.name}: {channels} input channels do not divide by {self.groups}"
            )
        self.in_channels = channels
        k = self.kernel_size
        self.kernel = self.add_weight(
            name="kernel",
            shape=(k, k, channels // self.groups, self.filters),
            initializer=self.kernel_initializer,
        )

    def call(self, x):
        s, k = self.stride, self.kernel_size
        shape = ops.shape(x)
        # Spread out: (B, H, W, C) -> (B, H * s, W * s, C) with x at (i * s, j * s).
        x = ops.reshape(x, (shape[0], shape[1], 1, shape[2], 1, self.in_channels))
        x = ops.pad(x, ((0, 0), (0, 0), (0, s - 1), (0, 0), (0, s - 1), (0, 0)))
        x = ops.reshape(x, (shape[0], shape[1] * s, shape[2] * s, self.in_channels))
        # (H - 1) * s + 1 rows carry the input; pad to the full transposed conv, cropped.
        start = k - 1 - self.padding
        end = k - 1 - self.padding + self.output_padding - (s - 1)
        if end < 0:
            x = x[:, :end, :end, :]
        x = ops.pad(x, ((0, 0), (start, max(end, 0)), (start, max(end, 0)), (0, 0)))
        per_group = self.in_channels // self.groups
        if per_group == 1:  # depthwise, multiplier filters / groups
            kernel = ops.reshape(self.kernel, (k, k, self.groups, self.filters // self.groups))
            return ops.depthwise_conv(x, kernel, padding="valid")
        return ops.conv(x, self.kernel, padding="valid")

    def compute_output_shape(self, input_shape):
        def size(n):
            if n is None:
                return None
            return (n - 1) * self.stride - 2 * self.padding + self.kernel_size + self.output_padding

        return (input_shape[0], size(input_shape[1]), size(input_shape[2]), self.filters)

    def torch_tensors(self):
        """``(suffix, variable, torch->keras, keras->torch)`` for the weight mapper."""
        k, groups, filters = self.kernel_size, self.groups, self.filters
        per_in, per_out = self.in_channels // groups, filters // groups

        def to_keras(w):  # (C, filters / groups, k, k) -> (k, k, C / groups, filters)
            w = np.asarray(w).reshape(groups, per_in, per_out, k, k)
            w = w.transpose(3, 4, 1, 0, 2).reshape(k, k, per_in, filters)
            return w[::-1, ::-1].copy()

        def to_torch(kernel):
            w = np.asarray(kernel)[::-1, ::-1].reshape(k, k, per_in, groups, per_out)
            return w.transpose(3, 2, 4, 0, 1).reshape(groups * per_in, per_out, k, k).copy()

        return [("weight", self.kernel, to_keras, to_torch)]

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "padding": self.padding,
            "output_padding": self.output_padding,
            "groups": self.groups,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


def vipnas_head(
    in_channels: int,
    num_keypoints: int,
    deconv_out_channels: Sequence[int] = (144, 144, 144),
    deconv_kernel_sizes: Sequence[int] = (4, 4, 4),
    deconv_num_groups: Sequence[int] = (16, 16, 16),
    conv_out_channels: Sequence[int] = (),
    conv_kernel_sizes: Sequence[int] = (),
    final_kernel_size: int = 1,
    name: str = "head",
) -> keras.Model:
    """MMPose's ``ViPNASHead`` as a functional model ``(B, h, w, in_channels)`` ->
    ``(B, h * 2**len(deconv_out_channels), ..., num_keypoints)``.

    Each deconv is a stride-2 ``GroupedConv2DTranspose`` with ``deconv_num_groups[i]`` groups
    (no bias) + BN + ReLU (``head.deconv_layers.{3i}``, ``.{3i+1}``); then optional Conv2d
    (bias) + BN + ReLU (``head.conv_layers.{3i}``, ``.{3i+1}``) and the final Conv2d to K
    channels (``head.final_layer``, bias, padding ``kernel // 2``), as ``heatmap_head``.
    Defaults are MMPose's (ViPNAS-ResNet's head).

    Example:
        >>> head = vipnas_head(608, 17)     # (B, 8, 6, 608) -> (B, 64, 48, 17)
    """
    check_deconvs(deconv_out_channels, deconv_kernel_sizes, name)
    if len(deconv_num_groups) != len(deconv_out_channels):
        raise ModelError(
            f"{name}: deconv_out_channels {tuple(deconv_out_channels)} and deconv_num_groups "
            f"{tuple(deconv_num_groups)} must have the same length"
        )
    check_convs(conv_out_channels, conv_kernel_sizes, name)
    inputs = keras.Input((None, None, in_channels), name=f"{name}_input")
    x = inputs
    prefix = f"{name}.deconv_layers"
    for i, (filters, kernel, groups) in enumerate(
        zip(deconv_out_channels, deconv_kernel_sizes, deconv_num_groups, strict=True)
    ):
        padding, output_padding = DECONV_PADDING[kernel]
        x = GroupedConv2DTranspose(
            filters, kernel, 2, padding, output_padding, groups, kernel_initializer=head_init(),
            name=f"{prefix}.{3 * i}",
        )(x)  # fmt: skip
        x = relu(batch_norm(x, f"{prefix}.{3 * i + 1}"), f"{prefix}.{3 * i + 2}")
    x = convs_and_final(
        x, num_keypoints, conv_out_channels, conv_kernel_sizes, final_kernel_size, name
    )
    return keras.Model(inputs, x, name=name)
