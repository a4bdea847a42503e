"""``PoseEstimator.predict`` against MMPose 1.3.2's ``inference_topdown`` on the real COCO sample
images with their GT boxes: the same random-weight MMPose checkpoint (read by ``kpose.load``)
for an MSRA, a DARK and a UDP model. Random weights give flat heatmaps, where DARK/UDP
refinement amplifies any crop difference; kpose's crop is MMPose's OpenCV crop bit for bit.

A tiny HRNet under each codec's config (MSRA's in CI, DARK's and UDP's ``slow``); the
full-size presets are ``slow``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import kpose
from kpose.recipe import replace
from tests.parity.mmpose_ref import reference_heatmap_model, run_reference

pytestmark = [pytest.mark.parity, pytest.mark.usefixtures("mmpose_ref")]

TINY_EXTRA = {
    f"stage{s}": {"num_modules": 1, "num_branches": s - 1 or 1,
                  "block": "BOTTLENECK" if s == 1 else "BASIC",
                  "num_blocks": [1] * (s - 1 or 1),
                  "num_channels": [8] if s == 1 else [8 * 2**i for i in range(s)]}
    for s in (1, 2, 3, 4)
}  # fmt: skip
for _s in (2, 3, 4):
    TINY_EXTRA[f"stage{_s}"].update(num_branches=_s, num_blocks=[1] * _s)
TINY_KPOSE = [
    "model.backbone=hrnet",
    "model.head.deconv_out_channels=[]",
    "model.head.deconv_kernel_sizes=[]",
    "model.backbone_args={width: 8, num_modules: [1,1,1], num_blocks: [1,1,1], "
    "stage1_blocks: 1, stage1_channels: 8}",
]
# name -> (preset whose recipe and MMPose config are used, tiny?)
CASES = {
    "msra-tiny": ("hrnet-w32", True),
    "dark-tiny": ("hrnet-w48-dark", True),
    "udp-tiny": ("hrnet-w48-udp", True),
    "msra": ("hrnet-w32", False),
    "dark": ("hrnet-w48-dark", False),
    "udp": ("hrnet-w48-udp", False),
}

_INFER = """
import torch
from mmengine.config import Config
from mmpose.apis import inference_topdown, init_model
spec = json.loads(str(inputs["spec"]))
cfg = Config.fromfile(os.path.join(MMPOSE_CONFIGS, spec["config"]))
cfg.model.backbone.init_cfg = None
cfg.model.backbone.update(spec["backbone"])
cfg.model.head.update(spec["head"])
model = init_model(cfg, spec["checkpoint"], device="cpu")
keypoints, scores = [], []
for path, boxes in spec["images"]:
    for sample in inference_topdown(model, path, np.asarray(boxes, np.float32)):
        keypoints.append(sample.pred_instances.keypoints[0])
        scores.append(sample.pred_instances.keypoint_scores[0])
outputs["keypoints"] = np.stack(keypoints)
outputs["scores"] = np.stack(scores)
"""


@pytest.fixture(scope="module")
def coco_images(samples):
    data = json.loads((samples / "coco" / "test_coco.json").read_text())
    images = []
    for img in data["images"]:
        boxes = [
            [a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
            for a in data["annotations"]
            if a["image_id"] == img["id"]
        ]
        if boxes:
            images.append((str(samples / "coco" / img["file_name"]), np.asarray(boxes, np.float32)))
    return images


@pytest.mark.parametrize(
    "name",
    [
        # CI: the MSRA model; DARK / UDP decoding has its own fast parity (test_msra_parity,
        # test_udp_megvii_parity) and the predict path around it is the same.
        "msra-tiny",
        *(pytest.param(n, marks=pytest.mark.slow) for n in CASES if n != "msra-tiny"),
    ],
)
def test_predict_matches_inference_topdown(name, coco_images, tmp_path):
    preset, tiny = CASES[name]
    recipe = kpose.presets.get(preset).load_recipe()
    backbone = {"extra": TINY_EXTRA} if tiny else {}
    head = {"in_channels": 8} if tiny else {}
    if tiny:
        recipe = replace(recipe, TINY_KPOSE)
    width, height = recipe.codec.input_size
    checkpoint = tmp_path / "random.pth"
    dummy = np.zeros((1, height, width, 3), np.float32)
    reference_heatmap_model(
        recipe.mmpose_config, dummy, backbone=backbone, head=head, checkpoint=str(checkpoint)
    )
    spec = {
        "config": recipe.mmpose_config,
        "backbone": backbone,
        "head": head,
        "checkpoint": str(checkpoint),
        "images": [(path, boxes.tolist()) for path, boxes in coco_images],
    }
    ref = run_reference(_INFER, spec=np.array(json.dumps(spec)))

    estimator = kpose.load(recipe, weights=checkpoint)
    results = estimator.predict(
        [path for path, _ in coco_images], [boxes for _, boxes in coco_images]
    )
    keypoints = np.concatenate([r["keypoints"] for r in results])
    scores = np.concatenate([r["scores"] for r in results])
    assert keypoints.shape == ref["keypoints"].shape
    dist = np.linalg.norm(keypoints - ref["keypoints"], axis=-1)
    print(
        f"{name}: median {np.median(dist):.2e} px, within 0.1 px {np.mean(dist <= 0.1):.3f}, "
        f"max {dist.max():.3f}, scores max diff {np.abs(scores - ref['scores']).max():.1e} "
        f"(max score {np.abs(ref['scores']).max():.1f})"
    )
    assert np.median(dist) <= 0.01
    assert np.mean(dist <= 0.1) >= 0.95
    # Random weights give heatmap maxima in the thousands: scores agree to 1e-3 relative to
    # their scale (the model's float32 numerics), as heatmaps do to 1e-4.
    scale = max(1.0, float(np.abs(ref["scores"]).max()))
    np.testing.assert_allclose(scores, ref["scores"], rtol=0, atol=1e-3 * scale)
