"""COCO keypoint metric: rescoring, OKS-NMS, the ``use_area`` switch and the evaluation chain."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kpose.errors import DataError, KposeError
from kpose.evaluation.coco import metric_settings
from kpose.metrics import COCO_STAT_NAMES, coco_evaluate, oks_nms, rescore

COCO_SIGMAS = [
    .026, .025, .025, .035, .035, .079, .079, .072, .072, .062, .062, .107, .107, .087, .087,
    .089, .089,
]  # fmt: skip


@pytest.fixture
def coco_gt(samples) -> dict:
    return json.loads((samples / "coco" / "test_coco.json").read_text())


def gt_predictions(gt: dict, noise: float = 0.0, seed: int = 0) -> list[dict]:
    """One prediction per labelled GT person: its keypoints (+ noise), scores 1, GT area."""
    rng = np.random.default_rng(seed)
    preds = []
    for ann in gt["annotations"]:
        if ann["num_keypoints"] == 0:
            continue
        kps = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)
        preds.append({
            "image_id": ann["image_id"],
            "keypoints": kps[:, :2] + rng.normal(0, noise, (len(kps), 2)),
            "keypoint_scores": np.ones(len(kps)),
            "bbox_score": 1.0,
            "area": ann["area"],
        })  # fmt: skip
    return preds


def naive_oks_nms(kps, scores, areas, sigmas, thr):
    """MMPose's algorithm, written out pair by pair in float64."""
    var = (np.asarray(sigmas) * 2) ** 2
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep = []
    while order:
        i, order = order[0], order[1:]
        keep.append(i)
        rest = []
        for j in order:
            d2 = ((kps[j] - kps[i]) ** 2).sum(-1)
            oks = np.mean(np.exp(-d2 / var / ((areas[i] + areas[j]) / 2) / 2))
            if oks <= thr:
                rest.append(j)
        order = rest
    return keep


# --- rescore ---------------------------------------------------------------------------------


def test_rescore_bbox_keypoint_averages_scores_above_threshold():
    kpt = np.array([[0.1, 0.3, 0.5, 0.2], [0.05, 0.1, 0.2, 0.0], [0.9, 0.9, 0.9, 0.9]])
    scores = rescore(np.array([0.5, 0.8, 1.0]), kpt)
    np.testing.assert_allclose(scores, [0.5 * 0.4, 0.0, 0.9], rtol=0, atol=1e-15)
    assert scores.dtype == np.float64


def test_rescore_threshold_is_strict_and_compared_in_float64():
    # 0.2 itself does not pass; float32(0.2) = 0.2000000030 does, as in MMPose with numpy < 2.
    exact = rescore(np.ones(1), np.array([[0.2, 0.6]]))
    as_f32 = rescore(np.ones(1), np.array([[0.2, 0.6]], np.float32))
    assert exact[0] == 0.6
    assert as_f32[0] == pytest.approx((0.2 + 0.6) / 2)


def test_rescore_other_modes():
    kpt = np.array([[0.1, 0.3], [0.6, 1.0]], np.float32)
    np.testing.assert_array_equal(rescore(np.array([0.7, 0.2]), kpt, "bbox"), [0.7, 0.2])
    np.testing.assert_allclose(rescore(np.array([0.7, 0.2]), kpt, "keypoint"), [0.2, 0.8])
    with pytest.raises(KposeError, match="score_mode"):
        rescore(np.ones(2), kpt, "bbox_rle")


# --- oks_nms ---------------------------------------------------------------------------------


def test_oks_nms_removes_duplicates_and_keeps_far_instances():
    rng = np.random.default_rng(0)
    person = rng.uniform(100, 200, (17, 2))
    kps = np.stack([person, person + 0.5, person + [300, 0], person])  # (4, 17, 2)
    scores = np.array([0.5, 0.9, 0.7, 0.5])
    keep = oks_nms(kps, scores, np.full(4, 1e4), COCO_SIGMAS)
    assert keep.tolist() == [1, 2]  # 0 and 3 duplicate 1; 2 is 300 px away
    assert keep.dtype == np.int64


def test_oks_nms_equal_scores_keep_the_later_instance():
    kps = np.zeros((3, 17, 2))
    assert oks_nms(kps, np.ones(3), np.full(3, 100.0), COCO_SIGMAS).tolist() == [2]


def test_oks_nms_accepts_scores_column_and_empty_input():
    kps = np.zeros((2, 17, 3))
    kps[1, :, 0] = 500
    assert oks_nms(kps, np.array([0.1, 0.2]), np.ones(2), COCO_SIGMAS).tolist() == [1, 0]
    assert oks_nms(np.zeros((0, 17, 2)), np.zeros(0), np.zeros(0), COCO_SIGMAS).size == 0


def test_oks_nms_matches_pairwise_algorithm():
    rng = np.random.default_rng(1)
    for trial in range(20):
        n = int(rng.integers(1, 30))
        centers = rng.uniform(0, 200, (n, 1, 2))
        kps = centers + rng.normal(0, 15, (n, 17, 2))
        scores = rng.random(n)
        areas = rng.uniform(2e3, 2e4, n)
        thr = float(rng.choice([0.3, 0.5, 0.9]))
        expected = naive_oks_nms(kps, scores, areas, COCO_SIGMAS, thr)
        assert oks_nms(kps, scores, areas, COCO_SIGMAS, thr).tolist() == expected, trial


def test_oks_nms_checks_shapes():
    with pytest.raises(KposeError, match="sigmas"):
        oks_nms(np.zeros((2, 14, 2)), np.ones(2), np.ones(2), COCO_SIGMAS)
    with pytest.raises(KposeError, match="areas"):
        oks_nms(np.zeros((2, 17, 2)), np.ones(2), np.ones(3), COCO_SIGMAS)


# --- coco_evaluate ---------------------------------------------------------------------------


def test_perfect_predictions_score_one(samples, coco_gt, tmp_path):
    preds = gt_predictions(coco_gt)
    stats = coco_evaluate(
        samples / "coco" / "test_coco.json", preds, outfile_prefix=tmp_path / "out/res"
    )
    assert list(stats) == list(COCO_STAT_NAMES)
    assert all(isinstance(v, float) for v in stats.values())
    assert stats == dict.fromkeys(COCO_STAT_NAMES, 1.0)
    written = json.loads((tmp_path / "out" / "res.keypoints.json").read_text())
    assert len(written) == len(preds)
    assert set(written[0]) == {"image_id", "category_id", "keypoints", "score"}
    assert len(written[0]["keypoints"]) == 17 * 3 and written[0]["score"] == 1.0


def test_annotation_dict_gives_the_same_numbers_and_is_not_modified(samples, coco_gt):
    preds = gt_predictions(coco_gt, noise=4.0)
    before = json.dumps(coco_gt, sort_keys=True)
    from_dict = coco_evaluate(coco_gt, preds, use_area=False)
    assert json.dumps(coco_gt, sort_keys=True) == before
    assert from_dict == coco_evaluate(samples / "coco" / "test_coco.json", preds, use_area=False)
    assert 0.0 < from_dict["AP"] < 1.0


def test_default_sigmas_are_cocos(coco_gt):
    preds = gt_predictions(coco_gt, noise=4.0)
    assert coco_evaluate(coco_gt, preds) == coco_evaluate(coco_gt, preds, sigmas=COCO_SIGMAS)
    wider = coco_evaluate(coco_gt, preds, sigmas=np.full(17, 0.2))
    assert wider["AP"] > coco_evaluate(coco_gt, preds)["AP"]


def test_use_area_false_scales_oks_by_053_box_area(coco_gt):
    preds = gt_predictions(coco_gt, noise=4.0)
    box_area = json.loads(json.dumps(coco_gt))
    for ann in box_area["annotations"]:
        ann["area"] = ann["bbox"][3] * ann["bbox"][2] * 0.53
    no_area = coco_evaluate(coco_gt, preds, use_area=False)
    assert no_area == coco_evaluate(box_area, preds, use_area=True)
    assert no_area != coco_evaluate(coco_gt, preds, use_area=True)


def test_use_area_is_required_without_gt_area(samples):
    gt = json.loads((samples / "aic" / "test_aic.json").read_text())
    preds = gt_predictions({**gt, "annotations": [{**a, "area": 0} for a in gt["annotations"]]})
    sigmas = np.full(14, 0.03)
    with pytest.raises(DataError, match="use_area=False"):
        coco_evaluate(gt, preds, "aic", sigmas=sigmas, use_area=True)
    # AIC's MMPose configs evaluate with use_area=False: the dataset name brings it
    assert coco_evaluate(gt, preds, "aic", sigmas=sigmas)["AP"] == 1.0
    assert coco_evaluate(gt, preds, "aic", sigmas=sigmas, use_area=False)["AP"] == 1.0


def test_duplicates_are_removed_by_nms_and_repeated_ids_dropped(coco_gt):
    preds = gt_predictions(coco_gt, noise=3.0)
    base = coco_evaluate(coco_gt, preds)
    # The same instance again under a new id: OKS-NMS suppresses it.
    assert coco_evaluate(coco_gt, preds + [dict(p) for p in preds]) == base
    assert coco_evaluate(coco_gt, preds + preds, nms_mode="none")["AP"] < base["AP"]
    # The same sample id twice (distributed padding): dropped before NMS.
    with_ids = [dict(p, id=i) for i, p in enumerate(preds)]
    repeated = coco_evaluate(coco_gt, with_ids + with_ids[:4], nms_mode="none")
    assert repeated == coco_evaluate(coco_gt, preds, nms_mode="none")


def test_instances_without_positive_keypoint_score_are_not_evaluated(coco_gt, tmp_path):
    preds = [dict(p, bbox_score=0.9) for p in gt_predictions(coco_gt, noise=3.0)]
    # The top-scored instance is a false positive far from everyone, but every keypoint score is
    # 0: xtcocotools skips it (it is still written out).
    ghost = dict(preds[0], keypoints=preds[0]["keypoints"] + 150, keypoint_scores=np.zeros(17))
    ghost["bbox_score"] = 1.0
    stats = coco_evaluate(
        coco_gt, [*preds, ghost], score_mode="bbox", outfile_prefix=tmp_path / "r"
    )
    assert stats == coco_evaluate(coco_gt, preds, score_mode="bbox")
    assert len(json.loads((tmp_path / "r.keypoints.json").read_text())) == len(preds) + 1
    # With one positive keypoint score it is evaluated: a false positive ranked first.
    ghost["keypoint_scores"] = np.eye(17)[0] * 0.5
    assert coco_evaluate(coco_gt, [*preds, ghost], score_mode="bbox")["AP"] < stats["AP"]


def test_bad_inputs_name_the_problem(coco_gt):
    preds = gt_predictions(coco_gt)
    with pytest.raises(DataError, match="image_id"):
        coco_evaluate(coco_gt, [dict(preds[0], image_id=123)])
    with pytest.raises(DataError, match="keypoint_scores"):
        coco_evaluate(coco_gt, [{k: v for k, v in preds[0].items() if k != "keypoint_scores"}])
    with pytest.raises(DataError, match="sigmas"):
        coco_evaluate(coco_gt, preds, sigmas=np.ones(14))
    with pytest.raises(DataError, match="no predictions"):
        coco_evaluate(coco_gt, [])
    with pytest.raises(DataError, match="'crowdIndex' on every image"):
        coco_evaluate(coco_gt, preds, iou_type="keypoints_crowd")  # COCO has no crowd index
    with pytest.raises(KposeError, match="iou_type"):
        coco_evaluate(coco_gt, preds, iou_type="bbox")
    with pytest.raises(KposeError, match="nms_mode"):
        coco_evaluate(coco_gt, preds, nms_mode="soft_oks_nms")


def test_crowd_evaluation_groups_images_by_crowd_index(samples):
    gt = json.loads((samples / "crowdpose" / "test_crowdpose.json").read_text())
    for img, index in zip(gt["images"], (0.1, 0.9), strict=True):
        img["crowdIndex"] = index
    preds = [
        {
            "image_id": a["image_id"],
            "keypoints": np.reshape(a["keypoints"], (-1, 3))[:, :2],
            "keypoint_scores": np.ones(14),
            "bbox_score": 1.0,
            "area": a["bbox"][2] * a["bbox"][3],
        }
        for a in gt["annotations"]
        if a["num_keypoints"] > 0
    ]
    stats = coco_evaluate(gt, preds, "crowdpose", use_area=False, iou_type="keypoints_crowd")
    assert list(stats) == [
        "AP",
        "AP .5",
        "AP .75",
        "AR",
        "AR .5",
        "AR .75",
        "AP(E)",
        "AP(M)",
        "AP(H)",
    ]
    assert stats["AP"] == pytest.approx(1.0)
    assert stats["AP(M)"] == -1  # no image has 0.2 <= crowdIndex < 0.8
    assert stats["AP(E)"] > 0 and stats["AP(H)"] > 0


def test_dataset_name_brings_its_mmpose_settings(samples):
    """``dataset="crowdpose"`` alone scores as CrowdPose's MMPose config (use_area=False,
    iou_type="keypoints_crowd"); arguments still override."""
    gt = json.loads((samples / "crowdpose" / "test_crowdpose.json").read_text())
    preds = [
        {
            "image_id": a["image_id"],
            "keypoints": np.reshape(a["keypoints"], (-1, 3))[:, :2] + 1.5,
            "keypoint_scores": np.ones(14),
            "area": a["bbox"][2] * a["bbox"][3],
        }
        for a in gt["annotations"]
        if a["num_keypoints"] > 0
    ]
    stats = coco_evaluate(gt, preds, dataset="crowdpose")
    assert {"AP(E)", "AP(M)", "AP(H)"} <= set(stats)
    assert stats == coco_evaluate(
        gt, preds, dataset="crowdpose", use_area=False, iou_type="keypoints_crowd"
    )
    plain = coco_evaluate(gt, preds, dataset="crowdpose", iou_type="keypoints")
    assert list(plain) == list(COCO_STAT_NAMES)
    assert metric_settings("aic").use_area is False and metric_settings("coco").use_area
    assert metric_settings("synthetic") == metric_settings("coco")  # CocoMetric's defaults
    assert metric_settings("crowdpose", nms_thr=0.5).nms_thr == 0.5
    assert metric_settings("crowdpose", nms_thr=None).nms_thr == 0.9


def test_columnar_predictions_score_like_instance_dicts(coco_gt):
    preds = gt_predictions(coco_gt, noise=2.0)
    columns = {
        "image_id": np.array([p["image_id"] for p in preds]),
        "keypoints": np.stack([p["keypoints"] for p in preds]),
        "keypoint_scores": np.stack([p["keypoint_scores"] for p in preds]),
        "bbox_score": np.array([p["bbox_score"] for p in preds]),
        "area": np.array([p["area"] for p in preds]),
    }
    assert coco_evaluate(coco_gt, columns) == coco_evaluate(coco_gt, preds)
    with pytest.raises(DataError, match="columnar predictions have no \\['keypoint_scores'\\]"):
        coco_evaluate(coco_gt, {k: v for k, v in columns.items() if k != "keypoint_scores"})
