"""LiteHRNet against MMPose 1.3.2: MMPose's random-weight model of a config, its state dict
loaded into kpose, must give the same heatmaps (``1e-4 * max(1, max|ref|)``) and have as many
parameters.

Fast (CI): a narrow LiteHRNet with the iterative head at a small input; and a narrow one without
fuse layers (so that MMPose accepts sizes that do not halve evenly) at an input whose maps are
odd, with a NAIVE stage and a stem whose width changes: the cross-resolution weighting then
pools non-divisible sizes and resizes back with uneven nearest indices, and the iterative head
upsamples bilinearly between odd sizes. Full size: test_presets_parity.py (LiteHRNet-30's
random-weight model is chaotic in float32: MMPose's own float32 heatmaps are ~1e-2 * scale off its
float64 ones, so it belongs in that file's float64 set).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from tests.parity.mmpose_ref import BODY, assert_heatmap_parity, reference_heatmap_model

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

CONFIG = f"{BODY}coco/td-hm_litehrnet-18_8xb64-210e_coco-256x192.py"
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
