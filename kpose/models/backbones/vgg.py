"""VGG (Simonyan and Zisserman, 2015) as MMPose builds it (``mmpose/models/backbones/vgg.py``).

Five stages of 3x3 convolutions (64, 128, 256, 512, 512 channels; 1-2-3-3-3 convolutions per
stage for VGG-16), each conv with a bias, BN when the config sets ``norm_cfg`` (the ``_bn``
variants) and ReLU, each stage closed by a 2x2 stride-2 max pool, so a 256x192 crop becomes
8x6 x 512 channels, which MMPose's ``td-hm_vgg16-bn`` config puts under a SimpleBaseline head.
MMPose keeps all of it in one ``nn.Sequential`` (``features``): layer names are its indices,
one per ConvModule (``backbone.features.0.conv``, ``.bn``, ``.activate``) and one per pool.
The classifier (``num_classes > 0``) is not built: no MMPose pose config uses it.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from kpose.errors import ModelError
from kpose.models.layers import batch_norm, kaiming_fan_out, relu

# depth -> 3x3 convolutions per stage
ARCH_SETTINGS = {
    11: (1, 1, 2, 2, 2),
    13: (2, 2, 2, 2, 2),
    16: (2, 2, 3, 3, 3),
    19: (2, 2, 4, 4, 4),
}


def stage_channels(stage: int) -> int:
    """The width of stage ``stage`` (0-based): 64, 128, 256, 512, 512."""
    return 64 * 2**stage if stage < 4 else 512


def vgg(
    depth: int = 16,
    norm: bool = False,
    num_stages: int = 5,
    dilations: Sequence[int] | None = None,
    out_indices: Sequence[int] = (4,),
    ceil_mode: bool = False,
    with_last_pool: bool = True,
    num_classes: int = -1,
    in_channels: int = 3,
    name: str = "backbone",
) -> keras.Model:
    """MMPose's ``VGG(depth, norm_cfg, num_stages, dilations, out_indices, ceil_mode,
    with_last_pool)``: ``(B, H, W, in_channels)`` normalised images -> the map after each
    stage in ``out_indices`` (0-based, in stage order; one tensor for one index, else a list).

    ``norm``: BN after every conv (MMPose's ``norm_cfg=dict(type='BN')``; its default None is
    False). ``dilations``: one per stage (default all 1), the 3x3 convs' dilation (padding =
    dilation, so the size is kept). Each pool halves the size, rounding down (``ceil_mode``: up);
    ``with_last_pool=False`` drops the last stage's pool. The stages after the last index are
    not built (load MMPose checkpoints of such a model with ``strict=False``).

    Example:
        >>> vgg(16, norm=True)(np.zeros((1, 256, 192, 3), "float32")).shape
        TensorShape([1, 8, 6, 512])
    """
    if depth not in ARCH_SETTINGS:
        raise ModelError(f"VGG depth must be one of {sorted(ARCH_SETTINGS)}, got {depth}")
    if not 1 <= num_stages <= 5:
        raise ModelError(f"VGG: num_stages must be 1..5, got {num_stages}")
    dilations = (1,) * num_stages if dilations is None else tuple(dilations)
    if len(dilations) != num_stages:
        raise ModelError(f"VGG: dilations {dilations} needs one entry per stage ({num_stages})")
    if num_classes > 0:
        raise ModelError(
            f"VGG: num_classes={num_classes} (the classifier) is not supported; "
            "pose models use the features only (num_classes=-1)"
        )
    out_indices = tuple(sorted({int(i) for i in out_indices}))
    if not out_indices or any(not 0 <= i < num_stages for i in out_indices):
        raise ModelError(f"VGG: out_indices {out_indices} must be in 0..{num_stages - 1}")
    inputs = keras.Input((None, None, in_channels), name=f"{name}_input")
    x, index, outputs = inputs, 0, []
    for stage, num_convs in enumerate(ARCH_SETTINGS[depth][: out_indices[-1] + 1]):
        for _ in range(num_convs):
            prefix = f"{name}.features.{index}"
            # padding = dilation keeps the size: TF's "same" pads the same rows and columns
            x = keras.layers.Conv2D(
                stage_channels(stage),
                3,
                padding="same",
                dilation_rate=int(dilations[stage]),
                kernel_initializer=kaiming_fan_out(),  # MMPose's init_cfg Kaiming on Conv2d
                name=f"{prefix}.conv",
            )(x)
            if norm:
                x = batch_norm(x, f"{prefix}.bn")
            x = relu(x, f"{prefix}.activate")
            index += 1
        if with_last_pool or stage < num_stages - 1:
            # 2x2 windows, stride 2, no padding; for odd sizes TF's "same" adds the one
            # window of PyTorch's ceil_mode (it starts inside the input)
            x = keras.layers.MaxPooling2D(
                2,
                strides=2,
                padding="same" if ceil_mode else "valid",
                name=f"{name}.features.{index}",
            )(x)
        index += 1
        if stage in out_indices:
            outputs.append(x)
    return keras.Model(inputs, outputs[0] if len(outputs) == 1 else outputs, name=name)


def vgg11(**kwargs) -> keras.Model:
    return vgg(11, **kwargs)


def vgg13(**kwargs) -> keras.Model:
    return vgg(13, **kwargs)


def vgg16(**kwargs) -> keras.Model:
    return vgg(16, **kwargs)


def vgg19(**kwargs) -> keras.Model:
    return vgg(19, **kwargs)
