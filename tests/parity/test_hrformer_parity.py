"""HRFormer heatmap models against MMPose 1.3.2 (``HRFormer`` + the 1x1-conv ``HeatmapHead``):
same random weights, same heatmaps (``1e-4 * max(1, max|ref|)``), same parameter count.

Fast: narrow one-module-per-stage variants on crops whose branch maps all need window padding
(24x16 -> 28x21 with window 7, 12x8, 6x4 and 3x2; a second case with windows 5 / 3, the
relative-position bias off and nearest upsampling). Full size: test_presets_parity.py.
The configs ask for SyncBN, which MMPose's ``init_model`` turns into ``_BatchNormXd``; the
reference harness only randomises the running statistics of ``BatchNorm2d`` modules, so the
tests build the reference with plain BN (identical at inference).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from kpose.models.build import build_heatmap_model
from kpose.recipe import HeadConfig, ModelConfig
from tests.parity.mmpose_ref import BODY, assert_heatmap_parity, reference_heatmap_model

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

CONFIG = f"{BODY}coco/td-hm_hrformer-small_8xb32-210e_coco-256x192.py"
PLAIN_BN = {"norm_cfg": {"type": "BN"}}


def _mmpose_backbone(args: dict) -> dict:
    """MMPose's ``HRFormer`` overrides (``extra``) for the kpose ``hrformer`` arguments."""
    mode = args.get("upsample_mode", "bilinear")
    extra = {
        "drop_path_rate": 0.1,
        "with_rpe": args.get("with_rpe", True),
        # nn.Upsample refuses align_corners for "nearest"
        "upsample": {"mode": mode, "align_corners": False if mode == "bilinear" else None},
        "stage1": {
            "num_modules": 1,
            "num_branches": 1,
            "block": "BOTTLENECK",
            "num_blocks": (args["stage1_blocks"],),
            "num_channels": (args["stage1_channels"],),
        },
    }
    for stage in range(3):
        n = stage + 2
        extra[f"stage{n}"] = {
            "num_modules": args["num_modules"][stage],
            "num_branches": n,
            "block": "HRFORMERBLOCK",
            "num_blocks": (args["num_blocks"][stage],) * n,
            "num_channels": tuple(args["num_channels"][:n]),
            "num_heads": tuple(args["num_heads"][:n]),
            "mlp_ratios": tuple(args["mlp_ratios"][:n]),
            "window_sizes": tuple(args["window_sizes"][:n]),
        }
    return {**PLAIN_BN, "extra": extra}


NARROW = {
    "num_channels": (8, 16, 32, 64),
    "num_heads": (1, 2, 2, 4),
    "num_modules": (1, 1, 1),
    "num_blocks": (1, 1, 1),
    "window_sizes": (7, 7, 7, 7),
    "mlp_ratios": (2, 2, 2, 2),
    "stage1_blocks": 1,
    "stage1_channels": 16,
}
CASES = {
    "narrow": (NARROW, (64, 96)),
    "windows-5-3-no-rpe-nearest": (
        {
            **NARROW,
            "num_blocks": (2, 1, 1),
            "window_sizes": (5, 5, 3, 3),
            "with_rpe": False,
            "upsample_mode": "nearest",
        },
        (96, 128),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_narrow_hrformer_matches_mmpose(case):
    start = time.perf_counter()
    args, input_size = CASES[case]
    width, height = input_size
    images = np.random.default_rng(0).uniform(0, 255, (2, height, width, 3)).astype(np.float32)
    state_dict, expected = reference_heatmap_model(
        CONFIG, images, backbone=_mmpose_backbone(args), head={"in_channels": 8}
    )
    head = HeadConfig((), (), final_kernel_size=1)
    model = build_heatmap_model(ModelConfig("hrformer", args, head=head), input_size, 17)
    assert_heatmap_parity(model, state_dict, expected, images, f"hrformer {case} {input_size}")
    print(f"{case}: {time.perf_counter() - start:.1f} s")
