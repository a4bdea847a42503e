"""PCK, MPII PCKh and JHMDB PCK against MMPose 1.3.2's metric classes (identical numbers)."""

from __future__ import annotations

import numpy as np
import pytest

from kpose.metrics.pck import jhmdb_pck, mpii_pckh, pck

pytestmark = pytest.mark.parity

_REFERENCE = """
from mmpose.evaluation.metrics import JhmdbPCKAccuracy, MpiiPCKAccuracy, PCKAccuracy

def run(metric, pred, gt, vis, bbox, head):
    samples = []
    for i in range(len(pred)):
        samples.append({"pred_instances": {"keypoints": pred[i:i + 1]},
                        "gt_instances": {"keypoints": gt[i:i + 1],
                                         "keypoints_visible": vis[i:i + 1],
                                         "bboxes": bbox[i:i + 1],
                                         "head_size": head[i]}})
    metric.process([], samples)
    return {k: float(v) for k, v in metric.compute_metrics(metric.results).items()}

for name in json.loads(str(inputs["cases"])):
    pred, gt, vis = inputs[name + "_pred"], inputs[name + "_gt"], inputs[name + "_vis"]
    bbox, head = inputs[name + "_bbox"], inputs[name + "_head"]
    outputs[name] = {
        "pck": run(PCKAccuracy(thr=0.05, norm_item=["bbox", "head", "torso"]),
                   pred, gt, vis, bbox, head),
        "pck02": run(PCKAccuracy(thr=0.2, norm_item="bbox"), pred, gt, vis, bbox, head),
    }
    if gt.shape[1] == 16:
        outputs[name]["mpii"] = run(MpiiPCKAccuracy(), pred, gt, vis, bbox, head)
    if gt.shape[1] == 15:
        outputs[name]["jhmdb"] = run(JhmdbPCKAccuracy(thr=0.2, norm_item=["bbox", "torso"]),
                                     pred, gt, vis, bbox, head)
"""


def _case(rng, n: int, k: int, noise: float):
    gt = rng.uniform(50, 400, (n, k, 2)).astype(np.float32)
    gt[: n // 10, 4] = gt[: n // 10, 5] + 0.3  # tiny GT torso: MMPose uses the predicted one
    vis = (rng.random((n, k)) > 0.2).astype(np.float32)
    vis[0] = 0  # an instance with nothing visible
    pred = (gt + rng.normal(0, noise, gt.shape)).astype(np.float32)
    lo = gt.min(1) - rng.uniform(0, 20, (n, 2))
    hi = gt.max(1) + rng.uniform(0, 20, (n, 2))
    bbox = np.concatenate([lo, hi], 1).astype(np.float32)
    bbox[1, 2:] = bbox[1, :2]  # zero-size box: the instance is ignored
    head = rng.uniform(20, 60, n)  # float64, as MMPose reads it from the .mat file
    return pred, gt, vis, bbox, head


CASES = {f"k{k}_noise{noise}": (k, noise) for k in (15, 16) for noise in (2.0, 8.0, 25.0)}


@pytest.fixture(scope="module")
def reference(mmpose_ref):
    import json

    rng = np.random.default_rng(0)
    arrays = {}
    for name, (k, noise) in CASES.items():
        for key, value in zip(("pred", "gt", "vis", "bbox", "head"),
                              _case(rng, 300, k, noise), strict=True):
            arrays[f"{name}_{key}"] = value
    return arrays, mmpose_ref(_REFERENCE, cases=json.dumps(list(CASES)), **arrays)


@pytest.mark.parametrize("name", sorted(CASES))
def test_pck_family_equals_mmpose(name, reference):
    arrays, ref = reference
    pred, gt, vis, bbox, head = (arrays[f"{name}_{key}"]
                                 for key in ("pred", "gt", "vis", "bbox", "head"))
    ours = pck(pred, gt, vis, thr=0.05, norm_items=("bbox", "head", "torso"), bbox_xyxy=bbox,
               head_size=head)
    _assert_equal(ours, ref[name]["pck"])
    _assert_equal(pck(pred, gt, vis, thr=0.2, bbox_xyxy=bbox), ref[name]["pck02"])
    if gt.shape[1] == 16:
        _assert_equal(mpii_pckh(pred, gt, vis, head), ref[name]["mpii"])
    else:
        _assert_equal(jhmdb_pck(pred, gt, vis, bbox), ref[name]["jhmdb"])


def _assert_equal(ours: dict, ref: dict):
    assert set(ours) == set(ref)
    diffs = {k: abs(ours[k] - ref[k]) for k in ref}
    assert max(diffs.values()) <= 1e-9, diffs
