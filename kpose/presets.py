"""The preset table: preset name -> recipe file, MMPose's published accuracy of the config it
mirrors and the URL of MMPose's checkpoint of that config.

One explicit table (no registration at import time) for every tree of MMPose's configs (body,
animal, whole-body, face and hand top-down heatmap models): ``mmpose_config`` is relative to
MMPose's ``configs/`` folder, e.g. ``body_2d_keypoint/topdown_heatmap/coco/...``
(``docs/models.md`` lists every preset).
``weights`` and ``published`` are the ``Weights:`` and ``Results:`` of that config's entry in
MMPose 1.3.2's metafiles (the ``*.yml`` beside the configs, checked against them by
``tests/parity/test_weights_parity.py``); ``kpose.load(name)`` downloads ``weights`` into
``$KPOSE_HOME`` (``kpose.weights.download``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kpose.errors import ModelError

# The top-level recipes/ folder, linked into the package as kpose/recipes and shipped in the wheel
# as package data (pyproject.toml), so presets resolve in editable and regular installs alike.
RECIPES_DIR = (Path(__file__).resolve().parent / "recipes").resolve()


# Where MMPose keeps its checkpoints: 1.x top-down heatmap models, 0.x top-down models (which
# MMPose 1.x still loads), RTMPose's project folder (the CSPNeXt heatmap models).
_V1 = "https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap"
_V0 = "https://download.openmmlab.com/mmpose/top_down"
_RTMPOSE = "https://download.openmmlab.com/mmpose/v1/projects/rtmposev1"
_ANIMAL_V1 = "https://download.openmmlab.com/mmpose/v1/animal_2d_keypoint/topdown_heatmap"
_ANIMAL_V0 = "https://download.openmmlab.com/mmpose/animal"
_FACE_V1 = "https://download.openmmlab.com/mmpose/v1/face_2d_keypoint/topdown_heatmap"
_FACE_V0 = "https://download.openmmlab.com/mmpose/face"
_HAND_V0 = "https://download.openmmlab.com/mmpose/hand"
# COCO-WholeBody's 0.x checkpoints are under _V0 (top_down/hrnet, top_down/resnet), its
# CSPNeXt one under _RTMPOSE; UBody2d's under the 1.x whole-body folder.
_WHOLEBODY_V1 = "https://download.openmmlab.com/mmpose/v1/wholebody_2d_keypoint"


# ``published`` of the presets whose config MMPose publishes no checkpoint of (empty ``weights``)
NO_CHECKPOINT = "no MMPose checkpoint"


@dataclass(frozen=True)
class Preset:
    name: str
    recipe: str  # file name under recipes/; the recipe names the MMPose config it mirrors
    published: str = ""  # MMPose's published accuracy of that config's checkpoint
    weights: str = ""  # the URL of that checkpoint (its file name carries a sha256 prefix)

    @property
    def recipe_path(self) -> Path:
        return RECIPES_DIR / self.recipe

    def load_recipe(self):
        from kpose.recipe import load_recipe

        return load_recipe(self.recipe_path)

    @property
    def mmpose_config(self) -> str:
        return self.load_recipe().mmpose_config


# fmt: off
_PRESETS = (
    Preset("quickstart", "quickstart.yaml"),
    # COCO val2017, detector boxes (human AP 56.4): AP / AR
    Preset("resnet50", "resnet50_coco.yaml", "AP 0.718 / AR 0.774",
           f"{_V1}/coco/td-hm_res50_8xb64-210e_coco-256x192-04af38ce_20220923.pth"),
    Preset("hrnet-w32", "hrnet_w32_coco.yaml", "AP 0.749 / AR 0.804",
           f"{_V1}/coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192-81c58e40_20220909.pth"),
    # trained on COCO + AIC (MMPose's CombinedDataset: data.train_sets); "combine" predicts
    # coco_aic's 19 keypoints and keeps COCO's 17
    Preset("hrnet-w32-coco-aic-merge", "hrnet_w32_coco_aic_merge.yaml", "AP 0.757 / AR 0.809",
           f"{_V1}/coco/td-hm_hrnet-w32_8xb64-210e_coco-aic-256x192-merge-b05435b9_20221025.pth"),
    Preset("hrnet-w32-coco-aic-combine", "hrnet_w32_coco_aic_combine.yaml", "AP 0.756 / AR 0.807",
           f"{_V1}/coco/td-hm_hrnet-w32_8xb64-210e_coco-aic-256x192-combine-4ce66880_20221026.pth"),
    # HRNet-W32 with pixel augmentation of the crop (albumentations' CoarseDropout /
    # GridDropout, MMPose's PhotometricDistortion)
    Preset("hrnet-w32-coarsedropout", "hrnet_w32_coarsedropout_coco.yaml", "AP 0.753 / AR 0.805",
           f"{_V0}/augmentation/hrnet_w32_coco_256x192_coarsedropout-0f16a0ce_20210320.pth"),
    Preset("hrnet-w32-gridmask", "hrnet_w32_gridmask_coco.yaml", "AP 0.752 / AR 0.804",
           f"{_V0}/augmentation/hrnet_w32_coco_256x192_gridmask-868180df_20210320.pth"),
    Preset("hrnet-w32-photometric", "hrnet_w32_photometric_coco.yaml", "AP 0.754 / AR 0.805",
           f"{_V0}/augmentation/hrnet_w32_coco_256x192_photometric-308cf591_20210320.pth"),
    Preset("hrnet-w48", "hrnet_w48_coco.yaml", "AP 0.756 / AR 0.809",
           f"{_V1}/coco/td-hm_hrnet-w48_8xb32-210e_coco-256x192-0e67c616_20220913.pth"),
    Preset("hrnet-w48-dark", "hrnet_w48_dark_coco.yaml", "AP 0.764 / AR 0.814",
           f"{_V1}/coco/td-hm_hrnet-w48_dark-8xb32-210e_coco-256x192-e1ebdd6f_20220913.pth"),
    Preset("hrnet-w48-udp", "hrnet_w48_udp_coco.yaml", "AP 0.768 / AR 0.817",
           f"{_V1}/coco/td-hm_hrnet-w48_udp-8xb32-210e_coco-256x192-3feaef8f_20220913.pth"),
    Preset("vitpose-s", "vitpose_s_coco.yaml", "AP 0.739 / AR 0.792",
           f"{_V1}/coco/td-hm_ViTPose-small_8xb64-210e_coco-256x192-62d7a712_20230314.pth"),
    Preset("vitpose-b", "vitpose_b_coco.yaml", "AP 0.757 / AR 0.810",
           f"{_V1}/coco/td-hm_ViTPose-base_8xb64-210e_coco-256x192-216eae50_20230314.pth"),
    Preset("vitpose-l", "vitpose_l_coco.yaml", "AP 0.782 / AR 0.834",
           f"{_V1}/coco/td-hm_ViTPose-large_8xb64-210e_coco-256x192-53609f55_20230314.pth"),
    Preset("vitpose-h", "vitpose_h_coco.yaml", "AP 0.788 / AR 0.839",
           f"{_V1}/coco/td-hm_ViTPose-huge_8xb64-210e_coco-256x192-e32adcd4_20230314.pth"),
    Preset("vitpose-s-simple", "vitpose_s_simple_coco.yaml", "AP 0.736 / AR 0.790",
           f"{_V1}/coco/td-hm_ViTPose-small-simple_8xb64-210e_coco-256x192-4c101a76_20230314.pth"),
    Preset("vitpose-b-simple", "vitpose_b_simple_coco.yaml", "AP 0.756 / AR 0.809",
           f"{_V1}/coco/td-hm_ViTPose-base-simple_8xb64-210e_coco-256x192-0b8234ea_20230407.pth"),
    Preset("vitpose-l-simple", "vitpose_l_simple_coco.yaml", "AP 0.780 / AR 0.833",
           f"{_V1}/coco/td-hm_ViTPose-large-simple_8xb64-210e_coco-256x192-3a7ee9e1_20230314.pth"),
    Preset("vitpose-h-simple", "vitpose_h_simple_coco.yaml", "AP 0.789 / AR 0.839",
           f"{_V1}/coco/td-hm_ViTPose-huge-simple_8xb64-210e_coco-256x192-ffd48c05_20230314.pth"),
    # Human-Art val: AP / AR with detector boxes (AP with GT boxes)
    Preset("vitpose-s-humanart", "vitpose_s_humanart.yaml", "AP 0.381 / AR 0.448 (GT boxes 0.738)",
           f"{_V1}/human_art/td-hm_ViTPose-small_8xb64-210e_humanart-256x192-5cbe2bfc_20230611.pth"),
    Preset("vitpose-b-humanart", "vitpose_b_humanart.yaml", "AP 0.410 / AR 0.475 (GT boxes 0.759)",
           f"{_V1}/human_art/td-hm_ViTPose-base_8xb64-210e_humanart-256x192-b417f546_20230611.pth"),
    Preset("vitpose-l-humanart", "vitpose_l_humanart.yaml", "AP 0.459 / AR 0.525 (GT boxes 0.789)",
           f"{_V1}/human_art/td-hm_ViTPose-large_8xb64-210e_humanart-256x192-9aba9345_20230614.pth"),
    Preset("vitpose-h-humanart", "vitpose_h_humanart.yaml", "AP 0.468 / AR 0.534 (GT boxes 0.800)",
           f"{_V1}/human_art/td-hm_ViTPose-huge_8xb64-210e_humanart-256x192-603bb573_20230612.pth"),
    Preset("hrnet-w32-humanart", "hrnet_w32_humanart.yaml", "AP 0.399 / AR 0.466 (GT boxes 0.754)",
           f"{_V1}/human_art/td-hm_hrnet-w32_8xb64-210e_humanart-256x192-0773ef0b_20230614.pth"),
    Preset("hrnet-w48-humanart", "hrnet_w48_humanart.yaml", "AP 0.417 / AR 0.481 (GT boxes 0.769)",
           f"{_V1}/human_art/td-hm_hrnet-w48_8xb32-210e_humanart-256x192-05178983_20230614.pth"),
    Preset("swin-t", "swin_t_coco.yaml", "AP 0.724 / AR 0.782",
           f"{_V0}/swin/swin_t_p4_w7_coco_256x192-eaefe010_20220503.pth"),
    Preset("swin-b", "swin_b_coco.yaml", "AP 0.737 / AR 0.794",
           f"{_V0}/swin/swin_b_p4_w7_coco_256x192-7432be9e_20220705.pth"),
    Preset("swin-l", "swin_l_coco.yaml", "AP 0.743 / AR 0.798",
           f"{_V0}/swin/swin_l_p4_w7_coco_256x192-642a89db_20220705.pth"),
    Preset("swin-b-384x288", "swin_b_coco_384x288.yaml", "AP 0.759 / AR 0.811",
           f"{_V0}/swin/swin_b_p4_w7_coco_384x288-3abf54f9_20220705.pth"),
    Preset("swin-l-384x288", "swin_l_coco_384x288.yaml", "AP 0.763 / AR 0.814",
           f"{_V0}/swin/swin_l_p4_w7_coco_384x288-c36b7845_20220705.pth"),
    Preset("pvt-s", "pvt_s_coco.yaml", "AP 0.714 / AR 0.773",
           f"{_V0}/pvt/pvt_small_coco_256x192-4324a49d_20220501.pth"),
    Preset("pvtv2-b2", "pvtv2_b2_coco.yaml", "AP 0.737 / AR 0.791",
           f"{_V0}/pvt/pvtv2_b2_coco_256x192-b4212737_20220501.pth"),
    Preset("hrformer-s", "hrformer_small_coco.yaml", "AP 0.738 / AR 0.793",
           f"{_V0}/hrformer/hrformer_small_coco_256x192-5310d898_20220316.pth"),
    Preset("hrformer-b", "hrformer_base_coco.yaml", "AP 0.754 / AR 0.807",
           f"{_V0}/hrformer/hrformer_base_coco_256x192-6f5f1169_20220316.pth"),
    Preset("hrformer-s-384x288", "hrformer_small_coco_384x288.yaml", "AP 0.757 / AR 0.807",
           f"{_V0}/hrformer/hrformer_small_coco_384x288-98d237ed_20220316.pth"),
    Preset("hrformer-b-384x288", "hrformer_base_coco_384x288.yaml", "AP 0.774 / AR 0.823",
           f"{_V0}/hrformer/hrformer_base_coco_384x288-ecf0758d_20220316.pth"),
    Preset("resnet101", "resnet101_coco.yaml", "AP 0.728 / AR 0.783",
           f"{_V1}/coco/td-hm_res101_8xb64-210e_coco-256x192-065d3625_20220926.pth"),
    Preset("resnet101-dark", "resnet101_dark_coco.yaml", "AP 0.733 / AR 0.786",
           f"{_V1}/coco/td-hm_res101_dark-8xb64-210e_coco-256x192-528ec248_20220926.pth"),
    Preset("resnetv1d50", "resnetv1d50_coco.yaml", "AP 0.722 / AR 0.777",
           f"{_V1}/coco/td-hm_resnetv1d50_8xb64-210e_coco-256x192-27545d63_20221020.pth"),
    Preset("resnetv1d101", "resnetv1d101_coco.yaml", "AP 0.732 / AR 0.785",
           f"{_V1}/coco/td-hm_resnetv1d101_8xb64-210e_coco-256x192-ee9e7212_20221021.pth"),
    Preset("resnext50", "resnext50_coco.yaml", "AP 0.715 / AR 0.771",
           f"{_V0}/resnext/resnext50_coco_256x192-dcff15f6_20200727.pth"),
    Preset("resnext101", "resnext101_coco.yaml", "AP 0.726 / AR 0.781",
           f"{_V0}/resnext/resnext101_coco_256x192-c7eba365_20200727.pth"),
    Preset("seresnet50", "seresnet50_coco.yaml", "AP 0.729 / AR 0.784",
           f"{_V0}/seresnet/seresnet50_coco_256x192-25058b66_20200727.pth"),
    Preset("seresnet101", "seresnet101_coco.yaml", "AP 0.734 / AR 0.790",
           f"{_V0}/seresnet/seresnet101_coco_256x192-83f29c4d_20200727.pth"),
    Preset("resnetv1d152", "resnetv1d152_coco.yaml", "AP 0.737 / AR 0.790",
           f"{_V1}/coco/td-hm_resnetv1d152_8xb32-210e_coco-256x192-fd49f947_20221021.pth"),
    Preset("resnext152", "resnext152_coco.yaml", "AP 0.730 / AR 0.785",
           f"{_V0}/resnext/resnext152_coco_256x192-102449aa_20200727.pth"),
    Preset("seresnet152", "seresnet152_coco.yaml", "AP 0.730 / AR 0.787",
           f"{_V0}/seresnet/seresnet152_coco_256x192-1c628d79_20200727.pth"),
    # COCO val2017, detector boxes: 384x288 inputs and the DARK / UDP variants: AP / AR
    Preset("hrnet-w32-384x288", "hrnet_w32_coco_384x288.yaml", "AP 0.760 / AR 0.810",
           f"{_V1}/coco/td-hm_hrnet-w32_8xb64-210e_coco-384x288-ca5956af_20220909.pth"),
    Preset("hrnet-w32-dark", "hrnet_w32_dark_coco.yaml", "AP 0.757 / AR 0.807",
           f"{_V1}/coco/td-hm_hrnet-w32_dark-8xb64-210e_coco-256x192-0e00bf12_20220914.pth"),
    Preset("hrnet-w32-dark-384x288", "hrnet_w32_dark_coco_384x288.yaml", "AP 0.766 / AR 0.815",
           f"{_V1}/coco/td-hm_hrnet-w32_dark-8xb64-210e_coco-384x288-9bab4c9b_20220917.pth"),
    Preset("hrnet-w32-udp", "hrnet_w32_udp_coco.yaml", "AP 0.762 / AR 0.810",
           f"{_V1}/coco/td-hm_hrnet-w32_udp-8xb64-210e_coco-256x192-73ede547_20220914.pth"),
    Preset("hrnet-w32-udp-384x288", "hrnet_w32_udp_coco_384x288.yaml", "AP 0.768 / AR 0.815",
           f"{_V1}/coco/td-hm_hrnet-w32_udp-8xb64-210e_coco-384x288-9a3f7c85_20220914.pth"),
    Preset("hrnet-w32-udp-regress", "hrnet_w32_udp_regress_coco.yaml", "AP 0.759 / AR 0.813",
           f"{_V1}/coco/td-hm_hrnet-w32_udp-regress-8xb64-210e_coco-256x192-9c0b77b4_20220926.pth"),
    Preset("hrnet-w32-fp16", "hrnet_w32_fp16_coco.yaml", "AP 0.749 / AR 0.802",
           f"{_V1}/coco/td-hm_hrnet-w32_fp16-8xb64-210e_coco-256x192-f1e84e3b_20220914.pth"),
    Preset("hrnet-w48-384x288", "hrnet_w48_coco_384x288.yaml", "AP 0.767 / AR 0.816",
           f"{_V1}/coco/td-hm_hrnet-w48_8xb32-210e_coco-384x288-c161b7de_20220915.pth"),
    Preset("hrnet-w48-dark-384x288", "hrnet_w48_dark_coco_384x288.yaml", "AP 0.772 / AR 0.821",
           f"{_V1}/coco/td-hm_hrnet-w48_dark-8xb32-210e_coco-384x288-39c3c381_20220916.pth"),
    Preset("hrnet-w48-udp-384x288", "hrnet_w48_udp_coco_384x288.yaml", "AP 0.773 / AR 0.821",
           f"{_V1}/coco/td-hm_hrnet-w48_udp-8xb32-210e_coco-384x288-70d7ab01_20220913.pth"),
    Preset("resnet50-384x288", "resnet50_coco_384x288.yaml", "AP 0.731 / AR 0.782",
           f"{_V1}/coco/td-hm_res50_8xb64-210e_coco-384x288-7b8db90e_20220923.pth"),
    Preset("resnet50-fp16", "resnet50_fp16_coco.yaml", "AP 0.716 / AR 0.772",
           f"{_V1}/coco/td-hm_res50_fp16-8xb64-210e_coco-256x192-463da051_20220927.pth"),
    Preset("resnet50-dark", "resnet50_dark_coco.yaml", "AP 0.724 / AR 0.777",
           f"{_V1}/coco/td-hm_res50_dark-8xb64-210e_coco-256x192-c129dcb6_20220926.pth"),
    Preset("resnet50-dark-384x288", "resnet50_dark_coco_384x288.yaml", "AP 0.735 / AR 0.786",
           f"{_V1}/coco/td-hm_res50_dark-8xb64-210e_coco-384x288-8b90b538_20220926.pth"),
    # trained on COCO + AIC with a visibility head; MMPose's README only (no metafile entry)
    Preset("resnet50-vis-coco-aic-merge", "resnet50_vis_coco_aic_merge.yaml",
           "AP 0.729 / AR 0.783",
           f"{_V1}/coco/td-hm-vis_res50_8xb64-210e_coco-aic-256x192-merge-21815b2c_20230726.pth"),
    Preset("resnet101-dark-384x288", "resnet101_dark_coco_384x288.yaml", "AP 0.749 / AR 0.799",
           f"{_V1}/coco/td-hm_res101_dark-8xb64-210e_coco-384x288-487d40a4_20220926.pth"),
    # the metafile links the 256x192 config's checkpoint (resnet101's) for this config
    Preset("resnet101-384x288", "resnet101_coco_384x288.yaml", NO_CHECKPOINT),
    Preset("resnet152", "resnet152_coco.yaml", "AP 0.736 / AR 0.791",
           f"{_V1}/coco/td-hm_res152_8xb32-210e_coco-256x192-0345f330_20220928.pth"),
    Preset("resnet152-384x288", "resnet152_coco_384x288.yaml", "AP 0.750 / AR 0.800",
           f"{_V1}/coco/td-hm_res152_8xb32-210e_coco-384x288-7fbb906f_20220927.pth"),
    Preset("resnet152-dark", "resnet152_dark_coco.yaml", "AP 0.743 / AR 0.796",
           f"{_V1}/coco/td-hm_res152_dark-8xb32-210e_coco-256x192-f754df5f_20221031.pth"),
    Preset("resnet152-dark-384x288", "resnet152_dark_coco_384x288.yaml", "AP 0.757 / AR 0.805",
           f"{_V1}/coco/td-hm_res152_dark-8xb32-210e_coco-384x288-329f8454_20221031.pth"),
    Preset("resnetv1d50-384x288", "resnetv1d50_coco_384x288.yaml", "AP 0.730 / AR 0.782",
           f"{_V1}/coco/td-hm_resnetv1d50_8xb64-210e_coco-384x288-0646b46e_20221020.pth"),
    Preset("resnetv1d101-384x288", "resnetv1d101_coco_384x288.yaml", "AP 0.748 / AR 0.798",
           f"{_V1}/coco/td-hm_resnetv1d101_8xb32-210e_coco-384x288-d0b5875f_20221028.pth"),
    Preset("resnetv1d152-384x288", "resnetv1d152_coco_384x288.yaml", "AP 0.751 / AR 0.801",
           f"{_V1}/coco/td-hm_resnetv1d152_8xb48-210e_coco-384x288-b9a99602_20221022.pth"),
    Preset("resnext50-384x288", "resnext50_coco_384x288.yaml", "AP 0.724 / AR 0.777",
           f"{_V0}/resnext/resnext50_coco_384x288-412c848f_20200727.pth"),
    Preset("resnext101-384x288", "resnext101_coco_384x288.yaml", "AP 0.744 / AR 0.794",
           f"{_V0}/resnext/resnext101_coco_384x288-f5eabcd6_20200727.pth"),
    Preset("resnext152-384x288", "resnext152_coco_384x288.yaml", "AP 0.742 / AR 0.794",
           f"{_V0}/resnext/resnext152_coco_384x288-806176df_20200727.pth"),
    Preset("seresnet50-384x288", "seresnet50_coco_384x288.yaml", "AP 0.748 / AR 0.799",
           f"{_V0}/seresnet/seresnet50_coco_384x288-bc0b7680_20200727.pth"),
    Preset("seresnet101-384x288", "seresnet101_coco_384x288.yaml", "AP 0.754 / AR 0.805",
           f"{_V0}/seresnet/seresnet101_coco_384x288-48de1709_20200727.pth"),
    Preset("seresnet152-384x288", "seresnet152_coco_384x288.yaml", "AP 0.753 / AR 0.806",
           f"{_V0}/seresnet/seresnet152_coco_384x288-58b23ee8_20200727.pth"),
    # MPII val (ResNet family), CrowdPose, AIC, JHMDB, PoseTrack18
    Preset("resnet50-mpii", "resnet50_mpii.yaml", "PCKh 0.882 / 0.286",
           f"{_V0}/resnet/res50_mpii_256x256-418ffc88_20200812.pth"),
    Preset("resnet152-mpii", "resnet152_mpii.yaml", "PCKh 0.889 / 0.303",
           f"{_V0}/resnet/res152_mpii_256x256-3ecba29d_20200812.pth"),
    Preset("resnetv1d50-mpii", "resnetv1d50_mpii.yaml", "PCKh 0.881 / 0.290",
           f"{_V0}/resnetv1d/resnetv1d50_mpii_256x256-2337a92e_20200812.pth"),
    Preset("resnetv1d152-mpii", "resnetv1d152_mpii.yaml", "PCKh 0.888 / 0.300",
           f"{_V0}/resnetv1d/resnetv1d152_mpii_256x256-8b10a87c_20200812.pth"),
    Preset("resnext152-mpii", "resnext152_mpii.yaml", "PCKh 0.887 / 0.294",
           f"{_V0}/resnext/resnext152_mpii_256x256-df302719_20200927.pth"),
    Preset("seresnet50-mpii", "seresnet50_mpii.yaml", "PCKh 0.884 / 0.292",
           f"{_V0}/seresnet/seresnet50_mpii_256x256-1bb21f79_20200927.pth"),
    Preset("resnet101-mpii", "resnet101_mpii.yaml", "PCKh 0.888 / 0.290",
           f"{_V0}/resnet/res101_mpii_256x256-416f5d71_20200812.pth"),
    Preset("resnetv1d101-mpii", "resnetv1d101_mpii.yaml", "PCKh 0.883 / 0.295",
           f"{_V0}/resnetv1d/resnetv1d101_mpii_256x256-2851d710_20200812.pth"),
    Preset("seresnet101-mpii", "seresnet101_mpii.yaml", "PCKh 0.884 / 0.295",
           f"{_V0}/seresnet/seresnet101_mpii_256x256-0ba14ff5_20200927.pth"),
    Preset("seresnet152-mpii", "seresnet152_mpii.yaml", "PCKh 0.884 / 0.287",
           f"{_V0}/seresnet/seresnet152_mpii_256x256-6ea1e774_20200927.pth"),
    Preset("resnet101-crowdpose", "resnet101_crowdpose.yaml", "AP 0.647 / AR 0.800",
           f"{_V0}/resnet/res101_crowdpose_256x192-8f5870f4_20201227.pth"),
    # (MMPose's CrowdPose metafile and README publish no AR: AP only)
    Preset("resnet50-crowdpose", "resnet50_crowdpose.yaml", "AP 0.637",
           f"{_V0}/resnet/res50_crowdpose_256x192-c6a526b6_20201227.pth"),
    Preset("resnet101-crowdpose-320x256", "resnet101_crowdpose_320x256.yaml", "AP 0.661",
           f"{_V0}/resnet/res101_crowdpose_320x256-c88c512a_20201227.pth"),
    Preset("resnet152-crowdpose", "resnet152_crowdpose.yaml", "AP 0.656",
           f"{_V0}/resnet/res152_crowdpose_256x192-dbd49aba_20201227.pth"),
    Preset("resnet101-aic", "resnet101_aic.yaml", "AP 0.294 / AR 0.337",
           f"{_V0}/resnet/res101_aic_256x192-79b35445_20200826.pth"),
    Preset("resnet50-jhmdb", "resnet50_jhmdb.yaml", "PCK 96.1 (person) / 79.2 (torso)",
           f"{_V0}/resnet/res50_2deconv_jhmdb_sub1_256x256-f0574a52_20201122.pth"),
    # JHMDB splits 2 and 3; the 20-epoch, 3-deconvolution configs
    Preset("resnet50-jhmdb-sub2", "resnet50_jhmdb_sub2.yaml", "PCK 95.2 (person) / 73.7 (torso)",
           f"{_V0}/resnet/res50_2deconv_jhmdb_sub2_256x256-f63af0ff_20201122.pth"),
    Preset("resnet50-jhmdb-sub3", "resnet50_jhmdb_sub3.yaml", "PCK 96.7 (person) / 81.2 (torso)",
           f"{_V0}/resnet/res50_2deconv_jhmdb_sub3_256x256-c4bc2ddb_20201122.pth"),
    Preset("resnet50-20e-jhmdb-sub1", "resnet50_20e_jhmdb_sub1.yaml",
           "PCK 96.1 (person) / 81.9 (torso)",
           f"{_V0}/resnet/res50_jhmdb_sub1_256x256-932cb3b4_20201122.pth"),
    Preset("resnet50-20e-jhmdb-sub2", "resnet50_20e_jhmdb_sub2.yaml",
           "PCK 95.0 (person) / 75.5 (torso)",
           f"{_V0}/resnet/res50_jhmdb_sub2_256x256-83d606f7_20201122.pth"),
    Preset("resnet50-20e-jhmdb-sub3", "resnet50_20e_jhmdb_sub3.yaml",
           "PCK 96.7 (person) / 82.9 (torso)",
           f"{_V0}/resnet/res50_jhmdb_sub3_256x256-c4ec1a0b_20201122.pth"),
    Preset("resnet50-posetrack18", "resnet50_posetrack18.yaml", "AP 81.2",
           f"{_V0}/resnet/res50_posetrack18_256x192-a62807c7_20201028.pth"),
    # MPII val: PCKh@0.5 / PCKh@0.1
    Preset("hrnet-w32-mpii", "hrnet_w32_mpii.yaml", "PCKh 0.900 / 0.334",
           f"{_V0}/hrnet/hrnet_w32_mpii_256x256-6c4f923f_20200812.pth"),
    Preset("hrnet-w48-mpii", "hrnet_w48_mpii.yaml", "PCKh 0.901 / 0.337",
           f"{_V0}/hrnet/hrnet_w48_mpii_256x256-92cab7bd_20200812.pth"),
    Preset("hrnet-w48-dark-mpii", "hrnet_w48_dark_mpii.yaml", "PCKh 0.905 / 0.360",
           f"{_V0}/hrnet/hrnet_w48_mpii_256x256_dark-0decd39f_20200927.pth"),
    Preset("hrnet-w32-dark-mpii", "hrnet_w32_dark_mpii.yaml", "PCKh 0.904 / 0.354",
           f"{_V0}/hrnet/hrnet_w32_mpii_256x256_dark-f1601c5b_20200927.pth"),
    # CrowdPose test (YOLOv3 boxes), AIC val (GT boxes): AP / AR
    Preset("hrnet-w32-crowdpose", "hrnet_w32_crowdpose.yaml", "AP 0.675 / AR 0.816",
           f"{_V0}/hrnet/hrnet_w32_crowdpose_256x192-960be101_20201227.pth"),
    Preset("hrnet-w32-aic", "hrnet_w32_aic.yaml", "AP 0.323 / AR 0.366",
           f"{_V0}/hrnet/hrnet_w32_aic_256x192-30a4e465_20200826.pth"),
    # ExLPose-LLA (low light) test, GT boxes: AP / AR; MMPose's checkpoint name carries no
    # sha256 prefix (tests/test_presets.py: UNHASHED_CHECKPOINTS)
    Preset("hrnet-w32-exlpose", "hrnet_w32_exlpose.yaml", "AP 0.401 / AR 0.452",
           f"{_V1}/exlpose/td-hm_hrnet-w32_8xb64-210e_exlpose-ll-256x192.pth"),
    # PoseTrack18 val (GT boxes): total AP
    Preset("hrnet-w32-posetrack18", "hrnet_w32_posetrack18.yaml", "AP 83.4",
           f"{_V0}/hrnet/hrnet_w32_posetrack18_256x192-1ee951c4_20201028.pth"),
    Preset("hrnet-w48-posetrack18", "hrnet_w48_posetrack18.yaml", "AP 84.6",
           f"{_V0}/hrnet/hrnet_w48_posetrack18_256x192-b5d9b3f1_20211130.pth"),
    Preset("hrnet-w32-posetrack18-384x288", "hrnet_w32_posetrack18_384x288.yaml", "AP 83.7",
           f"{_V0}/hrnet/hrnet_w32_posetrack18_384x288-806f00a3_20211130.pth"),
    Preset("hrnet-w48-posetrack18-384x288", "hrnet_w48_posetrack18_384x288.yaml", "AP 84.6",
           f"{_V0}/hrnet/hrnet_w48_posetrack18_384x288-5fd6d3ff_20211130.pth"),
    # CSPNeXt (RTMPose's backbone) with a UDP heatmap head; COCO validates on GT boxes
    Preset("cspnext-tiny", "cspnext_tiny_coco.yaml", "AP 0.665 / AR 0.723",
           f"{_RTMPOSE}/cspnext-tiny_udp-coco_pt-in1k_210e-256x192-0908dd2d_20230123.pth"),
    Preset("cspnext-s", "cspnext_s_coco.yaml", "AP 0.697 / AR 0.753",
           f"{_RTMPOSE}/cspnext-s_udp-coco_pt-in1k_210e-256x192-92dbfc1d_20230123.pth"),
    Preset("cspnext-m", "cspnext_m_coco.yaml", "AP 0.732 / AR 0.785",
           f"{_RTMPOSE}/cspnext-m_udp-coco_pt-in1k_210e-256x192-95f5967e_20230123.pth"),
    Preset("cspnext-l", "cspnext_l_coco.yaml", "AP 0.750 / AR 0.800",
           f"{_RTMPOSE}/cspnext-l_udp-coco_pt-in1k_210e-256x192-661cdd8c_20230123.pth"),
    # trained on AIC + COCO (3 x COCO), 19 heatmaps (coco_aic) of which COCO's 17 are kept
    Preset("cspnext-tiny-aic-coco", "cspnext_tiny_aic_coco.yaml", "AP 0.655 / AR 0.689",
           f"{_RTMPOSE}/cspnext-tiny_udp-aic-coco_210e-256x192-cbed682d_20230130.pth"),
    Preset("cspnext-s-aic-coco", "cspnext_s_aic_coco.yaml", "AP 0.700 / AR 0.733",
           f"{_RTMPOSE}/cspnext-s_udp-aic-coco_210e-256x192-92f5a029_20230130.pth"),
    Preset("cspnext-m-aic-coco", "cspnext_m_aic_coco.yaml", "AP 0.748 / AR 0.777",
           f"{_RTMPOSE}/cspnext-m_udp-aic-coco_210e-256x192-f2f7d6f6_20230130.pth"),
    Preset("cspnext-l-aic-coco", "cspnext_l_aic_coco.yaml", "AP 0.772 / AR 0.799",
           f"{_RTMPOSE}/cspnext-l_udp-aic-coco_210e-256x192-273b7631_20230130.pth"),
    Preset("cspnext-m-mpii", "cspnext_m_mpii.yaml", "PCKh 0.902 / 0.303",
           f"{_RTMPOSE}/cspnext-m_udp-mpii_pt-in1k_210e-256x256-68d0402f_20230208.pth"),
    Preset("cspnext-m-crowdpose", "cspnext_m_crowdpose.yaml", "AP 0.662 / AR 0.755",
           f"{_RTMPOSE}/cspnext-m_udp-crowdpose_pt-in1k_210e-256x192-f591079f_20230123.pth"),
    # MSPN / RSN (multi-stage, Megvii heatmaps): COCO val2017 AP / AR
    Preset("mspn50", "mspn50_coco.yaml", "AP 0.723 / AR 0.788",
           f"{_V0}/mspn/mspn50_coco_256x192-8fbfb5d0_20201123.pth"),
    Preset("mspn50-2stg", "mspn50_2stg_coco.yaml", "AP 0.754 / AR 0.816",
           f"{_V0}/mspn/2xmspn50_coco_256x192-c8765a5c_20201123.pth"),
    Preset("mspn50-3stg", "mspn50_3stg_coco.yaml", "AP 0.758 / AR 0.821",
           f"{_V0}/mspn/3xmspn50_coco_256x192-e348f18e_20201123.pth"),
    Preset("mspn50-4stg", "mspn50_4stg_coco.yaml", "AP 0.765 / AR 0.826",
           f"{_V0}/mspn/4xmspn50_coco_256x192-7b837afb_20201123.pth"),
    Preset("rsn50", "rsn50_coco.yaml", "AP 0.724 / AR 0.790",
           f"{_V1}/coco/td-hm_rsn50_8xb32-210e_coco-256x192-c35901d5_20221013.pth"),
    Preset("rsn50-3x", "rsn50_3x_coco.yaml", "AP 0.750 / AR 0.814",
           f"{_V1}/coco/td-hm_3xrsn50_8xb32-210e_coco-256x192-c3e3c4fe_20221013.pth"),
    Preset("rsn18", "rsn18_coco.yaml", "AP 0.704 / AR 0.773",
           f"{_V1}/coco/td-hm_rsn18_8xb32-210e_coco-256x192-9049ed09_20221013.pth"),
    Preset("rsn50-2x", "rsn50_2x_coco.yaml", "AP 0.748 / AR 0.810",
           f"{_V1}/coco/td-hm_2xrsn50_8xb32-210e_coco-256x192-9ede341e_20221013.pth"),
    # AlexNet, VGG-16, CPM (multi-stage, 1/8 heatmaps) and Hourglass-52
    Preset("hourglass52", "hourglass52_coco.yaml", "AP 0.726 / AR 0.780",
           f"{_V0}/hourglass/hourglass52_coco_256x256-4ec713ba_20200709.pth"),
    Preset("hourglass52-384x384", "hourglass52_coco_384x384.yaml", "AP 0.746 / AR 0.797",
           f"{_V0}/hourglass/hourglass52_coco_384x384-be91ba2b_20200812.pth"),
    Preset("cpm", "cpm_coco.yaml", "AP 0.627 / AR 0.689",
           f"{_V1}/coco/td-hm_cpm_8xb64-210e_coco-256x192-0e978875_20220920.pth"),
    Preset("cpm-384x288", "cpm_coco_384x288.yaml", "AP 0.652 / AR 0.710",
           f"{_V1}/coco/td-hm_cpm_8xb32-210e_coco-384x288-165487b8_20221011.pth"),
    Preset("alexnet", "alexnet_coco.yaml", "AP 0.448 / AR 0.521",
           f"{_V0}/alexnet/alexnet_coco_256x192-a7b1fd15_20200727.pth"),
    Preset("vgg16-bn", "vgg16_bn_coco.yaml", "AP 0.699 / AR 0.754",
           f"{_V0}/vgg/vgg16_bn_coco_256x192-7e7c58d6_20210517.pth"),
    Preset("hourglass52-mpii", "hourglass52_mpii.yaml", "PCKh 0.889 / 0.317",
           f"{_V0}/hourglass/hourglass52_mpii_256x256-ae358435_20200812.pth"),
    Preset("hourglass52-mpii-384x384", "hourglass52_mpii_384x384.yaml", "PCKh 0.894 / 0.367",
           f"{_V0}/hourglass/hourglass52_mpii_384x384-04090bc3_20200812.pth"),
    Preset("cpm-mpii", "cpm_mpii.yaml", "PCKh 0.876 / 0.285 (368x368)",
           f"{_V0}/cpm/cpm_mpii_368x368-116e62b8_20200822.pth"),
    Preset("cpm-jhmdb", "cpm_jhmdb.yaml", "PCK 89.5 (person) / 66.0 (torso)",
           f"{_V0}/cpm/cpm_jhmdb_sub1_368x368-2d2585c9_20201122.pth"),
    Preset("cpm-jhmdb-sub2", "cpm_jhmdb_sub2.yaml", "PCK 87.4 (person) / 61.1 (torso)",
           f"{_V0}/cpm/cpm_jhmdb_sub2_368x368-fc742f1f_20201122.pth"),
    Preset("cpm-jhmdb-sub3", "cpm_jhmdb_sub3.yaml", "PCK 92.4 (person) / 70.3 (torso)",
           f"{_V0}/cpm/cpm_jhmdb_sub3_368x368-49337155_20201122.pth"),
    # ResNeSt and SCNet
    Preset("resnest50", "resnest50_coco.yaml", "AP 0.720 / AR 0.775",
           f"{_V0}/resnest/resnest50_coco_256x192-6e65eece_20210320.pth"),
    Preset("resnest101", "resnest101_coco.yaml", "AP 0.725 / AR 0.781",
           f"{_V0}/resnest/resnest101_coco_256x192-2ffcdc9d_20210320.pth"),
    Preset("scnet50", "scnet50_coco.yaml", "AP 0.728 / AR 0.784",
           f"{_V0}/scnet/scnet50_coco_256x192-6920f829_20200709.pth"),
    Preset("scnet101", "scnet101_coco.yaml", "AP 0.733 / AR 0.789",
           f"{_V0}/scnet/scnet101_coco_256x192-6d348ef9_20200709.pth"),
    Preset("resnest50-384x288", "resnest50_coco_384x288.yaml", "AP 0.737 / AR 0.789",
           f"{_V0}/resnest/resnest50_coco_384x288-dcd20436_20210320.pth"),
    Preset("resnest101-384x288", "resnest101_coco_384x288.yaml", "AP 0.745 / AR 0.798",
           f"{_V0}/resnest/resnest101_coco_384x288-80660658_20210320.pth"),
    Preset("resnest200", "resnest200_coco.yaml", "AP 0.731 / AR 0.787",
           f"{_V0}/resnest/resnest200_coco_256x192-db007a48_20210517.pth"),
    Preset("resnest200-384x288", "resnest200_coco_384x288.yaml", "AP 0.753 / AR 0.805",
           f"{_V0}/resnest/resnest200_coco_384x288-b5bb76cb_20210517.pth"),
    Preset("resnest269", "resnest269_coco.yaml", "AP 0.737 / AR 0.792",
           f"{_V0}/resnest/resnest269_coco_256x192-2a7882ac_20210517.pth"),
    Preset("resnest269-384x288", "resnest269_coco_384x288.yaml", "AP 0.754 / AR 0.805",
           f"{_V0}/resnest/resnest269_coco_384x288-b142b9fb_20210517.pth"),
    Preset("scnet50-384x288", "scnet50_coco_384x288.yaml", "AP 0.751 / AR 0.802",
           f"{_V0}/scnet/scnet50_coco_384x288-9cacd0ea_20200709.pth"),
    Preset("scnet101-384x288", "scnet101_coco_384x288.yaml", "AP 0.752 / AR 0.804",
           f"{_V0}/scnet/scnet101_coco_384x288-0b6e631b_20200709.pth"),
    Preset("scnet50-mpii", "scnet50_mpii.yaml", "PCKh 0.888 / 0.290",
           f"{_V0}/scnet/scnet50_mpii_256x256-a54b6af5_20200812.pth"),
    Preset("scnet101-mpii", "scnet101_mpii.yaml", "PCKh 0.887 / 0.293",
           f"{_V0}/scnet/scnet101_mpii_256x256-b4c2d184_20200812.pth"),
    # LiteHRNet and the mobile networks (MobileNetV2, ShuffleNetV1/V2)
    Preset("litehrnet-18", "litehrnet_18_coco.yaml", "AP 0.642 / AR 0.705",
           f"{_V0}/litehrnet/litehrnet18_coco_256x192-6bace359_20211230.pth"),
    Preset("litehrnet-30", "litehrnet_30_coco.yaml", "AP 0.676 / AR 0.736",
           f"{_V0}/litehrnet/litehrnet30_coco_256x192-4176555b_20210626.pth"),
    Preset("litehrnet-18-384x288", "litehrnet_18_coco_384x288.yaml", "AP 0.676 / AR 0.735",
           f"{_V0}/litehrnet/litehrnet18_coco_384x288-8d4dac48_20211230.pth"),
    Preset("litehrnet-30-384x288", "litehrnet_30_coco_384x288.yaml", "AP 0.700 / AR 0.758",
           f"{_V0}/litehrnet/litehrnet30_coco_384x288-a3aef5c4_20210626.pth"),
    Preset("mobilenetv2", "mobilenetv2_coco.yaml", "AP 0.648 / AR 0.709",
           f"{_V1}/coco/td-hm_mobilenetv2_8xb64-210e_coco-256x192-55a04c35_20221016.pth"),
    Preset("mobilenetv2-384x288", "mobilenetv2_coco_384x288.yaml", "AP 0.677 / AR 0.734",
           f"{_V1}/coco/td-hm_mobilenetv2_8xb64-210e_coco-384x288-d3ab1457_20221013.pth"),
    Preset("shufflenetv1", "shufflenetv1_coco.yaml", "AP 0.587 / AR 0.654",
           f"{_V1}/coco/td-hm_shufflenetv1_8xb64-210e_coco-256x192-7a7ea4f4_20221013.pth"),
    Preset("shufflenetv2", "shufflenetv2_coco.yaml", "AP 0.602 / AR 0.668",
           f"{_V1}/coco/td-hm_shufflenetv2_8xb64-210e_coco-256x192-51fb931e_20221014.pth"),
    Preset("shufflenetv1-384x288", "shufflenetv1_coco_384x288.yaml", "AP 0.626 / AR 0.687",
           f"{_V1}/coco/td-hm_shufflenetv1_8xb64-210e_coco-384x288-8342f8ba_20221013.pth"),
    Preset("shufflenetv2-384x288", "shufflenetv2_coco_384x288.yaml", "AP 0.638 / AR 0.699",
           f"{_V1}/coco/td-hm_shufflenetv2_8xb64-210e_coco-384x288-d30ab55c_20221014.pth"),
    Preset("litehrnet-30-mpii", "litehrnet_30_mpii.yaml", "PCKh 0.869 / 0.271",
           f"{_V0}/litehrnet/litehrnet30_mpii_256x256-faae8bd8_20210622.pth"),
    Preset("litehrnet-18-mpii", "litehrnet_18_mpii.yaml", "PCKh 0.859 / 0.260",
           f"{_V0}/litehrnet/litehrnet18_mpii_256x256-cabd7984_20210623.pth"),
    Preset("mobilenetv2-mpii", "mobilenetv2_mpii.yaml", "PCKh 0.854 / 0.234",
           f"{_V0}/mobilenetv2/mobilenetv2_mpii_256x256-e068afa7_20200812.pth"),
    Preset("shufflenetv2-mpii", "shufflenetv2_mpii.yaml", "PCKh 0.828 / 0.205",
           f"{_V0}/shufflenetv2/shufflenetv2_mpii_256x256-4fb9df2d_20200925.pth"),
    Preset("shufflenetv1-mpii", "shufflenetv1_mpii.yaml", "PCKh 0.824 / 0.195",
           f"{_V0}/shufflenetv1/shufflenetv1_mpii_256x256-dcc1c896_20200925.pth"),
    # Animals. AP-10K (split 1) and Animal-Pose, GT boxes: AP (/ AR)
    Preset("hrnet-w32-ap10k", "hrnet_w32_ap10k.yaml", "AP 0.722",
           f"{_ANIMAL_V0}/hrnet/hrnet_w32_ap10k_256x256-18aac840_20211029.pth"),
    Preset("hrnet-w48-ap10k", "hrnet_w48_ap10k.yaml", "AP 0.728",
           f"{_ANIMAL_V0}/hrnet/hrnet_w48_ap10k_256x256-d95ab412_20211029.pth"),
    Preset("resnet50-ap10k", "resnet50_ap10k.yaml", "AP 0.680",
           f"{_ANIMAL_V0}/resnet/res50_ap10k_256x256-35760eb8_20211029.pth"),
    Preset("resnet101-ap10k", "resnet101_ap10k.yaml", "AP 0.681",
           f"{_ANIMAL_V0}/resnet/res101_ap10k_256x256-9edfafb9_20211029.pth"),
    Preset("cspnext-m-ap10k", "cspnext_m_ap10k.yaml", "AP 0.703",
           f"{_RTMPOSE}/cspnext-m_udp-ap10k_pt-in1k_210e-256x256-1f2d947a_20230123.pth"),
    Preset("hrnet-w32-animalpose", "hrnet_w32_animalpose.yaml", "AP 0.740 / AR 0.780",
           f"{_ANIMAL_V0}/hrnet/hrnet_w32_animalpose_256x256-1aa7f075_20210426.pth"),
    Preset("hrnet-w48-animalpose", "hrnet_w48_animalpose.yaml", "AP 0.738 / AR 0.778",
           f"{_ANIMAL_V0}/hrnet/hrnet_w48_animalpose_256x256-34644726_20210426.pth"),
    Preset("resnet50-animalpose", "resnet50_animalpose.yaml", "AP 0.691 / AR 0.736",
           f"{_ANIMAL_V0}/resnet/res50_animalpose_256x256-e1f30bff_20210426.pth"),
    Preset("resnet101-animalpose", "resnet101_animalpose.yaml", "AP 0.696 / AR 0.736",
           f"{_ANIMAL_V0}/resnet/res101_animalpose_256x256-85563f4a_20210426.pth"),
    Preset("resnet152-animalpose", "resnet152_animalpose.yaml", "AP 0.704 / AR 0.748",
           f"{_ANIMAL_V0}/resnet/res152_animalpose_256x256-a0a7506c_20210426.pth"),
    # Desert Locust and Grevy's Zebra test sets: PCK@0.2 / AUC / EPE (pixels)
    Preset("resnet50-locust", "resnet50_locust.yaml", "PCK 1.000 / AUC 0.900 / EPE 2.27",
           f"{_ANIMAL_V0}/resnet/res50_locust_160x160-9efca22b_20210407.pth"),
    Preset("resnet101-locust", "resnet101_locust.yaml", "PCK 1.000 / AUC 0.907 / EPE 2.03",
           f"{_ANIMAL_V0}/resnet/res101_locust_160x160-d77986b3_20210407.pth"),
    Preset("resnet152-locust", "resnet152_locust.yaml", "PCK 1.000 / AUC 0.925 / EPE 1.49",
           f"{_ANIMAL_V0}/resnet/res152_locust_160x160-4ea9b372_20210407.pth"),
    Preset("resnet50-zebra", "resnet50_zebra.yaml", "PCK 1.000 / AUC 0.914 / EPE 1.87",
           f"{_ANIMAL_V0}/resnet/res50_zebra_160x160-5a104833_20210407.pth"),
    Preset("resnet101-zebra", "resnet101_zebra.yaml", "PCK 1.000 / AUC 0.915 / EPE 1.83",
           f"{_ANIMAL_V0}/resnet/res101_zebra_160x160-e8cb2010_20210407.pth"),
    Preset("resnet152-zebra", "resnet152_zebra.yaml", "PCK 1.000 / AUC 0.921 / EPE 1.67",
           f"{_ANIMAL_V0}/resnet/res152_zebra_160x160-05de71dd_20210407.pth"),
    # Animal Kingdom test sets of each protocol: PCK@0.05
    Preset("hrnet-w32-ak-p1", "hrnet_w32_ak_p1.yaml", "PCK 0.6323",
           f"{_ANIMAL_V1}/animal_kingdom/td-hm_hrnet-w32_8xb32-300e_animalkingdom_P1-256x256-08bf96cb_20230519.pth"),
    Preset("hrnet-w32-ak-p2", "hrnet_w32_ak_p2.yaml", "PCK 0.3741",
           f"{_ANIMAL_V1}/animal_kingdom/td-hm_hrnet-w32_8xb32-300e_animalkingdom_P2-256x256-2396cc58_20230519.pth"),
    Preset("hrnet-w32-ak-p3-amphibian", "hrnet_w32_ak_p3_amphibian.yaml", "PCK 0.5358",
           f"{_ANIMAL_V1}/animal_kingdom/td-hm_hrnet-w32_8xb32-300e_animalkingdom_P3_amphibian-256x256-845085f9_20230519.pth"),
    Preset("hrnet-w32-ak-p3-bird", "hrnet_w32_ak_p3_bird.yaml", "PCK 0.7671",
           f"{_ANIMAL_V1}/animal_kingdom/td-hm_hrnet-w32_8xb32-300e_animalkingdom_P3_bird-256x256-566feff5_20230519.pth"),
    Preset("hrnet-w32-ak-p3-fish", "hrnet_w32_ak_p3_fish.yaml", "PCK 0.6406",
           f"{_ANIMAL_V1}/animal_kingdom/td-hm_hrnet-w32_8xb32-300e_animalkingdom_P3_fish-256x256-76c3999f_20230519.pth"),
    Preset("hrnet-w32-ak-p3-mammal", "hrnet_w32_ak_p3_mammal.yaml", "PCK 0.571",
           f"{_ANIMAL_V1}/animal_kingdom/td-hm_hrnet-w32_8xb32-300e_animalkingdom_P3_mammal-256x256-e8aadf02_20230519.pth"),
    Preset("hrnet-w32-ak-p3-reptile", "hrnet_w32_ak_p3_reptile.yaml", "PCK 0.51",
           f"{_ANIMAL_V1}/animal_kingdom/td-hm_hrnet-w32_8xb32-300e_animalkingdom_P3_reptile-256x256-e8440c16_20230519.pth"),
    # Faces: NME normalised by the outer eye corners (AFLW: by the box size); the metafiles of
    # 300W, AFLW, WFLW and COFW quote it x100
    Preset("hrnetv2-w18-300w", "hrnetv2_w18_300w.yaml",
           "NME 3.45 (full) / 2.92 (common) / 5.64 (challenge) / 4.10 (test)",
           f"{_FACE_V0}/hrnetv2/hrnetv2_w18_300w_256x256-eea53406_20211019.pth"),
    Preset("hrnetv2-w18-300wlp", "hrnetv2_w18_300wlp.yaml", "NME 0.0413 (full)",
           f"{_FACE_V1}/300wlp/hrnetv2_w18_300wlp_256x256-fb433d21_20230922.pth"),
    Preset("hrnetv2-w18-aflw", "hrnetv2_w18_aflw.yaml", "NME 1.41 (full) / 1.27 (frontal)",
           f"{_FACE_V0}/hrnetv2/hrnetv2_w18_aflw_256x256-f2bbc62b_20210125.pth"),
    Preset("hrnetv2-w18-dark-aflw", "hrnetv2_w18_dark_aflw.yaml",
           "NME 1.34 (full) / 1.19 (frontal)",
           f"{_FACE_V0}/darkpose/hrnetv2_w18_aflw_256x256_dark-219606c0_20210125.pth"),
    Preset("hourglass52-coco-wholebody-face", "hourglass52_coco_wholebody_face.yaml", "NME 0.0587",
           f"{_FACE_V0}/hourglass/hourglass52_coco_wholebody_face_256x256-6994cf2e_20210909.pth"),
    Preset("hrnetv2-w18-coco-wholebody-face", "hrnetv2_w18_coco_wholebody_face.yaml", "NME 0.0569",
           f"{_FACE_V0}/hrnetv2/hrnetv2_w18_coco_wholebody_face_256x256-c1ca469b_20210909.pth"),
    Preset("hrnetv2-w18-dark-coco-wholebody-face", "hrnetv2_w18_dark_coco_wholebody_face.yaml",
           "NME 0.0513",
           f"{_FACE_V0}/darkpose/hrnetv2_w18_coco_wholebody_face_256x256_dark-3d9a334e_20210909.pth"),
    Preset("mobilenetv2-coco-wholebody-face", "mobilenetv2_coco_wholebody_face.yaml", "NME 0.0611",
           f"{_FACE_V0}/mobilenetv2/mobilenetv2_coco_wholebody_face_256x256-4a3f096e_20210909.pth"),
    Preset("resnet50-coco-wholebody-face", "resnet50_coco_wholebody_face.yaml", "NME 0.0582",
           f"{_FACE_V0}/resnet/res50_coco_wholebody_face_256x256-5128edf5_20210909.pth"),
    Preset("scnet50-coco-wholebody-face", "scnet50_coco_wholebody_face.yaml", "NME 0.0567",
           f"{_FACE_V0}/scnet/scnet50_coco_wholebody_face_256x256-a0183f5f_20210909.pth"),
    Preset("hrnetv2-w18-cofw", "hrnetv2_w18_cofw.yaml", "NME 3.48",
           f"{_FACE_V0}/hrnetv2/hrnetv2_w18_cofw_256x256-49243ab8_20211019.pth"),
    Preset("hrnetv2-w18-wflw", "hrnetv2_w18_wflw.yaml", "NME 4.06 (test)",
           f"{_FACE_V0}/hrnetv2/hrnetv2_w18_wflw_256x256-2bf032a6_20210125.pth"),
    Preset("hrnetv2-w18-awing-wflw", "hrnetv2_w18_awing_wflw.yaml", "NME 4.02 (test)",
           f"{_FACE_V0}/hrnetv2/hrnetv2_w18_wflw_256x256_awing-5af5055c_20211212.pth"),
    Preset("hrnetv2-w18-dark-wflw", "hrnetv2_w18_dark_wflw.yaml", "NME 3.98 (test)",
           f"{_FACE_V0}/darkpose/hrnetv2_w18_wflw_256x256_dark-3f8e0c2c_20210125.pth"),
    # Hands: PCK@0.2 (of the box size) / AUC / EPE (px) on GT boxes
    Preset("hourglass52-coco-wholebody-hand", "hourglass52_coco_wholebody_hand.yaml",
           "PCK 0.804 / AUC 0.835 / EPE 4.54",
           f"{_HAND_V0}/hourglass/hourglass52_coco_wholebody_hand_256x256-7b05c6db_20210909.pth"),
    Preset("hrnetv2-w18-coco-wholebody-hand", "hrnetv2_w18_coco_wholebody_hand.yaml",
           "PCK 0.813 / AUC 0.840 / EPE 4.39",
           f"{_HAND_V0}/hrnetv2/hrnetv2_w18_coco_wholebody_hand_256x256-1c028db7_20210908.pth"),
    Preset("hrnetv2-w18-dark-coco-wholebody-hand", "hrnetv2_w18_dark_coco_wholebody_hand.yaml",
           "PCK 0.814 / AUC 0.840 / EPE 4.37",
           f"{_HAND_V0}/dark/hrnetv2_w18_coco_wholebody_hand_256x256_dark-a9228c9c_20210908.pth"),
    Preset("litehrnet-18-coco-wholebody-hand", "litehrnet_18_coco_wholebody_hand.yaml",
           "PCK 0.795 / AUC 0.830 / EPE 4.77",
           f"{_HAND_V0}/litehrnet/litehrnet_w18_coco_wholebody_hand_256x256-d6945e6a_20210908.pth"),
    Preset("mobilenetv2-coco-wholebody-hand", "mobilenetv2_coco_wholebody_hand.yaml",
           "PCK 0.795 / AUC 0.829 / EPE 4.77",
           f"{_HAND_V0}/mobilenetv2/mobilenetv2_coco_wholebody_hand_256x256-06b8c877_20210909.pth"),
    Preset("resnet50-coco-wholebody-hand", "resnet50_coco_wholebody_hand.yaml",
           "PCK 0.800 / AUC 0.833 / EPE 4.64",
           f"{_HAND_V0}/resnet/res50_coco_wholebody_hand_256x256-8dbc750c_20210908.pth"),
    Preset("scnet50-coco-wholebody-hand", "scnet50_coco_wholebody_hand.yaml",
           "PCK 0.803 / AUC 0.834 / EPE 4.55",
           f"{_HAND_V0}/scnet/scnet50_coco_wholebody_hand_256x256-e73414c7_20210909.pth"),
    Preset("resnet50-freihand2d", "resnet50_freihand2d.yaml", "PCK 0.999 / AUC 0.868 / EPE 3.27",
           f"{_HAND_V0}/resnet/res50_freihand_224x224-ff0799bc_20200914.pth"),
    Preset("hrnetv2-w18-onehand10k", "hrnetv2_w18_onehand10k.yaml",
           "PCK 0.990 / AUC 0.567 / EPE 24.26",
           f"{_HAND_V0}/hrnetv2/hrnetv2_w18_onehand10k_256x256-30bc9c6b_20210330.pth"),
    Preset("hrnetv2-w18-dark-onehand10k", "hrnetv2_w18_dark_onehand10k.yaml",
           "PCK 0.990 / AUC 0.572 / EPE 23.96",
           f"{_HAND_V0}/dark/hrnetv2_w18_onehand10k_256x256_dark-a2f80c64_20210330.pth"),
    Preset("hrnetv2-w18-udp-onehand10k", "hrnetv2_w18_udp_onehand10k.yaml",
           "PCK 0.990 / AUC 0.571 / EPE 23.88",
           f"{_HAND_V0}/udp/hrnetv2_w18_onehand10k_256x256_udp-0d1b515d_20210330.pth"),
    Preset("mobilenetv2-onehand10k", "mobilenetv2_onehand10k.yaml",
           "PCK 0.986 / AUC 0.537 / EPE 28.56",
           f"{_HAND_V0}/mobilenetv2/mobilenetv2_onehand10k_256x256-f3a3d90e_20210330.pth"),
    Preset("resnet50-onehand10k", "resnet50_onehand10k.yaml", "PCK 0.989 / AUC 0.555 / EPE 25.16",
           f"{_HAND_V0}/resnet/res50_onehand10k_256x256-739c8639_20210330.pth"),
    Preset("hrnetv2-w18-rhd2d", "hrnetv2_w18_rhd2d.yaml", "PCK 0.992 / AUC 0.902 / EPE 2.21",
           f"{_HAND_V0}/hrnetv2/hrnetv2_w18_rhd2d_256x256-95b20dd8_20210330.pth"),
    Preset("hrnetv2-w18-dark-rhd2d", "hrnetv2_w18_dark_rhd2d.yaml",
           "PCK 0.992 / AUC 0.903 / EPE 2.18",
           f"{_HAND_V0}/dark/hrnetv2_w18_rhd2d_256x256_dark-4df3a347_20210330.pth"),
    Preset("hrnetv2-w18-udp-rhd2d", "hrnetv2_w18_udp_rhd2d.yaml",
           "PCK 0.992 / AUC 0.902 / EPE 2.19 (the metafile labels the PCK 'PCKh@0.7')",
           f"{_HAND_V0}/udp/hrnetv2_w18_rhd2d_256x256_udp-63ba6007_20210330.pth"),
    Preset("mobilenetv2-rhd2d", "mobilenetv2_rhd2d.yaml", "PCK 0.985 / AUC 0.883 / EPE 2.79",
           f"{_HAND_V0}/mobilenetv2/mobilenetv2_rhd2d_256x256-85fa02db_20210330.pth"),
    Preset("resnet50-rhd2d", "resnet50_rhd2d.yaml", "PCK 0.991 / AUC 0.898 / EPE 2.32",
           f"{_HAND_V0}/resnet/res50_rhd2d_256x256-5dc7e4cc_20210330.pth"),
    # Whole body (133 keypoints). COCO-WholeBody v1.0 val, detector boxes (human AP 56.4;
    # CSPNeXt: GT boxes): whole-body AP / AR
    Preset("hrnet-w32-coco-wholebody", "hrnet_w32_coco_wholebody.yaml",
           "AP 0.536 / AR 0.636 (whole body)",
           f"{_V0}/hrnet/hrnet_w32_coco_wholebody_256x192-853765cd_20200918.pth"),
    Preset("hrnet-w32-coco-wholebody-384x288", "hrnet_w32_coco_wholebody_384x288.yaml",
           "AP 0.586 / AR 0.673 (whole body)",
           f"{_V0}/hrnet/hrnet_w32_coco_wholebody_384x288-78cacac3_20200922.pth"),
    Preset("hrnet-w48-coco-wholebody", "hrnet_w48_coco_wholebody.yaml",
           "AP 0.579 / AR 0.681 (whole body)",
           f"{_V0}/hrnet/hrnet_w48_coco_wholebody_256x192-643e18cb_20200922.pth"),
    Preset("hrnet-w48-coco-wholebody-384x288", "hrnet_w48_coco_wholebody_384x288.yaml",
           "AP 0.632 / AR 0.717 (whole body)",
           f"{_V0}/hrnet/hrnet_w48_coco_wholebody_384x288-6e061c6a_20200922.pth"),
    Preset("hrnet-w32-dark-coco-wholebody", "hrnet_w32_dark_coco_wholebody.yaml",
           "AP 0.582 / AR 0.671 (whole body)",
           f"{_V0}/hrnet/hrnet_w32_coco_wholebody_256x192_dark-469327ef_20200922.pth"),
    Preset("hrnet-w48-dark-coco-wholebody-384x288", "hrnet_w48_dark_coco_wholebody_384x288.yaml",
           "AP 0.661 / AR 0.743 (whole body)",
           f"{_V0}/hrnet/hrnet_w48_coco_wholebody_384x288_dark-f5726563_20200918.pth"),
    Preset("resnet50-coco-wholebody", "resnet50_coco_wholebody.yaml",
           "AP 0.521 / AR 0.633 (whole body)",
           f"{_V0}/resnet/res50_coco_wholebody_256x192-9e37ed88_20201004.pth"),
    Preset("resnet50-coco-wholebody-384x288", "resnet50_coco_wholebody_384x288.yaml",
           "AP 0.574 / AR 0.670 (whole body)",
           f"{_V0}/resnet/res50_coco_wholebody_384x288-ce11e294_20201004.pth"),
    Preset("resnet101-coco-wholebody", "resnet101_coco_wholebody.yaml",
           "AP 0.531 / AR 0.645 (whole body)",
           f"{_V0}/resnet/res101_coco_wholebody_256x192-7325f982_20201004.pth"),
    Preset("resnet101-coco-wholebody-384x288", "resnet101_coco_wholebody_384x288.yaml",
           "AP 0.598 / AR 0.691 (whole body)",
           f"{_V0}/resnet/res101_coco_wholebody_384x288-6c137b9a_20201004.pth"),
    Preset("resnet152-coco-wholebody", "resnet152_coco_wholebody.yaml",
           "AP 0.548 / AR 0.661 (whole body)",
           f"{_V0}/resnet/res152_coco_wholebody_256x192-5de8ae23_20201004.pth"),
    Preset("resnet152-coco-wholebody-384x288", "resnet152_coco_wholebody_384x288.yaml",
           "AP 0.610 / AR 0.705 (whole body)",
           f"{_V0}/resnet/res152_coco_wholebody_384x288-eab8caa8_20201004.pth"),
    Preset("cspnext-m-coco-wholebody", "cspnext_m_coco_wholebody.yaml",
           "AP 0.567 / AR 0.641 (whole body)",
           f"{_RTMPOSE}/cspnext-m_udp-coco-wholebody_pt-in1k_210e-256x192-320fa258_20230123.pth"),
    # MMPose publishes no checkpoint of this config (nor a metafile entry): kpose.load needs
    # weights=, training starts from the ImageNet backbone
    Preset("cspnext-l-coco-wholebody", "cspnext_l_coco_wholebody.yaml", NO_CHECKPOINT),
    # Trained on UBody2d + COCO-WholeBody, tested on COCO-WholeBody val: the README's numbers
    # (the metafile repeats hrnet-w32-coco-wholebody's)
    Preset("hrnet-w32-ubody2d", "hrnet_w32_ubody2d.yaml", "AP 0.549 / AR 0.646 (whole body)",
           f"{_WHOLEBODY_V1}/ubody/td-hm_hrnet-w32_8xb64-210e_ubody-coco-256x192-7c227391_20230807.pth"),
    # ViPNAS (searched ResNet-50 / MobileNetV3, grouped-deconvolution head). COCO val2017 and
    # COCO-WholeBody v1.0 val, detector boxes: AP / AR (whole body's for COCO-WholeBody)
    Preset("vipnas-res50", "vipnas_res50_coco.yaml", "AP 0.711 / AR 0.769",
           f"{_V1}/coco/td-hm_vipnas-res50_8xb64-210e_coco-256x192-35d4bff9_20220917.pth"),
    Preset("vipnas-mbv3", "vipnas_mbv3_coco.yaml", "AP 0.700 / AR 0.758",
           f"{_V1}/coco/td-hm_vipnas-mbv3_8xb64-210e_coco-256x192-e0987441_20221010.pth"),
    Preset("vipnas-res50-coco-wholebody", "vipnas_res50_coco_wholebody.yaml",
           "AP 0.495 / AR 0.607 (whole body)",
           f"{_V0}/vipnas/vipnas_res50_wholebody_256x192-49e1c3a4_20211112.pth"),
    Preset("vipnas-res50-dark-coco-wholebody", "vipnas_res50_dark_coco_wholebody.yaml",
           "AP 0.528 / AR 0.632 (whole body)",
           f"{_V0}/vipnas/vipnas_res50_wholebody_256x192_dark-67c0ce35_20211112.pth"),
    Preset("vipnas-mbv3-coco-wholebody", "vipnas_mbv3_coco_wholebody.yaml",
           "AP 0.473 / AR 0.578 (whole body)",
           f"{_V0}/vipnas/vipnas_mbv3_coco_wholebody_256x192-0fee581a_20211205.pth"),
    Preset("vipnas-mbv3-dark-coco-wholebody", "vipnas_mbv3_dark_coco_wholebody.yaml",
           "AP 0.508 / AR 0.607 (whole body)",
           f"{_V0}/vipnas/vipnas_mbv3_coco_wholebody_256x192_dark-e2158108_20211205.pth"),
)
# fmt: on
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
