"""ResNet-family backbones (ResNet, ResNetV1d, ResNeXt, SEResNet) against MMPose 1.3.2.

MMPose's random-weight model of a config, its state dict loaded into kpose, must give the same
heatmaps (``1e-4 * max(1, max|ref|)``) and have the same number of parameters.
Fast (CI): narrow depth-50 variants of each new backbone type (8 stem / base channels, fewer
groups, a stronger SE squeeze), at a small input and at one whose feature maps are odd (the
average-pool shortcuts round up). Slow: every recipe of the family at full size.
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
NARROW = {"stem_channels": 8, "base_channels": 8}
HEAD = {"in_channels": 256, "deconv_out_channels": [16, 16], "deconv_kernel_sizes": [4, 4]}
# name -> (MMPose config, backbone overrides = kpose backbone arguments)
CASES = {
    "resnetv1d50": ("coco/td-hm_resnetv1d50_8xb64-210e_coco-256x192.py", NARROW),
    "resnext50": ("coco/td-hm_resnext50_8xb64-210e_coco-256x192.py",
                  {**NARROW, "groups": 4, "width_per_group": 4}),
    "seresnet50": ("coco/td-hm_seresnet50_8xb64-210e_coco-256x192.py", {**NARROW, "se_ratio": 4}),
}  # fmt: skip
# The family's recipes (one per MMPose config / preset).
FULL = [
    "resnet101_coco", "resnet101_dark_coco", "resnetv1d50_coco", "resnetv1d101_coco",
    "resnext50_coco", "resnext101_coco", "seresnet50_coco", "seresnet101_coco",
    "resnet50_mpii", "resnet152_mpii", "resnetv1d50_mpii", "resnetv1d152_mpii",
    "resnext152_mpii", "seresnet50_mpii", "resnet101_crowdpose", "resnet101_aic",
    "resnet50_jhmdb", "resnet50_posetrack18",
]  # fmt: skip


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
    assert_heatmap_parity(
        model, state_dict, expected, images, f"{recipe.name} ({recipe.mmpose_config})"
    )
    print(f"{recipe.name}: {time.perf_counter() - start:.1f} s")
