"""PCK family on hand-made cases (the MMPose comparison is in tests/parity)."""

from __future__ import annotations

import numpy as np
import pytest

from kpose.evaluation.pck import jhmdb_pck, mpii_pckh, normalized_distances, pck, pck_accuracy


def test_distances_mask_and_zero_norms():
    gt = np.zeros((3, 2, 2), np.float32)
    pred = gt + np.array([3.0, 4.0], np.float32)
    mask = np.array([[1, 0], [1, 1], [1, 1]], bool)
    norm = np.array([[10.0, 10.0], [0.0, 5.0], [-1.0, -1.0]])
    d = normalized_distances(pred, gt, mask, norm)  # (K, N)
    np.testing.assert_allclose(d[:, 0], [0.5, -1])
    np.testing.assert_allclose(d[:, 1], [-1, -1])  # a zero norm drops the instance
    np.testing.assert_allclose(d[:, 2], [5e-6, 5e-6], rtol=1e-5)  # norm <= 0 -> 1e6


def test_threshold_is_strict_and_mean_skips_empty_joints():
    gt = np.zeros((2, 3, 2), np.float32)
    pred = gt.copy()
    pred[:, 0, 0] = [5.0, 4.0]  # distance 0.5 and 0.4 with norm 10
    mask = np.array([[1, 1, 0], [1, 1, 0]], bool)
    acc, mean, count = pck_accuracy(pred, gt, mask, 0.5, np.full((2, 2), 10.0))
    np.testing.assert_allclose(acc, [0.5, 1.0, -1.0])
    assert (mean, count) == (0.75, 2)


def test_box_head_torso_normalisers():
    gt = np.zeros((1, 15, 2), np.float32)
    gt[0, 4], gt[0, 5] = (0, 0), (0, 20)  # torso 20
    pred = gt.copy()
    pred[0, :, 0] += 3.0
    vis = np.ones((1, 15))
    bbox = np.array([[0, 0, 100, 40]], np.float32)  # longer side 100
    out = pck(
        pred,
        gt,
        vis,
        thr=0.1,
        norm_items=("bbox", "head", "torso"),
        bbox_xyxy=bbox,
        head_size=[25.0],
    )
    assert out == {"PCK": 1.0, "PCKh": 0.0, "tPCK": 0.0}  # 0.03 / 0.12 / 0.15 vs 0.1
    table = jhmdb_pck(pred, gt, vis, bbox, thr=0.2)
    assert table["PCK"] == 1.0 and table["tPCK"] == 1.0 and table["Head PCK"] == 1.0


def test_mpii_one_based_convention_and_unscored_joints():
    gt = np.full((4, 16, 2), 100.0, np.float32)
    pred = gt - 1.0  # 0-based predictions of 1-based ground truth
    vis = np.ones((4, 16))
    head = np.full(4, 10.0)
    assert mpii_pckh(pred, gt, vis, head, thr=0.1)["PCK"] == pytest.approx(100.0)
    fixed = mpii_pckh(pred, gt, vis, head, thr=0.1, one_based=False)
    assert fixed["PCK"] == pytest.approx(0.0)  # sqrt(2) / 10 > 0.1
    pred = gt.copy()
    pred[:, 6:8] += 50  # pelvis and thorax are not scored
    out = mpii_pckh(pred - 1.0, gt, vis, head)
    assert out["PCK"] == pytest.approx(100.0) and out["PCK@0.1"] == pytest.approx(100.0)
    assert set(out) == {
        "Head PCK",
        "Shoulder PCK",
        "Elbow PCK",
        "Wrist PCK",
        "Hip PCK",
        "Knee PCK",
        "Ankle PCK",
        "PCK",
        "PCK@0.1",
    }
