"""SEResNet (Hu et al., 2018) as MMPose builds it (``mmpose/models/backbones/seresnet.py``):
ResNet whose bottlenecks end in squeeze-and-excitation (``se_layer``: global average, 1x1 conv
to C / 16 + ReLU, 1x1 conv back to C + sigmoid, channel scaling) before the shortcut is added.
Built by ``resnet`` with ``se_ratio``; layer names ``backbone.layerN.i.se_layer.conv1.conv``."""

from __future__ import annotations

import keras

from kpose.models.backbones.resnet import resnet


def seresnet(depth: int = 50, se_ratio: int = 16, **kwargs) -> keras.Model:
    """MMPose's ``SEResNet(depth, se_ratio)``: ``(B, H, W, 3)`` -> ``(B, H / 32, W / 32, 2048)``.

    Example:
        >>> backbone = seresnet(101)
    """
    return resnet(depth, se_ratio=se_ratio, **kwargs)


def seresnet50(**kwargs) -> keras.Model:
    return seresnet(50, **kwargs)


def seresnet101(**kwargs) -> keras.Model:
    return seresnet(101, **kwargs)


def seresnet152(**kwargs) -> keras.Model:
    return seresnet(152, **kwargs)
