"""CSPNeXt heatmap models (mmdet's CSPNeXt + MMPose's HeatmapHead) against MMPose 1.3.2.

MMPose's random-weight model of a config, its state dict loaded into kpose, must give the same
heatmaps (``1e-4 * max(1, max|ref|)``) and have the same number of parameters.
The configs' ``SyncBN`` is replaced by ``BN`` in the reference: mmengine reverts SyncBN to a
``_BatchNormXd`` the reference harness does not randomise, and both have PyTorch's eps 1e-5 /
momentum 0.1, so the numerics are unchanged.
Fast (CI): a narrow P5 variant (widen 0.125, 1-2 blocks a stage) at an input whose feature maps
are odd, and a depthwise variant (strided depthwise convs) with mmdet's own BN (eps 1e-3).
Full size: every preset in test_presets_parity.py.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from tests.parity.mmpose_ref import BODY, assert_heatmap_parity, reference_heatmap_model

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

CONFIG = f"{BODY}coco/cspnext-m_udp_8xb256-210e_coco-256x192.py"
BN = {"type": "BN"}
NARROW = {"deepen_factor": 0.33, "widen_factor": 0.125}
HEAD = {"in_channels": 128, "deconv_out_channels": [16, 16, 16], "deconv_kernel_sizes": [4, 4, 4]}
# name -> (kpose backbone arguments, reference backbone overrides)
CASES = {
    "narrow": (NARROW, {**NARROW, "norm_cfg": BN}),
    "depthwise": (
        {**NARROW, "use_depthwise": True, "norm_eps": 1e-3, "norm_momentum": 0.03},
        {**NARROW, "use_depthwise": True, "norm_cfg": {**BN, "eps": 1e-3, "momentum": 0.03}},
    ),
}


@pytest.mark.parametrize(
    "name, input_size",
    [("narrow", (72, 104)), ("depthwise", (64, 96))],  # (w, h); 72x104: odd feature maps
)
def test_narrow_variant_matches_mmpose(name, input_size):
    start = time.perf_counter()
    args, ref_args = CASES[name]
    width, height = input_size
    images = np.random.default_rng(0).uniform(0, 255, (2, height, width, 3)).astype(np.float32)
    state_dict, expected = reference_heatmap_model(CONFIG, images, backbone=ref_args, head=HEAD)
    model = build_heatmap_model(
        ModelConfig("cspnext", args, head=HeadConfig((16, 16, 16), (4, 4, 4))), input_size, 17
    )
    assert_heatmap_parity(model, state_dict, expected, images, f"cspnext {name} {input_size}")
    print(f"cspnext {name} {input_size}: {time.perf_counter() - start:.1f} s")
