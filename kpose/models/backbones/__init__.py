"""Backbones, one file per family; ``BACKBONES`` maps the names recipes use to constructors.

Every constructor returns a ``keras.Model`` named ``backbone`` from normalised NHWC images to
the feature map the head reads, with layers named after MMPose's state-dict paths.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from kpose.models.backbones.hrnet import hrnet, hrnet_small, hrnet_w32, hrnet_w48
from kpose.models.backbones.resnet import (
    resnet,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
)

BACKBONES: dict[str, Callable[..., keras.Model]] = {
    "resnet": resnet,
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "resnet101": resnet101,
    "resnet152": resnet152,
    "hrnet": hrnet,
    "hrnet_w32": hrnet_w32,
    "hrnet_w48": hrnet_w48,
    "hrnet_small": hrnet_small,
}
