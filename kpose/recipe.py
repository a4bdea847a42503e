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

HeadType = Literal["heatmap", "cpm", "mspn", "vipnas"]
CodecType = Literal["msra", "udp", "megvii"]
LossName = Literal["mse", "adaptive_wing"]
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
    ViPNASHead (HeatmapHead with grouped deconvolutions: ``args: {deconv_num_groups: [...]}``)."""

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
    # The training loss of a single-stage head: MMPose's KeypointMSELoss or AdaptiveWingLoss
    # (use_target_weight=True both), with loss_args for the latter's alpha, omega, epsilon, theta.
    loss: LossName = "mse"
    loss_args: Mapping[str, float] = field(default_factory=dict)


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
    # Validation boxes: "detections" (the detector boxes stored with the val records) or "gt".
    val_boxes: ValBoxes = "gt"
    shuffle_buffer: PositiveInt = 2048
    synthetic: SyntheticConfig | None = None
    # Crop with the UDP warp (TopdownAffine's use_udp); None: when the codec is UDP. MMPose's
    # cspnext-m UDP configs on MPII / CrowdPose crop without it.
    udp_warp: bool | None = None


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
    jit_compile: bool = False
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
    score_mode: ScoreMode = "bbox_keypoint"
    keypoint_score_thr: float = 0.2
    nms_thr: Fraction = 0.9
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

    recipe = _with_dataset(recipe, source)
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
    path = Path(data.metainfo).expanduser()
    if not path.is_absolute():
        beside = Path(source).parent / path
        path = beside if beside.is_file() or not path.is_file() else path
    try:
        info = get_dataset_info(path.resolve())
    except DataError as exc:
        raise RecipeError(f"{source}: key 'data.metainfo': {exc}") from None
    data = dataclasses.replace(data, metainfo=info.source, dataset=data.dataset or info.name)
    return dataclasses.replace(recipe, data=data)


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
        return _coerce(inner[0], value, source, key)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, source, key)
    if tp is Any:
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise RecipeError(f"{source}: key {key!r}: expected a list, got {value!r}")
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
