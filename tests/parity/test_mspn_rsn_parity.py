"""MSPN and RSN (backbone + MSPNHead) against MMPose 1.3.2.

MMPose's random-weight model of a config, its state dict loaded into kpose, must give the same
last-stage heatmaps (``1e-4 * max(1, max|ref|)``) and have the same number of parameters.
Fast (CI): two-stage, three-unit variants with one block per unit and 32 unit channels: MSPN
at a small input, RSN (3 steps, expand_times 8) with the PRM at an input whose maps are odd
(``align_corners=True`` resizes between sizes that are not multiples). Full size:
test_presets_parity.py.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from tests.parity.mmpose_ref import BODY, assert_heatmap_parity, reference_heatmap_model

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

SMALL = {"unit_channels": 32, "num_stages": 2, "num_units": 3, "num_blocks": [1, 1, 1]}
HEAD = {"unit_channels": 32, "num_stages": 2, "num_units": 3, "level_indices": [0, 1, 2] * 2}
# name -> (MMPose config, backbone overrides = kpose backbone arguments)
CASES = {
    "mspn": (f"{BODY}coco/td-hm_mspn50_8xb32-210e_coco-256x192.py", SMALL),
    "rsn": (f"{BODY}coco/td-hm_rsn50_8xb32-210e_coco-256x192.py",
            {**SMALL, "num_steps": 3, "expand_times": 8}),
}  # fmt: skip


@pytest.mark.parametrize(
    "name, input_size, use_prm",
    [("mspn", (64, 96), False), ("rsn", (72, 104), True)],  # (w, h); odd maps, with the PRM
)
def test_small_variant_matches_mmpose(name, input_size, use_prm):
    start = time.perf_counter()
    config, args = CASES[name]
    width, height = input_size
    head = {**HEAD, "use_prm": use_prm}
    images = np.random.default_rng(0).uniform(0, 255, (2, height, width, 3)).astype(np.float32)
    state_dict, expected = reference_heatmap_model(
        config,
        images,
        backbone=args,
        head={
            **head,
            "out_shape": [height // 4, width // 4],
            "loss": {"type": "KeypointMSELoss", "use_target_weight": True},
        },
    )
    model = build_heatmap_model(
        ModelConfig(name, args, head=HeadConfig(type="mspn", args=head)), input_size, 17
    )
    label = f"{name} small {input_size} prm={use_prm}"
    assert_heatmap_parity(model, state_dict, expected, images, label)
    print(f"{label}: {time.perf_counter() - start:.1f} s")
