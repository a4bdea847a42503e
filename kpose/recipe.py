"""Recipes: one YAML file per model x dataset x input size, parsed into frozen dataclasses.

A recipe has five sections (``model``, ``codec``, ``data``, ``train``, ``eval``) plus a name and
the MMPose config it mirrors. ``base: other.yaml`` includes one other recipe (relative to the
file, else one of the recipes kpose ships, ``resnet50_coco.yaml``) whose values this one
overrides; deeper chains are allowed but discouraged. Every CLI
accepts ``key.sub=value`` overrides, parsed as YAML scalars (``train.epochs=3``,
``data.root=/data/coco``, ``train.milestones=[1,2]``). Every value is checked when the recipe
is read: its type, the choices of an enumerated key (``Literal``), the range of a numeric key
(``Annotated[..., Range(...)]``) and the few rules that tie keys together (``_check``); a bad
value raises ``RecipeError`` naming the file, the dotted key and what was expected.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml

from kpose.data.metainfo import DATASETS, DatasetInfo, get_dataset_info
from kpose.errors import DataError, RecipeError

# The recipes shipped with kpose (a link to the top-level recipes/ in a checkout); ``base:``
# may name one of them from anywhere.
PACKAGED_RECIPES = Path(__file__).resolve().parent / "recipes"


@dataclass(frozen=True)
class Range:
    """The values a numeric key accepts: at least ``low`` (above it when ``open_low``), at most
    ``high``; attached to a field type as ``Annotated[float, Range(0, 1)]``."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        return self.high is None or value <= self.high

    def __str__(self) -> str:
        low = "" if self.low is None else f"{'>' if self.open_low else '>='} {self.low:g}"
        high = "" if self.high is None else f"<= {self.high:g}"
        return " and ".join(part for part in (low, high) if part)


PositiveInt = Annotated[int, Range(1)]
Count = Annotated[int, Range(0)]
PositiveFloat = Annotated[float, Range(0, open_low=True)]
NonNegativeFloat = Annotated[float, Range(0)]
Fraction = Annotated[float, Range(0, 1)]
Size = tuple[PositiveInt, PositiveInt]

HeadType = Literal["heatmap", "cpm", "mspn", "vipnas", "vis"]
CodecType = Literal["msra", "udp", "megvii"]
LossName = Literal["mse", "adaptive_wing", "combined_mse"]
ValBoxes = Literal["gt", "detections"]
OptimizerName = Literal["adam", "adamw"]
# MMPose's metric of each dataset family: COCO-style AP (coco, crowdpose, posetrack18,
# coco_wholebody), PCK tables (mpii, jhmdb), PCKAccuracy + AUC + EPE (pck: hands, locust,
# zebra, Animal Kingdom), normalised mean error (nme: faces).
MetricName = Literal[
    "coco", "crowdpose", "mpii", "jhmdb", "posetrack18", "pck", "nme", "coco_wholebody"
]
ScoreMode = Literal["bbox_keypoint", "bbox", "keypoint"]


@dataclass(frozen=True)
class HeadConfig:
    """The head: ``type`` "heatmap" is MMPose's HeatmapHead (optional deconvolutions, optional
    convs, then a final conv to K channels); "cpm" is CPMHead (one deconv stack + final conv
    per stage of a multi-stage backbone; ``final_kernel_size: 0`` is no final layer);
    "mspn" is MSPNHead (``args`` as MMPose's, e.g. ``num_stages``, ``num_units``); "vipnas" is
    ViPNASHead (HeatmapHead with grouped deconvolutions: ``args: {deconv_num_groups: [...]}``);
    "vis" is VisPredictHead: this HeatmapHead plus a keypoint visibility output (``args:
    {visibility_loss_weight: ...}``, its BCE loss's weight, MMPose's default 1)."""

    deconv_out_channels: tuple[PositiveInt, ...] = (256, 256, 256)
    deconv_kernel_sizes: tuple[PositiveInt, ...] = (4, 4, 4)
    conv_out_channels: tuple[PositiveInt, ...] = ()
    conv_kernel_sizes: tuple[PositiveInt, ...] = ()
    final_kernel_size: Count = 1
    # ViTPose "simple" head: ReLU then bilinear upsampling by this factor before the head.
    upsample_factor: NonNegativeFloat = 0.0
    type: HeadType = "heatmap"
    # Type-specific arguments (MSPNHead's num_stages, num_units, ...).
    args: Mapping[str, Any] = field(default_factory=dict)
    # The training loss of a single-stage head: MMPose's KeypointMSELoss, AdaptiveWingLoss or
    # CombinedTargetMSELoss (use_target_weight=True all), with loss_args for AdaptiveWingLoss's
    # alpha, omega, epsilon, theta.
    loss: LossName = "mse"
    loss_args: Mapping[str, float] = field(default_factory=dict)
    # Output channels per keypoint: 3 for UDP's combined targets (a disc and x / y offset maps,
    # MMPose's out_channels=3*K), else 1.
    channels_per_keypoint: PositiveInt = 1


@dataclass(frozen=True)
class ModelConfig:
    """Which backbone (a constructor name in kpose.models.backbones) and head to build."""

    backbone: str = "resnet50"
    backbone_args: Mapping[str, Any] = field(default_factory=dict)
    head: HeadConfig = field(default_factory=HeadConfig)
    # Between backbone and head: none (null) or {type: feature_map_processor, concat: true, ...}
    # (MMPose's FeatureMapProcessor and its arguments; HRNetV2's face and hand configs); null
    # also clears a neck a base recipe sets.
    neck: Mapping[str, Any] | None = None
    # The keypoints the heatmaps hold (MMPose's model metainfo / the CombinedDataset's): a
    # built-in dataset name or a metainfo file (relative to the recipe file); empty: the
    # data's. Its flip indices serve the flip test; eval.output_keypoint_indices picks the
    # data's keypoints out of them when the two differ (coco_aic's 19 -> COCO's 17).
    metainfo: str = ""
    # ImageNet statistics on the 0..255 RGB scale (MMPose's PoseDataPreprocessor).
    mean: tuple[float, float, float] = (123.675, 116.28, 103.53)
    std: tuple[PositiveFloat, PositiveFloat, PositiveFloat] = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class CodecConfig:
    """Heatmap codec; sizes are (w, h) as in MMPose."""

    type: CodecType = "msra"
    input_size: Size = (192, 256)
    heatmap_size: Size = (48, 64)
    sigma: PositiveFloat = 2.0
    unbiased: bool = False
    blur_kernel_size: PositiveInt = 11  # odd
    # Megvii multi-level training targets (MSPN / RSN): one (odd) Gaussian kernel per level;
    # the decoder uses blur_kernel_size.
    kernel_sizes: tuple[PositiveInt, ...] = ()
    # UDP's heatmap_type: "gaussian", or "combined" (the udp-regress configs: per keypoint a
    # disc of radius radius_factor * max(heatmap_size) and x / y offset maps; decoded with a
    # 2 * blur_kernel_size + 1 blur of the discs).
    heatmap_type: Literal["gaussian", "combined"] = "gaussian"
    radius_factor: PositiveFloat = 0.0546875


@dataclass(frozen=True)
class HalfBodyConfig:
    """MMPose's RandomHalfBody defaults."""

    prob: Fraction = 0.3
    min_total_keypoints: Count = 9
    min_upper_keypoints: Count = 2
    min_lower_keypoints: Count = 3
    padding: PositiveFloat = 1.5
    upper_prioritized_prob: Fraction = 0.7


@dataclass(frozen=True)
class BBoxTransformConfig:
    """MMPose's RandomBBoxTransform defaults (truncated-normal draws in [-1, 1])."""

    shift_factor: NonNegativeFloat = 0.16
    shift_prob: Fraction = 0.3
    scale_factor: tuple[PositiveFloat, PositiveFloat] = (0.5, 1.5)
    scale_prob: Fraction = 1.0
    rotate_factor: NonNegativeFloat = 80.0
    rotate_prob: Fraction = 0.6


# A hole or kernel size of albumentations: pixels (an int) or a fraction of the image side
# (a float in [0, 1)); the type of the value decides, as in albumentations 1.3.
PixelsOrFraction = int | float


@dataclass(frozen=True)
class PixelTransformConfig:
    """One pixel-level transform of the warped input crop (``data.pixel_transforms``), written
    as in MMPose's configs: ``{type: <name>, <argument>: <value>, ...}`` with the argument names
    and defaults of albumentations 1.3 (``CoarseDropout``, ``GridDropout``, ``Blur``,
    ``MedianBlur``: the ``transforms`` of MMPose's ``Albumentation`` wrapper, unwrapped) or of
    MMPose (``PhotometricDistortion``). ``kpose.data.pixel_transforms`` samples and applies
    them."""


@dataclass(frozen=True)
class CoarseDropoutConfig(PixelTransformConfig):
    """albumentations' CoarseDropout: min_holes..max_holes rectangles of fill_value; sizes in
    pixels (ints) or fractions of the crop side (floats); unset minimums equal the maximums."""

    type: Literal["CoarseDropout"] = "CoarseDropout"
    max_holes: PositiveInt = 8
    max_height: PixelsOrFraction = 8
    max_width: PixelsOrFraction = 8
    min_holes: PositiveInt | None = None
    min_height: PixelsOrFraction | None = None
    min_width: PixelsOrFraction | None = None
    fill_value: Annotated[float, Range(0, 255)] = 0
    always_apply: bool = False
    p: Fraction = 0.5


@dataclass(frozen=True)
class GridDropoutConfig(PixelTransformConfig):
    """albumentations' GridDropout: a grid of square units (side drawn from unit_size_min to
    unit_size_max + 1, as albumentations 1.3 draws it, or set by holes_number_x / _y) whose
    top-left ratio x ratio part is filled."""

    type: Literal["GridDropout"] = "GridDropout"
    ratio: Annotated[float, Range(0, 1, open_low=True)] = 0.5
    unit_size_min: PositiveInt | None = None
    unit_size_max: PositiveInt | None = None
    holes_number_x: PositiveInt | None = None
    holes_number_y: PositiveInt | None = None
    shift_x: Count | None = 0
    shift_y: Count | None = 0
    random_offset: bool = False
    fill_value: Annotated[float, Range(0, 255)] = 0
    always_apply: bool = False
    p: Fraction = 0.5


@dataclass(frozen=True)
class BlurConfig(PixelTransformConfig):
    """albumentations' Blur: a box filter (OpenCV's ``blur``), kernel side drawn from
    range(lo, hi + 1, 2) of ``blur_limit`` (an int n means [3, n])."""

    type: Literal["Blur"] = "Blur"
    blur_limit: PositiveInt | tuple[PositiveInt, PositiveInt] = 7
    always_apply: bool = False
    p: Fraction = 0.5


@dataclass(frozen=True)
class MedianBlurConfig(PixelTransformConfig):
    """albumentations' MedianBlur: OpenCV's ``medianBlur``, odd kernel sides as Blur draws."""

    type: Literal["MedianBlur"] = "MedianBlur"
    blur_limit: PositiveInt | tuple[PositiveInt, PositiveInt] = 7
    always_apply: bool = False
    p: Fraction = 0.5


@dataclass(frozen=True)
class PhotometricDistortionConfig(PixelTransformConfig):
    """MMPose's PhotometricDistortion: brightness, contrast, saturation, hue, channel swap,
    each with probability 1/2, in MMPose's order (HSV as OpenCV's 8-bit conversions)."""

    type: Literal["PhotometricDistortion"] = "PhotometricDistortion"
    brightness_delta: NonNegativeFloat = 32
    contrast_range: tuple[NonNegativeFloat, NonNegativeFloat] = (0.5, 1.5)
    saturation_range: tuple[NonNegativeFloat, NonNegativeFloat] = (0.5, 1.5)
    hue_delta: PositiveInt = 18


PIXEL_TRANSFORMS: dict[str, type[PixelTransformConfig]] = {
    "CoarseDropout": CoarseDropoutConfig,
    "GridDropout": GridDropoutConfig,
    "Blur": BlurConfig,
    "MedianBlur": MedianBlurConfig,
    "PhotometricDistortion": PhotometricDistortionConfig,
}


@dataclass(frozen=True)
class TrainSetConfig:
    """One converted record set of the training data (``data.train_sets``; MMPose's
    ``CombinedDataset`` lists several). ``root`` / ``split``: the records (default
    ``data.root`` / ``data.train_split``). ``keypoint_mapping``: MMPose's ``KeypointConverter``
    mapping, ``[source, target]`` pairs from the records' keypoints to the model's
    (``Recipe.model_info``); a source may be a pair ``[a, b]`` (the target is their midpoint,
    visible where both are); targets left out are zero and invisible. Empty: the records hold
    the model's keypoints. ``repeat``: MMPose's ``RepeatDataset`` ``times``."""

    root: str = ""
    split: str = ""
    keypoint_mapping: tuple[Any, ...] = ()
    repeat: PositiveInt = 1


@dataclass(frozen=True)
class SyntheticConfig:
    """How the quickstart generates its dataset when ``data.root`` holds none."""

    train_images: Count = 0
    val_images: Count = 0
    train_seed: Count = 0
    val_seed: Count = 1
    shards: PositiveInt = 4


@dataclass(frozen=True)
class DataConfig:
    """``dataset``: a built-in dataset (``kpose.data.metainfo.DATASETS``; default coco) or,
    with ``metainfo``, any name (default: the file's); it also picks the dataset's MMPose metric
    settings. ``metainfo``: a keypoint metadata file (kpose YAML or MMPose's dataset_info .py,
    relative to the recipe file), for keypoint sets of your own."""

    dataset: str = ""
    metainfo: str = ""
    root: str = "tfrecords/coco"
    train_split: str = "train"
    val_split: str = "val"
    bbox_padding: PositiveFloat = 1.25
    flip_prob: Fraction = 0.5
    half_body: HalfBodyConfig | None = field(default_factory=HalfBodyConfig)
    bbox_transform: BBoxTransformConfig = field(default_factory=BBoxTransformConfig)
    # Pixel transforms of the warped crop, in order (MMPose's transforms between TopdownAffine
    # and GenerateTarget; ``PixelTransformConfig``), e.g. [{type: CoarseDropout, max_holes: 8}].
    pixel_transforms: tuple[PixelTransformConfig, ...] = ()
    # Validation boxes: "detections" (the detector boxes stored with the val records) or "gt".
    val_boxes: ValBoxes = "gt"
    shuffle_buffer: PositiveInt = 2048
    synthetic: SyntheticConfig | None = None
    # Crop with the UDP warp (TopdownAffine's use_udp); None: when the codec is UDP. MMPose's
    # cspnext-m UDP configs on MPII / CrowdPose crop without it.
    udp_warp: bool | None = None
    # The training data: several record sets (``TrainSetConfig``), each read once per pass and
    # mixed at random in proportion to their instance counts (MMPose's CombinedDataset +
    # shuffle); empty: data.root / data.train_split alone.
    train_sets: tuple[TrainSetConfig, ...] = ()

    @property
    def train_record_sets(self) -> tuple[TrainSetConfig, ...]:
        """The training record sets with their defaults filled in (``root`` / ``split``)."""
        sets = self.train_sets or (TrainSetConfig(),)
        return tuple(
            dataclasses.replace(s, root=s.root or self.root, split=s.split or self.train_split)
            for s in sets
        )


@dataclass(frozen=True)
class TrainConfig:
    epochs: PositiveInt = 210
    batch_size: PositiveInt = 512  # global batch, split across replicas
    base_batch_size: PositiveInt = 512  # the batch the learning rate below was tuned for
    scale_lr: bool = False  # linear LR scaling by batch_size / base_batch_size
    optimizer: OptimizerName = "adam"
    lr: PositiveFloat = 5e-4
    weight_decay: NonNegativeFloat = 0.0
    warmup_iters: Count = 500
    warmup_start_factor: Fraction = 0.001
    milestones: tuple[Count, ...] = (170, 200)
    gamma: PositiveFloat = 0.1
    # Cosine annealing per iteration from epoch cosine_epochs[0] to [1], down to
    # lr * cosine_min_factor (RTMPose / CSPNeXt: [105, 210], 0.05); None: off.
    cosine_epochs: tuple[Count, Count] | None = None
    cosine_min_factor: Fraction = 0.0
    steps_per_epoch: Count = 0  # 0: one pass over the training instances
    val_interval: PositiveInt = 10
    checkpoint_interval: Count = 0  # also checkpoint every N steps within an epoch (0: epoch ends)
    work_dir: str = "work_dirs/run"
    seed: Count = 0
    mixed_precision: bool = False
    # The whole train step under XLA: true / false; unset: kpose.devices' choice (XLA on a GPU
    # or TPU; on a CPU a TF graph with only the on-device augmentation under XLA).
    jit_compile: bool | None = None
    log_every: PositiveInt = 20
    # Weights to start from (MMPose's load_from): an MMPose .pth, or a .weights.h5 or .keras of
    # this model (kpose.weights.load.load_weights); a path, an http(s):// / file:// URL, or a
    # preset name (its weights as kpose.load finds them: $KPOSE_HOME, else its MMPose URL).
    load_from: str = ""
    # false: fine-tune (mmengine's load_checkpoint(strict=False)): tensors of another shape (the
    # final layer of another keypoint count), missing or unexpected keep their initialisation
    # and are listed; the rest load.
    load_strict: bool = True
    # MMPose's backbone frozen_stages (-1: none; 0: the stem; n: the stem and n stages) and
    # norm_eval (backbone BatchNorms use their running statistics in training).
    frozen_stages: Annotated[int, Range(-1)] = -1
    norm_eval: bool = False
    # The backbone's pretrained weights (MMPose's backbone init_cfg=Pretrained): a PyTorch .pth
    # whose keys are the backbone's (torchvision's resnet50, an ImageNet HRNet / PVT / CSPNeXt
    # checkpoint), a path or a URL (downloaded once into $KPOSE_HOME/checkpoints); keys under
    # backbone_weights_prefix only, with that prefix removed.
    backbone_weights: str = ""
    backbone_weights_prefix: str = ""
    # ViTPose: layer-wise LR decay (0: off) over this many transformer layers; gradient clipping
    # at this global L2 norm (0: off).
    layer_decay_rate: NonNegativeFloat = 0.0
    layer_decay_num_layers: Count = 0
    clip_grad_norm: NonNegativeFloat = 0.0
    # AdamW without layer decay: no weight decay for parameters whose MMPose name contains one
    # of these (MMPose's paramwise_cfg custom_keys with decay_mult=0).
    no_decay_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class EvalConfig:
    """Validation: ``metric`` is MMPose's metric of the dataset (``MetricName``); ``pck_thr``
    overrides the PCK threshold (MPII 0.5, JHMDB 0.2, pck 0.05 as ``PCKAccuracy``; the hand
    and locust / zebra configs set 0.2); ``mpii_one_based`` keeps MMPose's +1 on MPII
    predictions.

    ``metric: pck`` is ``PCKAccuracy(pck_thr, norm_item=pck_norm)`` + ``AUC(auc_norm_factor,
    auc_num_thrs)`` + ``EPE`` (left out with ``epe: false``, as Animal Kingdom's configs do).
    ``metric: nme`` is ``NME``: ``nme_norm_mode`` "keypoint_distance" divides by the GT distance
    of ``nme_keypoint_indices`` (default MMPose's pair for the dataset: 300w, wflw, cofw,
    coco_wholebody_face, lapa), "use_norm_item" by ``nme_norm_item`` (AFLW: "bbox_size")."""

    metric: MetricName = "coco"
    batch_size: PositiveInt = 32
    flip_test: bool = True
    shift_heatmap: bool = True
    # MMPose's test_cfg flip_mode: "heatmap", or "udp_combined" for UDP's combined maps (the x
    # offsets change sign); None: the one the codec's heatmap_type needs.
    flip_mode: Literal["heatmap", "udp_combined"] | None = None
    score_mode: ScoreMode = "bbox_keypoint"
    keypoint_score_thr: float = 0.2
    nms_thr: Fraction = 0.9
    # CocoMetric's nms_mode: OKS-NMS of each image's instances, or none (the MSPN / RSN configs)
    nms_mode: Literal["oks_nms", "none"] = "oks_nms"
    use_area: bool = True
    pck_thr: PositiveFloat | None = None
    mpii_one_based: bool = True
    pck_norm: Literal["bbox", "head", "torso"] = "bbox"
    auc_norm_factor: PositiveFloat = 30.0
    auc_num_thrs: PositiveInt = 20
    epe: bool = True
    nme_norm_mode: Literal["keypoint_distance", "use_norm_item"] = "keypoint_distance"
    nme_norm_item: Literal["bbox_size", "head_size"] | None = None
    nme_keypoint_indices: tuple[Count, Count] | None = None
    # MMPose's test_cfg output_keypoint_indices: the heatmap channels predictions keep (after
    # the flip test), one per keypoint of data.dataset; None: all of them.
    output_keypoint_indices: tuple[Count, ...] | None = None
    # The heatmap model at inference (PoseEstimator, validation) under XLA: true / false;
    # unset: kpose.devices' choice (XLA on a GPU or TPU, a TF graph on a CPU).
    jit_compile: bool | None = None


@dataclass(frozen=True)
class Recipe:
    name: str = ""
    mmpose_config: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    codec: CodecConfig = field(default_factory=CodecConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    source: str = ""  # the file this recipe was read from

    @property
    def dataset_info(self) -> DatasetInfo:
        """The keypoint metadata: ``data.metainfo``'s file, else the built-in ``data.dataset``."""
        return get_dataset_info(self.data.metainfo or self.data.dataset)

    @property
    def model_info(self) -> DatasetInfo:
        """The keypoints of the model's heatmaps (the training targets): ``model.metainfo``'s,
        else ``dataset_info``; predictions keep ``eval.output_keypoint_indices`` of them."""
        return get_dataset_info(self.model.metainfo) if self.model.metainfo else self.dataset_info

    @property
    def flip_mode(self) -> str:
        """The flip test's mode: "udp_combined" for UDP's combined maps (their x offsets
        change sign), else "heatmap" (``eval.flip_mode``, when set, must say the same)."""
        return "udp_combined" if self.codec.heatmap_type == "combined" else "heatmap"

    @property
    def use_udp_warp(self) -> bool:
        """Whether crops use the UDP warp (``data.udp_warp``, by default a UDP codec)."""
        return self.codec.type == "udp" if self.data.udp_warp is None else self.data.udp_warp


def load_recipe(path: str | os.PathLike, overrides: Sequence[str] = ()) -> Recipe:
    """Read a recipe file, apply ``key.sub=value`` overrides, and return the typed recipe."""
    path = Path(path)
    raw = _read_yaml_with_base(path, seen=())
    for item in overrides:
        _apply_override(raw, item, path)
    raw.setdefault("name", path.stem)
    raw["source"] = str(path)
    return _check(_build(Recipe, raw, str(path), ""), str(path))


def recipe_from_dict(raw: Mapping[str, Any], source: str = "<dict>") -> Recipe:
    """Build a recipe from a plain mapping (same checks as a file)."""
    return _check(_build(Recipe, dict(raw), source, ""), source)


def replace(recipe: Recipe, overrides: Sequence[str]) -> Recipe:
    """Return ``recipe`` with ``key.sub=value`` overrides applied."""
    raw = to_dict(recipe)
    for item in overrides:
        _apply_override(raw, item, Path(recipe.source or "<recipe>"))
    source = recipe.source or "<recipe>"
    return _check(_build(Recipe, raw, source, ""), source)


def to_dict(obj: Any) -> Any:
    """A recipe (or section) as plain YAML-friendly data."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, tuple | list):
        return [to_dict(v) for v in obj]
    return obj


def _check(recipe: Recipe, source: str) -> Recipe:
    """The rules that tie keys together or that no field type states; ``recipe`` if all hold."""
    codec, train = recipe.codec, recipe.train

    def fail(key: str, expected: str, value: Any) -> None:
        raise RecipeError(f"{source}: key {key!r}: expected {expected}, got {value!r}")

    recipe = _with_model_keypoints(_with_dataset(recipe, source), source)
    if codec.blur_kernel_size % 2 != 1:
        fail("codec.blur_kernel_size", "an odd kernel size", codec.blur_kernel_size)
    if any(k % 2 != 1 for k in codec.kernel_sizes):
        fail("codec.kernel_sizes", "odd kernel sizes", list(codec.kernel_sizes))
    if codec.kernel_sizes and codec.type != "megvii":
        raise RecipeError(
            f"{source}: key 'codec.kernel_sizes': multi-level targets need codec.type 'megvii', "
            f"got codec.type {codec.type!r}"
        )
    if codec.type == "udp" and min(codec.heatmap_size) < 2:
        fail("codec.heatmap_size", "at least 2x2 pixels for the UDP codec", codec.heatmap_size)
    if train.cosine_epochs is not None and train.cosine_epochs[0] >= train.cosine_epochs[1]:
        fail("train.cosine_epochs", "[begin, end] with begin < end", list(train.cosine_epochs))
    if train.layer_decay_rate and not train.layer_decay_num_layers:
        fail(
            "train.layer_decay_num_layers",
            "the backbone's number of transformer layers with train.layer_decay_rate",
            train.layer_decay_num_layers,
        )
    if recipe.eval.metric in ("mpii", "jhmdb") and recipe.data.val_boxes != "gt":
        fail("data.val_boxes", f"'gt' for the PCK metric {recipe.eval.metric!r}", "detections")
    _check_pixel_transforms(recipe, source)
    return _check_head_outputs(recipe, fail)


def _check_head_outputs(recipe: Recipe, fail) -> Recipe:
    """``recipe`` if it keeps the rules of the head's outputs: UDP's combined targets need
    codec.type udp, 3 channels per keypoint and the ``udp_combined`` flip (every other codec 1
    channel and the ``heatmap`` flip, ``Recipe.flip_mode``); a ``vis`` head takes only
    ``args.visibility_loss_weight`` (a number >= 0)."""
    codec, head, ev = recipe.codec, recipe.model.head, recipe.eval
    combined = codec.heatmap_type == "combined"
    if combined and codec.type != "udp":
        fail("codec.heatmap_type", "'gaussian' for codec.type other than 'udp'", "combined")
    channels = 3 if combined else 1
    if head.channels_per_keypoint != channels:
        fail(
            "model.head.channels_per_keypoint",
            f"{channels} with codec.heatmap_type {codec.heatmap_type!r}",
            head.channels_per_keypoint,
        )
    if head.loss == "combined_mse" and not combined:
        fail("model.head.loss", "'combined_mse' only with codec.heatmap_type 'combined'", head.loss)
    if ev.flip_mode not in (None, recipe.flip_mode):
        fail(
            "eval.flip_mode",
            f"{recipe.flip_mode!r} with codec.heatmap_type {codec.heatmap_type!r}",
            ev.flip_mode,
        )
    if head.type == "vis":
        unknown = sorted(set(head.args) - {"visibility_loss_weight"})
        if unknown:
            fail(
                f"model.head.args.{unknown[0]}",
                "only visibility_loss_weight for a vis head",
                head.args[unknown[0]],
            )
        weight = head.args.get("visibility_loss_weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            fail("model.head.args.visibility_loss_weight", "a number >= 0", weight)
    return recipe


def _with_dataset(recipe: Recipe, source: str) -> Recipe:
    """``recipe`` with ``data.metainfo`` resolved (relative to the recipe file, checked by
    reading it) and ``data.dataset`` filled in (the file's name, or coco)."""
    data = recipe.data
    if not data.metainfo:
        dataset = str(data.dataset or "coco").lower()
        if dataset not in DATASETS:
            raise RecipeError(
                f"{source}: key 'data.dataset': expected one of {list(DATASETS)} (or a keypoint "
                f"metadata file as data.metainfo), got {data.dataset!r}"
            )
        return dataclasses.replace(recipe, data=dataclasses.replace(data, dataset=dataset))
    info = _metainfo_file(data.metainfo, source, "data.metainfo")
    data = dataclasses.replace(data, metainfo=info.source, dataset=data.dataset or info.name)
    return dataclasses.replace(recipe, data=data)


def _metainfo_file(value: str, source: str, key: str) -> DatasetInfo:
    """The metainfo file ``value`` (relative to the recipe file, else to the working folder),
    read; a ``RecipeError`` naming ``key`` when it cannot be."""
    path = Path(value).expanduser()
    if not path.is_absolute():
        beside = Path(source).parent / path
        path = beside if beside.is_file() or not path.is_file() else path
    try:
        return get_dataset_info(path.resolve())
    except DataError as exc:
        raise RecipeError(f"{source}: key {key!r}: {exc}") from None


def _with_model_keypoints(recipe: Recipe, source: str) -> Recipe:
    """``recipe`` with ``model.metainfo`` resolved (a built-in name stays a name, a file
    becomes its absolute path), checked against ``eval.output_keypoint_indices`` and the
    ``data.train_sets`` keypoint mappings, which are normalised to ``((a, b), target)`` pairs
    (``a == b`` for a plain source index)."""
    model, data = recipe.model, recipe.data
    if model.metainfo:
        name = model.metainfo.lower()
        if name in DATASETS:
            model = dataclasses.replace(model, metainfo=name)
        else:
            info = _metainfo_file(model.metainfo, source, "model.metainfo")
            model = dataclasses.replace(model, metainfo=info.source)
        recipe = dataclasses.replace(recipe, model=model)
    k_model, k_data = recipe.model_info.num_keypoints, recipe.dataset_info.num_keypoints
    indices = recipe.eval.output_keypoint_indices
    if indices is None and k_model != k_data:
        raise RecipeError(
            f"{source}: key 'eval.output_keypoint_indices': the model predicts {k_model} "
            f"keypoints (model.metainfo {model.metainfo!r}) and data.dataset "
            f"{data.dataset!r} has {k_data}: list the {k_data} heatmap channels predictions keep"
        )
    if indices is not None and (len(indices) != k_data or max(indices, default=0) >= k_model):
        raise RecipeError(
            f"{source}: key 'eval.output_keypoint_indices': expected {k_data} indices (one per "
            f"keypoint of data.dataset {data.dataset!r}) below {k_model} (the model's "
            f"keypoints), got {list(indices)}"
        )
    sets = []
    for i, train_set in enumerate(data.train_sets):
        key = f"data.train_sets[{i}].keypoint_mapping"
        pairs = _keypoint_mapping(train_set.keypoint_mapping, k_model, f"{source}: key {key!r}")
        sets.append(dataclasses.replace(train_set, keypoint_mapping=pairs))
    data = dataclasses.replace(data, train_sets=tuple(sets))
    return dataclasses.replace(recipe, data=data)


def _keypoint_mapping(mapping: Sequence[Any], num_targets: int, where: str) -> tuple:
    """MMPose's KeypointConverter ``mapping`` checked and normalised: ``[source, target]``
    pairs, a source an index or a pair of indices, targets distinct and below
    ``num_targets``; returns ``((a, b), target)`` pairs."""

    def index(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    pairs, seen = [], {}
    for j, item in enumerate(mapping):
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise RecipeError(f"{where}: item {j}: expected [source, target], got {item!r}")
        src, target = item
        if index(src):
            src = (src, src)
        elif isinstance(src, list | tuple) and len(src) == 2 and all(index(v) for v in src):
            src = (src[0], src[1])
        else:
            raise RecipeError(
                f"{where}: item {j}: the source must be a keypoint index or a pair of them "
                f"[a, b] (their midpoint), got {src!r}"
            )
        if not index(target) or target >= num_targets:
            raise RecipeError(
                f"{where}: item {j}: target {target!r} is not an index of the model's "
                f"{num_targets} keypoints"
            )
        if target in seen:
            raise RecipeError(
                f"{where}: item {j}: target {target} is also the target of item {seen[target]}"
            )
        seen[target] = j
        pairs.append((src, target))
    return tuple(pairs)


def _read_yaml_with_base(path: Path, seen: tuple[Path, ...]) -> dict:
    if not path.is_file():
        raise RecipeError(f"{path}: recipe file not found")
    if path.resolve() in seen:
        raise RecipeError(f"{path}: 'base' includes form a cycle: {[str(p) for p in seen]}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    base = raw.pop("base", None)
    if base is None:
        return raw
    base_path = (path.parent / str(base)).resolve()
    if not base_path.is_file() and (PACKAGED_RECIPES / str(base)).is_file():
        base_path = (PACKAGED_RECIPES / str(base)).resolve()  # a recipe kpose ships
    if not base_path.is_file():
        raise RecipeError(
            f"{path}: key 'base': file {base_path} not found (nor {base!r} among the recipes "
            f"kpose ships, {PACKAGED_RECIPES})"
        )
    merged = _read_yaml_with_base(base_path, seen + (path.resolve(),))
    _deep_merge(merged, raw)
    return merged


def _deep_merge(dst: dict, src: Mapping) -> None:
    for key, value in src.items():
        if isinstance(value, Mapping) and isinstance(dst.get(key), Mapping):
            dst[key] = dict(dst[key])
            _deep_merge(dst[key], value)
        else:
            dst[key] = value


def _apply_override(raw: dict, item: str, path: Path) -> None:
    if "=" not in item:
        raise RecipeError(f"override {item!r}: expected key.sub=value")
    key, text = item.split("=", 1)
    try:
        value = yaml.safe_load(text) if text else ""
    except yaml.YAMLError as exc:
        raise RecipeError(f"override {item!r}: value is not valid YAML: {exc}") from exc
    parts = key.strip().split(".")
    node = raw
    cls: Any = Recipe
    for i, part in enumerate(parts):
        names = _field_types(cls) if cls is not None else None
        if names is not None and part not in names:
            raise RecipeError(
                f"{path}: override {key!r}: unknown key {'.'.join(parts[: i + 1])!r}; "
                f"expected one of {sorted(names)}"
            )
        cls = _dataclass_of(names[part]) if names is not None else None
        if i == len(parts) - 1:
            node[part] = value
        else:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {} if child is None else dict(child) if isinstance(child, Mapping) else {}
                node[part] = child
            node = child


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _dataclass_of(tp: Any) -> type | None:
    """The dataclass inside ``tp`` (``X`` or ``X | None``), if any."""
    if dataclasses.is_dataclass(tp):
        return tp
    for arg in typing.get_args(tp):
        if dataclasses.is_dataclass(arg):
            return arg
    return None


def _build_pixel_transform(raw: Any, source: str, key: str) -> PixelTransformConfig:
    """One ``data.pixel_transforms`` entry -> its config, with albumentations' / MMPose's rules
    on the arguments checked and unset minimums filled in as albumentations does."""
    if not isinstance(raw, Mapping):
        raise RecipeError(
            f"{source}: key {key!r}: expected a mapping {{type: <name>, <argument>: <value>}} "
            f"with type one of {list(PIXEL_TRANSFORMS)}, got {raw!r}"
        )
    name = raw.get("type")
    if name not in PIXEL_TRANSFORMS:
        raise RecipeError(
            f"{source}: key {key + '.type'!r}: expected one of {list(PIXEL_TRANSFORMS)}, "
            f"got {name!r}"
        )
    t = _build(PIXEL_TRANSFORMS[name], raw, source, key)

    def fail(expected: str) -> None:
        raise RecipeError(f"{source}: key {key!r}: {name} expects {expected}, got {to_dict(t)}")

    if isinstance(t, CoarseDropoutConfig):
        t = dataclasses.replace(
            t,
            min_holes=t.max_holes if t.min_holes is None else t.min_holes,
            min_height=t.max_height if t.min_height is None else t.min_height,
            min_width=t.max_width if t.min_width is None else t.min_width,
        )
        sizes = (t.min_height, t.max_height, t.min_width, t.max_width)
        if not t.min_holes <= t.max_holes:
            fail("min_holes <= max_holes")
        if not (all(type(v) is int for v in sizes) or all(type(v) is float for v in sizes)):
            fail("hole sizes all in pixels (integers) or all fractions (floats)")
        if not all(0 < v < (1 if type(v) is float else math.inf) for v in sizes):
            fail("hole sizes > 0 (fractions < 1)")
        if t.min_height > t.max_height or t.min_width > t.max_width:
            fail("min_height <= max_height and min_width <= max_width")
    elif isinstance(t, GridDropoutConfig):
        units = (t.unit_size_min, t.unit_size_max)
        if (units[0] is None) != (units[1] is None):
            fail("unit_size_min and unit_size_max both set or both unset")
        if units[0] is not None and not 2 <= units[0] <= units[1]:
            fail("2 <= unit_size_min <= unit_size_max")
    elif isinstance(t, BlurConfig | MedianBlurConfig):
        limit = t.blur_limit
        limit = tuple(limit) if isinstance(limit, tuple) else (min(3, limit), max(3, limit))
        t = dataclasses.replace(t, blur_limit=limit)
        if limit[0] > limit[1]:
            fail("blur_limit [low, high] with low <= high")
        if isinstance(t, MedianBlurConfig) and (limit[0] % 2 != 1 or limit[1] % 2 != 1):
            fail("odd blur limits")
    elif isinstance(t, PhotometricDistortionConfig):
        if t.contrast_range[0] > t.contrast_range[1]:
            fail("contrast_range [low, high] with low <= high")
        if t.saturation_range[0] > t.saturation_range[1]:
            fail("saturation_range [low, high] with low <= high")
    return t


def _check_pixel_transforms(recipe: Recipe, source: str) -> None:
    """The pixel transforms' rules that depend on the crop size (albumentations' own checks)."""
    w, h = recipe.codec.input_size
    for i, t in enumerate(recipe.data.pixel_transforms):
        key = f"data.pixel_transforms[{i}]"
        problem = None
        if isinstance(t, CoarseDropoutConfig) and type(t.max_height) is int:
            if t.max_height > h or t.max_width > w:
                problem = f"holes of at most the {w}x{h} crop"
        elif isinstance(t, GridDropoutConfig):
            if t.unit_size_max is not None and t.unit_size_max > min(w, h):
                problem = f"unit_size_max <= the crop's shorter side {min(w, h)}"
            elif t.unit_size_max is None and t.holes_number_x not in (None, *range(1, w // 2 + 1)):
                problem = f"1 <= holes_number_x <= {w // 2} (half the crop width)"
            elif t.unit_size_max is None and t.holes_number_y not in (None, *range(1, h // 2 + 1)):
                problem = f"1 <= holes_number_y <= {h // 2} (half the crop height)"
        if problem:
            raise RecipeError(
                f"{source}: key {key!r}: {t.type} expects {problem}, got {to_dict(t)}"
            )


def _build(cls: type, raw: Any, source: str, prefix: str) -> Any:
    if not isinstance(raw, Mapping):
        raise RecipeError(f"{source}: key {prefix or '<top>'!r}: expected a mapping, got {raw!r}")
    types_by_name = _field_types(cls)
    unknown = sorted(set(raw) - set(types_by_name))
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise RecipeError(
            f"{source}: unknown key {where}{unknown[0]}; expected one of {sorted(types_by_name)}"
        )
    kwargs = {}
    for name, value in raw.items():
        key = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _coerce(types_by_name[name], value, source, key)
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, source: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Annotated:
        value = _coerce(args[0], value, source, key)
        for limits in args[1:]:
            if value not in limits:
                raise RecipeError(f"{source}: key {key!r}: expected {limits}, got {value!r}")
        return value
    if origin is Literal:
        if value not in args or not isinstance(value, str):
            choices = ", ".join(repr(a) for a in args)
            raise RecipeError(f"{source}: key {key!r}: expected one of {choices}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        for alternative in inner[:-1]:  # the first alternative the value fits (int | float)
            try:
                return _coerce(alternative, value, source, key)
            except RecipeError:
                pass
        return _coerce(inner[-1], value, source, key)
    if tp is PixelTransformConfig:
        return _build_pixel_transform(value, source, key)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, source, key)
    if tp is Any:
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise RecipeError(f"{source}: key {key!r}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis and args[0] is PixelTransformConfig:
            return tuple(_coerce(args[0], v, source, f"{key}[{i}]") for i, v in enumerate(value))
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, source, key) for v in value)
        if len(value) != len(args):
            raise RecipeError(
                f"{source}: key {key!r}: expected a list of {len(args)} values, got {value!r}"
            )
        return tuple(_coerce(a, v, source, key) for a, v in zip(args, value, strict=True))
    if origin in (Mapping, dict) or tp in (Mapping, dict):
        if not isinstance(value, Mapping):
            raise RecipeError(f"{source}: key {key!r}: expected a mapping, got {value!r}")
        return types.MappingProxyType(dict(value))
    if tp is bool:
        if not isinstance(value, bool):
            raise RecipeError(f"{source}: key {key!r}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecipeError(f"{source}: key {key!r}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RecipeError(f"{source}: key {key!r}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise RecipeError(f"{source}: key {key!r}: expected a string, got {value!r}")
        return value
    raise RecipeError(f"{source}: key {key!r}: unsupported type {tp}")
