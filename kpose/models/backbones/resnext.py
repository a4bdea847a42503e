"""ResNeXt (Xie et al., 2017) as MMPose builds it (``mmpose/models/backbones/resnext.py``):
ResNet whose bottlenecks have a grouped 3x3 convolution, 32 groups of width 4 in MMPose's
``td-hm_resnext*`` configs (the inside width of a stage-1 block is 32 * 4 = 128). Built by
``resnet`` with ``groups`` / ``width_per_group``; same layer names."""

from __future__ import annotations

import keras

from kpose.models.backbones.resnet import resnet


def resnext(depth: int = 50, groups: int = 32, width_per_group: int = 4, **kwargs) -> keras.Model:
    """MMPose's ``ResNeXt(depth, groups, width_per_group)``: ``(B, H, W, 3)`` ->
    ``(B, H / 32, W / 32, 2048)``.

    Example:
        >>> backbone = resnext(101)
    """
    return resnet(depth, groups=groups, width_per_group=width_per_group, **kwargs)


def resnext50(**kwargs) -> keras.Model:
    return resnext(50, **kwargs)


def resnext101(**kwargs) -> keras.Model:
    return resnext(101, **kwargs)


def resnext152(**kwargs) -> keras.Model:
    return resnext(152, **kwargs)
