"""PoseTrack18 converter: video and frame ids, detections at the score threshold, and the
per-video ground truth copied next to the shards."""

from __future__ import annotations

import json

import tensorflow as tf

from kpose.data.formats.posetrack18 import convert_posetrack18
from kpose.data.records import from_example, read_meta, split_files


def _records(root, split="val"):
    k = read_meta(root)["num_keypoints"]
    out = {}
    for rec in tf.data.TFRecordDataset(split_files(str(root), split)):
        r = from_example(rec.numpy(), k)
        out[r.image_id] = r
    return out


def test_posetrack18_video_ids_detections_and_per_video_gt(samples, tmp_path):
    root = samples / "posetrack18"
    ann = root / "annotations" / "test_posetrack18_val.json"
    dets = root / "annotations" / "test_posetrack18_human_detections.json"
    data = json.loads(ann.read_text())
    entry = convert_posetrack18(
        ann,
        root,
        tmp_path,
        split="val",
        detections=dets,
        det_score_thr=0.4,
        shards=1,
        progress=False,
    )
    assert entry["per_video_gt"]["videos"] == 3
    assert sorted(p.name for p in (tmp_path / "posetrack18-gt-val").iterdir()) == sorted(
        p.name for p in (root / "annotations" / "val").iterdir()
    )
    records = _records(tmp_path)
    for img in data["images"]:
        rec = records[img["id"]]
        assert (rec.video_id, rec.frame_id) == (img["vid_id"], img["frame_id"])
    kept = [
        d
        for d in json.loads(dets.read_text())
        if d.get("category_id", 1) == 1 and d["score"] >= 0.4
    ]
    assert sum(len(r.det_score) for r in records.values()) == len(kept)
    assert entry["report"]["detections_kept"] == len(kept)
    assert min(min(r.det_score, default=1) for r in records.values()) >= 0.4
