"""Recipe model section -> the heatmap ``keras.Model`` (``docs/architecture.md``, the model step).

The model takes float32 NHWC **RGB pixels in [0, 255]**, normalises them with the recipe's
mean/std inside (MMPose's ``PoseDataPreprocessor``), runs the backbone and the head, and returns
float32 NHWC heatmaps ``(B, h, w, K)`` (``h = H / 4`` for every MMPose top-down model), also
under the ``mixed_float16`` policy.
"""

from __future__ import annotations

import keras

from kpose.errors import ModelError, RecipeError
from kpose.models.backbones import BACKBONES, accepted_arguments, get_backbone
from kpose.models.heads.cpm import cpm_head
from kpose.models.heads.heatmap import heatmap_head
from kpose.models.heads.vis import VISIBILITY, vis_predict_head
from kpose.models.layers import Normalize
from kpose.models.necks.feature_map_processor import feature_map_processor
from kpose.recipe import HeadConfig, ModelConfig


def build_backbone(model_cfg: ModelConfig) -> keras.Model:
    """The backbone named by ``model_cfg.backbone`` built with ``model_cfg.backbone_args``.

    Arguments the constructor does not take raise ``RecipeError`` naming the recipe key
    (``model.backbone_args.<arg>``), the family and the arguments it accepts.
    """
    constructor = get_backbone(model_cfg.backbone)
    kwargs = dict(model_cfg.backbone_args)
    accepted = accepted_arguments(constructor) - {"name"}
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        family = BACKBONES[model_cfg.backbone].split(":")[0]
        raise RecipeError(
            f"model.backbone_args.{unknown[0]}: backbone {model_cfg.backbone!r} (family "
            f"{family}) takes no argument {unknown[0]!r}; it accepts {sorted(accepted)}"
        )
    return constructor(**kwargs)


def build_heatmap_model(
    model_cfg: ModelConfig,
    input_size: tuple[int, int],
    num_keypoints: int,
    name: str | None = None,
    all_stages: bool = False,
) -> keras.Model:
    """Backbone + ``HeatmapHead`` for ``input_size = (w, h)`` crops and ``num_keypoints``.

    ``(B, h, w, 3)`` RGB 0..255 -> ``(B, h / 4, w / 4, K)`` float32 heatmaps (for the head
    configurations of MMPose's top-down models). Layer names are MMPose's state-dict paths
    (``backbone.*`` inside the nested ``backbone`` model, ``head.*`` inside ``head``), so
    ``kpose.weights.state_dict.assign_state_dict`` fills them from an MMPose checkpoint.
    Multi-stage models (CPM, Hourglass, MSPN/RSN) predict with their last stage; with
    ``all_stages`` the model returns every stage's heatmaps, first to last (the last is named
    ``heatmaps``), for intermediate supervision. A ``vis`` head (VisPredictHead) returns
    ``[heatmaps, visibility (B, K)]`` (the output named ``visibility``), also with
    ``all_stages``. UDP's combined targets (``head.channels_per_keypoint: 3``) have ``3 K``
    channels.

    Example:
        >>> model = build_heatmap_model(ModelConfig(backbone="resnet50"), (192, 256), 17)
        >>> model(np.zeros((1, 256, 192, 3), "float32")).shape
        TensorShape([1, 64, 48, 17])
    """
    width, height = (int(v) for v in input_size)
    backbone = build_backbone(model_cfg)
    neck = build_neck(model_cfg.neck, backbone)
    features = backbone if neck is None else neck
    head = build_head(model_cfg.head, features, num_keypoints, (width // 4, height // 4))
    images = keras.Input((height, width, 3), name="images")  # RGB, 0..255
    # Normalise in float32 (0..255 is coarse in float16); the backbone casts to its policy.
    x = Normalize(model_cfg.mean, model_cfg.std, dtype="float32", name="normalize")(images)
    x = backbone(x)
    if neck is not None:
        x = neck(x)
    x = head(x)  # (B, h, w, K), or one per stage for multi-stage heads
    visibility = None
    if model_cfg.head.type == "vis":  # VisPredictHead: [heatmaps, visibility (B, K)]
        x, visibility = x
    stages = list(x) if isinstance(x, list | tuple) else [x]
    if not all_stages:
        stages = stages[-1:]  # the last stage is the prediction
    last = len(stages) - 1
    heatmaps = [
        keras.layers.Activation(
            "linear", dtype="float32", name="heatmaps" if i == last else f"heatmaps_stage{i}"
        )(y)
        for i, y in enumerate(stages)
    ]
    outputs = heatmaps if all_stages else heatmaps[0]
    if visibility is not None:
        visibility = keras.layers.Activation("linear", dtype="float32", name=VISIBILITY)(visibility)
        outputs = [*heatmaps, visibility]
    return keras.Model(images, outputs, name=name or f"{model_cfg.backbone}_heatmap")


def predicts_visibility(model: keras.Model) -> bool:
    """Whether ``model`` (``build_heatmap_model``'s) also outputs keypoint visibility."""
    return VISIBILITY in model.output_names


def prediction_model(stages_model: keras.Model) -> keras.Model:
    """``build_heatmap_model``'s model without ``all_stages``, sharing the layers of its
    ``all_stages`` model: the last heatmaps (and the visibility, for a ``vis`` head)."""
    by_name = dict(zip(stages_model.output_names, stages_model.outputs, strict=True))
    outputs = [by_name["heatmaps"]] + ([by_name[VISIBILITY]] if VISIBILITY in by_name else [])
    return keras.Model(
        stages_model.input, outputs if len(outputs) > 1 else outputs[0], name=stages_model.name
    )


def build_neck(neck_cfg, backbone: keras.Model) -> keras.Model | None:
    """The neck ``model.neck`` names (null or ``{}``: none) over ``backbone``'s outputs: MMPose's
    ``FeatureMapProcessor`` (``type: feature_map_processor`` with its arguments)."""
    if not neck_cfg:
        return None
    args = dict(neck_cfg)
    kind = args.pop("type", None)
    if kind != "feature_map_processor":
        raise RecipeError(
            f"model.neck.type: unknown neck {kind!r}; expected 'feature_map_processor'"
        )
    accepted = accepted_arguments(feature_map_processor) - {"feature_shapes", "name"}
    unknown = sorted(set(args) - accepted)
    if unknown:
        raise RecipeError(
            f"model.neck.{unknown[0]}: FeatureMapProcessor takes no argument {unknown[0]!r}; "
            f"it accepts {sorted(accepted)}"
        )
    return feature_map_processor([tuple(t.shape) for t in backbone.outputs], **args)


def build_head(
    head_cfg: HeadConfig,
    backbone: keras.Model,
    num_keypoints: int,
    heatmap_size: tuple[int, int],
) -> keras.Model:
    """The head of ``head_cfg.type`` for ``backbone``'s outputs (``heatmap_size = (w, h)``;
    ``backbone`` is the neck when there is one)."""
    channels = [int(t.shape[-1]) for t in backbone.outputs]
    args = dict(head_cfg.args)
    # UDP's combined targets: a disc and x / y offset maps per keypoint
    out_channels = num_keypoints * head_cfg.channels_per_keypoint
    if head_cfg.channels_per_keypoint != 1 and head_cfg.type not in ("heatmap", "vipnas"):
        raise ModelError(
            f"model.head.channels_per_keypoint: {head_cfg.type!r} heads give one heatmap per "
            f"keypoint, got {head_cfg.channels_per_keypoint}"
        )
    layers = {  # what HeatmapHead and its ViPNAS variant share
        "deconv_out_channels": tuple(head_cfg.deconv_out_channels),
        "deconv_kernel_sizes": tuple(head_cfg.deconv_kernel_sizes),
        "conv_out_channels": tuple(head_cfg.conv_out_channels),
        "conv_kernel_sizes": tuple(head_cfg.conv_kernel_sizes),
        "final_kernel_size": head_cfg.final_kernel_size,
    }
    if head_cfg.type == "heatmap":
        return heatmap_head(
            channels[-1], out_channels, upsample_factor=head_cfg.upsample_factor, **layers
        )
    if head_cfg.type == "vis":
        if head_cfg.upsample_factor:
            raise ModelError("model.head.upsample_factor: a vis head takes none")
        return vis_predict_head(channels[-1], num_keypoints, **layers)
    if head_cfg.type == "cpm":
        return cpm_head(
            channels,
            num_keypoints,
            deconv_out_channels=tuple(head_cfg.deconv_out_channels),
            deconv_kernel_sizes=tuple(head_cfg.deconv_kernel_sizes),
            final_kernel_size=head_cfg.final_kernel_size,
        )
    if head_cfg.type == "mspn":
        from kpose.models.heads.mspn import mspn_head

        return mspn_head(channels, num_keypoints, heatmap_size, **args)
    if head_cfg.type == "vipnas":
        from kpose.models.heads.vipnas import vipnas_head

        return vipnas_head(channels[-1], out_channels, **layers, **args)  # deconv_num_groups
    raise ModelError(
        f"model.head.type: unknown head {head_cfg.type!r}; expected 'heatmap', 'cpm', 'mspn', "
        "'vipnas' or 'vis'"
    )
