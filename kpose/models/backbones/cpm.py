"""Convolutional Pose Machines (Wei et al., 2016) as MMPose builds them
(``mmpose/models/backbones/cpm.py``).

Two stride-8 paths read the image: ``stem`` (four conv stages with three 3x3 stride-2 max pools,
padding 1, then 5x5 / 9x9 / 1x1 convolutions) predicts stage 1's K belief maps, and ``middle``
(the same first three conv + pool stages, its own weights) gives image features that every later
stage reads through its own 5x5 ``middle_conv``. Stage ``s > 1`` concatenates the previous
stage's beliefs with those features, runs three 11x11 convolutions (``cpm_stages``) and two 1x1
ones (``out_convs``) to new beliefs. The backbone outputs every stage's K-channel map (all at
``ceil(H / 8)``: the pools are PyTorch's floor mode with padding 1); MMPose's ``CPMHead`` with
``final_layer=None`` passes them through, so the backbone's ``out_channels`` is the number of
keypoints. Every ``ConvModule`` is conv (bias only without BN) + BN + ReLU, named
``<path>.conv`` / ``<path>.bn``; convolutions start as MMPose's ``Normal(std=0.001)``.
"""

from __future__ import annotations

import keras

from kpose.errors import ModelError
from kpose.models.layers import conv_module, max_pool2d


def _conv_init() -> keras.initializers.Initializer:
    """MMPose's CPM init of every Conv2d (biases start at zero)."""
    return keras.initializers.RandomNormal(stddev=0.001)


def _conv(x, filters: int, kernel_size: int, name: str, norm: bool = True, act: bool = True):
    """A CPM ``ConvModule`` (``layers.conv_module``: bias only without the norm) with CPM's
    init."""
    act = "relu" if act else None
    return conv_module(x, filters, kernel_size, name, norm=norm, act=act,
                       kernel_initializer=_conv_init())  # fmt: skip


def _image_features(x, name: str):
    """Three (9x9 conv module + max pool) at indices 0..5 of ``name``: stride 8, 128 channels."""
    for i in range(3):
        x = _conv(x, 128, 9, f"{name}.{2 * i}")
        x = max_pool2d(x, f"{name}.{2 * i + 1}")
    return x


def cpm(
    out_channels: int = 17,
    in_channels: int = 3,
    feat_channels: int = 128,
    middle_channels: int = 32,
    num_stages: int = 6,
    name: str = "backbone",
) -> keras.Model:
    """MMPose's ``CPM(in_channels, out_channels, feat_channels, middle_channels, num_stages)``:
    ``(B, H, W, in_channels)`` -> ``num_stages`` maps ``(B, ceil(H / 8), ceil(W / 8),
    out_channels)``, first stage to last.

    ``out_channels`` is the number of keypoints (MMPose's head adds no layer); inputs are
    normalised images (see ``kpose.models.build``).

    Example:
        >>> [o.shape for o in cpm(16)(np.zeros((1, 368, 368, 3), "float32"))][-1]
        TensorShape([1, 46, 46, 16])
    """
    if in_channels != 3:
        raise ModelError(f"CPM: in_channels must be 3 (as in MMPose), got {in_channels}")
    if num_stages < 1:
        raise ModelError(f"CPM: num_stages must be >= 1, got {num_stages}")
    inputs = keras.Input((None, None, in_channels), name=f"{name}_input")

    x = _image_features(inputs, f"{name}.stem")
    for index, filters, kernel in ((6, 32, 5), (7, 512, 9), (8, 512, 1)):
        x = _conv(x, filters, kernel, f"{name}.stem.{index}")
    beliefs = _conv(x, out_channels, 1, f"{name}.stem.9", norm=False, act=False)
    stages = [beliefs]  # (B, H / 8, W / 8, K) per stage

    middle = _image_features(inputs, f"{name}.middle") if num_stages > 1 else None
    for s in range(num_stages - 1):
        features = _conv(middle, middle_channels, 5, f"{name}.middle_conv.{s}.0")
        x = keras.layers.Concatenate(name=f"{name}.stage{s + 2}_concat")([stages[-1], features])
        for i in range(3):
            x = _conv(x, feat_channels, 11, f"{name}.cpm_stages.{s}.model.{i}")
        x = _conv(x, feat_channels, 1, f"{name}.out_convs.{s}.0")
        stages.append(_conv(x, out_channels, 1, f"{name}.out_convs.{s}.1", False, False))
    return keras.Model(inputs, stages, name=name)
