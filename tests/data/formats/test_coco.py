"""COCO-format converter round trip on the real sample files: every kept instance reads back
equal, detections are stored with val, and bad inputs are counted, not kept."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from kpose.data.formats.coco import convert_coco
from kpose.data.metainfo import get_dataset_info
from kpose.data.records import from_example, read_meta, split_files
from kpose.errors import DataError
from kpose.evaluation.evaluator import coco_ground_truth


def _read_all(root, split, k):
    return [
        from_example(s.numpy(), k)
        for f in split_files(root, split)
        for s in tf.data.TFRecordDataset(f)
    ]


@pytest.mark.parametrize(
    "dataset, folder, ann, k",
    [
        ("coco", "coco", "test_coco.json", 17),
        ("crowdpose", "crowdpose", "test_crowdpose.json", 14),
        ("aic", "aic", "test_aic.json", 14),
        ("humanart", "humanart", "test_humanart.json", 17),  # nested HumanArt/images/ names
        ("ap10k", "ap10k", "test_ap10k.json", 17),
        ("animalpose", "animalpose", "test_animalpose.json", 20),
        ("ak", "ak", "test_animalkingdom.json", 23),  # nested <video>/ names, extra fields
        ("locust", "locust", "test_locust.json", 35),
        ("zebra", "zebra", "test_zebra.json", 9),
    ],
)
def test_round_trip(samples, tmp_path, dataset, folder, ann, k):
    src = samples / folder / ann
    entry = convert_coco(
        src, samples / folder, tmp_path, split="val", dataset=dataset, shards=2, progress=False
    )
    data = json.loads(src.read_text())
    records = {r.image_id: r for r in _read_all(tmp_path, "val", k)}
    assert len(records) == len(data["images"]) == entry["images"]
    for img in data["images"]:
        rec = records[img["id"]]
        assert (rec.width, rec.height, rec.file_name) == (
            img["width"],
            img["height"],
            img["file_name"],
        )
        name = img["file_name"].removeprefix("HumanArt/images/")
        assert rec.encoded == (samples / folder / name).read_bytes()
        assert rec.crowd_index == pytest.approx(img.get("crowdIndex", 0.0))
        anns = sorted(
            (a for a in data["annotations"] if a["image_id"] == img["id"]), key=lambda a: a["id"]
        )
        order = np.argsort(rec.instance_ids)
        assert rec.instance_ids[order].tolist() == [a["id"] for a in anns]
        for j, a in zip(order, anns, strict=True):
            np.testing.assert_allclose(rec.keypoints[j].reshape(-1), a["keypoints"], rtol=1e-6)
            np.testing.assert_allclose(rec.bbox_xywh[j], a["bbox"], rtol=1e-6)
            assert rec.iscrowd[j] == a.get("iscrowd", 0)
            assert rec.instance_num_keypoints[j] == a["num_keypoints"]
            assert rec.area[j] == pytest.approx(a.get("area", -1.0), rel=1e-6)
    rep = entry["report"]
    assert (
        rep["instances_read"]
        == len(data["annotations"])
        == rep["instances_kept"] + sum(rep["skipped_instances"].values())
    )
    meta = read_meta(tmp_path)
    # MMPose's dataset_name ("Animal Kingdom" for ak)
    assert meta["dataset"] == get_dataset_info(dataset).name and meta["num_keypoints"] == k
    assert sum(s["records"] for s in meta["splits"]["val"]["shards"]) == len(data["images"])
    # the ground truth the metric sees is the file's, field for field
    gt = coco_ground_truth(str(tmp_path), "val", k, ("x",) * k)
    by_id = {a["id"]: a for a in gt["annotations"]}
    for a in data["annotations"]:
        for key in ("bbox", "keypoints", "area", "iscrowd", "num_keypoints", "image_id"):
            if key in a:
                np.testing.assert_allclose(by_id[a["id"]][key], a[key], rtol=1e-6)
            elif key == "iscrowd":  # COCOeval reads a missing flag as 0
                assert by_id[a["id"]].get(key, 0) == 0
            else:
                assert key not in by_id[a["id"]]


def test_detections_stored_with_val(samples, tmp_path):
    dets = json.loads((samples / "coco/test_coco_det_AP_H_56.json").read_text())
    entry = convert_coco(
        samples / "coco/test_coco.json",
        samples / "coco",
        tmp_path,
        split="val",
        detections=samples / "coco/test_coco_det_AP_H_56.json",
        shards=1,
        progress=False,
    )
    records = _read_all(tmp_path, "val", 17)
    assert sum(len(r.det_score) for r in records) == len(dets) == entry["report"]["detections_kept"]
    rec = next(r for r in records if r.image_id == dets[0]["image_id"])
    first = [i for i, d in enumerate(dets) if d["image_id"] == rec.image_id]
    np.testing.assert_allclose(rec.det_bbox_xywh[0], dets[first[0]]["bbox"], rtol=1e-6)
    assert rec.det_score[0] == pytest.approx(dets[first[0]]["score"])


def test_bad_inputs_are_reported_not_kept(samples, tmp_path):
    images = tmp_path / "images"
    shutil.copytree(samples / "coco", images)
    data = json.loads((samples / "coco/test_coco.json").read_text())
    (images / data["images"][0]["file_name"]).write_bytes(b"\xff\xd8\xffnot a jpeg")
    data["images"].append({"id": 1, "file_name": "missing.jpg", "width": 10, "height": 10})
    anns = data["annotations"]
    anns[1]["bbox"][2] = 0.0
    anns[2]["keypoints"] = anns[2]["keypoints"][:-3]
    anns[3]["bbox"][0] = float("nan")
    anns.append(dict(anns[4], id=999, image_id=424242))
    ann_path = tmp_path / "bad.json"
    ann_path.write_text(json.dumps(data))
    entry = convert_coco(ann_path, images, tmp_path / "out", shards=1, progress=False)
    rep = entry["report"]
    assert rep["skipped_images"] == {"image file corrupt": 1, "image file missing": 1}
    skipped = rep["skipped_instances"]
    assert skipped["zero-area bbox"] == 1
    assert skipped["keypoint count is not 17"] == 1
    assert skipped["NaN or infinite value"] == 1
    assert skipped["image_id not in images"] == 1
    on_corrupt = sum(a["image_id"] == data["images"][0]["id"] for a in data["annotations"])
    assert skipped["on skipped image (image file corrupt)"] == on_corrupt
    assert rep["instances_read"] == rep["instances_kept"] + sum(skipped.values())
    assert rep["images_read"] == rep["images_kept"] + 2
    with pytest.raises(DataError, match="--strict"):
        convert_coco(ann_path, images, tmp_path / "out2", shards=1, progress=False, strict=True)


@pytest.mark.parametrize(
    "dataset, ann",
    [
        ("ap10k", "test_ap10k.json"),
        ("animalpose", "test_animalpose.json"),
        ("ak", "test_animalkingdom.json"),
        ("locust", "test_locust.json"),
        ("zebra", "test_zebra.json"),
    ],
)
def test_animal_instances_as_mmpose_reads_them(samples, tmp_path, dataset, ann):
    """The animal datasets through ``python -m kpose.convert coco --dataset <name>``: every
    instance is kept with its category; the boxes the readers hand on are MMPose's (the file's
    box clipped to the image; Locust and Zebra: the whole 160x160 image, the file's box unused);
    Animal Kingdom's extra fields (center, scale, animal_*) are not needed to read it."""
    from kpose.convert import main
    from kpose.data.records import instance_bbox_xyxy

    src = samples / dataset / ann
    out = tmp_path / dataset
    args = ["coco", "--dataset", dataset, "--annotations", str(src), "--images"]
    assert main([*args, str(samples / dataset), "--out", str(out), "--split", "val"]) == 0
    info = get_dataset_info(dataset)
    data = json.loads(src.read_text())
    anns = {a["id"]: a for a in data["annotations"]}
    images = {img["id"]: img for img in data["images"]}
    records = _read_all(out, "val", info.num_keypoints)
    assert sum(len(r.instance_ids) for r in records) == len(anns)
    for rec in records:
        ex = {
            "instance/bbox": rec.bbox_xywh,
            "image/width": rec.width,
            "image/height": rec.height,
        }
        boxes = instance_bbox_xyxy(ex, info)
        for j, ann_id in enumerate(rec.instance_ids):
            a, img = anns[int(ann_id)], images[rec.image_id]
            assert rec.category_id[j] == a["category_id"]
            if dataset in ("locust", "zebra"):
                expected = [0.0, 0.0, 160.0, 160.0]
            else:
                x, y, w, h = a["bbox"]
                xmax, ymax = img["width"] - 1, img["height"] - 1
                expected = np.clip([x, y, x + w, y + h], 0, [xmax, ymax, xmax, ymax])
            np.testing.assert_allclose(boxes[j], expected, rtol=1e-6, atol=1e-4)
