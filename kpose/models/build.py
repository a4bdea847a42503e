"""Recipe model section -> the heatmap ``keras.Model`` (DESIGN.md, data flow step 4).

The model takes float32 NHWC **RGB pixels in [0, 255]**, normalises them with the recipe's
mean/std inside (MMPose's ``PoseDataPreprocessor``), runs the backbone and the head, and returns
float32 NHWC heatmaps ``(B, h, w, K)`` (``h = H / 4`` for every MMPose top-down model), also
under the ``mixed_float16`` policy.
"""

from __future__ import annotations

import keras

from kpose.errors import ModelError
from kpose.models.backbones import get_backbone
from kpose.models.heads import heatmap_head
from kpose.models.layers import Normalize
from kpose.recipe import ModelConfig


def build_backbone(model_cfg: ModelConfig) -> keras.Model:
    """The backbone named by ``model_cfg.backbone`` built with ``model_cfg.backbone_args``."""
    constructor = get_backbone(model_cfg.backbone)
    kwargs = dict(model_cfg.backbone_args)
    try:
        return constructor(**kwargs)
    except TypeError as exc:
        # Only argument errors of the constructor call itself (variants forward **kwargs).
        if "keyword argument" not in str(exc) and "multiple values" not in str(exc):
            raise
        raise ModelError(f"model.backbone_args for {model_cfg.backbone!r}: {exc}") from None


def build_heatmap_model(
    model_cfg: ModelConfig,
    input_size: tuple[int, int],
    num_keypoints: int,
    name: str | None = None,
) -> keras.Model:
    """Backbone + ``HeatmapHead`` for ``input_size = (w, h)`` crops and ``num_keypoints``.

    ``(B, h, w, 3)`` RGB 0..255 -> ``(B, h / 4, w / 4, K)`` float32 heatmaps (for the head
    configurations of MMPose's top-down models). Layer names are MMPose's state-dict paths
    (``backbone.*`` inside the nested ``backbone`` model, ``head.*`` inside ``head``), so
    ``kpose.models.mmpose_weights.assign_state_dict`` fills them from an MMPose checkpoint.

    Example:
        >>> model = build_heatmap_model(ModelConfig(backbone="resnet50"), (192, 256), 17)
        >>> model(np.zeros((1, 256, 192, 3), "float32")).shape
        TensorShape([1, 64, 48, 17])
    """
    width, height = (int(v) for v in input_size)
    backbone = build_backbone(model_cfg)
    head_cfg = model_cfg.head
    head = heatmap_head(
        int(backbone.output.shape[-1]),
        num_keypoints,
        deconv_out_channels=tuple(head_cfg.deconv_out_channels),
        deconv_kernel_sizes=tuple(head_cfg.deconv_kernel_sizes),
        conv_out_channels=tuple(head_cfg.conv_out_channels),
        conv_kernel_sizes=tuple(head_cfg.conv_kernel_sizes),
        final_kernel_size=head_cfg.final_kernel_size,
        upsample_factor=head_cfg.upsample_factor,
    )
    images = keras.Input((height, width, 3), name="images")  # RGB, 0..255
    # Normalise in float32 (0..255 is coarse in float16); the backbone casts to its policy.
    x = Normalize(model_cfg.mean, model_cfg.std, dtype="float32", name="normalize")(images)
    x = head(backbone(x))  # (B, h, w, K)
    heatmaps = keras.layers.Activation("linear", dtype="float32", name="heatmaps")(x)
    return keras.Model(images, heatmaps, name=name or f"{model_cfg.backbone}_heatmap")
