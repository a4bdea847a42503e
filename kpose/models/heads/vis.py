"""MMPose's ``VisPredictHead`` (``mmpose/models/heads/hybrid_heads/vis_head.py``): a
``HeatmapHead`` plus a keypoint visibility branch on the same backbone features.

The branch is global average pooling of the last feature map, a Linear layer to one value per
keypoint and a sigmoid (MMPose's ``use_sigmoid=True`` configs, the only kind it ships): the
probability that the keypoint is visible (labelled and on the heatmap). MMPose's predictions
carry it as ``keypoints_visible``; kpose's predict path does the same (flip test: the mean of
the visibility and the mirrored crop's, keypoints swapped by ``flip_indices``).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from kpose.models.heads.heatmap import check_convs, check_deconvs, convs_and_final, deconv_stack

# The model output holding the visibility (B, K); the heatmaps are the output "heatmaps".
VISIBILITY = "visibility"


def vis_predict_head(
    in_channels: int,
    num_keypoints: int,
    deconv_out_channels: Sequence[int] = (256, 256, 256),
    deconv_kernel_sizes: Sequence[int] = (4, 4, 4),
    conv_out_channels: Sequence[int] = (),
    conv_kernel_sizes: Sequence[int] = (),
    final_kernel_size: int = 1,
    name: str = "head",
) -> keras.Model:
    """``VisPredictHead`` around a ``HeatmapHead`` as a functional model ``(B, h, w,
    in_channels)`` -> ``[heatmaps (B, h * 2**len(deconv_out_channels), ..., K), visibility
    (B, K)]``, the visibility a probability (after the sigmoid).

    Layer names follow MMPose's state dict: the heatmap head under ``head.pose_head``
    (``head.pose_head.deconv_layers.{3i}``, ``head.pose_head.final_layer``, ...), the branch's
    Linear layer ``head.vis_head.2`` (``nn.Sequential(AdaptiveAvgPool2d, Flatten, Linear,
    Sigmoid)``), initialised as MMPose's (normal, std 0.01; bias 0).

    Example:
        >>> head = vis_predict_head(2048, 17)  # (B, 8, 6, 2048) -> [(B, 64, 48, 17), (B, 17)]
    """
    pose = f"{name}.pose_head"
    check_deconvs(deconv_out_channels, deconv_kernel_sizes, pose)
    check_convs(conv_out_channels, conv_kernel_sizes, pose)
    inputs = keras.Input((None, None, in_channels), name=f"{name}_input")
    x = deconv_stack(inputs, deconv_out_channels, deconv_kernel_sizes, f"{pose}.deconv_layers")
    heatmaps = convs_and_final(
        x, num_keypoints, conv_out_channels, conv_kernel_sizes, final_kernel_size, pose
    )
    pooled = keras.layers.GlobalAveragePooling2D(name=f"{name}.vis_head.0")(inputs)  # (B, C)
    logits = keras.layers.Dense(
        num_keypoints,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
        name=f"{name}.vis_head.2",
    )(pooled)
    visibility = keras.layers.Activation("sigmoid", name=f"{name}.vis_head.3")(logits)  # (B, K)
    return keras.Model(inputs, [heatmaps, visibility], name=name)
