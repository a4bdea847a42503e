"""The face and hand datasets' readers: every sample file converts, its counts reconcile, and the
boxes, keypoints, ids and keypoint counts read back are the ones the dataset's MMPose class
builds (300W / AFLW / WFLW: the square of ``scale`` x 200 px around ``center``; FreiHAND: the
fixed [0, 0, 224, 224]; COCO-WholeBody face / hand: one instance per valid part). A converted
face split scores NME and a hand split PCK / AUC / EPE through the evaluator's path (the val
reader + ``score``): 0 / 1 with the GT as prediction, hand-checked numbers with shifted GT."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from kpose.convert import main
from kpose.data.formats.coco import convert_coco
from kpose.data.formats.coco_wholebody import convert_coco_wholebody
from kpose.data.metainfo import get_dataset_info
from kpose.data.pipeline import val_instances
from kpose.data.records import from_example, instance_bbox_xyxy, read_meta, split_files
from kpose.errors import DataError
from kpose.evaluation.evaluator import score
from kpose.recipe import EvalConfig

WHOLEBODY = "coco/test_coco_wholebody.json"
# kpose dataset -> (converter, sample file, images folder, box rule the test checks)
CASES = {
    "300w": ("coco", "300w/test_300w.json", "300w", "center_scale"),
    "300wlp": ("coco", "300wlp/test_300wlp.json", "300wlp", "bbox"),
    "aflw": ("coco", "aflw/test_aflw.json", "aflw", "center_scale"),
    "cofw": ("coco", "cofw/test_cofw.json", "cofw", "bbox"),
    "wflw": ("coco", "wflw/test_wflw.json", "wflw", "center_scale"),
    "lapa": ("coco", "lapa/test_lapa.json", "lapa", "bbox"),
    "onehand10k": ("coco", "onehand10k/test_onehand10k.json", "onehand10k", "bbox"),
    "freihand2d": ("coco", "freihand/test_freihand.json", "freihand", "fixed"),
    "rhd2d": ("coco", "rhd/test_rhd.json", "rhd", "bbox"),
    "coco_wholebody_face": ("coco_wholebody", WHOLEBODY, "coco", "face"),
    "coco_wholebody_hand": ("coco_wholebody", WHOLEBODY, "coco", "hand"),
}


def _convert(samples, tmp_path, dataset: str, ann: str | None = None) -> dict:
    converter, sample, images, _ = CASES[dataset]
    convert = convert_coco if converter == "coco" else convert_coco_wholebody
    return convert(
        ann or samples / sample, samples / images, tmp_path, split="val", dataset=dataset,
        shards=1, progress=False,
    )  # fmt: skip


def _records(root, dataset: str):
    k = get_dataset_info(dataset).num_keypoints
    return [
        from_example(s.numpy(), k)
        for path in split_files(str(root), "val")
        for s in tf.data.TFRecordDataset(path)
    ]


def _read_back(root, dataset: str) -> dict[int, dict]:
    """id -> the instance as the readers give it: xyxy box (clipped or not, as MMPose),
    keypoints (K, 3) as stored, num_keypoints, image id."""
    info = get_dataset_info(dataset)
    out = {}
    for rec in _records(root, dataset):
        boxes = instance_bbox_xyxy(
            {"instance/bbox": rec.bbox_xywh, "image/width": rec.width, "image/height": rec.height},
            info,
        )
        for j, instance_id in enumerate(rec.instance_ids):
            out[int(instance_id)] = {
                "bbox": boxes[j],
                "keypoints": rec.keypoints[j],
                "num_keypoints": int(rec.instance_num_keypoints[j]),
                "image_id": rec.image_id,
            }
    return out


def _clipped(xywh, width, height) -> np.ndarray:
    x, y, w, h = np.asarray(xywh, np.float64)
    return np.clip([x, y, x + w, y + h], 0, [width - 1, height - 1] * 2)


def _expected(samples, dataset: str) -> dict[int, dict]:
    """id -> what the dataset's MMPose class reads, worked out from the file here."""
    _, sample, _, rule = CASES[dataset]
    data = json.loads((samples / sample).read_text())
    sizes = {img["id"]: (img["width"], img["height"]) for img in data["images"]}
    out = {}
    if rule in ("face", "hand"):
        parts = ("face",) if rule == "face" else ("lefthand", "righthand")
        for img in data["images"]:
            for ann in (a for a in data["annotations"] if a["image_id"] == img["id"]):
                for part in parts:
                    kpts = np.asarray(ann[f"{part}_kpts"], np.float64).reshape(-1, 3)
                    if not ann[f"{part}_valid"] or kpts.max() <= 0:
                        continue
                    box = ann[f"{part}_box"]
                    x, y, w, h = box
                    out[ann["id"] if rule == "face" else len(out)] = {
                        "bbox": _clipped(box, *sizes[img["id"]])
                        if rule == "face"
                        else np.array([x, y, x + w, y + h]),
                        "keypoints": kpts,
                        "num_keypoints": int(np.count_nonzero(kpts[:, :2].max(1))),
                        "image_id": ann["image_id"],
                    }
        return out
    for ann in data["annotations"]:
        kpts = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)
        if rule == "center_scale":
            (cx, cy), half = ann["center"], ann["scale"] * 100.0
            bbox = np.array([cx - half, cy - half, cx + half, cy + half])
        elif rule == "fixed":
            bbox = np.array([0.0, 0.0, 224.0, 224.0])
        else:
            bbox = _clipped(ann["bbox"], *sizes[ann["image_id"]])
        counted = int(np.count_nonzero(kpts[:, :2].max(1)))
        out[ann["id"]] = {
            "bbox": bbox,
            "keypoints": kpts,
            "num_keypoints": counted if rule == "fixed" else ann.get("num_keypoints", counted),
            "image_id": ann["image_id"],
        }
    return out


@pytest.mark.parametrize("dataset", list(CASES))
def test_sample_converts_as_mmpose_reads_it(samples, tmp_path, dataset):
    entry = _convert(samples, tmp_path, dataset)
    rep = entry["report"]
    assert rep["images_read"] == rep["images_kept"] + sum(rep["skipped_images"].values())
    assert rep["instances_read"] == rep["instances_kept"] + sum(rep["skipped_instances"].values())
    assert rep["skipped_images"] == {}
    expected, ours = _expected(samples, dataset), _read_back(tmp_path, dataset)
    assert entry["instances"] == rep["instances_kept"] == len(ours) == len(expected) > 0
    assert sorted(ours) == sorted(expected)
    for instance_id, want in expected.items():
        got = ours[instance_id]
        np.testing.assert_allclose(got["bbox"], want["bbox"], rtol=1e-6, atol=1e-4)
        np.testing.assert_allclose(got["keypoints"], want["keypoints"], rtol=1e-6, atol=1e-5)
        assert got["num_keypoints"] == want["num_keypoints"]
        assert got["image_id"] == want["image_id"]
    assert read_meta(tmp_path)["dataset"] == get_dataset_info(dataset).name


def test_hand_checked_boxes(samples, tmp_path):
    """A few boxes worked out by hand from the sample files."""
    _convert(samples, tmp_path / "300w", "300w")
    # 300W id 197: center (489.5, 503.5), scale 2.385 -> a 477 px square
    np.testing.assert_allclose(
        _read_back(tmp_path / "300w", "300w")[197]["bbox"], [251, 265, 728, 742], atol=1e-4
    )
    _convert(samples, tmp_path / "aflw", "aflw")
    # AFLW id 68: center (166, 185), scale 0.64 -> 128 px (its box_size); the file's bbox,
    # [119.4, 129.9, 86.5 x 124.5], is not what MMPose uses
    np.testing.assert_allclose(
        _read_back(tmp_path / "aflw", "aflw")[68]["bbox"], [102, 121, 230, 249], atol=1e-4
    )
    _convert(samples, tmp_path / "hand", "coco_wholebody_hand")
    hands = _read_back(tmp_path / "hand", "coco_wholebody_hand")
    # image 785's person 442619 has only a right hand: instance 0, its box unclipped
    np.testing.assert_allclose(hands[0]["bbox"], [280.43, 173.12, 308.29, 197.97], atol=1e-4)
    assert sorted(hands) == list(range(10))
    # fractional hand visibility stays as the file has it (MMPose reads min(1, v))
    visibility = np.concatenate([h["keypoints"][:, 2] for h in hands.values()])
    assert np.any((visibility > 0) & (visibility < 0.1))


def test_missing_center_scale_is_a_counted_skip_or_an_error(samples, tmp_path):
    data = json.loads((samples / "wflw/test_wflw.json").read_text())
    del data["annotations"][1]["scale"]
    data["annotations"][2]["scale"] = 0
    path = tmp_path / "wflw.json"
    path.write_text(json.dumps(data))
    entry = _convert(samples, tmp_path / "out", "wflw", ann=path)
    rep = entry["report"]
    assert rep["skipped_instances"] == {
        "no center/scale field (the box is made of them)": 1,
        "center/scale not finite or scale <= 0": 1,
    }
    assert rep["examples"]["instances: no center/scale field (the box is made of them)"] == (
        "annotation 12 (image 12)"
    )
    assert (rep["instances_read"], rep["instances_kept"], entry["instances"]) == (4, 2, 2)
    for ann in data["annotations"]:
        ann.pop("center")
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match="no annotation has a usable 'center' and 'scale'"):
        _convert(samples, tmp_path / "out2", "wflw", ann=path)


def test_wholebody_hand_counts_crowd_and_rejects_detections(samples, tmp_path):
    data = json.loads((samples / WHOLEBODY).read_text())
    crowd = next(a for a in data["annotations"] if a["id"] == 460541)  # two valid hands
    crowd["iscrowd"] = 1
    path = tmp_path / "wb.json"
    path.write_text(json.dumps(data))
    entry = _convert(samples, tmp_path / "hand", "coco_wholebody_hand", ann=path)
    rep = entry["report"]
    assert rep["instances_read"] == 2 * len(data["annotations"]) == 28
    assert rep["skipped_instances"]["crowd annotation (MMPose's coco_wholebody_hand reads "
                                    "iscrowd 0 only)"] == 2  # fmt: skip
    assert entry["instances"] == 8
    assert entry["wholebody_parts"] == {"annotations": 14, "parts_per_annotation": 2}
    hands = _read_back(tmp_path / "hand", "coco_wholebody_hand")
    assert sorted(hands) == list(range(8))  # numbered over what MMPose reads
    # the face dataset keeps crowd faces (MMPose's training filter drops them)
    face = _convert(samples, tmp_path / "face", "coco_wholebody_face", ann=path)
    assert (face["instances"], face["topdown_instances"]) == (4, 4)
    with pytest.raises(DataError, match="person detections are not face or hand boxes"):
        convert_coco_wholebody(
            samples / WHOLEBODY, samples / "coco", tmp_path / "x", dataset="coco_wholebody_hand",
            detections=samples / "coco/test_coco_det_AP_H_56.json", progress=False,
        )  # fmt: skip
    with pytest.raises(DataError, match="is this a COCO-WholeBody file"):
        convert_coco_wholebody(
            samples / "coco/test_coco.json", samples / "coco", tmp_path / "z",
            dataset="coco_wholebody_face", progress=False,
        )  # fmt: skip
    with pytest.raises(DataError, match="reads every image"):
        convert_coco_wholebody(
            samples / WHOLEBODY, samples / "coco", tmp_path / "y", dataset="coco_wholebody_hand",
            sample_interval=2, progress=False,
        )  # fmt: skip


def test_cli_converts_face_and_hand(samples, tmp_path, capsys):
    assert main([
        "coco", "--dataset", "aflw", "--annotations", str(samples / "aflw/test_aflw.json"),
        "--images", str(samples / "aflw"), "--out", str(tmp_path / "aflw"), "--split", "val",
        "--shards", "1",
    ]) == 0  # fmt: skip
    assert main([
        "coco_wholebody", "--dataset", "coco_wholebody_face", "--annotations",
        str(samples / WHOLEBODY), "--images", str(samples / "coco"), "--out",
        str(tmp_path / "face"), "--split", "val", "--shards", "1",
    ]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "val: 2 images, 2 instances" in out
    assert "skipped 10 instances: face_valid is false" in out


def _gt_columns(root, dataset: str) -> dict[str, np.ndarray]:
    """The val reader's GT instances (the evaluator's boxes and keypoints), as columns."""
    rows = list(val_instances(str(root), "val", get_dataset_info(dataset)).as_numpy_iterator())
    gt = np.stack([r["gt_keypoints"] for r in rows])
    return {
        "keypoints": gt[..., :2].copy(),
        "gt_keypoints": gt,
        "bbox": np.stack([r["bbox"] for r in rows]),
        "head_size": np.zeros(len(rows)),
    }


def _score(metric: str, columns: dict, dataset: str, **ev) -> dict[str, float]:
    info = get_dataset_info(dataset)
    return score(
        metric, columns, None, dataset=dataset, ev=EvalConfig(metric=metric, **ev),
        dataset_name=info.name,
    )  # fmt: skip


def test_face_split_scores_nme(samples, tmp_path):
    aflw = {"nme_norm_mode": "use_norm_item", "nme_norm_item": "bbox_size"}
    _convert(samples, tmp_path / "aflw", "aflw")
    columns = _gt_columns(tmp_path / "aflw", "aflw")
    assert _score("nme", columns, "aflw", **aflw) == {"NME": 0.0}
    # every keypoint 5 px off; AFLW normalises by the center/scale box's side, 362 and 128 px
    # (the file's bboxes would give 329.8 and 124.5)
    columns["keypoints"] += np.float32([3, 4])
    ours = _score("nme", columns, "aflw", **aflw)["NME"]
    assert ours == pytest.approx((5 / 362 + 5 / 128) / 2, rel=1e-6)
    _convert(samples, tmp_path / "wflw", "wflw")
    assert _score("nme", _gt_columns(tmp_path / "wflw", "wflw"), "wflw") == {"NME": 0.0}


def test_hand_split_scores_pck_auc_epe(samples, tmp_path):
    _convert(samples, tmp_path, "freihand2d")
    columns = _gt_columns(tmp_path, "freihand2d")
    assert len(columns["bbox"]) == 8 and np.all(columns["gt_keypoints"][..., 2] == 1)
    # AUC's first threshold is 0, which no distance is below (MMPose's strict <): 19 / 20
    assert _score("pck", columns, "freihand2d", pck_thr=0.2) == {
        "PCK": 1.0,
        "AUC": pytest.approx(0.95, abs=1e-12),
        "EPE": 0.0,
    }
    # joints 0-9 67.2 px off (0.3 of the 224 px box: outside PCK@0.2, beyond AUC's 30 px),
    # joints 10-20 22.4 px off (0.1: inside; 0.747 of 30 px, so inside AUC's last 5 of 20
    # thresholds): PCK 11/21, AUC 5/20 * 11/21, EPE (10 * 67.2 + 11 * 22.4) / 21
    columns["keypoints"][:, :10, 0] += np.float32(67.2)
    columns["keypoints"][:, 10:, 1] += np.float32(22.4)
    ours = _score("pck", columns, "freihand2d", pck_thr=0.2)
    assert ours["PCK"] == pytest.approx(11 / 21, abs=1e-12)
    assert ours["AUC"] == pytest.approx(5 / 20 * 11 / 21, abs=1e-12)
    assert ours["EPE"] == pytest.approx((10 * 67.2 + 11 * 22.4) / 21, rel=1e-6)
