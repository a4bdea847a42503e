"""PCK, MPII PCKh and JHMDB PCK against MMPose 1.3.2's metric classes (identical numbers)."""

from __future__ import annotations

import numpy as np
import pytest

from kpose.evaluation.pck import jhmdb_pck, mpii_pckh, pck

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
        for key, value in zip(
            ("pred", "gt", "vis", "bbox", "head"), _case(rng, 300, k, noise), strict=True
        ):
            arrays[f"{name}_{key}"] = value
    return arrays, mmpose_ref(_REFERENCE, cases=json.dumps(list(CASES)), **arrays)


@pytest.mark.parametrize("name", sorted(CASES))
def test_pck_family_equals_mmpose(name, reference):
    arrays, ref = reference
    pred, gt, vis, bbox, head = (
        arrays[f"{name}_{key}"] for key in ("pred", "gt", "vis", "bbox", "head")
    )
    ours = pck(
        pred,
        gt,
        vis,
        thr=0.05,
        norm_items=("bbox", "head", "torso"),
        bbox_xyxy=bbox,
        head_size=head,
    )
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


def _sample_case(samples, tmp_path, dataset: str, noise: float, seed: int):
    """GT of a converted sample split (as kpose's val pipeline hands it to the metric) and
    predictions perturbed from it."""
    from scipy.io import savemat

    from kpose.data import pipeline
    from kpose.data.formats.mpii import convert_jhmdb, convert_mpii
    from kpose.data.metainfo import get_dataset_info

    tmp_path.mkdir(parents=True, exist_ok=True)
    out = tmp_path / dataset
    if dataset == "mpii":
        ann = samples / "mpii" / "test_mpii.json"
        corners = np.random.default_rng(1).uniform(0, 300, (2, 2, 5))
        savemat(tmp_path / "gt.mat", {"headboxes_src": corners})
        convert_mpii(
            ann,
            samples / "mpii",
            out,
            split="val",
            headboxes=tmp_path / "gt.mat",
            shards=1,
            progress=False,
        )
    else:
        convert_jhmdb(
            samples / "jhmdb" / "test_jhmdb_sub1.json",
            samples / "jhmdb",
            out,
            split="val",
            shards=1,
            progress=False,
        )
    insts = list(pipeline.val_instances(str(out), "val", get_dataset_info(dataset)))
    gt = np.stack([i["gt_keypoints"].numpy() for i in insts]).astype(np.float32)
    bbox = np.stack([i["bbox"].numpy() for i in insts]).astype(np.float32)
    head = np.array([i["head_size"].numpy() for i in insts], np.float64)
    rng = np.random.default_rng(seed)
    pred = (gt[..., :2] + rng.normal(0, noise, gt[..., :2].shape)).astype(np.float32)
    return pred, gt[..., :2].copy(), np.minimum(1, gt[..., 2]), bbox, head


@pytest.mark.parametrize("dataset", ["mpii", "jhmdb"])
def test_pck_on_sample_annotations(dataset, samples, tmp_path, mmpose_ref):
    import json

    arrays, names = {}, []
    for seed, noise in enumerate((1.0, 5.0, 15.0, 40.0)):
        name = f"{dataset}{seed}"
        names.append(name)
        for key, value in zip(
            ("pred", "gt", "vis", "bbox", "head"),
            _sample_case(samples, tmp_path / name, dataset, noise, seed),
            strict=True,
        ):
            arrays[f"{name}_{key}"] = value
    ref = mmpose_ref(_REFERENCE, cases=json.dumps(names), **arrays)
    for name in names:
        pred, gt, vis, bbox, head = (
            arrays[f"{name}_{key}"] for key in ("pred", "gt", "vis", "bbox", "head")
        )
        if dataset == "mpii":
            _assert_equal(mpii_pckh(pred, gt, vis, head), ref[name]["mpii"])
        else:
            _assert_equal(jhmdb_pck(pred, gt, vis, bbox), ref[name]["jhmdb"])
        _assert_equal(
            pck(
                pred,
                gt,
                vis,
                thr=0.05,
                norm_items=("bbox", "head", "torso"),
                bbox_xyxy=bbox,
                head_size=head,
            ),
            ref[name]["pck"],
        )
