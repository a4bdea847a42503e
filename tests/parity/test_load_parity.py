"""``kpose.load`` of real MMPose checkpoints (torch zip and legacy formats, written by
``torch.save`` in the reference) gives MMPose's heatmaps, without PyTorch on the kpose side."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import kpose
from kpose.recipe import load_recipe, replace
from tests.parity.mmpose_ref import BODY, reference_heatmap_model

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

QUICKSTART = Path(__file__).parents[2] / "recipes" / "quickstart.yaml"
RES50 = f"{BODY}coco/td-hm_res50_8xb64-210e_coco-256x192.py"
HRNET_W32 = f"{BODY}coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py"
COMMON = ["data.dataset=coco", "codec.input_size=[64,96]", "codec.heatmap_size=[16,24]"]
# name -> (MMPose config, its overrides (backbone, head), kpose recipe overrides)
CASES = {
    "resnet18": (
        RES50, {"depth": 18}, {"in_channels": 512, "deconv_out_channels": [32, 32, 32]},
        ["model.backbone=resnet18", "model.backbone_args={}",
         "model.head.deconv_out_channels=[32,32,32]", "model.head.deconv_kernel_sizes=[4,4,4]"],
    ),
    "hrnet_tiny": (
        HRNET_W32,
        {"extra": {
            "stage1": {"num_modules": 1, "num_branches": 1, "block": "BOTTLENECK",
                       "num_blocks": [1], "num_channels": [8]},
            "stage2": {"num_modules": 1, "num_branches": 2, "block": "BASIC",
                       "num_blocks": [1, 1], "num_channels": [8, 16]},
            "stage3": {"num_modules": 1, "num_branches": 3, "block": "BASIC",
                       "num_blocks": [1, 1, 1], "num_channels": [8, 16, 32]},
            "stage4": {"num_modules": 1, "num_branches": 4, "block": "BASIC",
                       "num_blocks": [1, 1, 1, 1], "num_channels": [8, 16, 32, 64]},
        }},
        {"in_channels": 8},
        ["model.backbone=hrnet",
         "model.backbone_args={width: 8, num_modules: [1,1,1], num_blocks: [1,1,1], "
         "stage1_blocks: 1, stage1_channels: 8}",
         "model.head.deconv_out_channels=[]", "model.head.deconv_kernel_sizes=[]"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_load_mmpose_checkpoint(name, tmp_path):
    config, backbone, head, overrides = CASES[name]
    images = np.random.default_rng(0).uniform(0, 255, (2, 96, 64, 3)).astype(np.float32)
    checkpoint = tmp_path / f"{name}.pth"
    _, expected = reference_heatmap_model(
        config, images, backbone=backbone, head=head, checkpoint=str(checkpoint)
    )
    recipe = replace(load_recipe(QUICKSTART), [*COMMON, *overrides])
    scale = max(1.0, float(np.abs(expected).max()))
    for path in (checkpoint, tmp_path / f"{name}_legacy.pth"):
        estimator = kpose.load(recipe, weights=path)
        heatmaps = np.asarray(estimator.heatmap_model(images, training=False))
        np.testing.assert_allclose(heatmaps, expected, rtol=0, atol=1e-4 * scale, err_msg=str(path))


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["vitpose-s", "cpm", "mspn50"])
def test_kpose_load_of_a_full_size_checkpoint_reproduces_mmpose(preset, tmp_path):
    """``kpose.load(preset, weights=<MMPose checkpoint of its config>)``: the line users type
    first, for ViTPose-S and for multi-stage models (CPM, MSPN)."""
    recipe = kpose.presets.get(preset).load_recipe()
    width, height = recipe.codec.input_size
    images = np.random.default_rng(0).uniform(0, 255, (2, height, width, 3)).astype(np.float32)
    checkpoint = tmp_path / f"{preset}.pth"
    _, expected = reference_heatmap_model(recipe.mmpose_config, images, checkpoint=str(checkpoint))
    heatmaps = np.asarray(kpose.load(preset, weights=checkpoint).heatmap_model(images))
    scale = max(1.0, float(np.abs(expected).max()))
    print(f"\n{preset}: max|diff| {np.abs(heatmaps - expected).max():.3g} (scale {scale:.3g})")
    np.testing.assert_allclose(heatmaps, expected, rtol=0, atol=1e-4 * scale)
