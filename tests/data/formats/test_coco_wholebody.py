"""The COCO-WholeBody converter: 133 keypoints in MMPose's part order, MMPose's visibility,
skips reported by reason, UBody2d's sample interval, the CLI (and Halpe through ``coco``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from kpose.convert import main
from kpose.data.formats.coco_wholebody import (
    NUM_KEYPOINTS,
    PART_FIELDS,
    convert_coco_wholebody,
)
from kpose.data.records import from_example, read_meta, split_files
from kpose.errors import DataError

SAMPLE = "coco/test_coco_wholebody.json"


def _records(root, split="val"):
    return [
        from_example(s.numpy(), NUM_KEYPOINTS)
        for path in split_files(str(root), split)
        for s in tf.data.TFRecordDataset(path)
    ]


def test_parts_concatenated_in_mmpose_order(samples, tmp_path):
    entry = convert_coco_wholebody(
        samples / SAMPLE, samples / "coco", tmp_path, split="val", shards=1, progress=False
    )
    assert (entry["images"], entry["instances"]) == (4, 14)
    assert entry["topdown_instances"] == 12  # two annotations have no body keypoint
    anns = {a["id"]: a for a in json.loads((samples / SAMPLE).read_text())["annotations"]}
    seen = 0
    for rec in _records(tmp_path):
        for j, ann_id in enumerate(rec.instance_ids):
            ann = anns[int(ann_id)]
            start = 0
            for field, count in PART_FIELDS:
                part = np.asarray(ann[field], np.float64).reshape(count, 3)
                stored = rec.keypoints[j, start : start + count]
                np.testing.assert_allclose(stored[:, :2], part[:, :2], rtol=1e-7)
                # MMPose: visible iff v > 0; fractional v (right hands) is stored as 1
                np.testing.assert_array_equal(stored[:, 2] > 0, part[:, 2] > 0)
                np.testing.assert_array_equal(np.minimum(1, stored[:, 2]), part[:, 2] > 0)
                start += count
            assert rec.instance_num_keypoints[j] == ann["num_keypoints"]  # the body count
            assert rec.area[j] == pytest.approx(ann["area"], rel=1e-6)
            seen += 1
    assert seen == 14
    meta = read_meta(tmp_path)
    assert (meta["dataset"], meta["num_keypoints"]) == ("coco_wholebody", 133)
    assert meta["splits"]["val"]["sources"]["annotations"]["path"] == str(samples / SAMPLE)


def test_missing_parts_and_sample_interval_are_reported(samples, tmp_path):
    data = json.loads((samples / SAMPLE).read_text())
    del data["annotations"][0]["face_kpts"]
    data["annotations"][1]["foot_kpts"] = data["annotations"][1]["foot_kpts"][:-3]
    ann = tmp_path / "wb.json"
    ann.write_text(json.dumps(data))
    entry = convert_coco_wholebody(ann, samples / "coco", tmp_path / "a", shards=1, progress=False)
    report = entry["report"]
    assert report["instances_read"] == 14 and report["instances_kept"] == 12
    assert report["skipped_instances"] == {
        "no face_kpts field (not a COCO-WholeBody annotation)": 1,
        "keypoint count is not 133": 1,
    }
    with pytest.raises(DataError, match="--strict"):
        convert_coco_wholebody(
            ann, samples / "coco", tmp_path / "b", shards=1, strict=True, progress=False
        )
    # UBody2d's sample_interval: of the image ids 785, 40083, 196141, 197388 only 785 % 5 == 0
    entry = convert_coco_wholebody(
        samples / SAMPLE,
        samples / "coco",
        tmp_path / "c",
        dataset="ubody2d",
        sample_interval=5,
        shards=1,
        progress=False,
    )
    assert (entry["images"], entry["instances"]) == (1, 1)  # image 785
    assert entry["sample_interval"] == {"interval": 5, "images": 3, "instances": 13}
    assert entry["report"]["skipped_images"] == {}
    assert read_meta(tmp_path / "c")["dataset"] == "ubody2d"
    with pytest.raises(DataError, match="--dataset"):
        convert_coco_wholebody(samples / SAMPLE, samples / "coco", tmp_path / "d", dataset="coco")
    with pytest.raises(DataError, match="--sample-interval"):
        convert_coco_wholebody(
            samples / SAMPLE, samples / "coco", tmp_path / "d", sample_interval=0
        )


def test_cli_wholebody_and_halpe(samples, tmp_path, capsys):
    common = ["--images", str(samples / "coco"), "--shards", "1", "--split", "val"]
    code = main(
        ["coco_wholebody", "--annotations", str(samples / SAMPLE), "--out", str(tmp_path / "w")]
        + common
    )
    assert code == 0
    assert "val: 4 images, 14 instances in 1 shards" in capsys.readouterr().out
    # Halpe (136 keypoints) is COCO-format; its sample's images are the COCO sample's.
    halpe = str(samples / "halpe/test_halpe.json")
    code = main(
        ["coco", "--dataset", "halpe", "--annotations", halpe, "--out", str(tmp_path / "h")]
        + common
    )
    assert code == 0
    assert "val: 4 images, 14 instances in 1 shards" in capsys.readouterr().out
    assert read_meta(tmp_path / "h")["num_keypoints"] == 136
    code = main(["coco_wholebody", "--annotations", halpe, "--out", str(tmp_path / "x")] + common)
    assert code == 2
    assert "no annotation has all of the COCO-WholeBody fields" in capsys.readouterr().err
