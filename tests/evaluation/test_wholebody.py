"""``coco_wholebody_evaluate``: the stats and their names, ground truth from the converted
records equal to the original file's, the evaluator's ``coco_wholebody`` branch, and errors
(the numbers against MMPose are in tests/parity/test_wholebody_metric_parity.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kpose.data.formats.coco_wholebody import NUM_KEYPOINTS, PART_FIELDS, convert_coco_wholebody
from kpose.errors import DataError
from kpose.evaluation.evaluator import coco_ground_truth, headline, score
from kpose.metrics import (
    COCO_STAT_NAMES,
    WHOLEBODY_PARTS,
    WHOLEBODY_STAT_NAMES,
    coco_wholebody_evaluate,
)
from kpose.recipe import EvalConfig

SAMPLE = "coco/test_coco_wholebody.json"


def _predictions(gt: dict, noise: float, seed: int = 0) -> dict[str, np.ndarray]:
    """One prediction per annotation: its 133 keypoints with Gaussian noise, random scores."""
    rng = np.random.default_rng(seed)
    anns = gt["annotations"]
    kps = np.array([[v for f, _ in PART_FIELDS for v in a[f]] for a in anns]).reshape(
        len(anns), NUM_KEYPOINTS, 3
    )
    boxes = np.array([a["bbox"] for a in anns])
    return {
        "image_id": np.array([a["image_id"] for a in anns]),
        "keypoints": (kps[..., :2] + rng.normal(0, noise, kps[..., :2].shape)).astype(np.float32),
        "keypoint_scores": rng.uniform(0.3, 1.0, kps.shape[:2]).astype(np.float32),
        "bbox_score": np.ones(len(anns), np.float32),
        "area": boxes[:, 2] * boxes[:, 3] * 1.25**2,
    }


@pytest.fixture(scope="module")
def sample(samples):
    return json.loads((samples / SAMPLE).read_text())


def test_parts_match_the_file_layout():
    start = 0
    for (part, (field, first, end)), (name, count) in zip(
        WHOLEBODY_PARTS.items(), PART_FIELDS, strict=True
    ):
        assert (field, first, end) == (name, start, start + count), part
        start += count
    assert start == NUM_KEYPOINTS == 133
    assert WHOLEBODY_STAT_NAMES[:10] == COCO_STAT_NAMES
    assert "face/AP" in WHOLEBODY_STAT_NAMES and len(WHOLEBODY_STAT_NAMES) == 60


def test_exact_predictions_score_one(samples, sample):
    # Predictions for the two people without any labelled keypoint would be false positives.
    labelled = [a for a in sample["annotations"] if a["num_keypoints"] > 0]
    preds = _predictions({**sample, "annotations": labelled}, noise=0.0)
    stats = coco_wholebody_evaluate(samples / SAMPLE, preds)
    assert list(stats) == list(WHOLEBODY_STAT_NAMES)
    assert stats["AP"] == pytest.approx(1.0) and stats["body/AP"] == pytest.approx(1.0)
    noisy = coco_wholebody_evaluate(samples / SAMPLE, _predictions(sample, noise=2.0))
    # Face and hand sigmas are small: 2 px of noise costs them more than the body.
    assert noisy["face/AP"] < noisy["body/AP"] < 1.0
    assert 0.0 <= noisy["AP"] < 1.0


def test_records_ground_truth_scores_like_the_file(samples, sample, tmp_path):
    """The evaluator's ground truth (rebuilt from the records' 133 keypoints) gives the
    original file's numbers, through ``score`` as ``eval.metric: coco_wholebody``."""
    convert_coco_wholebody(
        samples / SAMPLE, samples / "coco", tmp_path, split="val", shards=2, progress=False
    )
    names = tuple(f"kp{i}" for i in range(NUM_KEYPOINTS))
    gt = coco_ground_truth(str(tmp_path), "val", NUM_KEYPOINTS, names)
    ev = EvalConfig(metric="coco_wholebody")
    assert headline(ev) == "AP"
    for noise in (0.5, 2.0, 6.0):
        preds = _predictions(sample, noise, seed=int(noise * 10))
        preds["id"] = np.arange(len(preds["image_id"]))
        expected = coco_wholebody_evaluate(samples / SAMPLE, preds)
        ours = score(
            "coco_wholebody",
            preds,
            gt,
            dataset="coco_wholebody",
            ev=ev,
            outfile_prefix=tmp_path / f"res{noise}",
        )
        assert ours == expected
        results = json.loads((tmp_path / f"res{noise}.keypoints.json").read_text())
        assert len(results) == len(sample["annotations"])
        assert [len(results[0][f]) for f, _ in PART_FIELDS] == [3 * c for _, c in PART_FIELDS]
    no_area = score(
        "coco_wholebody", preds, gt, dataset="coco_wholebody", ev=EvalConfig(use_area=False)
    )
    assert no_area == coco_wholebody_evaluate(samples / SAMPLE, preds, use_area=False)
    assert no_area != expected


def test_errors(samples, sample):
    preds = _predictions(sample, noise=1.0)
    body = {**preds, "keypoints": preds["keypoints"][:, :17]}
    body["keypoint_scores"] = preds["keypoint_scores"][:, :17]
    with pytest.raises(DataError, match="133 keypoints"):
        coco_wholebody_evaluate(samples / SAMPLE, body)
    with pytest.raises(DataError, match="not images of"):
        coco_wholebody_evaluate(samples / SAMPLE, {**preds, "image_id": preds["image_id"] + 1})
    with pytest.raises(DataError, match="COCO-WholeBody needs"):
        coco_wholebody_evaluate(samples / "coco/test_coco.json", preds)
    with pytest.raises(DataError, match="OKS sigmas"):
        coco_wholebody_evaluate(samples / SAMPLE, preds, sigmas=[0.1] * 17)
