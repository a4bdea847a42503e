"""MMPose's ``MSPNHead`` (``mmpose/models/heads/heatmap_heads/mspn_head.py``), the
multi-stage multi-unit head of MSPN and RSN.

One ``PredictHeatmap`` per stage x unit (``head.predict_layers.{s * num_units + u}``): a 1x1
ConvModule (conv + BN + ReLU), a 3x3 conv + BN to K channels, bilinear resizing to the heatmap
size with PyTorch's ``align_corners=True``, and optionally RSN's pose refine machine (PRM): a
3x3 ConvModule, then the features times ``1 + channel gate * spatial gate``, the channel gate
from global average pooling through Linear + BN1d + ReLU twice and a sigmoid, the spatial
gate from a 1x1 ConvModule, a 9x9 depthwise-separable ConvModule to one channel and a sigmoid.
The head maps the backbone's flat list of unit features (stage by stage, coarse to fine) to
the list of heatmaps in the same order; the last one is the prediction, and MMPose supervises
each with the target of level ``level_indices[i]`` (MegviiHeatmap kernels, widest first).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from kpose.errors import ModelError
from kpose.models.layers import (
    BN_EPSILON,
    BN_MOMENTUM,
    ResizeAlignCorners,
    conv_module,
    depthwise_separable_conv_module,
    relu,
)


@keras.saving.register_keras_serializable(package="kpose")
class RefineGate(keras.layers.Layer):
    """PRM's combination ``features * (1 + channel_gate * spatial_gate)``:
    ``[(B, h, w, K), (B, K), (B, h, w, 1)] -> (B, h, w, K)``."""

    def call(self, inputs):
        features, channel, spatial = (ops.cast(t, self.compute_dtype) for t in inputs)
        return features * (1 + channel[:, None, None, :] * spatial)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def _linear_init() -> keras.initializers.Initializer:
    """MMPose's ``Normal(std=0.01)`` init of the PRM's Linear layers."""
    return keras.initializers.RandomNormal(stddev=0.01)


def pose_refine_machine(x, name: str):
    """RSN's PRM on ``(B, h, w, K)`` heatmaps (same shape out); names ``name.*`` as MMPose's."""
    channels = int(x.shape[-1])
    out = conv_module(x, channels, 3, f"{name}.conv_bn_relu_prm_1")
    gate = keras.layers.GlobalAveragePooling2D(name=f"{name}.global_pooling")(out)  # (B, K)
    for index in (0, 3):
        gate = keras.layers.Dense(
            channels, kernel_initializer=_linear_init(), name=f"{name}.middle_path.{index}"
        )(gate)
        gate = keras.layers.BatchNormalization(
            epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{name}.middle_path.{index + 1}"
        )(gate)
        gate = relu(gate, f"{name}.middle_path.{index + 2}")
    gate = keras.layers.Activation("sigmoid", name=f"{name}.middle_path.6")(gate)
    spatial = conv_module(out, channels, 1, f"{name}.bottom_path.0")
    spatial = depthwise_separable_conv_module(
        spatial, 1, 9, f"{name}.bottom_path.1",
        # Kaiming normal with PyTorch's fan_out of a (C, 1, 9, 9) depthwise kernel.
        depthwise_initializer=keras.initializers.RandomNormal(stddev=(2 / (81 * channels)) ** 0.5),
    )  # fmt: skip
    spatial = keras.layers.Activation("sigmoid", name=f"{name}.bottom_path.2")(spatial)
    return RefineGate(name=f"{name}.gate")([out, gate, spatial])


def mspn_head(
    in_channels: Sequence[int],
    num_keypoints: int,
    heatmap_size: Sequence[int],
    num_stages: int = 4,
    num_units: int = 4,
    unit_channels: int = 256,
    use_prm: bool = False,
    level_indices: Sequence[int] = (),
    name: str = "head",
) -> keras.Model:
    """MMPose's ``MSPNHead`` as a functional model: ``num_stages * num_units`` feature maps
    ``(B, h_i, w_i, unit_channels)`` -> as many heatmaps ``(B, h, w, num_keypoints)`` with
    ``heatmap_size = (w, h)`` (MMPose's ``out_shape = (h, w)``).

    ``in_channels`` are the channels of the backbone's outputs (stage by stage, coarse to
    fine). ``level_indices`` (MMPose's, one target level per output) is checked here and
    read by training; the forward pass does not use it.

    Example:
        >>> head = mspn_head([256] * 4, 17, (48, 64), num_stages=1, level_indices=[0, 1, 2, 3])
    """
    total = num_stages * num_units
    if len(in_channels) != total:
        raise ModelError(
            f"{name}: the backbone gives {len(in_channels)} feature maps, num_stages "
            f"{num_stages} x num_units {num_units} needs {total}"
        )
    if any(int(c) != unit_channels for c in in_channels):
        raise ModelError(
            f"{name}: feature channels {list(in_channels)} must all equal unit_channels "
            f"{unit_channels}"
        )
    if level_indices and len(level_indices) != total:
        raise ModelError(
            f"{name}: level_indices {list(level_indices)} needs {total} entries (one per "
            "stage x unit)"
        )
    width, height = (int(v) for v in heatmap_size)
    inputs = [
        keras.Input((None, None, int(c)), name=f"{name}_input_{i}")
        for i, c in enumerate(in_channels)
    ]
    outputs = []
    for i, x in enumerate(inputs):
        prefix = f"{name}.predict_layers.{i}"
        x = conv_module(x, unit_channels, 1, f"{prefix}.conv_layers.0")
        x = conv_module(x, num_keypoints, 3, f"{prefix}.conv_layers.1", act=None)
        x = ResizeAlignCorners((height, width), name=f"{prefix}.interpolate")(x)
        if use_prm:
            x = pose_refine_machine(x, f"{prefix}.prm")
        outputs.append(x)
    return keras.Model(inputs, outputs, name=name)
