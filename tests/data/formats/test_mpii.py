"""MPII and JHMDB converters: round trips on the samples, MMPose's conventions."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from scipy.io import savemat

from kpose.data import pipeline
from kpose.data.formats.mpii import convert_jhmdb, convert_mpii
from kpose.data.metainfo import get_dataset_info
from kpose.data.records import from_example, read_meta, split_files
from kpose.errors import DataError


def _records(root, split="val"):
    import tensorflow as tf

    k = read_meta(root)["num_keypoints"]
    out = {}
    for rec in tf.data.TFRecordDataset(split_files(str(root), split)):
        r = from_example(rec.numpy(), k)
        out[r.image_id] = r
    return out


def headbox_mat(path, n, seed=0):
    rng = np.random.default_rng(seed)
    corners = rng.uniform(0, 500, (n, 2, 2))
    savemat(path, {"headboxes_src": np.transpose(corners, (1, 2, 0))})
    return corners


def test_mpii_round_trip_and_head_sizes(samples, tmp_path):
    ann = samples / "mpii" / "test_mpii.json"
    entries = json.loads(ann.read_text())
    corners = headbox_mat(tmp_path / "gt.mat", len(entries))
    entry = convert_mpii(
        ann,
        samples / "mpii",
        tmp_path / "out",
        split="val",
        headboxes=tmp_path / "gt.mat",
        shards=2,
        progress=False,
    )
    assert entry["report"]["instances_kept"] == len(entries) == entry["instances"]
    records = _records(tmp_path / "out")
    assert read_meta(tmp_path / "out")["dataset"] == "mpii"
    for index, e in enumerate(entries):
        rec = records[int(e["image"].split(".")[0])]
        j = list(rec.instance_ids).index(index)
        np.testing.assert_allclose(rec.keypoints[j, :, :2], e["joints"], rtol=1e-6)
        np.testing.assert_array_equal(rec.keypoints[j, :, 2], e["joints_vis"])
        # the square scale * 200 box, centre moved down 15 px per 200 and to 0-based
        s = e["scale"] * 200
        cx, cy = e["center"][0] - 1, e["center"][1] + 15 / 200 * s - 1
        np.testing.assert_allclose(rec.bbox_xywh[j], [cx - s / 2, cy - s / 2, s, s], rtol=1e-5)
        assert rec.area[j] == pytest.approx(s * s * 0.53, rel=1e-5)
        head = np.linalg.norm(corners[index][1] - corners[index][0]) * 0.6
        assert rec.head_size[j] == pytest.approx(head, rel=1e-6)
        assert (rec.width, rec.height) == tuple(
            cv2.imread(str(samples / "mpii" / e["image"])).shape[1::-1]
        )


def test_mpii_boxes_are_not_clipped(samples, tmp_path):
    ann = samples / "mpii" / "test_mpii.json"
    convert_mpii(ann, samples / "mpii", tmp_path, split="val", shards=1, progress=False)
    info = get_dataset_info("mpii")
    boxes = np.stack(
        [b["bbox"].numpy() for b in pipeline.val_instances(str(tmp_path), "val", info)]
    )
    records = _records(tmp_path)
    raw = np.concatenate([r.bbox_xywh for r in records.values()])
    assert len(boxes) == len(raw)
    np.testing.assert_allclose(np.sort(boxes[:, 2] - boxes[:, 0]), np.sort(raw[:, 2]), rtol=1e-6)


def test_mpii_headbox_count_must_match(samples, tmp_path):
    headbox_mat(tmp_path / "gt.mat", 2)
    with pytest.raises(DataError, match="2 head boxes for 5 annotations"):
        convert_mpii(
            samples / "mpii" / "test_mpii.json",
            samples / "mpii",
            tmp_path / "o",
            headboxes=tmp_path / "gt.mat",
            progress=False,
        )


def test_jhmdb_shifts_to_zero_based(samples, tmp_path):
    ann = samples / "jhmdb" / "test_jhmdb_sub1.json"
    data = json.loads(ann.read_text())
    entry = convert_jhmdb(ann, samples / "jhmdb", tmp_path, split="val", shards=1, progress=False)
    assert entry["instances"] == len(data["annotations"])
    records = _records(tmp_path)
    sizes = {im["id"]: (im["width"], im["height"]) for im in data["images"]}
    for a in data["annotations"]:
        rec = records[a["image_id"]]
        j = list(rec.instance_ids).index(a["id"])
        kpts = np.array(a["keypoints"], np.float32).reshape(-1, 3)
        np.testing.assert_allclose(rec.keypoints[j, :, :2], kpts[:, :2] - 1, rtol=1e-6)
        np.testing.assert_array_equal(rec.keypoints[j, :, 2], kpts[:, 2])
        x, y, w, h = a["bbox"]
        np.testing.assert_allclose(rec.bbox_xywh[j], [x - 1, y - 1, w, h], rtol=1e-6)
        iw, ih = sizes[a["image_id"]]
        x1, y1 = np.clip([x - 1, y - 1], 0, [iw - 1, ih - 1])
        x2, y2 = np.clip([x - 1 + w, y - 1 + h], 0, [iw - 1, ih - 1])
        assert rec.area[j] == pytest.approx(max((x2 - x1) * (y2 - y1) * 0.53, 1), rel=1e-5)
