"""AlexNet, CPM and Hourglass against MMPose 1.3.2.

MMPose's random-weight model of a config, its state dict loaded into kpose, must give the same
heatmaps (``1e-4 * max(1, max|ref|)``) and have the same number of parameters.
Fast (CI): AlexNet with a 2-deconvolution head of 16 channels at a small crop (odd feature
maps: the unpadded pools round down); a 3-stage CPM with narrow stages at a crop whose pools see
odd sizes (PyTorch's padded floor-mode pools round up); 1- and 2-stack Hourglasses of depth 2
with narrow inner stages (the single stack carries MMPose's unused ``inters.0`` block).
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

ALEXNET = f"{BODY}coco/td-hm_alexnet_8xb64-210e_coco-256x192.py"
CPM = f"{BODY}coco/td-hm_cpm_8xb64-210e_coco-256x192.py"
HOURGLASS = f"{BODY}coco/td-hm_hourglass52_8xb32-210e_coco-256x256.py"
NO_HEAD_LAYERS = HeadConfig((), (), final_kernel_size=0, type="cpm")  # MMPose: final_layer=None
CONV_1X1 = HeadConfig((), (), final_kernel_size=1, type="cpm")


def _images(width: int, height: int) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (2, height, width, 3)).astype(np.float32)


def test_alexnet_matches_mmpose():
    start = time.perf_counter()
    input_size = (64, 96)  # (w, h); the pools round down: 23 x 15 -> 11 x 7 -> 5 x 3 -> 2 x 1
    images = _images(*input_size)
    head = {"deconv_out_channels": [16, 16], "deconv_kernel_sizes": [4, 4]}
    state_dict, expected = reference_heatmap_model(ALEXNET, images, head=head)
    model = build_heatmap_model(
        ModelConfig("alexnet", head=HeadConfig((16, 16), (4, 4))), input_size, 17
    )
    assert_heatmap_parity(model, state_dict, expected, images, f"alexnet {input_size}")
    print(f"alexnet {input_size}: {time.perf_counter() - start:.1f} s")


def test_narrow_cpm_matches_mmpose():
    start = time.perf_counter()
    input_size = (44, 60)  # stride-2 pools see 30 x 22 -> 15 x 11 -> 8 x 6
    images = _images(*input_size)
    args = {"feat_channels": 16, "middle_channels": 8, "num_stages": 3}
    state_dict, expected = reference_heatmap_model(
        CPM, images, backbone=args, head={"num_stages": 3}
    )
    model = build_heatmap_model(
        ModelConfig("cpm", {"out_channels": 17, **args}, head=NO_HEAD_LAYERS), input_size, 17
    )
    assert expected.shape == (2, 8, 6, 17)
    assert_heatmap_parity(model, state_dict, expected, images, "cpm narrow")
    print(f"cpm narrow: {time.perf_counter() - start:.1f} s")


@pytest.mark.parametrize("num_stacks", [1, 2])
def test_narrow_hourglass_matches_mmpose(num_stacks):
    start = time.perf_counter()
    input_size = (64, 96)  # multiples of 4 * 2 ** downsample_times
    images = _images(*input_size)
    args = {
        "downsample_times": 2,
        "num_stacks": num_stacks,
        "stage_channels": [256, 16, 24],
        "stage_blocks": [1, 2, 1],
        "feat_channel": 16,
    }
    state_dict, expected = reference_heatmap_model(
        HOURGLASS, images, backbone=args, head={"in_channels": 16, "num_stages": num_stacks}
    )
    model = build_heatmap_model(ModelConfig("hourglass", args, head=CONV_1X1), input_size, 17)
    assert_heatmap_parity(model, state_dict, expected, images, f"hourglass {num_stacks} stacks")
    print(f"hourglass {num_stacks} stacks: {time.perf_counter() - start:.1f} s")
