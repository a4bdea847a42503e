"""The preset table: preset name -> recipe file and the MMPose config it mirrors.

One explicit table (no registration at import time). ``mmpose_config`` is relative to MMPose's
``configs/body_2d_keypoint/topdown_heatmap/`` folder (``docs/models.md`` lists every preset).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kpose.errors import ModelError

# The top-level recipes/ folder, linked into the package as kpose/recipes and shipped in the wheel
# as package data (pyproject.toml), so presets resolve in editable and regular installs alike.
RECIPES_DIR = (Path(__file__).resolve().parent / "recipes").resolve()


@dataclass(frozen=True)
class Preset:
    name: str
    recipe: str  # file name under recipes/; the recipe names the MMPose config it mirrors
    published: str = ""  # MMPose's published accuracy of that config

    @property
    def recipe_path(self) -> Path:
        return RECIPES_DIR / self.recipe

    def load_recipe(self):
        from kpose.recipe import load_recipe

        return load_recipe(self.recipe_path)

    @property
    def mmpose_config(self) -> str:
        return self.load_recipe().mmpose_config


_PRESETS = (
    Preset("quickstart", "quickstart.yaml"),
    # COCO val2017, detector boxes (human AP 56.4): AP / AR
    Preset("resnet50", "resnet50_coco.yaml", "AP 0.718 / AR 0.774"),
    Preset("hrnet-w32", "hrnet_w32_coco.yaml", "AP 0.749 / AR 0.804"),
    Preset("hrnet-w48", "hrnet_w48_coco.yaml", "AP 0.756 / AR 0.809"),
    Preset("hrnet-w48-dark", "hrnet_w48_dark_coco.yaml", "AP 0.764 / AR 0.814"),
    Preset("hrnet-w48-udp", "hrnet_w48_udp_coco.yaml", "AP 0.768 / AR 0.817"),
    Preset("vitpose-s", "vitpose_s_coco.yaml", "AP 0.739 / AR 0.792"),
    Preset("vitpose-b", "vitpose_b_coco.yaml", "AP 0.757"),
    Preset("vitpose-l", "vitpose_l_coco.yaml", "AP 0.782"),
    Preset("vitpose-h", "vitpose_h_coco.yaml", "AP 0.790 / AR 0.840 (ViTPose-H*)"),
    Preset("vitpose-s-simple", "vitpose_s_simple_coco.yaml", "AP 0.736"),
    Preset("vitpose-b-simple", "vitpose_b_simple_coco.yaml", "AP 0.756"),
    Preset("vitpose-l-simple", "vitpose_l_simple_coco.yaml", "AP 0.780"),
    Preset("vitpose-h-simple", "vitpose_h_simple_coco.yaml", "AP 0.789"),
    # Human-Art val: AP / AR with detector boxes (AP with GT boxes)
    Preset("vitpose-s-humanart", "vitpose_s_humanart.yaml", "AP 0.381 / AR 0.448 (GT boxes 0.738)"),
    Preset("vitpose-b-humanart", "vitpose_b_humanart.yaml", "AP 0.410 / AR 0.475 (GT boxes 0.759)"),
    Preset("swin-t", "swin_t_coco.yaml", "AP 0.724 / AR 0.782"),
    Preset("swin-b", "swin_b_coco.yaml", "AP 0.737 / AR 0.794"),
    Preset("swin-l", "swin_l_coco.yaml", "AP 0.743 / AR 0.798"),
    Preset("pvt-s", "pvt_s_coco.yaml", "AP 0.714 / AR 0.773"),
    Preset("hrformer-s", "hrformer_small_coco.yaml", "AP 0.738 / AR 0.793"),
    Preset("hrformer-b", "hrformer_base_coco.yaml", "AP 0.754 / AR 0.807"),
    Preset("resnet101", "resnet101_coco.yaml", "AP 0.726 / AR 0.783"),
    Preset("resnet101-dark", "resnet101_dark_coco.yaml", "AP 0.733 / AR 0.786"),
    Preset("resnetv1d50", "resnetv1d50_coco.yaml", "AP 0.722 / AR 0.777"),
    Preset("resnetv1d101", "resnetv1d101_coco.yaml", "AP 0.732 / AR 0.785"),
    Preset("resnext50", "resnext50_coco.yaml", "AP 0.715 / AR 0.771"),
    Preset("resnext101", "resnext101_coco.yaml", "AP 0.726 / AR 0.781"),
    Preset("seresnet50", "seresnet50_coco.yaml", "AP 0.729 / AR 0.784"),
    Preset("seresnet101", "seresnet101_coco.yaml", "AP 0.734 / AR 0.790"),
    # MPII val (ResNet family), CrowdPose, AIC, JHMDB, PoseTrack18
    Preset("resnet50-mpii", "resnet50_mpii.yaml", "PCKh 0.882 / 0.286"),
    Preset("resnet152-mpii", "resnet152_mpii.yaml", "PCKh 0.889 / 0.303"),
    Preset("resnetv1d50-mpii", "resnetv1d50_mpii.yaml", "PCKh 0.881 / 0.290"),
    Preset("resnetv1d152-mpii", "resnetv1d152_mpii.yaml", "PCKh 0.888 / 0.300"),
    Preset("resnext152-mpii", "resnext152_mpii.yaml", "PCKh 0.887 / 0.294"),
    Preset("seresnet50-mpii", "seresnet50_mpii.yaml", "PCKh 0.884 / 0.292"),
    Preset("resnet101-crowdpose", "resnet101_crowdpose.yaml", "AP 0.647 / AR 0.800"),
    Preset("resnet101-aic", "resnet101_aic.yaml", "AP 0.294 / AR 0.337"),
    Preset("resnet50-jhmdb", "resnet50_jhmdb.yaml", "PCK 96.0 (person) / 80.1 (torso)"),
    Preset("resnet50-posetrack18", "resnet50_posetrack18.yaml", "AP 81.2"),
    # MPII val: PCKh@0.5 / PCKh@0.1
    Preset("hrnet-w32-mpii", "hrnet_w32_mpii.yaml", "PCKh 0.900 / 0.334"),
    Preset("hrnet-w48-mpii", "hrnet_w48_mpii.yaml", "PCKh 0.901 / 0.337"),
    Preset("hrnet-w48-dark-mpii", "hrnet_w48_dark_mpii.yaml", "PCKh 0.905 / 0.360"),
    # CrowdPose test (YOLOv3 boxes), AIC val (GT boxes): AP / AR
    Preset("hrnet-w32-crowdpose", "hrnet_w32_crowdpose.yaml", "AP 0.675 / AR 0.816"),
    Preset("hrnet-w32-aic", "hrnet_w32_aic.yaml", "AP 0.323 / AR 0.366"),
    # PoseTrack18 val (GT boxes): total AP
    Preset("hrnet-w32-posetrack18", "hrnet_w32_posetrack18.yaml", "AP 83.4"),
    Preset("hrnet-w48-posetrack18", "hrnet_w48_posetrack18.yaml", "AP 84.6"),
    # CSPNeXt (RTMPose's backbone) with a UDP heatmap head; COCO validates on GT boxes
    Preset("cspnext-tiny", "cspnext_tiny_coco.yaml", "AP 0.665 / AR 0.723"),
    Preset("cspnext-s", "cspnext_s_coco.yaml", "AP 0.697 / AR 0.753"),
    Preset("cspnext-m", "cspnext_m_coco.yaml", "AP 0.732 / AR 0.785"),
    Preset("cspnext-l", "cspnext_l_coco.yaml", "AP 0.750 / AR 0.800"),
    Preset("cspnext-m-mpii", "cspnext_m_mpii.yaml", "PCKh 0.902 / 0.303"),
    Preset("cspnext-m-crowdpose", "cspnext_m_crowdpose.yaml", "AP 0.662 / AR 0.755"),
    # MSPN / RSN (multi-stage, Megvii heatmaps): COCO val2017 AP / AR
    Preset("mspn50", "mspn50_coco.yaml", "AP 0.723 / AR 0.788"),
    Preset("mspn50-4stg", "mspn50_4stg_coco.yaml", "AP 0.765 / AR 0.826"),
    Preset("rsn50", "rsn50_coco.yaml", "AP 0.724 / AR 0.790"),
    Preset("rsn50-3x", "rsn50_3x_coco.yaml", "AP 0.750 / AR 0.814"),
    # AlexNet, CPM (multi-stage, 1/8 heatmaps) and Hourglass-52
    Preset("hourglass52", "hourglass52_coco.yaml", "AP 0.726 / AR 0.780"),
    Preset("cpm", "cpm_coco.yaml", "AP 0.627 / AR 0.689"),
    Preset("alexnet", "alexnet_coco.yaml", "AP 0.448 / AR 0.521"),
    Preset("hourglass52-mpii", "hourglass52_mpii.yaml", "PCKh 0.889 / 0.317"),
    Preset("cpm-mpii", "cpm_mpii.yaml", "PCKh 0.876 / 0.285 (368x368)"),
    Preset("cpm-jhmdb", "cpm_jhmdb.yaml", "PCK 89.8 (person) / 65.7 (torso)"),
    # ResNeSt and SCNet
    Preset("resnest50", "resnest50_coco.yaml", "AP 0.720 / AR 0.775"),
    Preset("resnest101", "resnest101_coco.yaml", "AP 0.725 / AR 0.781"),
    Preset("scnet50", "scnet50_coco.yaml", "AP 0.728 / AR 0.784"),
    Preset("scnet101", "scnet101_coco.yaml", "AP 0.733 / AR 0.789"),
    Preset("scnet50-mpii", "scnet50_mpii.yaml", "PCKh 0.888 / 0.290"),
    # LiteHRNet and the mobile networks (MobileNetV2, ShuffleNetV1/V2)
    Preset("litehrnet-18", "litehrnet_18_coco.yaml", "AP 0.642 / AR 0.705"),
    Preset("litehrnet-30", "litehrnet_30_coco.yaml", "AP 0.676 / AR 0.736"),
    Preset("mobilenetv2", "mobilenetv2_coco.yaml", "AP 0.648 / AR 0.709"),
    Preset("shufflenetv1", "shufflenetv1_coco.yaml", "AP 0.587 / AR 0.654"),
    Preset("shufflenetv2", "shufflenetv2_coco.yaml", "AP 0.602 / AR 0.668"),
    Preset("litehrnet-30-mpii", "litehrnet_30_mpii.yaml", "PCKh 0.869 / 0.271"),
    Preset("litehrnet-18-mpii", "litehrnet_18_mpii.yaml", "PCKh 0.859 / 0.260"),
    Preset("mobilenetv2-mpii", "mobilenetv2_mpii.yaml", "PCKh 0.854 / 0.234"),
    Preset("shufflenetv2-mpii", "shufflenetv2_mpii.yaml", "PCKh 0.828 / 0.205"),
    Preset("shufflenetv1-mpii", "shufflenetv1_mpii.yaml", "PCKh 0.824 / 0.195"),
)
PRESETS = {p.name: p for p in _PRESETS}


def get(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ModelError(f"unknown preset {name!r}; available: {sorted(PRESETS)}") from None


def names() -> list[str]:
    return sorted(PRESETS)


def load_recipe_for(preset_or_recipe):
    """A ``Recipe`` from a preset name, a recipe file path (``.yaml``) or a ``Recipe``."""
    from kpose.recipe import Recipe, load_recipe

    if isinstance(preset_or_recipe, Recipe):
        return preset_or_recipe
    text = os.fspath(preset_or_recipe)
    if text in PRESETS:
        return get(text).load_recipe()
    if Path(text).suffix in (".yaml", ".yml"):
        return load_recipe(text)
    return get(text).load_recipe()  # raises with the list of presets
