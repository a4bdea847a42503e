"""Val crops and warps against MMPose 1.3.2's ``TopdownAffine`` (pixels and keypoints).

The kpose side runs the real val input pipeline on the converted COCO samples; the MMPose
side runs ``LoadImage -> GetBBoxCenterScale -> TopdownAffine`` on the same files and boxes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from kpose.data import pipeline
from kpose.data.formats.coco import convert_coco
from kpose.data.metainfo import get_dataset_info
from kpose.geometry import affine, reference
from kpose.recipe import DataConfig

pytestmark = pytest.mark.parity

INPUT = (192, 256)

_REFERENCE = """
from mmpose.datasets.transforms import GetBBoxCenterScale, LoadImage, TopdownAffine

spec = json.loads(str(inputs["spec"]))
load, center_scale = LoadImage(), GetBBoxCenterScale(padding=1.25)
crops, keypoints, centers, scales = [], [], [], []
for path, box, kps in zip(spec["paths"], inputs["boxes"], inputs["keypoints"]):
    results = load({"img_path": path})
    results.update(bbox=box[None].astype(np.float32), keypoints=kps[None].astype(np.float32),
                   keypoints_visible=np.ones((1, kps.shape[0]), np.float32))
    results = center_scale(results)
    results = TopdownAffine(input_size=tuple(spec["input_size"]))(results)
    crops.append(results["img"])
    keypoints.append(results["transformed_keypoints"][0])
    centers.append(results["bbox_center"][0])
    scales.append(results["bbox_scale"][0])
outputs.update(crops=np.stack(crops), keypoints=np.stack(keypoints),
               centers=np.stack(centers), scales=np.stack(scales))

rot_crops, rot_kps = [], []
for path, c, s, r, kps in zip(spec["paths"], inputs["centers"], inputs["scales"],
                              inputs["rotations"], inputs["keypoints"]):
    results = load({"img_path": path})
    results.update(bbox_center=c[None].astype(np.float32), bbox_scale=s[None].astype(np.float32),
                   bbox_rotation=np.array([r], np.float32),
                   keypoints=kps[None].astype(np.float32),
                   keypoints_visible=np.ones((1, kps.shape[0]), np.float32))
    for use_udp in (False, True):
        out = TopdownAffine(input_size=tuple(spec["input_size"]), use_udp=use_udp)(dict(results))
        rot_crops.append(out["img"])
        rot_kps.append(out["transformed_keypoints"][0])
outputs.update(rot_crops=np.stack(rot_crops), rot_keypoints=np.stack(rot_kps))
"""


def test_val_crops_equal_topdown_affine(samples, tmp_path, mmpose_ref):
    ann = samples / "coco" / "test_coco.json"
    convert_coco(ann, samples / "coco", tmp_path, split="val", shards=1, progress=False)
    info = get_dataset_info("coco")
    boxes = np.stack(
        [inst["bbox"].numpy() for inst in pipeline.val_instances(str(tmp_path), "val", info)]
    )
    batches = list(pipeline.val_dataset(str(tmp_path), "val", DataConfig(), info, INPUT, 64))
    ours = {k: np.concatenate([b[k].numpy() for b in batches]) for k in batches[0]}
    files = {im["id"]: im["file_name"] for im in json.loads(ann.read_text())["images"]}
    paths = [str(samples / "coco" / files[int(i)]) for i in ours["image_id"]]
    n = len(paths)
    assert n >= 5
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(0, 500, (n, 17, 2)).astype(np.float32)
    rotations = rng.uniform(-80, 80, n).astype(np.float32)
    ref = mmpose_ref(
        _REFERENCE,
        spec=json.dumps({"paths": paths, "input_size": INPUT}),
        boxes=boxes,
        keypoints=keypoints,
        centers=ours["center"],
        scales=ours["scale"],
        rotations=rotations,
    )

    np.testing.assert_allclose(ours["center"], ref["centers"], rtol=1e-6)
    np.testing.assert_allclose(ours["scale"], ref["scales"], rtol=1e-6)
    # MMPose's crop is BGR; kpose hands the model RGB.
    np.testing.assert_array_equal(ours["image"], ref["crops"][..., ::-1])
    matrices = affine.get_warp_matrix(ours["center"], ours["scale"], np.zeros(n), INPUT)
    np.testing.assert_allclose(
        affine.transform_points(keypoints, matrices).numpy(), ref["keypoints"], atol=2e-3
    )

    # Rotated boxes, plain and UDP warps: exact crops from the NumPy path, keypoints from TF.
    import cv2

    for i in range(n):
        image = cv2.imread(paths[i])
        for j, use_udp in enumerate((False, True)):
            crop, _ = reference.topdown_affine(
                image, ours["center"][i], ours["scale"][i], rotations[i], INPUT, use_udp
            )
            np.testing.assert_array_equal(crop, ref["rot_crops"][2 * i + j])
            warp = affine.get_udp_warp_matrix if use_udp else affine.get_warp_matrix
            m = warp(
                ours["center"][i : i + 1], ours["scale"][i : i + 1], rotations[i : i + 1], INPUT
            )
            np.testing.assert_allclose(
                affine.transform_points(keypoints[i : i + 1], m).numpy()[0],
                ref["rot_keypoints"][2 * i + j],
                atol=5e-3,
            )
