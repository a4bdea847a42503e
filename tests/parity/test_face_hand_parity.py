"""The face and hand presets' models (``configs/face_2d_keypoint/topdown_heatmap/`` and
``configs/hand_2d_keypoint/topdown_heatmap/``) against MMPose 1.3.2, small: MMPose's
random-weight model of a config with a narrowed backbone, its state dict loaded into kpose,
gives the same heatmaps (``1e-4 * max(1, max|ref|)``) with the same parameter count. HRNetV2 is
the trees' own piece: all four branches out of stage 4 (bilinear fuse upsampling), then the
``FeatureMapProcessor`` neck concatenating them; a tiny one runs on WFLW (98 keypoints) and on
OneHand10K (21). All references come from one reference process. Full size: every face and hand
preset in test_presets_parity.py (``slow``).
"""

from __future__ import annotations

import time

import pytest

from kpose.recipe import HeadConfig, ModelConfig
from tests.parity.mmpose_ref import assert_narrow_presets_match

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

WIDTH = 8


def _tiny_hrnetv2_extra() -> dict:
    """MMPose's HRNetV2 ``extra`` of kpose's ``hrnetv2(width=8, num_modules=(1, 1, 2),
    num_blocks=(1, 1, 1), stage1_blocks=1, stage1_channels=8)``: two stage-4 modules, so that
    a multiscale fuse feeds another module."""
    extra = {
        "stage1": {
            "num_modules": 1,
            "num_branches": 1,
            "block": "BOTTLENECK",
            "num_blocks": [1],
            "num_channels": [8],
        },
        "upsample": {"mode": "bilinear", "align_corners": False},
    }
    for stage, modules in ((2, 1), (3, 1), (4, 2)):
        extra[f"stage{stage}"] = {
            "num_modules": modules,
            "num_branches": stage,
            "block": "BASIC",
            "num_blocks": [1] * stage,
            "num_channels": [WIDTH * 2**i for i in range(stage)],
        }
    extra["stage4"]["multiscale_output"] = True
    return extra


CONCAT = WIDTH * (1 + 2 + 4 + 8)
TINY_HRNETV2 = ModelConfig(
    "hrnetv2",
    {
        "width": WIDTH,
        "num_modules": [1, 1, 2],
        "num_blocks": [1, 1, 1],
        "stage1_blocks": 1,
        "stage1_channels": 8,
    },
    head=HeadConfig((), (), (CONCAT,), (1,), final_kernel_size=1),
    neck={"type": "feature_map_processor", "concat": True},
)
TINY_HRNETV2_REF = {
    "backbone": {"extra": _tiny_hrnetv2_extra()},
    "head": {"in_channels": CONCAT, "conv_out_channels": [CONCAT]},
}
# name -> (preset whose MMPose config is used, input (w, h), kpose model, reference overrides)
CASES = {
    "hrnetv2-tiny-wflw": ("hrnetv2-w18-awing-wflw", (64, 64), TINY_HRNETV2, TINY_HRNETV2_REF),
    # not square, with a 1/32 branch of 3x2: the neck's resizing must follow PyTorch's rule
    "hrnetv2-tiny-onehand10k": ("hrnetv2-w18-onehand10k", (96, 64), TINY_HRNETV2, TINY_HRNETV2_REF),
}


def test_narrow_face_hand_models_match_mmpose():
    start = time.perf_counter()
    assert_narrow_presets_match(CASES, ("face_2d_keypoint", "hand_2d_keypoint"))
    print(f"face / hand narrow models: {time.perf_counter() - start:.1f} s")
