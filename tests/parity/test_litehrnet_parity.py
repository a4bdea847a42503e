"""LiteHRNet against MMPose 1.3.2: MMPose's random-weight model of a config, its state dict
loaded into kpose, must give the same heatmaps (``1e-4 * max(1, max|ref|)``) and have as many
parameters.

Fast (CI): a narrow LiteHRNet with the iterative head at a small input; and a narrow one without
fuse layers (so that MMPose accepts sizes that do not halve evenly) at an input whose maps are
odd, with a NAIVE stage and a stem whose width changes: the cross-resolution weighting then
pools non-divisible sizes and resizes back with uneven nearest indices, and the iterative head
upsamples bilinearly between odd sizes. Slow: every recipe of the family at full size.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from kpose.datasets import get_dataset_info
from kpose.models.build import build_heatmap_model
from kpose.models.mmpose_weights import assign_state_dict
from kpose.recipe import HeadConfig, ModelConfig, load_recipe
from tests.parity import mmpose_ref
from tests.parity.mmpose_ref import assert_heatmap_parity, reference_heatmap_model

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
CONFIG = "coco/td-hm_litehrnet-18_8xb64-210e_coco-256x192.py"
NARROW = {
    "num_modules": [1, 2, 1],
    "num_branches": [2, 3, 4],
    "num_blocks": [2, 1, 1],
    "module_type": ["LITE", "LITE", "LITE"],
    "with_fuse": [True, True, True],
    "reduce_ratios": [4, 4, 4],
    "num_channels": [[8, 16], [8, 16, 32], [8, 16, 32, 64]],
    "stem_channels": 16,
    "stem_out_channels": 16,
    "expand_ratio": 1.0,
    "with_head": True,
}
# name -> (kpose backbone arguments, input size (w, h))
CASES = {
    "narrow": (NARROW, (64, 96)),
    "odd_unfused": (
        {**NARROW, "module_type": ["LITE", "NAIVE", "LITE"], "with_fuse": [False] * 3,
         "stem_out_channels": 24},
        (72, 104),  # 1/4 maps 26x18, 13x9, 7x5, 4x3
    ),
}  # fmt: skip
FULL = ["litehrnet_18_coco", "litehrnet_30_coco", "litehrnet_18_mpii", "litehrnet_30_mpii"]


def mmpose_extra(args: dict) -> dict:
    """The MMPose ``LiteHRNet.extra`` dict of kpose ``litehrnet`` arguments."""
    spec_keys = ("num_modules", "num_branches", "num_blocks", "module_type", "with_fuse",
                 "reduce_ratios", "num_channels")  # fmt: skip
    return {
        "stem": {
            "stem_channels": args["stem_channels"],
            "out_channels": args["stem_out_channels"],
            "expand_ratio": args["expand_ratio"],
        },
        "num_stages": len(args["num_modules"]),
        "stages_spec": {k: args[k] for k in spec_keys},
        "with_head": args["with_head"],
    }


@pytest.mark.parametrize("name", list(CASES))
def test_narrow_variant_matches_mmpose(name):
    start = time.perf_counter()
    args, input_size = CASES[name]
    width, height = input_size
    images = np.random.default_rng(0).uniform(0, 255, (2, height, width, 3)).astype(np.float32)
    state_dict, expected = reference_heatmap_model(
        CONFIG, images, backbone={"extra": mmpose_extra(args)}, head={"in_channels": 8}
    )
    model = build_heatmap_model(
        ModelConfig("litehrnet", args, head=HeadConfig((), ())), input_size, 17
    )
    assert_heatmap_parity(model, state_dict, expected, images, f"litehrnet {name} {input_size}")
    print(f"{name} {input_size}: {time.perf_counter() - start:.1f} s")


def reference_with_float64(config: str, images: np.ndarray):
    """``reference_heatmap_model(config, images)`` plus the same MMPose model's heatmaps
    computed in float64 (from the same float32-normalised input)."""
    spec = {"config": config, "backbone": {}, "head": {}, "neck": None, "seed": 0,
            "checkpoint": None}  # fmt: skip
    out = mmpose_ref.run_reference(
        mmpose_ref._HEATMAP_MODEL + FLOAT64_FORWARD,
        spec=np.array(json.dumps(spec)),
        images=np.asarray(images, np.float32),
    )
    prefix = "state_dict."
    state_dict = {k[len(prefix) :]: v for k, v in out.items() if k.startswith(prefix)}
    return state_dict, out["heatmaps"], out["heatmaps64"]


FLOAT64_FORWARD = """
with torch.no_grad():
    heatmaps64 = model.double().forward(x.double(), None, mode="tensor")
outputs["heatmaps64"] = heatmaps64.permute(0, 2, 3, 1).numpy()
"""


@pytest.mark.slow
@pytest.mark.parametrize("recipe_name", FULL)
def test_recipe_matches_mmpose_at_full_size(recipe_name):
    """Float32 heatmaps within ``1e-4 * scale`` of MMPose's, or (LiteHRNet-30: random weights
    make the 14 modules ill-conditioned, MMPose's own float32 heatmaps are ~1e-2 * scale off
    its float64 ones) no further from them than MMPose's float32 are from its float64; and in
    float64 the two implementations agree within ``1e-4 * scale``."""
    start = time.perf_counter()
    recipe = load_recipe(RECIPES / f"{recipe_name}.yaml")
    width, height = recipe.codec.input_size
    images = np.random.default_rng(0).uniform(0, 255, (2, height, width, 3)).astype(np.float32)
    state_dict, expected, expected64 = reference_with_float64(recipe.mmpose_config, images)
    num_keypoints = get_dataset_info(recipe.data.dataset).num_keypoints
    assert expected.shape[1:3] == tuple(recipe.codec.heatmap_size)[::-1]

    model = build_heatmap_model(recipe.model, (width, height), num_keypoints)
    assign_state_dict(model, state_dict, strict=True)
    heatmaps = np.asarray(model(images, training=False))
    scale = max(1.0, float(np.abs(expected).max()))
    reference_error = float(np.abs(expected - expected64).max())
    diff = float(np.abs(heatmaps - expected).max())
    print(f"\n{recipe.name} float32: max|diff| {diff:.3g} (scale {scale:.3g}); MMPose float32 vs "
          f"float64 {reference_error:.3g}, kpose float32 vs MMPose float64 "
          f"{float(np.abs(heatmaps - expected64).max()):.3g}")  # fmt: skip
    assert diff <= max(1e-4 * scale, reference_error)

    keras.config.set_dtype_policy("float64")
    try:
        model64 = build_heatmap_model(recipe.model, (width, height), num_keypoints)
    finally:
        keras.config.set_dtype_policy("float32")
    assert_heatmap_parity(model64, state_dict, expected64, images, f"{recipe.name} float64")
    print(f"{recipe.name}: {time.perf_counter() - start:.1f} s")
