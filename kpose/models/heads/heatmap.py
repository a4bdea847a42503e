"""MMPose's single-stage heatmap head: backbone features -> one heatmap per keypoint.

``heatmap_head`` is MMPose's ``HeatmapHead`` (``mmpose/models/heads/heatmap_heads/
heatmap_head.py``, the SimpleBaseline head): transposed convolutions that double the resolution
(each + BN + ReLU), optional convolutions (each + BN + ReLU), then a final convolution to K
channels. ``upsample_factor`` puts ViTPose's "simple" decoder in front of it (MMPose's
``FeatureMapProcessor(scale_factor, apply_relu=True)`` neck): ReLU, then bilinear upsampling
with half-pixel centres (PyTorch's ``align_corners=False``). ``deconv_stack`` is shared with
the multi-stage ``cpm_head`` (``heads/cpm.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from kpose.errors import ModelError
from kpose.models.layers import batch_norm, conv2d, conv_transpose2d, relu


def head_init() -> keras.initializers.Initializer:
    """MMPose's HeatmapHead init of Conv2d / ConvTranspose2d (biases start at zero)."""
    return keras.initializers.RandomNormal(stddev=0.001)


# kernel size -> (padding, output_padding) of MMPose's deconv layers (stride 2: size x2).
DECONV_PADDING = {4: (1, 0), 3: (1, 1), 2: (0, 0)}


def check_deconvs(channels: Sequence[int], kernels: Sequence[int], name: str) -> None:
    if len(channels) != len(kernels):
        raise ModelError(
            f"{name}: deconv_out_channels {tuple(channels)} and deconv_kernel_sizes "
            f"{tuple(kernels)} must have the same length"
        )
    bad = [k for k in kernels if k not in DECONV_PADDING]
    if bad:
        raise ModelError(
            f"{name}: deconv kernel sizes must be in {sorted(DECONV_PADDING)}, got {bad}"
        )


def deconv_stack(x, channels: Sequence[int], kernels: Sequence[int], prefix: str):
    """Stride-2 ConvTranspose2d (no bias) + BN + ReLU per entry: ``prefix.{3i}``,
    ``prefix.{3i+1}`` (BN); each doubles the resolution."""
    for i, (filters, kernel) in enumerate(zip(channels, kernels, strict=True)):
        padding, output_padding = DECONV_PADDING[kernel]
        x = conv_transpose2d(
            x,
            filters,
            kernel,
            f"{prefix}.{3 * i}",
            stride=2,
            padding=padding,
            output_padding=output_padding,
            kernel_initializer=head_init(),
        )
        x = relu(batch_norm(x, f"{prefix}.{3 * i + 1}"), f"{prefix}.{3 * i + 2}")
    return x


def heatmap_head(
    in_channels: int,
    num_keypoints: int,
    deconv_out_channels: Sequence[int] = (256, 256, 256),
    deconv_kernel_sizes: Sequence[int] = (4, 4, 4),
    conv_out_channels: Sequence[int] = (),
    conv_kernel_sizes: Sequence[int] = (),
    final_kernel_size: int = 1,
    upsample_factor: float = 0.0,
    name: str = "head",
) -> keras.Model:
    """MMPose's ``HeatmapHead`` as a functional model ``(B, h, w, in_channels)`` ->
    ``(B, h * f * 2**len(deconv_out_channels), ..., num_keypoints)`` (f: ``upsample_factor``
    or 1).

    Layer names follow MMPose's state dict: ``head.deconv_layers.{3i}`` (ConvTranspose2d, no
    bias) and ``.{3i+1}`` (BN), ``head.conv_layers.{3i}`` (Conv2d with bias) and ``.{3i+1}``,
    ``head.final_layer`` (Conv2d with bias, padding ``kernel // 2``).

    Example:
        >>> head = heatmap_head(2048, 17)   # SimpleBaseline: (B, 8, 6, 2048) -> (B, 64, 48, 17)
    """
    check_deconvs(deconv_out_channels, deconv_kernel_sizes, name)
    check_convs(conv_out_channels, conv_kernel_sizes, name)
    inputs = keras.Input((None, None, in_channels), name=f"{name}_input")
    x = inputs
    if upsample_factor:
        if upsample_factor != int(upsample_factor) or upsample_factor < 1:
            raise ModelError(
                f"{name}: upsample_factor must be a positive integer, got {upsample_factor}"
            )
        x = relu(x, f"{name}.input_relu")
        x = keras.layers.UpSampling2D(
            int(upsample_factor), interpolation="bilinear", name=f"{name}.input_upsample"
        )(x)
    x = deconv_stack(x, deconv_out_channels, deconv_kernel_sizes, f"{name}.deconv_layers")
    x = convs_and_final(
        x, num_keypoints, conv_out_channels, conv_kernel_sizes, final_kernel_size, name
    )
    return keras.Model(inputs, x, name=name)


def check_convs(channels: Sequence[int], kernels: Sequence[int], name: str) -> None:
    if len(channels) != len(kernels):
        raise ModelError(
            f"{name}: conv_out_channels {tuple(channels)} and conv_kernel_sizes "
            f"{tuple(kernels)} must have the same length"
        )


def convs_and_final(
    x,
    num_keypoints: int,
    conv_out_channels: Sequence[int],
    conv_kernel_sizes: Sequence[int],
    final_kernel_size: int,
    name: str,
):
    """The end of MMPose's HeatmapHead after its deconvolutions: Conv2d (bias) + BN + ReLU per
    ``conv_out_channels`` entry (``name.conv_layers.{3i}``, ``.{3i+1}``), then the final Conv2d
    to ``num_keypoints`` channels (``name.final_layer``, bias, padding ``kernel // 2``)."""
    prefix = f"{name}.conv_layers"
    for i, (channels, kernel) in enumerate(zip(conv_out_channels, conv_kernel_sizes, strict=True)):
        x = conv2d(
            x,
            channels,
            kernel,
            f"{prefix}.{3 * i}",
            padding=(kernel - 1) // 2,
            use_bias=True,
            kernel_initializer=head_init(),
        )
        x = relu(batch_norm(x, f"{prefix}.{3 * i + 1}"), f"{prefix}.{3 * i + 2}")
    return conv2d(
        x,
        num_keypoints,
        final_kernel_size,
        f"{name}.final_layer",
        padding=final_kernel_size // 2,
        use_bias=True,
        kernel_initializer=head_init(),
    )
