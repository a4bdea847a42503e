"""Heatmap models against MMPose 1.3.2: same random weights and BN statistics, same heatmaps.

Each case builds the MMPose model from its config (with overrides for the small CI variants),
randomises weights and running statistics, runs an eval-mode forward on raw RGB crops
normalised by MMPose's preprocessor statistics, and hands back the state dict; kpose builds
the same model, takes the state dict through ``assign_state_dict`` (strict) and must give the
heatmaps within ``1e-4 * max(1, max|ref|)`` (the zoo's <= 1e-4 on float32).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from kpose.weights.state_dict import assign_state_dict
from tests.parity.mmpose_ref import BODY, reference_heatmap_model

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

RES50 = f"{BODY}coco/td-hm_res50_8xb64-210e_coco-256x192.py"
HRNET_W32 = f"{BODY}coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py"
NUM_KEYPOINTS = 17


def _hrnet_extra(
    width: int, modules: tuple, blocks: int, stage1_blocks: int, stage1_channels: int
) -> dict:
    """MMPose's ``extra`` dict for ``kpose.models.backbones.hrnet.hrnet``'s arguments."""
    extra = {
        "stage1": {
            "num_modules": 1,
            "num_branches": 1,
            "block": "BOTTLENECK",
            "num_blocks": [stage1_blocks],
            "num_channels": [stage1_channels],
        }
    }
    for stage, num_modules in enumerate(modules, start=2):
        extra[f"stage{stage}"] = {
            "num_modules": num_modules,
            "num_branches": stage,
            "block": "BASIC",
            "num_blocks": [blocks] * stage,
            "num_channels": [width * 2**i for i in range(stage)],
        }
    return extra


@dataclass(frozen=True)
class Case:
    name: str
    config: str
    model: ModelConfig
    input_size: tuple[int, int]  # (w, h)
    backbone: dict = field(default_factory=dict)
    head: dict = field(default_factory=dict)
    neck: dict | None = None


CASES = [
    # Every deconv kernel size (4, 3, 2), an intermediate conv and a 3x3 final layer.
    Case(
        "resnet18_head_variants",
        RES50,
        ModelConfig("resnet18", head=HeadConfig((32, 32, 32), (4, 3, 2), (16,), (3,), 3)),
        (64, 96),
        backbone={"depth": 18},
        head={
            "in_channels": 512,
            "deconv_out_channels": [32, 32, 32],
            "deconv_kernel_sizes": [4, 3, 2],
            "conv_out_channels": [16],
            "conv_kernel_sizes": [3],
            "final_layer": {"kernel_size": 3, "padding": 1},
        },
    ),
    # ViTPose's "simple" decoder: ReLU + bilinear upsampling, no deconv, 3x3 final layer.
    Case(
        "resnet18_simple_head",
        RES50,
        ModelConfig("resnet18", head=HeadConfig((), (), final_kernel_size=3, upsample_factor=8.0)),
        (64, 96),
        backbone={"depth": 18},
        head={
            "in_channels": 512,
            "deconv_out_channels": [],
            "deconv_kernel_sizes": [],
            "final_layer": {"kernel_size": 3, "padding": 1},
        },
        neck={"type": "FeatureMapProcessor", "scale_factor": 8.0, "apply_relu": True},
    ),
    Case(
        "hrnet_tiny",
        HRNET_W32,
        ModelConfig(
            "hrnet",
            {
                "width": 8,
                "num_modules": (1, 2, 2),
                "num_blocks": (1, 1, 1),
                "stage1_blocks": 1,
                "stage1_channels": 8,
            },
            head=HeadConfig((), ()),
        ),
        (64, 96),
        backbone={"extra": _hrnet_extra(8, (1, 2, 2), 1, 1, 8)},
        head={"in_channels": 8},
    ),
    pytest.param(
        Case("resnet50_coco_256x192", RES50, ModelConfig("resnet50"), (192, 256)),
        marks=pytest.mark.slow,
    ),
    pytest.param(
        Case(
            "hrnet_w32_coco_256x192",
            HRNET_W32,
            ModelConfig("hrnet_w32", head=HeadConfig((), ())),
            (192, 256),
        ),
        marks=pytest.mark.slow,
    ),
]


def _id(case) -> str:
    return case.name


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_heatmaps_match_mmpose(case: Case):
    width, height = case.input_size
    images = np.random.default_rng(0).uniform(0, 255, (2, height, width, 3)).astype(np.float32)
    state_dict, expected = reference_heatmap_model(
        case.config, images, backbone=case.backbone, head=case.head, neck=case.neck
    )

    model = build_heatmap_model(case.model, case.input_size, NUM_KEYPOINTS)
    assign_state_dict(model, state_dict, strict=True)
    heatmaps = np.asarray(model(images, training=False))

    assert heatmaps.shape == expected.shape == (2, height // 4, width // 4, NUM_KEYPOINTS)
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(heatmaps, expected, rtol=0, atol=1e-4 * scale)
