"""``coco_evaluate`` against MMPose 1.3.2's ``CocoMetric`` (xtcocotools) on the sample files.

Predictions are made from the sample ground truth: Gaussian keypoint noise at several levels,
random keypoint scores (some exactly float32(0.2), some instances with no score above 0.2 or
none above 0), dropped instances, duplicates (exact and re-noised, for OKS-NMS), repeated
sample ids (dropped by MMPose), false positives far from any person, and top-down areas from
jittered, padded, aspect-fixed detection boxes. One reference run scores every scenario; both
the written results and the ten stats must match.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from kpose.evaluation.coco import CROWD_STAT_NAMES, _oks_to_many
from kpose.metrics import COCO_STAT_NAMES, coco_evaluate, oks_nms

pytestmark = pytest.mark.parity

TOL = 1e-9
COCO_SIGMAS = [
    .026, .025, .025, .035, .035, .079, .079, .072, .072, .062, .062, .107, .107, .087, .087,
    .089, .089,
]  # fmt: skip
ASPECT = 192 / 256  # w / h of the model input
# name -> (sample file, MMPose dataset config, kpose dataset, use_area, noise px, options)
SCENARIOS = {
    **{
        f"coco-noise{noise}": ("coco/test_coco.json", "coco.py", "coco", True, noise, {})
        for noise in (0.5, 2, 5, 10)
    },
    **{
        f"coco-no-area-noise{noise}": ("coco/test_coco.json", "coco.py", "coco", False, noise, {})
        for noise in (2, 10)
    },
    **{
        f"humanart-noise{noise}": (
            "humanart/test_humanart.json", "humanart.py", "humanart", True, noise, {},
        )
        for noise in (0.5, 2, 5, 10)
    },
    **{
        f"aic-noise{noise}": ("aic/test_aic.json", "aic.py", "aic", False, noise, {})
        for noise in (2, 5)
    },
    # ExLPose's files have no areas: CocoMetric(use_area=False) as its config
    **{
        f"exlpose-noise{noise}": (
            "exlpose/test_exlpose.json", "exlpose.py", "exlpose", False, noise, {},
        )
        for noise in (2, 8)
    },
    "coco-bbox-score-no-nms": (
        "coco/test_coco.json", "coco.py", "coco", True, 3,
        {"score_mode": "bbox", "nms_mode": "none"},
    ),
    "coco-keypoint-score": (
        "coco/test_coco.json", "coco.py", "coco", True, 3, {"score_mode": "keypoint"},
    ),
    "coco-float64": ("coco/test_coco.json", "coco.py", "coco", True, 2, {"dtype": "float64"}),
    # "crowded": built from the COCO sample by ``crowded_ground_truth``; kpose reads it as a dict.
    **{
        f"crowded-noise{noise}": ("crowded", "coco.py", "coco", True, noise, {})
        for noise in (1, 4)
    },
    "crowded-no-area": ("crowded", "coco.py", "coco", False, 3, {}),
    **{
        f"crowdpose-noise{noise}": (
            "crowdpose/test_crowdpose.json", "crowdpose.py", "crowdpose", False, noise,
            {"iou_type": "keypoints_crowd"},
        )
        for noise in (1, 4, 10)
    },
    # The sample's two images are both "medium"; this copy puts one in "easy", one in "hard".
    "crowdpose-easy-hard": (
        "crowdpose-split", "crowdpose.py", "crowdpose", False, 3, {"iou_type": "keypoints_crowd"},
    ),
}  # fmt: skip

_REFERENCE = """
import contextlib, io, tempfile
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.evaluation.metrics import CocoMetric

specs = json.loads(str(inputs["specs"]))
stats, results, sigmas = [], [], {}
for i, spec in enumerate(specs):
    meta = parse_pose_metainfo(
        dict(from_file=os.path.join(MMPOSE_CONFIGS, "_base_", "datasets", spec["config"])))
    sigmas[spec["config"]] = meta["sigmas"].tolist()
    tmp = tempfile.mkdtemp()
    with contextlib.redirect_stdout(io.StringIO()):
        metric = CocoMetric(ann_file=spec["ann_file"], use_area=spec["use_area"],
                            iou_type=spec["iou_type"],
                            score_mode=spec["score_mode"], nms_mode=spec["nms_mode"],
                            outfile_prefix=os.path.join(tmp, "res"))
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
    stats.append({k.split("/", 1)[1]: float(v) for k, v in out.items()})
    with open(os.path.join(tmp, "res.keypoints.json")) as f:
        results.append(json.load(f))
outputs["stats"] = stats
outputs["results"] = results
outputs["sigmas"] = sigmas
"""


def crowded_ground_truth(coco: dict) -> dict:
    """A COCO file whose first image holds 30 people (more than COCOeval's 20 detections per
    image), with a crowd region, an annotation without labelled keypoints, one whose
    ``num_keypoints`` disagrees with its visibilities and one with id 0; plus an image without
    people and one that gets no predictions."""
    anns = []
    for copy in range(3):
        for j, ann in enumerate(coco["annotations"][:10]):
            dx, dy = 700.0 * (j % 4), 500.0 * (j // 4) + 1500.0 * copy
            kps = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)
            kps[kps[:, 2] > 0, :2] += [dx, dy]
            x, y, w, h = ann["bbox"]
            anns.append({
                "id": len(anns), "image_id": 1, "category_id": 1, "iscrowd": 0,
                "area": ann["area"], "bbox": [x + dx, y + dy, w, h],
                "keypoints": kps.reshape(-1).tolist(), "num_keypoints": ann["num_keypoints"],
            })  # fmt: skip
    anns[3]["iscrowd"] = 1
    anns[5]["keypoints"] = [0.0] * len(anns[5]["keypoints"])
    anns[5]["num_keypoints"] = 0
    anns[7]["num_keypoints"] = 0  # its keypoints are labelled: xtcocotools still scores it
    last = dict(coco["annotations"][10], id=len(anns), image_id=3)
    last.pop("segmentation", None)
    images = [{"id": i, "width": 3000, "height": 4500, "file_name": f"{i}.jpg"} for i in (1, 2, 3)]
    return {"images": images, "annotations": [*anns, last], "categories": coco["categories"]}


def _instance(rng, xy, bbox, noise, dtype, low_scores=None):
    """One top-down prediction around ``xy`` (K, 2) with a detection box jittered from
    ``bbox`` (x, y, w, h); ``low_scores`` in ("below", "zero") forces the score to 0."""
    k = xy.shape[0]
    scores = rng.random(k)
    scores[rng.random(k) < 0.1] = np.float32(0.2)  # exactly at the threshold
    scores[rng.random(k) < 0.05] = 0.0
    if low_scores == "below":
        scores = rng.random(k) * 0.2
    elif low_scores == "zero":
        scores = np.zeros(k)
    # MMPose's bbox_scales: the detected box (here the GT box, jittered) padded by 1.25 and
    # widened or heightened to the input's aspect ratio.
    w, h = (max(v, 4.0) * rng.uniform(0.9, 1.1) * 1.25 for v in bbox[2:])
    w, h = (w, w / ASPECT) if w > h * ASPECT else (h * ASPECT, h)
    return {
        "keypoints": (xy + rng.normal(0, noise, xy.shape)).astype(dtype),
        "keypoint_scores": scores.astype(dtype),
        "bbox_score": np.float32(rng.uniform(0.3, 1.0)),
        "bbox_scale": np.array([w, h], np.float32),
    }


def make_predictions(
    gt: dict, noise: float, seed: int, dtype=np.float32, crowded: bool = False
) -> list[dict]:
    """Noisy, duplicated and partly dropped top-down predictions for the GT of ``gt``; for
    ``crowded_ground_truth`` also false positives on image 2 and none on image 3."""
    rng = np.random.default_rng(seed)
    preds, repeats, zero_score_images = [], [], set()
    for ann in gt["annotations"]:
        if rng.random() < 0.15 or (crowded and ann["image_id"] == 3):
            continue  # missed person
        kps = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)
        x, y, w, h = ann["bbox"]
        xy = kps[:, :2].copy()
        unlabeled = kps[:, 2] == 0
        xy[unlabeled] = [x, y] + rng.random((int(unlabeled.sum()), 2)) * [max(w, 1), max(h, 1)]
        image = ann["image_id"]
        # At most one zero-score instance per image: equal scores of different instances are
        # ordered by numpy's unstable argsort in MMPose.
        low = None
        if image not in zero_score_images and rng.random() < 0.2:
            low = "below" if rng.random() < 0.5 else "zero"
            zero_score_images.add(image)
        group = [_instance(rng, xy, ann["bbox"], noise, dtype, low)]
        u = rng.random()
        if u < 0.15:
            group.append(dict(group[0]))  # exact duplicate, its own sample id
        elif u < 0.35 and low is None:
            group.append(_instance(rng, group[0]["keypoints"], ann["bbox"], 1.0, dtype))
        if rng.random() < 0.15:  # a false positive one box to the right
            group.append(_instance(rng, xy + [1.5 * w + 50, 0], ann["bbox"], noise, dtype))
        if crowded and rng.random() < 0.2:  # image 2 has nobody
            group.append(dict(_instance(rng, xy, ann["bbox"], noise, dtype), image_id=2))
        for inst in group:
            inst.setdefault("image_id", image)
            inst["id"] = len(preds)
            preds.append(inst)
            if rng.random() < 0.1:
                repeats.append(dict(inst))  # distributed-sampler padding: same sample id
    return preds + repeats


@pytest.fixture(scope="module")
def scenarios(samples, tmp_path_factory):
    """name -> (kpose arguments, predictions)"""
    crowded = tmp_path_factory.mktemp("gt") / "crowded.json"
    crowded.write_text(
        json.dumps(crowded_ground_truth(json.loads((samples / "coco/test_coco.json").read_text())))
    )
    split = crowded.parent / "crowdpose-split.json"
    crowdpose = json.loads((samples / "crowdpose/test_crowdpose.json").read_text())
    for img, index in zip(crowdpose["images"], (0.1, 0.9), strict=True):
        img["crowdIndex"] = index
    split.write_text(json.dumps(crowdpose))
    out = {}
    for seed, (name, (path, config, dataset, use_area, noise, opts)) in enumerate(
        SCENARIOS.items()
    ):
        opts = dict(opts)
        dtype = np.dtype(opts.pop("dtype", "float32"))
        ann_file = {"crowded": crowded, "crowdpose-split": split}.get(path, samples / path)
        gt = json.loads(ann_file.read_text())
        preds = make_predictions(gt, noise, seed, dtype, crowded=path == "crowded")
        spec = {
            "ann_file": str(ann_file),
            "as_dict": path == "crowded",
            "config": config,
            "dataset": dataset,
            "use_area": use_area,
            "score_mode": opts.get("score_mode", "bbox_keypoint"),
            "nms_mode": opts.get("nms_mode", "oks_nms"),
            "iou_type": opts.get("iou_type", "keypoints"),
        }
        out[name] = (spec, preds)
    return out


@pytest.fixture(scope="module")
def reference(mmpose_ref, scenarios):
    arrays = {}
    specs = []
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
        name: (stats, results)
        for name, stats, results in zip(scenarios, out["stats"], out["results"], strict=True)
    } | {"sigmas": out["sigmas"]}


def _kpose(spec, preds, tmp_path, sigmas):
    inputs = [
        {
            "id": p["id"],
            "image_id": p["image_id"],
            "keypoints": p["keypoints"],
            "keypoint_scores": p["keypoint_scores"],
            "bbox_score": p["bbox_score"],
            "area": np.prod(p["bbox_scale"]),
        }
        for p in preds
    ]
    ann_file = spec["ann_file"]
    if spec["as_dict"]:
        with open(ann_file) as f:
            ann_file = json.load(f)
    stats = coco_evaluate(
        ann_file,
        inputs,
        dataset=spec["dataset"],
        sigmas=sigmas,
        use_area=spec["use_area"],
        score_mode=spec["score_mode"],
        nms_mode=spec["nms_mode"],
        iou_type=spec["iou_type"],
        outfile_prefix=tmp_path / "res",
    )
    results = json.loads((tmp_path / "res.keypoints.json").read_text())
    return stats, results


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_coco_metric_matches_mmpose(name, scenarios, reference, tmp_path):
    spec, preds = scenarios[name]
    ref_stats, ref_results = reference[name]
    sigmas = reference["sigmas"][spec["config"]]
    stats, results = _kpose(spec, preds, tmp_path, sigmas)

    # The written results: same instances kept, same order, same keypoints and scores.
    assert len(results) == len(ref_results)
    for ours, theirs in zip(results, ref_results, strict=True):
        assert ours["image_id"] == theirs["image_id"]
        assert ours["category_id"] == theirs["category_id"]
        assert ours["score"] == theirs["score"]
        assert ours["keypoints"] == theirs["keypoints"]

    names = CROWD_STAT_NAMES if spec["iou_type"] == "keypoints_crowd" else COCO_STAT_NAMES
    assert list(stats) == list(names) == list(ref_stats)
    diff = max(abs(stats[k] - ref_stats[k]) for k in names)
    assert diff <= TOL, f"{name}: max |kpose - MMPose| = {diff}\n{stats}\n{ref_stats}"


def test_dataset_sigmas_match_mmpose(reference):
    """The metric tests pass MMPose's sigmas; the ``dataset=`` default must give the same."""
    get_dataset_info = getattr(pytest.importorskip("kpose.data.metainfo"), "get_dataset_info", None)
    if get_dataset_info is None:
        pytest.skip("kpose.data.metainfo.get_dataset_info is not there yet")
    for _, config, dataset, *_ in SCENARIOS.values():
        np.testing.assert_array_equal(
            np.asarray(get_dataset_info(dataset).sigmas, np.float32),
            np.asarray(reference["sigmas"][config], np.float32),
            err_msg=dataset,
        )


_REFERENCE_NMS = """
from mmpose.evaluation.functional.nms import oks_iou, oks_nms

kps, s, a, sc, sig = (inputs[k] for k in ("keypoints", "scores", "areas", "inst_scores", "sigmas"))
oks, keeps = [], []
for g in range(kps.shape[0]):
    rows = np.concatenate([kps[g], s[g][..., None]], -1)  # (M, K, 3)
    flat = rows.reshape(len(rows), -1)
    oks.append(oks_iou(flat[0], flat[1:], a[g, 0], a[g, 1:], sig))
    db = [dict(score=sc[g, i], keypoints=rows[i], area=a[g, i]) for i in range(len(rows))]
    keeps.append(oks_nms(db, 0.9, sigmas=sig).tolist())
outputs["oks"] = np.stack(oks)
outputs["keeps"] = keeps
"""


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_oks_nms_matches_mmpose(mmpose_ref, dtype):
    """Clusters of 40 instances whose spread puts many OKS values near the 0.9 threshold."""
    rng = np.random.default_rng(7)
    groups, m = 200, 40
    spread = rng.uniform(0.5, 8, (groups, 1, 1, 1))
    keypoints = rng.uniform(0, 500, (groups, 1, 17, 2)) + spread * rng.normal(
        size=(groups, m, 17, 2)
    )
    keypoints = keypoints.astype(dtype)
    scores = rng.random((groups, m, 17)).astype(dtype)
    areas = rng.uniform(3e3, 3e4, (groups, m)).astype(np.float32)
    inst_scores = rng.random((groups, m))
    sigmas = np.asarray(COCO_SIGMAS, np.float32)
    ref = mmpose_ref(
        _REFERENCE_NMS,
        keypoints=keypoints,
        scores=scores,
        areas=areas,
        inst_scores=inst_scores,
        sigmas=sigmas,
    )
    assert np.sum(np.abs(ref["oks"] - 0.9) < 0.01) > 100  # the threshold is exercised

    var = (sigmas * 2) ** 2
    for g in range(groups):
        oks = _oks_to_many(keypoints[g, 0], keypoints[g, 1:], areas[g, 0], areas[g, 1:], var)
        np.testing.assert_array_equal(oks, ref["oks"][g])
        rows = np.concatenate([keypoints[g], scores[g][..., None]], -1)
        assert oks_nms(rows, inst_scores[g], areas[g], sigmas).tolist() == ref["keeps"][g]
