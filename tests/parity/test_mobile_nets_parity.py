"""Mobile backbones (MobileNetV2, ShuffleNetV1, ShuffleNetV2) against MMPose 1.3.2.

MMPose's random-weight model of a config, its state dict loaded into kpose, must give the same
heatmaps (``1e-4 * max(1, max|ref|)``) and have the same number of parameters.
Fast (CI): half-width variants (ShuffleNetV1 keeps 3 groups: grouped 1x1 convs and a
non-trivial shuffle) behind a narrow head, at a crop whose feature maps become odd (strided
depthwise convs, max / average pools). Slow: every recipe of the family at full size.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from kpose.datasets import get_dataset_info
from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig, load_recipe
from tests.parity.mmpose_ref import assert_heatmap_parity, reference_heatmap_model

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
HEAD = {"deconv_out_channels": [16, 16], "deconv_kernel_sizes": [4, 4]}
# name -> (MMPose config, backbone overrides = kpose backbone arguments, head in_channels)
CASES = {
    "mobilenet_v2": ("coco/td-hm_mobilenetv2_8xb64-210e_coco-256x192.py",
                     {"widen_factor": 0.5}, 1280),
    "shufflenet_v1": ("coco/td-hm_shufflenetv1_8xb64-210e_coco-256x192.py",
                      {"groups": 3, "widen_factor": 0.5}, 480),
    "shufflenet_v2": ("coco/td-hm_shufflenetv2_8xb64-210e_coco-256x192.py",
                      {"widen_factor": 0.5}, 1024),
}  # fmt: skip
# The family's recipes (one per MMPose config / preset).
FULL = [
    "mobilenetv2_coco", "mobilenetv2_mpii", "shufflenetv1_coco", "shufflenetv1_mpii",
    "shufflenetv2_coco", "shufflenetv2_mpii",
]  # fmt: skip


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


@pytest.mark.slow
@pytest.mark.parametrize("recipe_name", FULL)
def test_recipe_matches_mmpose_at_full_size(recipe_name):
    start = time.perf_counter()
    recipe = load_recipe(RECIPES / f"{recipe_name}.yaml")
    width, height = recipe.codec.input_size
    images = np.random.default_rng(0).uniform(0, 255, (2, height, width, 3)).astype(np.float32)
    state_dict, expected = reference_heatmap_model(recipe.mmpose_config, images)
    num_keypoints = get_dataset_info(recipe.data.dataset).num_keypoints
    model = build_heatmap_model(recipe.model, (width, height), num_keypoints)
    assert expected.shape[1:3] == tuple(recipe.codec.heatmap_size)[::-1]
    label = f"{recipe.name} ({recipe.mmpose_config})"
    assert_heatmap_parity(model, state_dict, expected, images, label)
    print(f"{recipe.name}: {time.perf_counter() - start:.1f} s")
