"""ViPNAS (ViPNAS_ResNet, ViPNAS_MobileNetV3 and ViPNASHead) against MMPose 1.3.2, small.

MMPose's random-weight model of a ViPNAS config with narrowed searched lists, its state dict
loaded into kpose, must give the same heatmaps (``1e-4 * max(1, max|ref|)``) with the same
parameter count. The narrow variants keep what makes the family: grouped middle convolutions,
an expansion of 2 (ResNet), GCNet attention blocks next to plain ones, SE with mmcv's hard
sigmoid, hard swish and ReLU stages, residual and strided blocks, and heads whose grouped
deconvolutions cover the three layouts (grouped, depthwise, depthwise with a multiplier) and
kernels 2 / 3 / 4, with an intermediate conv; maps become odd. COCO (17 keypoints) and
COCO-WholeBody (133) configs, both references from one reference process. Full size:
test_presets_parity.py (``slow``).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import kpose
from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from tests.parity.mmpose_ref import assert_heatmap_parity, reference_heatmap_models

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

INPUT_SIZE = (72, 104)  # (w, h): 3x4 at stride 32, odd maps from stride 8 on

RESNET_ARGS = {
    "stem_channels": 16,
    "stage_widths": [16, 32, 32, 64],
    "expansions": [1, 2, 1, 1],
    "stage_blocks": [1, 2, 1, 1],
    "kernel_sizes": [3, 5, 5, 5],
    "groups": [4, 4, 8, 4],
    "attention": [True, False, True, True],
}
# MMPose's lists: the stem's entry first (ViPNAS_ResNet's default 7x7 stem kernel)
RESNET_MMPOSE = {
    "wid": [16, 16, 32, 32, 64],
    "expan": [None, 1, 2, 1, 1],
    "dep": [None, 1, 2, 1, 1],
    "ks": [7, 3, 5, 5, 5],
    "group": [None, 4, 4, 8, 4],
    "att": [None, True, False, True, True],
}
RESNET_HEAD = {
    "deconv_out_channels": [16, 16],
    "deconv_kernel_sizes": [4, 3],
    "deconv_num_groups": [4, 16],  # 16 -> 4 channels per group, then depthwise
    "conv_out_channels": [8],
    "conv_kernel_sizes": [3],
}
MBV3_ARGS = {
    "stem_channels": 8,
    "stage_widths": [8, 16, 16, 24, 24, 32],
    "expand_ratios": [1, 3, 2, 3, 3, 2],
    "stage_blocks": [1, 2, 1, 2, 1, 1],
    "groups": [4, 48, 8, 36, 72, 16],
}
MBV3_MMPOSE = {
    "wid": [8, 8, 16, 16, 24, 24, 32],
    "expan": [None, 1, 3, 2, 3, 3, 2],
    "dep": [None, 1, 2, 1, 2, 1, 1],
    "group": [None, 4, 48, 8, 36, 72, 16],
}
MBV3_HEAD = {
    "deconv_out_channels": [64, 16],
    "deconv_kernel_sizes": [2, 4],
    "deconv_num_groups": [32, 8],  # depthwise x2, then 4 -> 2 channels per group
}


def _kpose_head(head: dict) -> HeadConfig:
    return HeadConfig(
        tuple(head["deconv_out_channels"]),
        tuple(head["deconv_kernel_sizes"]),
        tuple(head.get("conv_out_channels", ())),
        tuple(head.get("conv_kernel_sizes", ())),
        type="vipnas",
        args={"deconv_num_groups": head["deconv_num_groups"]},
    )


# name -> (preset whose MMPose config is used, kpose model, reference overrides)
CASES = {
    "vipnas-resnet-narrow-coco": (
        "vipnas-res50",
        ModelConfig("vipnas_resnet50", RESNET_ARGS, head=_kpose_head(RESNET_HEAD)),
        {"backbone": RESNET_MMPOSE, "head": {"in_channels": 64, **RESNET_HEAD}},
    ),
    "vipnas-mbv3-narrow-wholebody": (
        "vipnas-mbv3-coco-wholebody",
        ModelConfig("vipnas_mbv3", MBV3_ARGS, head=_kpose_head(MBV3_HEAD)),
        {"backbone": MBV3_MMPOSE, "head": {"in_channels": 32, **MBV3_HEAD}},
    ),
}


def test_narrow_vipnas_models_match_mmpose():
    start = time.perf_counter()
    width, height = INPUT_SIZE
    rng = np.random.default_rng(0)
    images = {name: rng.uniform(0, 255, (2, height, width, 3)).astype(np.float32) for name in CASES}
    cases = [
        {"config": kpose.presets.get(preset).mmpose_config, "images": images[name], **overrides}
        for name, (preset, _, overrides) in CASES.items()
    ]
    references = reference_heatmap_models(cases)
    for (name, (preset, model_cfg, _)), (state_dict, expected) in zip(
        CASES.items(), references, strict=True
    ):
        k = kpose.presets.get(preset).load_recipe().dataset_info.num_keypoints
        assert expected.shape[-1] == k
        model = build_heatmap_model(model_cfg, INPUT_SIZE, k)
        assert_heatmap_parity(model, state_dict, expected, images[name], name)
    print(f"ViPNAS narrow models: {time.perf_counter() - start:.1f} s")
