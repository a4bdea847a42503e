"""What the converters + readers hand to training and metrics, against MMPose's dataset classes.

For every sample dataset the MMPose side loads the annotation file with its dataset class in
top-down test mode; the kpose side converts the same file and applies the readers' box and
validity rules to the records. Boxes, keypoints, visibility, areas and head sizes must agree.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from kpose.data.formats.coco import convert_coco
from kpose.data.formats.mpii import convert_jhmdb, convert_mpii
from tests.parity.instances import loaded_instances

pytestmark = pytest.mark.parity

_REFERENCE = """
import mmpose.datasets as D

spec = json.loads(str(inputs["spec"]))
cls = getattr(D, spec["cls"])
kwargs = dict(ann_file=spec["ann_file"], data_root="", data_prefix=dict(img=spec["images"]),
              data_mode="topdown", test_mode=True, pipeline=[])
if spec.get("headbox_file"):
    kwargs["headbox_file"] = spec["headbox_file"]
ds = cls(**kwargs)
rows = []
for i in range(len(ds)):
    d = ds.get_data_info(i)
    rows.append(dict(img_id=int(d["img_id"]), bbox=np.asarray(d["bbox"]).reshape(-1).tolist(),
                     keypoints=np.asarray(d["keypoints"]).reshape(-1, 2).tolist(),
                     visible=np.asarray(d["keypoints_visible"]).reshape(-1).tolist(),
                     area=float(np.asarray(d.get("area", -1)).reshape(-1)[0]),
                     head_size=float(np.asarray(d.get("head_size", -1)).reshape(-1)[0])))
outputs["rows"] = rows
"""

CASES = {
    "coco": ("CocoDataset", "coco/test_coco.json", "coco"),
    "crowdpose": ("CrowdPoseDataset", "crowdpose/test_crowdpose.json", "crowdpose"),
    "aic": ("AicDataset", "aic/test_aic.json", "aic"),
    "humanart": ("HumanArtDataset", "humanart/test_humanart.json", "humanart"),
    "exlpose": ("ExlposeDataset", "exlpose/test_exlpose.json", "exlpose"),  # PNG, no areas
    "mpii": ("MpiiDataset", "mpii/test_mpii.json", "mpii"),
    "jhmdb": ("JhmdbDataset", "jhmdb/test_jhmdb_sub1.json", "jhmdb"),
    "posetrack18": (
        "PoseTrack18Dataset",
        "posetrack18/annotations/test_posetrack18_val.json",
        "posetrack18",
    ),
    "ap10k": ("AP10KDataset", "ap10k/test_ap10k.json", "ap10k"),
    "animalpose": ("AnimalPoseDataset", "animalpose/test_animalpose.json", "animalpose"),
    "ak": ("AnimalKingdomDataset", "ak/test_animalkingdom.json", "ak"),  # nested file names
    "locust": ("LocustDataset", "locust/test_locust.json", "locust"),  # whole-image boxes
    "zebra": ("ZebraDataset", "zebra/test_zebra.json", "zebra"),
}


@pytest.mark.parametrize("dataset", sorted(CASES))
def test_loaded_instances_equal_mmpose(dataset, samples, tmp_path, mmpose_ref):
    cls, ann, folder = CASES[dataset]
    ann_file = samples / ann
    images = samples / folder
    spec = {"cls": cls, "ann_file": str(ann_file), "images": str(images)}
    out = tmp_path / dataset
    if dataset == "mpii":
        from scipy.io import savemat

        n = len(json.loads(ann_file.read_text()))
        corners = np.random.default_rng(0).uniform(0, 500, (n, 2, 2))
        savemat(tmp_path / "gt.mat", {"headboxes_src": np.transpose(corners, (1, 2, 0))})
        spec["headbox_file"] = str(tmp_path / "gt.mat")
        convert_mpii(
            ann_file,
            images,
            out,
            split="val",
            headboxes=tmp_path / "gt.mat",
            shards=1,
            progress=False,
        )
    elif dataset == "jhmdb":
        convert_jhmdb(ann_file, images, out, split="val", shards=1, progress=False)
    else:  # Human-Art's names carry "HumanArt/images/"; the reader finds them under --images
        convert_coco(ann_file, images, out, split="val", dataset=dataset, shards=1, progress=False)
    ref = sorted(
        mmpose_ref(_REFERENCE, spec=json.dumps(spec))["rows"],
        key=lambda r: (r["img_id"], r["bbox"]),
    )
    ours = sorted(loaded_instances(out, dataset), key=lambda r: (r["img_id"], r["bbox"]))
    assert len(ours) == len(ref) > 0
    for a, b in zip(ours, ref, strict=True):
        assert a["img_id"] == b["img_id"]
        np.testing.assert_allclose(a["bbox"], b["bbox"], rtol=1e-6, atol=1e-4)
        np.testing.assert_allclose(a["keypoints"], b["keypoints"], rtol=1e-6, atol=1e-5)
        np.testing.assert_array_equal(a["visible"], b["visible"])
        if b["area"] >= 0 and a["area"] >= 0:
            assert a["area"] == pytest.approx(b["area"], rel=1e-5)
        if dataset == "mpii":
            assert a["head_size"] == pytest.approx(b["head_size"], rel=1e-6)
