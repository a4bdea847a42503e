"""Mobile backbones (MobileNetV2, ShuffleNetV1, ShuffleNetV2) against MMPose 1.3.2.

MMPose's random-weight model of a config, its state dict loaded into kpose, must give the same
heatmaps (``1e-4 * max(1, max|ref|)``) and have the same number of parameters.
Fast (CI): half-width variants (ShuffleNetV1 keeps 3 groups: grouped 1x1 convs and a
non-trivial shuffle) behind a narrow head, at a crop whose feature maps become odd (strided
depthwise convs, max / average pools). Full size: test_presets_parity.py.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from tests.parity.mmpose_ref import BODY, assert_heatmap_parity, reference_heatmap_model

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

HEAD = {"deconv_out_channels": [16, 16], "deconv_kernel_sizes": [4, 4]}
# name -> (MMPose config, backbone overrides = kpose backbone arguments, head in_channels)
CASES = {
    "mobilenet_v2": (f"{BODY}coco/td-hm_mobilenetv2_8xb64-210e_coco-256x192.py",
                     {"widen_factor": 0.5}, 1280),
    "shufflenet_v1": (f"{BODY}coco/td-hm_shufflenetv1_8xb64-210e_coco-256x192.py",
                      {"groups": 3, "widen_factor": 0.5}, 480),
    "shufflenet_v2": (f"{BODY}coco/td-hm_shufflenetv2_8xb64-210e_coco-256x192.py",
                      {"widen_factor": 0.5}, 1024),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_narrow_variant_matches_mmpose(name):
    start = time.perf_counter()
    config, args, head_in = CASES[name]
    input_size = (72, 104)  # (w, h): maps 9x13 at stride 8, 5x7 at 16, 3x4 at 32
    width, height = input_size
    images = np.random.default_rng(0).uniform(0, 255, (2, height, width, 3)).astype(np.float32)
    state_dict, expected = reference_heatmap_model(
        config, images, backbone=args, head={**HEAD, "in_channels": head_in}
    )
    model = build_heatmap_model(
        ModelConfig(name, args, head=HeadConfig((16, 16), (4, 4))), input_size, 17
    )
    assert_heatmap_parity(model, state_dict, expected, images, f"{name} narrow {input_size}")
    print(f"{name}: {time.perf_counter() - start:.1f} s")
