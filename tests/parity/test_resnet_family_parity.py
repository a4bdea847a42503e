"""ResNet-family backbones (ResNet, ResNetV1d, ResNeXt, SEResNet) against MMPose 1.3.2.

MMPose's random-weight model of a config, its state dict loaded into kpose, must give the same
heatmaps (``1e-4 * max(1, max|ref|)``) and have the same number of parameters.
Fast (CI): narrow depth-50 variants of each new backbone type (8 stem / base channels, fewer
groups, a stronger SE squeeze), at a small input and at one whose feature maps are odd (the
average-pool shortcuts round up). Full size: test_presets_parity.py.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from tests.parity.mmpose_ref import BODY, assert_heatmap_parity, reference_heatmap_model

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

NARROW = {"stem_channels": 8, "base_channels": 8}
HEAD = {"in_channels": 256, "deconv_out_channels": [16, 16], "deconv_kernel_sizes": [4, 4]}
# name -> (MMPose config, backbone overrides = kpose backbone arguments)
CASES = {
    "resnetv1d50": (f"{BODY}coco/td-hm_resnetv1d50_8xb64-210e_coco-256x192.py", NARROW),
    "resnext50": (f"{BODY}coco/td-hm_resnext50_8xb64-210e_coco-256x192.py",
                  {**NARROW, "groups": 4, "width_per_group": 4}),
    "seresnet50": (f"{BODY}coco/td-hm_seresnet50_8xb64-210e_coco-256x192.py",
                   {**NARROW, "se_ratio": 4}),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("input_size", [(64, 96), (72, 104)])  # (w, h); the second: odd maps
def test_narrow_variant_matches_mmpose(name, input_size):
    start = time.perf_counter()
    config, args = CASES[name]
    width, height = input_size
    images = np.random.default_rng(0).uniform(0, 255, (2, height, width, 3)).astype(np.float32)
    state_dict, expected = reference_heatmap_model(config, images, backbone=args, head=HEAD)
    model = build_heatmap_model(
        ModelConfig(name, args, head=HeadConfig((16, 16), (4, 4))), input_size, 17
    )
    assert_heatmap_parity(model, state_dict, expected, images, f"{name} narrow {input_size}")
    print(f"{name} {input_size}: {time.perf_counter() - start:.1f} s")
