"""AlexNet (Krizhevsky et al., 2012) as MMPose builds it (``mmpose/models/backbones/alexnet.py``).

Only the convolutional ``features`` of torchvision's AlexNet, which MMPose's
``td-hm_alexnet`` config puts under a SimpleBaseline head: five convolutions with bias and ReLU
(no BatchNorm) and three 3x3 stride-2 max pools without padding (floor mode). The 11x11
stride-4 stem (padding 2) and the unpadded pools shrink a 256x192 crop to 7x5, not 8x6, which is
why MMPose's AlexNet heatmaps are 56x40 after the head's three doublings. Layer names
are the indices of MMPose's ``nn.Sequential`` (``backbone.features.0``, ``.3``, ``.6``, ...).
The classifier (``num_classes > 0``) is not built: no MMPose pose config uses it.
"""

from __future__ import annotations

import keras

from kpose.errors import ModelError
from kpose.models.layers import conv2d, relu

# (Sequential index, out channels, kernel, stride, padding, max pool after)
FEATURES = (
    (0, 64, 11, 4, 2, True),
    (3, 192, 5, 1, 2, True),
    (6, 384, 3, 1, 1, False),
    (8, 256, 3, 1, 1, False),
    (10, 256, 3, 1, 1, True),
)


def _torch_default_init() -> keras.initializers.Initializer:
    """PyTorch's default Conv2d weight init (kaiming uniform, a = sqrt(5): U(+-1/sqrt(fan_in))),
    which MMPose's AlexNet keeps (it has no ``init_cfg``)."""
    return keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")


def alexnet(num_classes: int = -1, in_channels: int = 3, name: str = "backbone") -> keras.Model:
    """MMPose's ``AlexNet(num_classes=-1)``: ``(B, H, W, in_channels)`` -> ``(B, h, w, 256)``.

    Each side ``n`` becomes ``(n - 7) // 4 + 1`` after the stem, then ``(m - 3) // 2 + 1`` after
    each of the three pools (256 -> 63 -> 31 -> 15 -> 7, 192 -> 5). Inputs are normalised images
    (see ``kpose.models.build``).

    Example:
        >>> alexnet()(np.zeros((1, 256, 192, 3), "float32")).shape
        TensorShape([1, 7, 5, 256])
    """
    if num_classes > 0:
        raise ModelError(
            f"AlexNet: num_classes={num_classes} (the classifier) is not supported; "
            "pose models use the features only (num_classes=-1)"
        )
    inputs = keras.Input((None, None, in_channels), name=f"{name}_input")
    x = inputs
    for index, filters, kernel, stride, padding, pool in FEATURES:
        x = conv2d(
            x,
            filters,
            kernel,
            f"{name}.features.{index}",
            stride=stride,
            padding=padding,
            use_bias=True,
            kernel_initializer=_torch_default_init(),
        )
        x = relu(x, f"{name}.features.{index + 1}")
        if pool:  # floor mode, no padding: Keras' "valid" pooling samples the same windows
            x = keras.layers.MaxPooling2D(3, strides=2, name=f"{name}.features.{index + 2}")(x)
    return keras.Model(inputs, x, name=name)
