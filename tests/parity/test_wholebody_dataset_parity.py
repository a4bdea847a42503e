"""The whole-body readers against MMPose's dataset classes: ``CocoWholeBodyDataset`` and
``UBody2dDataset`` (``kpose.convert coco_wholebody``) and ``HalpeDataset`` (``kpose.convert
coco --dataset halpe``) in top-down test mode, on the sample files, in one reference run.
Boxes, keypoints, visibility, areas and the training filter must agree.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from kpose.data.formats.coco import convert_coco
from kpose.data.formats.coco_wholebody import convert_coco_wholebody
from kpose.data.metainfo import get_dataset_info
from tests.parity.instances import loaded_instances

pytestmark = pytest.mark.parity

_REFERENCE = """
import mmpose.datasets as D

out = {}
for spec in json.loads(str(inputs["specs"])):
    cls = getattr(D, spec["cls"])
    ds = cls(ann_file=spec["ann_file"], data_root="", data_prefix=dict(img=spec["images"]),
             data_mode="topdown", test_mode=True, pipeline=[],
             sample_interval=spec["sample_interval"])
    rows = []
    for i in range(len(ds)):
        d = ds.get_data_info(i)
        rows.append(dict(img_id=int(d["img_id"]), bbox=np.asarray(d["bbox"]).reshape(-1).tolist(),
                         keypoints=np.asarray(d["keypoints"]).reshape(-1, 2).tolist(),
                         visible=np.asarray(d["keypoints_visible"]).reshape(-1).tolist(),
                         area=float(np.asarray(d["area"]).reshape(-1)[0]),
                         num_keypoints=int(d["num_keypoints"])))
    out[spec["name"]] = rows
outputs["rows"] = out
"""

WHOLEBODY = "coco/test_coco_wholebody.json"
# name -> (MMPose class, sample file, kpose dataset, sample_interval)
CASES = {
    "coco_wholebody": ("CocoWholeBodyDataset", WHOLEBODY, "coco_wholebody", 1),
    "ubody2d": ("UBody2dDataset", WHOLEBODY, "ubody2d", 1),
    "ubody2d-interval5": ("UBody2dDataset", WHOLEBODY, "ubody2d", 5),
    "halpe": ("HalpeDataset", "halpe/test_halpe.json", "halpe", 1),
}


@pytest.fixture(scope="module")
def reference(mmpose_ref, samples):
    # Halpe's sample has no images of its own: they are the COCO sample's.
    specs = [
        {
            "name": name,
            "cls": cls,
            "ann_file": str(samples / ann),
            "images": str(samples / "coco"),
            "sample_interval": interval,
        }
        for name, (cls, ann, _, interval) in CASES.items()
    ]
    return mmpose_ref(_REFERENCE, specs=np.array(json.dumps(specs)))["rows"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_wholebody_instances_equal_mmpose(name, samples, reference, tmp_path):
    _, ann, dataset, interval = CASES[name]
    if dataset == "halpe":
        convert_coco(
            samples / ann, samples / "coco", tmp_path, split="val", dataset=dataset, shards=1,
            progress=False,
        )  # fmt: skip
    else:
        convert_coco_wholebody(
            samples / ann, samples / "coco", tmp_path, split="val", dataset=dataset,
            sample_interval=interval, shards=1, progress=False,
        )  # fmt: skip
    ref = sorted(reference[name], key=lambda r: (r["img_id"], r["bbox"]))
    ours = sorted(loaded_instances(tmp_path, dataset), key=lambda r: (r["img_id"], r["bbox"]))
    assert len(ours) == len(ref) > 0
    for a, b in zip(ours, ref, strict=True):
        assert a["img_id"] == b["img_id"]
        assert len(a["keypoints"]) == get_dataset_info(dataset).num_keypoints
        np.testing.assert_allclose(a["bbox"], b["bbox"], rtol=1e-6, atol=1e-4)
        np.testing.assert_allclose(a["keypoints"], b["keypoints"], rtol=1e-6, atol=1e-5)
        np.testing.assert_array_equal(a["visible"], b["visible"])
        assert a["area"] == pytest.approx(b["area"], rel=1e-6)
        assert a["num_keypoints"] == b["num_keypoints"]
