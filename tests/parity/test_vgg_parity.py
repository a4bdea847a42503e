"""VGG against MMPose 1.3.2.

MMPose's random-weight model of a config, its state dict loaded into kpose, must give the same
heatmaps (``1e-4 * max(1, max|ref|)``) and have the same number of parameters.
Fast (CI), both models from one reference process: the config's VGG-16 with BN at a small crop
under a 2-deconvolution head of 16 channels, and a VGG-11 without BN whose every other MMPose
argument differs from the config's (four stages, dilated convs in the last two, ceil-mode pools
of odd sizes, the last pool dropped). Full size: test_presets_parity.py.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from tests.parity.mmpose_ref import BODY, assert_heatmap_parity, reference_heatmap_models

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

VGG16_BN = f"{BODY}coco/td-hm_vgg16-bn_8xb64-210e_coco-256x192.py"
HEAD = {"deconv_out_channels": [16, 16], "deconv_kernel_sizes": [4, 4]}
# label -> (MMPose backbone overrides, kpose backbone, its arguments, input (w, h))
CASES = {
    "vgg16-bn": ({}, "vgg16", {"norm": True}, (64, 96)),  # maps 32x48 .. 2x3
    "vgg11 dilated ceil-mode": (
        {"depth": 11, "norm_cfg": None, "num_stages": 4, "dilations": [1, 1, 2, 2],
         "out_indices": [3], "ceil_mode": True, "with_last_pool": False},
        "vgg11",
        {"num_stages": 4, "dilations": [1, 1, 2, 2], "out_indices": [3], "ceil_mode": True,
         "with_last_pool": False},
        (50, 74),  # ceil-mode pools: 74 x 50 -> 37 x 25 -> 19 x 13 -> 10 x 7
    ),
}  # fmt: skip


def test_vgg_matches_mmpose():
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    images = {
        label: rng.uniform(0, 255, (2, h, w, 3)).astype(np.float32)
        for label, (_, _, _, (w, h)) in CASES.items()
    }
    references = reference_heatmap_models(
        [
            {"config": VGG16_BN, "images": images[label], "backbone": overrides, "head": HEAD}
            for label, (overrides, _, _, _) in CASES.items()
        ]
    )
    for (label, (_, backbone, args, input_size)), (state_dict, expected) in zip(
        CASES.items(), references, strict=True
    ):
        model = build_heatmap_model(
            ModelConfig(backbone, args, head=HeadConfig((16, 16), (4, 4))), input_size, 17
        )
        assert_heatmap_parity(model, state_dict, expected, images[label], label)
    assert references[1][1].shape == (2, 40, 28, 17)  # 10 x 7 after the two deconvolutions
    print(f"vgg: {time.perf_counter() - start:.1f} s")
