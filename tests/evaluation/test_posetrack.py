"""PoseTrack18 AP (poseval's rules) on hand-made videos whose AP is known in closed form."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kpose.data.metainfo import get_dataset_info
from kpose.errors import DataError
from kpose.metrics import POSETRACK_STAT_NAMES, posetrack18_evaluate

NAMES = get_dataset_info("posetrack18").keypoint_names
EARS = [NAMES.index("left_ear"), NAMES.index("right_ear")]


def person(x0: float, y0: float) -> np.ndarray:
    """17 labelled joints (ears unlabelled) on a 40 px grid from (x0, y0); head box 100 px."""
    xy = np.stack([x0 + 40 * (np.arange(17) % 4), y0 + 40 * (np.arange(17) // 4)], -1)
    kps = np.concatenate([xy, np.ones((17, 1))], axis=-1)
    kps[EARS] = 0
    return kps


def write_video(folder, people_per_frame, ignore=None) -> list[int]:
    """One video file; returns its image ids."""
    images, annotations = [], []
    for f, people in enumerate(people_per_frame):
        image_id = 10000000000 + 900001 * 10000 + f
        image = {"id": image_id, "file_name": f"images/val/900001_mpii_test/{f:06d}.jpg"}
        if ignore and f in ignore:
            image["ignore_regions_x"], image["ignore_regions_y"] = ignore[f]
        images.append(image)
        for kps in people:
            x, y = kps[2, :2]
            annotations.append({
                "id": len(annotations), "image_id": image_id, "track_id": len(annotations),
                "keypoints": kps.reshape(-1).tolist(), "bbox_head": [x, y, 60.0, 80.0],
                "bbox": [0, 0, 1, 1],
            })  # fmt: skip
    category = {"name": "person", "keypoints": list(NAMES)}
    folder.mkdir(exist_ok=True)
    (folder / "900001_mpii_test.json").write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": [category]})
    )
    return [img["id"] for img in images]


def pred(image_id: int, kps: np.ndarray, score: float, shift: float = 0.0) -> dict:
    return {
        "image_id": image_id,
        "keypoints": kps[:, :2] + shift,
        "keypoint_scores": np.full(17, score),
        "bbox_score": 1.0,
        "area": 1e4,
    }


def test_perfect_predictions_score_100(tmp_path):
    a, b = person(100, 100), person(600, 100)
    (image,) = write_video(tmp_path / "val", [[a, b]])
    stats = posetrack18_evaluate(tmp_path / "val", [pred(image, a, 0.9), pred(image, b, 0.8)])
    assert list(stats) == list(POSETRACK_STAT_NAMES)
    assert stats == {k: 100.0 for k in POSETRACK_STAT_NAMES}


def test_missed_person_and_false_positive(tmp_path):
    """Per joint: GT 2; ranked predictions TP (0.9), FP (0.8, far off) -> AP = 0.5 x 1 = 50.
    With the FP ranked first: precision 1/2 at recall 1/2 -> AP 25."""
    a, b = person(100, 100), person(600, 100)
    (image,) = write_video(tmp_path / "val", [[a, b]])
    stats = posetrack18_evaluate(
        tmp_path / "val", [pred(image, a, 0.9), pred(image, b, 0.8, shift=300)]
    )
    assert stats == pytest.approx({k: 50.0 for k in POSETRACK_STAT_NAMES}, abs=1e-12)
    stats = posetrack18_evaluate(
        tmp_path / "val", [pred(image, a, 0.7), pred(image, b, 0.8, shift=300)]
    )
    assert stats == pytest.approx({k: 25.0 for k in POSETRACK_STAT_NAMES}, abs=1e-12)


def test_pckh_threshold_is_half_the_head_size(tmp_path):
    """Head size 0.6 x diag(60, 80) = 60 px: a joint 29 px off matches, 31 px off does not."""
    a = person(100, 100)
    (image,) = write_video(tmp_path / "val", [[a]])
    near = posetrack18_evaluate(tmp_path / "val", [pred(image, a, 0.9, shift=29 / np.sqrt(2))])
    far = posetrack18_evaluate(tmp_path / "val", [pred(image, a, 0.9, shift=31 / np.sqrt(2))])
    assert near["AP"] == 100.0
    assert far["AP"] == 0.0


def test_ignore_regions_and_empty_frames(tmp_path):
    """Frame 0: person b and its false prediction lie in an ignore region -> not counted.
    Frame 1 has nobody in the GT: it and its predictions are dropped."""
    a, b = person(100, 100), person(600, 100)
    region = ([[550, 800, 800, 550]], [[50, 50, 400, 400]])
    images = write_video(tmp_path / "val", [[a, b], []], ignore={0: region})
    preds = [pred(images[0], a, 0.9), pred(images[0], b, 0.95, shift=5), pred(images[1], a, 0.99)]
    assert posetrack18_evaluate(tmp_path / "val", preds)["AP"] == 100.0


def test_prediction_files_like_mmpose(tmp_path):
    a, b = person(100, 100), person(600, 100)
    images = write_video(tmp_path / "val", [[a, b], [a]])
    preds = [pred(images[0], a, 0.6), pred(images[0], b, 0.8)]
    posetrack18_evaluate(tmp_path / "val", preds, outfile_dir=tmp_path / "pred")
    written = json.loads((tmp_path / "pred" / "900001_mpii_test.json").read_text())
    assert [img["id"] for img in written["images"]] == images
    anns = written["annotations"]
    assert [(x["image_id"], x["track_id"]) for x in anns] == [(images[0], 0), (images[0], 1)]
    # highest instance score first; keypoints are [x, y, score] x 17
    assert anns[0]["keypoints"][:3] == [b[0, 0], b[0, 1], 0.8]
    assert anns[0]["scores"] == [0.8] * 17
    assert written["categories"][0]["keypoints"] == list(NAMES)


def test_clear_errors(tmp_path):
    with pytest.raises(DataError, match="no per-video"):
        posetrack18_evaluate(tmp_path / "missing", [pred(1, person(0, 0), 0.5)])
    a = person(100, 100)
    (image,) = write_video(tmp_path / "val", [[a]])
    video = tmp_path / "val" / "900001_mpii_test.json"
    data = json.loads(video.read_text())
    del data["annotations"][0]["bbox_head"]
    video.write_text(json.dumps(data))
    with pytest.raises(DataError, match="bbox_head"):
        posetrack18_evaluate(tmp_path / "val", [pred(image, a, 0.5)])
