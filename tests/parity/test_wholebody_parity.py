"""The whole-body presets' models (``configs/wholebody_2d_keypoint/topdown_heatmap/``) against
MMPose 1.3.2, small: MMPose's random-weight model of a whole-body config with a narrowed
backbone, its state dict loaded into kpose, gives the same heatmaps (``1e-4 * max(1, max|ref|)``)
with the same parameter count at COCO-WholeBody's 133 keypoints, for each backbone family of the
tree: a tiny HRNet (the COCO-WholeBody and the UBody2d configs), a narrow ResNet-18 and a narrow
CSPNeXt (the UDP config), each on 96x64 (h x w) crops, which HRNet's and CSPNeXt's 1/32 stages
divide. The narrowed models are test_animal_parity.py's; all references come from one reference
process. Full size: every whole-body preset in test_presets_parity.py (``slow``).
"""

from __future__ import annotations

import time

import pytest

import kpose
from tests.parity.mmpose_ref import assert_narrow_presets_match
from tests.parity.test_animal_parity import CASES as ANIMAL_CASES

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

# family -> (kpose model, reference overrides) of the animal test's narrowed models
_HRNET, _RESNET, _CSPNEXT = (
    ANIMAL_CASES[name][2:]
    for name in ("hrnet-tiny-ak", "resnet18-narrow-locust", "cspnext-narrow-ap10k")
)
INPUT_SIZE = (64, 96)  # (w, h)
# name -> (preset whose MMPose config is used, input, kpose model, reference overrides)
CASES = {
    "hrnet-tiny-coco-wholebody": ("hrnet-w32-coco-wholebody", INPUT_SIZE, *_HRNET),
    "hrnet-tiny-ubody2d": ("hrnet-w32-ubody2d", INPUT_SIZE, *_HRNET),
    "resnet18-narrow-coco-wholebody": ("resnet50-coco-wholebody", INPUT_SIZE, *_RESNET),
    "cspnext-narrow-coco-wholebody": ("cspnext-m-coco-wholebody", INPUT_SIZE, *_CSPNEXT),
}


def test_narrow_wholebody_models_match_mmpose():
    start = time.perf_counter()
    assert all(
        kpose.presets.get(p).load_recipe().dataset_info.num_keypoints == 133
        for p, *_ in CASES.values()
    )
    assert_narrow_presets_match(CASES, "wholebody_2d_keypoint")
    print(f"whole-body narrow models: {time.perf_counter() - start:.1f} s")
