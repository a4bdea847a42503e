"""PCK + AUC + EPE (hands, animals), NME (faces) and per-category COCO results: the engines on
hand-checked numbers, the recipe fields, the evaluator's ``score`` / ``headline`` wiring and
the categories carried through predictions (numbers against MMPose: tests/parity/)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kpose.errors import KposeError, RecipeError
from kpose.evaluation.coco import coco_evaluate
from kpose.evaluation.evaluator import LOWER_IS_BETTER, METRICS, headline, score
from kpose.evaluation.nme import DEFAULT_KEYPOINT_INDICES, nme, nme_keypoint_indices
from kpose.evaluation.pck import _numpy1_sum, auc, end_point_error, pck_auc_epe
from kpose.evaluation.predictions import prediction_columns
from kpose.recipe import EvalConfig, recipe_from_dict


def _square(n: int = 2, k: int = 4):
    """GT on a 100 px box, predictions 3-4-5 px off (5 px = 0.05 of the box)."""
    gt = np.tile((10 + 8 * np.arange(k, dtype=np.float32))[:, None], (n, 1, 2))  # (n, k, 2)
    pred = gt + np.float32([3, 4])
    bbox = np.tile(np.float32([0, 0, 100, 50]), (n, 1))
    return pred, gt, np.ones((n, k)), bbox


def test_auc_epe_and_pck_by_hand():
    pred, gt, vis, bbox = _square()
    assert end_point_error(pred, gt, vis) == 5.0
    # 5 px / 30 px = 0.167: below the thresholds 0.2 .. 0.95 (16 of 20)
    assert auc(pred, gt, vis) == pytest.approx(0.8)
    assert auc(pred, gt, vis, norm_factor=10, num_thrs=4) == pytest.approx(0.25)  # 0.5 < 0.75
    out = pck_auc_epe(pred, gt, vis, thr=0.2, bbox_xyxy=bbox)
    assert list(out) == ["PCK", "AUC", "EPE"] and out["PCK"] == 1.0
    # exactly at the threshold (5 / 100 = 0.05) is not "correct", as MMPose's `<`
    assert pck_auc_epe(pred, gt, vis, thr=0.05, bbox_xyxy=bbox, epe=False)["PCK"] == 0.0
    assert list(pck_auc_epe(pred, gt, vis, norm_item="head", head_size=[50, 50])) == [
        "PCKh",
        "AUC",
        "EPE",
    ]
    vis[:, 1:] = 0
    pred[:, 1:] += 100  # hidden joints do not count
    assert end_point_error(pred, gt, vis) == 5.0
    with pytest.raises(KposeError, match="norm_item"):
        pck_auc_epe(pred, gt, vis, norm_item="box")
    with pytest.raises(KposeError, match="needs head_size"):
        pck_auc_epe(pred, gt, vis, norm_item="head")


def test_numpy1_sum_adds_8192_buffers_in_order():
    values = np.random.default_rng(0).random(20000).astype(np.float32)
    expected = np.float32(
        np.float32(values[:8192].sum() + values[8192:16384].sum()) + values[16384:].sum()
    )
    assert _numpy1_sum(values) == expected
    assert _numpy1_sum(values[:100]) == values[:100].sum()
    assert _numpy1_sum(values[:0]) == 0


def test_nme_normalisers():
    gt = np.zeros((2, 68, 2), np.float32)
    gt[:, 45] = [[100, 0], [0, 50]]  # eye corners 36 and 45: 100 and 50 px apart
    pred = gt + np.float32([0, 5])
    vis = np.ones((2, 68))
    # 5 / 100 and 5 / 50
    assert nme(pred, gt, vis, dataset_name="300w")["NME"] == pytest.approx(0.075)
    assert nme(pred, gt, vis, keypoint_indices=(0, 45), dataset_name="x")["NME"] == pytest.approx(
        0.075
    )
    bbox = np.float32([[0, 0, 10, 20], [5, 5, 30, 10]])  # longer sides 20 and 25
    out = nme(pred, gt, vis, norm_mode="use_norm_item", norm_item="bbox_size", bbox_xyxy=bbox)
    assert out["NME"] == pytest.approx((0.25 + 0.2) / 2)
    out = nme(pred, gt, vis, norm_mode="use_norm_item", norm_item="head_size", head_size=[10, 5])
    assert out["NME"] == pytest.approx(0.75)
    gt[1, 45] = 0  # a zero normaliser leaves the instance out, as MMPose
    assert nme(pred, gt, vis, dataset_name="300w")["NME"] == pytest.approx(0.05)


def test_nme_keypoint_pairs_and_errors():
    assert DEFAULT_KEYPOINT_INDICES["wflw"] == (60, 72)
    assert nme_keypoint_indices("cofw", 29) == (8, 9)
    assert nme_keypoint_indices("300wlp", 68, [36, 45]) == (36, 45)
    with pytest.raises(KposeError, match="'300wlp' has no default.*nme_keypoint_indices"):
        nme_keypoint_indices("300wlp", 68)
    with pytest.raises(KposeError, match="two indices of 'cofw'"):
        nme_keypoint_indices("cofw", 29, [8, 29])
    pred = gt = np.zeros((1, 19, 2), np.float32)
    with pytest.raises(KposeError, match="needs norm_item"):
        nme(pred, gt, np.ones((1, 19)), norm_mode="use_norm_item")
    with pytest.raises(KposeError, match="norm_mode"):
        nme(pred, gt, np.ones((1, 19)), norm_mode="bbox")


def test_recipe_fields():
    ev = EvalConfig()
    assert (ev.pck_norm, ev.auc_norm_factor, ev.auc_num_thrs, ev.epe) == ("bbox", 30.0, 20, True)
    assert (ev.nme_norm_mode, ev.nme_norm_item, ev.nme_keypoint_indices) == (
        "keypoint_distance",
        None,
        None,
    )
    raw = {
        "data": {"dataset": "aflw"},
        "eval": {
            "metric": "nme",
            "nme_norm_mode": "use_norm_item",
            "nme_norm_item": "bbox_size",
            "nme_keypoint_indices": [0, 1],
        },
    }
    ev = recipe_from_dict(raw).eval
    assert (ev.nme_norm_item, ev.nme_keypoint_indices) == ("bbox_size", (0, 1))
    with pytest.raises(RecipeError, match="eval.pck_norm"):
        recipe_from_dict({"eval": {"metric": "pck", "pck_norm": "box"}})
    with pytest.raises(RecipeError, match="eval.nme_keypoint_indices"):
        recipe_from_dict({"eval": {"metric": "nme", "nme_keypoint_indices": [1, 2, 3]}})


def test_headline_and_score_wiring():
    assert METRICS["pck"] == "PCK" and METRICS["nme"] == "NME" and "nme" in LOWER_IS_BETTER
    assert headline(EvalConfig(metric="pck", pck_norm="torso")) == "tPCK"
    assert headline(EvalConfig(metric="nme")) == "NME"
    pred, gt, vis, bbox = _square(k=10)
    columns = {
        "keypoints": pred,
        "gt_keypoints": np.concatenate([gt, 2 * vis[..., None]], -1),  # v = 2 counts as visible
        "bbox": bbox,
        "head_size": np.zeros(2),
    }
    out = score("pck", columns, None, dataset="onehand10k", ev=EvalConfig(metric="pck"))
    assert out == pck_auc_epe(pred, gt, vis, thr=0.05, bbox_xyxy=bbox)
    ak = EvalConfig(metric="pck", epe=False, auc_num_thrs=5)
    assert list(score("pck", columns, None, dataset="ak", ev=ak)) == ["PCK", "AUC"]
    with pytest.raises(KposeError, match="needs head sizes"):
        score("pck", columns, None, dataset="onehand10k", ev=EvalConfig(pck_norm="head"))
    # the default eye pair is the dataset's (metainfo name first)
    out = score("nme", columns, None, dataset="x", ev=EvalConfig(), dataset_name="cofw")
    assert out == nme(pred, gt, vis, dataset_name="cofw")
    with pytest.raises(KposeError, match="'300wlp' has no default"):
        score("nme", columns, None, dataset="300wlp", ev=EvalConfig())


def test_categories_go_into_the_coco_results(tmp_path):
    gt = {
        "images": [{"id": 1, "width": 200, "height": 200}],
        "annotations": [
            {
                "id": i + 1,
                "image_id": 1,
                "category_id": cat,
                "bbox": [10 + 90 * i, 10, 80, 80],
                "area": 6400.0,
                "iscrowd": 0,
                "keypoints": [v for j in range(17) for v in (20 + 90 * i + 3 * j, 50, 2)],
            }
            for i, cat in enumerate((26, 1))
        ],
        "categories": [{"id": c, "name": str(c)} for c in (1, 26)],
    }
    kps = np.stack(
        [np.asarray(a["keypoints"], np.float32).reshape(17, 3)[:, :2] for a in gt["annotations"]]
    )
    preds = {
        "image_id": [1, 1],
        "keypoints": kps,
        "keypoint_scores": np.ones((2, 17), np.float32),
        "area": [6400.0, 6400.0],
        "category_id": [26, 1],
    }
    stats = coco_evaluate(gt, preds, dataset="ap10k", outfile_prefix=tmp_path / "r")
    results = json.loads((tmp_path / "r.keypoints.json").read_text())
    assert sorted(r["category_id"] for r in results) == [1, 26]
    assert stats["AP"] == pytest.approx(1.0)
    # as person: category 26 finds no detection, its AP is 0
    person = coco_evaluate(gt, {**preds, "category_id": [1, 1]}, dataset="ap10k")
    assert person["AP"] == pytest.approx(0.5)
    # columns without categories are person instances, as before
    assert prediction_columns({k: v for k, v in preds.items() if k != "category_id"})[
        "category_id"
    ].tolist() == [1, 1]
    instances = [{"image_id": 1, "keypoints": kps[0], "keypoint_scores": np.ones(17)}]
    assert prediction_columns(instances)["category_id"].tolist() == [1]
