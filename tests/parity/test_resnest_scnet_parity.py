"""ResNeSt and SCNet backbones against MMPose 1.3.2.

MMPose's random-weight model of a config, its state dict loaded into kpose, must give the same
heatmaps (``1e-4 * max(1, max|ref|)``) and have the same number of parameters.
Fast (CI): narrow depth-50 variants (8 stem / base channels). ResNeSt with 2 groups, so that
the radix softmax's regrouping of ``fc2``'s channels matters, at an input whose feature maps are
odd (the shortcut's ceil-mode pool and the ``avd_layer``'s floor-mode pool differ). SCNet at an
input whose maps are not multiples of 4 (PyTorch's nearest resampling after the 4x4 pool is not
a plain repeat). Full size: test_presets_parity.py (in float64).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from tests.parity.mmpose_ref import (
    BODY,
    assert_heatmap_parity,
    reference_heatmap_model,
)

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

NARROW = {"stem_channels": 8, "base_channels": 8}
HEAD = {"in_channels": 256, "deconv_out_channels": [16, 16], "deconv_kernel_sizes": [4, 4]}
# name -> (MMPose config, backbone overrides = kpose backbone arguments, input (w, h))
CASES = {
    "resnest50": (f"{BODY}coco/td-hm_resnest50_8xb64-210e_coco-256x192.py",
                  {**NARROW, "groups": 2}, (72, 104)),  # maps 18x26 .. 3x4
    "scnet50": (f"{BODY}coco/td-hm_scnet50_8xb64-210e_coco-256x192.py", NARROW,
                (136, 200)),  # maps 34x50 .. 5x7, pooled 8x12 .. 1x1
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_narrow_variant_matches_mmpose(name):
    start = time.perf_counter()
    config, args, input_size = CASES[name]
    width, height = input_size
    images = np.random.default_rng(0).uniform(0, 255, (2, height, width, 3)).astype(np.float32)
    state_dict, expected = reference_heatmap_model(config, images, backbone=args, head=HEAD)
    model = build_heatmap_model(
        ModelConfig(name, args, head=HeadConfig((16, 16), (4, 4))), input_size, 17
    )
    assert_heatmap_parity(model, state_dict, expected, images, f"{name} narrow {input_size}")
    print(f"{name} {input_size}: {time.perf_counter() - start:.1f} s")
