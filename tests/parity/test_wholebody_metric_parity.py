"""``coco_wholebody_evaluate`` against MMPose 1.3.2's ``CocoWholeBodyMetric`` (xtcocotools).

Predictions come from the COCO-WholeBody sample's 133 keypoints with the COCO metric test's
generator (``make_predictions``: noise levels, keypoint scores at and below the threshold,
duplicates for OKS-NMS, repeated sample ids, false positives, jittered padded boxes), on the
sample file and on a crowded copy (42 people in one image, a crowd region, an annotation with
id 0, an image without people and one without predictions). One reference run scores every
scenario; the written results, the whole-body stats MMPose returns and each part's stats
(read from its xtcocotools ``COCOeval`` runs) must match.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from kpose.data.formats.coco_wholebody import PART_FIELDS
from kpose.data.metainfo import get_dataset_info
from kpose.evaluation.wholebody import WHOLEBODY_PARTS, WHOLEBODY_STAT_NAMES
from kpose.metrics import COCO_STAT_NAMES, coco_wholebody_evaluate
from tests.parity.test_coco_metric_parity import make_predictions

pytestmark = pytest.mark.parity

TOL = 1e-9
SAMPLE = "coco/test_coco_wholebody.json"
# name -> (ground truth, use_area, noise px, options)
SCENARIOS = {
    **{f"noise{noise}": ("sample", True, noise, {}) for noise in (0.3, 1, 3, 8)},
    "no-area": ("sample", False, 2, {}),
    "bbox-score-no-nms": ("sample", True, 2, {"score_mode": "bbox", "nms_mode": "none"}),
    "keypoint-score": ("sample", True, 2, {"score_mode": "keypoint"}),
    "float64": ("sample", True, 1, {"dtype": "float64"}),
    **{f"crowded-noise{noise}": ("crowded", True, noise, {}) for noise in (0.5, 3)},
    "crowded-no-area": ("crowded", False, 1, {}),
}

_REFERENCE = """
import contextlib, io, tempfile
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.evaluation.metrics import coco_wholebody_metric as M

runs = []
class RecordingCOCOeval(M.COCOeval):
    def summarize(self):
        super().summarize()
        runs.append((self.params.iouType, [float(v) for v in self.stats]))

M.COCOeval = RecordingCOCOeval
meta = parse_pose_metainfo(
    dict(from_file=os.path.join(MMPOSE_CONFIGS, "_base_", "datasets", "coco_wholebody.py")))
stats, parts, results = [], [], []
for i, spec in enumerate(json.loads(str(inputs["specs"]))):
    tmp = tempfile.mkdtemp()
    runs.clear()
    with contextlib.redirect_stdout(io.StringIO()):
        metric = M.CocoWholeBodyMetric(
            ann_file=spec["ann_file"], use_area=spec["use_area"], score_mode=spec["score_mode"],
            nms_mode=spec["nms_mode"], outfile_prefix=os.path.join(tmp, "res"))
        metric.dataset_meta = meta
        p = {k: inputs[f"{i}_{k}"] for k in ("id", "image_id", "keypoints", "keypoint_scores",
                                            "bbox_scores", "bbox_scales")}
        samples = [
            dict(id=int(p["id"][n]), img_id=int(p["image_id"][n]),
                 pred_instances=dict(keypoints=p["keypoints"][n:n + 1],
                                     keypoint_scores=p["keypoint_scores"][n:n + 1]),
                 gt_instances=dict(bbox_scores=p["bbox_scores"][n:n + 1],
                                   bbox_scales=p["bbox_scales"][n:n + 1]))
            for n in range(len(p["id"]))
        ]
        metric.process([], samples)
        out = metric.evaluate(len(samples))
    stats.append({k: float(v) for k, v in out.items()})
    parts.append({iou_type.split("_", 1)[1]: values for iou_type, values in runs})
    with open(os.path.join(tmp, "res.keypoints.json")) as f:
        results.append(json.load(f))
outputs["stats"] = stats
outputs["parts"] = parts
outputs["results"] = results
outputs["sigmas"] = meta["sigmas"].tolist()
"""


def _shifted(ann: dict, dx: float, dy: float, **changes) -> dict:
    """``ann`` moved by (dx, dy): its box and every part's labelled keypoints."""
    out = {**ann, "bbox": [ann["bbox"][0] + dx, ann["bbox"][1] + dy, *ann["bbox"][2:]]}
    for field, _ in PART_FIELDS:
        kps = np.asarray(ann[field], np.float64).reshape(-1, 3)
        kps[kps[:, 2] > 0, :2] += [dx, dy]
        out[field] = kps.reshape(-1).tolist()
    out.pop("segmentation", None)
    return {**out, **changes}


def crowded_wholebody(gt: dict) -> dict:
    """Three copies of the sample's 14 people in image 1 (more than COCOeval's 20 detections),
    one of them a crowd region and one with id 0; nobody in image 2; one person in image 3."""
    anns = []
    for copy in range(3):
        for j, ann in enumerate(gt["annotations"]):
            dx, dy = 700.0 * (j % 4), 500.0 * (j // 4) + 2000.0 * copy
            anns.append(_shifted(ann, dx, dy, id=len(anns), image_id=1))
    anns[4]["iscrowd"] = 1
    anns.append(_shifted(gt["annotations"][0], 0, 0, id=len(anns), image_id=3))
    images = [{"id": i, "width": 3000, "height": 6000, "file_name": f"{i}.jpg"} for i in (1, 2, 3)]
    return {"images": images, "annotations": anns, "categories": gt["categories"]}


def _flat(gt: dict) -> dict:
    """``gt`` with each annotation's 133 keypoints in ``keypoints`` (for ``make_predictions``)."""
    anns = [
        {**a, "keypoints": [v for field, _ in PART_FIELDS for v in a[field]]}
        for a in gt["annotations"]
    ]
    return {**gt, "annotations": anns}


@pytest.fixture(scope="module")
def scenarios(samples, tmp_path_factory):
    """name -> (spec, predictions)"""
    sample = json.loads((samples / SAMPLE).read_text())
    crowded = tmp_path_factory.mktemp("gt") / "crowded_wholebody.json"
    crowded.write_text(json.dumps(crowded_wholebody(sample)))
    files = {"sample": samples / SAMPLE, "crowded": crowded}
    out = {}
    for seed, (name, (gt, use_area, noise, opts)) in enumerate(SCENARIOS.items()):
        dtype = np.dtype(opts.get("dtype", "float32"))
        data = json.loads(files[gt].read_text())
        preds = make_predictions(_flat(data), noise, 100 + seed, dtype, crowded=gt == "crowded")
        spec = {
            "ann_file": str(files[gt]),
            "use_area": use_area,
            "score_mode": opts.get("score_mode", "bbox_keypoint"),
            "nms_mode": opts.get("nms_mode", "oks_nms"),
        }
        out[name] = (spec, preds)
    return out


@pytest.fixture(scope="module")
def reference(mmpose_ref, scenarios):
    arrays, specs = {}, []
    for i, (spec, preds) in enumerate(scenarios.values()):
        specs.append(spec)
        arrays[f"{i}_id"] = np.array([p["id"] for p in preds])
        arrays[f"{i}_image_id"] = np.array([p["image_id"] for p in preds])
        for key in ("keypoints", "keypoint_scores"):
            arrays[f"{i}_{key}"] = np.stack([p[key] for p in preds])
        arrays[f"{i}_bbox_scores"] = np.array([p["bbox_score"] for p in preds], np.float32)
        arrays[f"{i}_bbox_scales"] = np.stack([p["bbox_scale"] for p in preds])
    out = mmpose_ref(_REFERENCE, specs=np.array(json.dumps(specs)), **arrays)
    return {
        name: (stats, parts, results)
        for name, stats, parts, results in zip(
            scenarios, out["stats"], out["parts"], out["results"], strict=True
        )
    } | {"sigmas": out["sigmas"]}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_coco_wholebody_metric_matches_mmpose(name, scenarios, reference, tmp_path):
    spec, preds = scenarios[name]
    ref_stats, ref_parts, ref_results = reference[name]
    columns = {
        "id": np.array([p["id"] for p in preds]),
        "image_id": np.array([p["image_id"] for p in preds]),
        "keypoints": np.stack([p["keypoints"] for p in preds]),
        "keypoint_scores": np.stack([p["keypoint_scores"] for p in preds]),
        "bbox_score": np.array([p["bbox_score"] for p in preds]),
        "area": np.array([np.prod(p["bbox_scale"]) for p in preds]),
    }
    stats = coco_wholebody_evaluate(
        spec["ann_file"],
        columns,
        use_area=spec["use_area"],
        score_mode=spec["score_mode"],
        nms_mode=spec["nms_mode"],
        outfile_prefix=tmp_path / "res",
    )
    # The default sigmas are MMPose's.
    np.testing.assert_array_equal(
        np.float32(reference["sigmas"]), np.float32(get_dataset_info("coco_wholebody").sigmas)
    )

    results = json.loads((tmp_path / "res.keypoints.json").read_text())
    assert results == ref_results

    # MMPose returns the whole body's stats; each part's come from its COCOeval run.
    assert list(stats) == list(WHOLEBODY_STAT_NAMES)
    assert list(ref_stats) == [f"coco-wholebody/{k}" for k in COCO_STAT_NAMES]
    expected = {k: ref_stats[f"coco-wholebody/{k}"] for k in COCO_STAT_NAMES}
    assert ref_parts["wholebody"] == [expected[k] for k in COCO_STAT_NAMES]
    assert list(ref_parts) == [*WHOLEBODY_PARTS, "wholebody"]
    for part in WHOLEBODY_PARTS:
        expected.update(
            {f"{part}/{k}": v for k, v in zip(COCO_STAT_NAMES, ref_parts[part], strict=True)}
        )
    diff = max(abs(stats[k] - expected[k]) for k in WHOLEBODY_STAT_NAMES)
    print(f"\n{name}: AP {stats['AP']:.4f}, body {stats['body/AP']:.4f}, face "
          f"{stats['face/AP']:.4f}, max |kpose - MMPose| {diff:.2g}")  # fmt: skip
    assert diff <= TOL, f"{name}: max |kpose - MMPose| = {diff}\n{stats}\n{expected}"
