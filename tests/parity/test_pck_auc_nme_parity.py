"""The hand / animal PCK + AUC + EPE and the face NME against MMPose 1.3.2's ``PCKAccuracy``,
``AUC``, ``EPE`` and ``NME`` metric classes, on predictions made around the GT of the sample
files (each instance copied with noise of 0.5 % to 30 % of its box, joints hidden at random,
and joints put exactly at the PCK threshold). One reference run scores every case, through
kpose's ``score`` (the evaluator's entry) as well as the engine functions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kpose.evaluation.evaluator import score
from kpose.evaluation.nme import nme
from kpose.evaluation.pck import pck_auc_epe
from kpose.recipe import EvalConfig

pytestmark = pytest.mark.parity

COPIES = 40  # noisy copies of each sample instance
# name -> (sample file, MMPose metainfo config, kpose dataset, metric, options)
CASES = {
    "onehand10k": ("onehand10k/test_onehand10k.json", "onehand10k", "pck", {"pck_thr": 0.2}),
    "onehand10k-torso": (
        "onehand10k/test_onehand10k.json", "onehand10k", "pck",
        {"pck_thr": 0.1, "pck_norm": "torso", "auc_norm_factor": 20, "auc_num_thrs": 10},
    ),
    "onehand10k-head": (
        "onehand10k/test_onehand10k.json", "onehand10k", "pck", {"pck_norm": "head"},
    ),
    "rhd2d": ("rhd/test_rhd.json", "rhd2d", "pck", {"pck_thr": 0.2}),
    "freihand2d": ("freihand/test_freihand.json", "freihand2d", "pck", {"pck_thr": 0.2}),
    "locust": ("locust/test_locust.json", "locust", "pck", {"pck_thr": 0.2}),
    "zebra": ("zebra/test_zebra.json", "zebra", "pck", {"pck_thr": 0.2}),
    "ak": ("ak/test_animalkingdom.json", "ak", "pck", {"pck_thr": 0.05, "epe": False}),
    "300w": ("300w/test_300w.json", "300w", "nme", {}),
    "wflw": ("wflw/test_wflw.json", "wflw", "nme", {}),
    "cofw": ("cofw/test_cofw.json", "cofw", "nme", {}),
    "lapa": ("lapa/test_lapa.json", "lapa", "nme", {}),
    # COCO-WholeBody-Face has 300W's 68 points (no sample file of its own)
    "coco_wholebody_face": ("300w/test_300w.json", "coco_wholebody_face", "nme", {}),
    "300w-indices": ("300w/test_300w.json", "300w", "nme", {"nme_keypoint_indices": (39, 42)}),
    "aflw": (
        "aflw/test_aflw.json", "aflw", "nme",
        {"nme_norm_mode": "use_norm_item", "nme_norm_item": "bbox_size"},
    ),
}  # fmt: skip

_REFERENCE = """
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.evaluation.metrics import AUC, EPE, NME, PCKAccuracy

specs = json.loads(str(inputs["specs"]))
for name, spec in specs.items():
    pred, gt, vis = inputs[name + "_pred"], inputs[name + "_gt"], inputs[name + "_vis"]
    bbox, head = inputs[name + "_bbox"], inputs[name + "_head"]
    if spec["metric"] == "pck":
        metrics = [PCKAccuracy(thr=spec["thr"], norm_item=spec["norm"]),
                   AUC(norm_factor=spec["auc_norm_factor"], num_thrs=spec["auc_num_thrs"])]
        if spec["epe"]:
            metrics.append(EPE())
    elif spec["norm_mode"] == "use_norm_item":
        metrics = [NME(norm_mode="use_norm_item", norm_item=spec["norm_item"])]
    else:
        metrics = [NME(norm_mode="keypoint_distance", keypoint_indices=spec["indices"])]
    meta = parse_pose_metainfo(dict(
        from_file=os.path.join(MMPOSE_CONFIGS, "_base_", "datasets", spec["config"] + ".py")))
    samples = [{"pred_instances": {"keypoints": pred[i:i + 1]},
                "gt_instances": {"keypoints": gt[i:i + 1], "keypoints_visible": vis[i:i + 1],
                                 "bboxes": bbox[i:i + 1], "head_size": head[i]}}
               for i in range(len(pred))]
    out = {}
    for metric in metrics:
        metric.dataset_meta = meta
        metric.process([], samples)
        out.update({k: float(v) for k, v in metric.compute_metrics(metric.results).items()})
    outputs[name] = out
"""


def _case(samples, path: str, thr: float, seed: int):
    """GT of the sample file copied ``COPIES`` times, and predictions around it."""
    data = json.loads((samples / path).read_text())
    anns = data["annotations"]
    kps = np.stack([np.asarray(a["keypoints"], np.float64).reshape(-1, 3) for a in anns])
    xywh = np.asarray([a["bbox"] for a in anns], np.float64)
    rng = np.random.default_rng(seed)
    reps = np.arange(len(kps) * COPIES) % len(kps)
    gt = kps[reps, :, :2].astype(np.float32)  # (N, K, 2)
    v = kps[reps, :, 2]
    v = np.where(rng.random(v.shape) < 0.15, 0.0, v)  # hidden joints
    v[0] = 0  # an instance with nothing visible
    bbox = np.concatenate([xywh[reps, :2], xywh[reps, :2] + xywh[reps, 2:]], 1).astype(np.float32)
    size = np.max(bbox[:, 2:] - bbox[:, :2], axis=1)  # (N,)
    rel = rng.choice([0.005, 0.02, 0.05, 0.1, 0.3], len(reps))
    pred = gt + rng.normal(0, 1, gt.shape) * (rel * size)[:, None, None]
    # joints exactly at the threshold: MMPose compares the float32 distance with ``thr``
    offset = np.zeros_like(gt)
    offset[..., 0] = np.float32(thr) * size[:, None]
    pred = np.where((rng.random(v.shape) < 0.1)[..., None], gt + offset, pred)
    head = rng.uniform(0.3, 0.6, len(reps)) * size  # float64, as the MPII head sizes
    return pred.astype(np.float32), gt, v, bbox, head


def _spec(dataset: str, metric: str, opts: dict) -> dict:
    indices = opts.get("nme_keypoint_indices")
    return {
        "config": dataset,
        "metric": metric,
        "thr": opts.get("pck_thr", 0.05),
        "norm": opts.get("pck_norm", "bbox"),
        "auc_norm_factor": opts.get("auc_norm_factor", 30),
        "auc_num_thrs": opts.get("auc_num_thrs", 20),
        "epe": opts.get("epe", True),
        "norm_mode": opts.get("nme_norm_mode", "keypoint_distance"),
        "norm_item": opts.get("nme_norm_item"),
        # None: MMPose's own DEFAULT_KEYPOINT_INDICES of the dataset
        "indices": None if indices is None else list(indices),
    }


@pytest.fixture(scope="module")
def cases(samples):
    out = {}
    for seed, (name, (path, dataset, metric, opts)) in enumerate(CASES.items()):
        arrays = _case(samples, path, opts.get("pck_thr", 0.05), seed)
        out[name] = (dataset, metric, opts, arrays)
    return out


@pytest.fixture(scope="module")
def reference(mmpose_ref, cases):
    arrays, specs = {}, {}
    for name, (dataset, metric, opts, (pred, gt, v, bbox, head)) in cases.items():
        specs[name] = _spec(dataset, metric, opts)
        arrays |= {
            f"{name}_pred": pred,
            f"{name}_gt": gt,
            f"{name}_vis": np.minimum(1, v),  # MMPose's keypoints_visible
            f"{name}_bbox": bbox,
            f"{name}_head": head,
        }
    return mmpose_ref(_REFERENCE, specs=np.array(json.dumps(specs)), **arrays)


@pytest.mark.parametrize("name", list(CASES))
def test_metric_equals_mmpose(name, cases, reference):
    dataset, metric, opts, (pred, gt, v, bbox, head) = cases[name]
    ref = reference[name]
    columns = {
        "keypoints": pred,
        "gt_keypoints": np.concatenate([gt, v[..., None].astype(np.float32)], -1),
        "bbox": bbox,
        "head_size": head,
    }
    ev = EvalConfig(metric=metric, **opts)
    ours = score(metric, columns, None, dataset=dataset, ev=ev)
    if metric == "pck":
        direct = pck_auc_epe(
            pred,
            gt,
            v,
            thr=0.05 if ev.pck_thr is None else ev.pck_thr,  # PCKAccuracy's default
            norm_item=ev.pck_norm,
            bbox_xyxy=bbox,
            head_size=head,
            auc_norm_factor=ev.auc_norm_factor,
            auc_num_thrs=ev.auc_num_thrs,
            epe=ev.epe,
        )
    else:
        direct = nme(
            pred,
            gt,
            v,
            norm_mode=ev.nme_norm_mode,
            norm_item=ev.nme_norm_item,
            keypoint_indices=ev.nme_keypoint_indices,
            dataset_name=dataset,
            bbox_xyxy=bbox,
        )
    assert ours == direct
    assert list(ours) == list(ref), (ours, ref)
    diffs = {k: abs(ours[k] - ref[k]) for k in ref}
    print(f"\n{name}: kpose {ours}\n{' ' * len(name)}  MMPose {ref}")
    assert max(diffs.values()) <= 1e-9, diffs
