"""The animal presets' models (``configs/animal_2d_keypoint/topdown_heatmap/``) against MMPose
1.3.2, small: MMPose's random-weight model of an animal config with a narrowed backbone, its
state dict loaded into kpose, gives the same heatmaps (``1e-4 * max(1, max|ref|)``) with the same
parameter count, for each backbone family of the tree at its dataset's keypoint count: a tiny
HRNet on Animal Kingdom (23 keypoints), a narrow ResNet-18 on Desert Locust at the config's
160x160 input (35 keypoints), a narrow CSPNeXt on AP-10K (17 keypoints, UDP config). All three
references come from one reference process. Full size: every animal preset in
test_presets_parity.py (``slow``).
"""

from __future__ import annotations

import time

import pytest

from kpose.recipe import HeadConfig, ModelConfig
from tests.parity.mmpose_ref import assert_narrow_presets_match

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]


def _tiny_hrnet_extra() -> dict:
    """MMPose's HRNet ``extra`` of kpose's ``hrnet(width=8, num_modules=(1, 1, 1),
    num_blocks=(1, 1, 1), stage1_blocks=1, stage1_channels=8)``."""
    extra = {
        "stage1": {
            "num_modules": 1,
            "num_branches": 1,
            "block": "BOTTLENECK",
            "num_blocks": [1],
            "num_channels": [8],
        }
    }
    for stage in (2, 3, 4):
        extra[f"stage{stage}"] = {
            "num_modules": 1,
            "num_branches": stage,
            "block": "BASIC",
            "num_blocks": [1] * stage,
            "num_channels": [8 * 2**i for i in range(stage)],
        }
    return extra


RESNET_NARROW = {"stem_channels": 8, "base_channels": 8}
CSPNEXT_NARROW = {"deepen_factor": 0.33, "widen_factor": 0.125}
# name -> (preset whose MMPose config is used, input (w, h), kpose model, reference overrides)
CASES = {
    "hrnet-tiny-ak": (
        "hrnet-w32-ak-p1",
        (64, 64),
        ModelConfig(
            "hrnet",
            {
                "width": 8,
                "num_modules": [1, 1, 1],
                "num_blocks": [1, 1, 1],
                "stage1_blocks": 1,
                "stage1_channels": 8,
            },
            head=HeadConfig((), (), final_kernel_size=1),
        ),
        {"backbone": {"extra": _tiny_hrnet_extra()}, "head": {"in_channels": 8}},
    ),
    "resnet18-narrow-locust": (
        "resnet50-locust",
        (160, 160),
        ModelConfig("resnet18", RESNET_NARROW, head=HeadConfig((16, 16, 16), (4, 4, 4))),
        {
            "backbone": {"depth": 18, **RESNET_NARROW},
            "head": {"in_channels": 64, "deconv_out_channels": [16, 16, 16]},
        },
    ),
    "cspnext-narrow-ap10k": (
        "cspnext-m-ap10k",
        (64, 64),
        ModelConfig("cspnext", CSPNEXT_NARROW, head=HeadConfig((16, 16, 16), (4, 4, 4))),
        {
            # SyncBN -> BN: same numerics, and a module the reference harness randomises
            "backbone": {**CSPNEXT_NARROW, "norm_cfg": {"type": "BN"}},
            "head": {"in_channels": 128, "deconv_out_channels": [16, 16, 16]},
        },
    ),
}


def test_narrow_animal_models_match_mmpose():
    start = time.perf_counter()
    assert_narrow_presets_match(CASES, "animal_2d_keypoint")
    print(f"animal narrow models: {time.perf_counter() - start:.1f} s")
