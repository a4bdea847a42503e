"""``posetrack18_evaluate`` against MMPose 1.3.2's ``PoseTrack18Metric`` (which runs poseval).

poseval is not on PyPI; the test runs when it is installed in the reference virtualenv
(``pip install`` of github.com/svenkreiss/poseval) and is skipped otherwise.

The ground truth is the three sample videos plus two longer videos built from them: frames
with the people jittered and partly removed, a frame without people, a GT person without any
labelled joint, ignore regions that cover some joints, whole people, and every person of a
frame. Predictions come from ``make_predictions`` of the COCO parity test (noise, missed
people, duplicates, false positives, scores exactly at 0.2 and 0, repeated sample ids).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from kpose.evaluation.posetrack import POSETRACK_STAT_NAMES, posetrack18_evaluate
from tests.parity.test_coco_metric_parity import make_predictions

pytestmark = pytest.mark.parity

TOL = 1e-9
# name -> (keypoint noise px, score_mode, nms_mode)
SCENARIOS = {
    "noise2": (2.0, "bbox_keypoint", "oks_nms"),
    "noise8": (8.0, "bbox_keypoint", "oks_nms"),
    "noise25": (25.0, "bbox_keypoint", "oks_nms"),
    "noise5-bbox-score-no-nms": (5.0, "bbox", "none"),
}
# Without NMS the exact duplicates stay: their joints tie, and poseval ranks ties by
# np.argsort, whose order of equal values depends on the numpy version and CPU (SIMD sorts).
# These scenarios are compared with kpose run under the reference's numpy.
TIED = {"noise5-bbox-score-no-nms"}

_REFERENCE = """
import contextlib, io, tempfile
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.evaluation.metrics import PoseTrack18Metric

specs = json.loads(str(inputs["specs"]))
meta = parse_pose_metainfo(
    dict(from_file=os.path.join(MMPOSE_CONFIGS, "_base_", "datasets", "posetrack18.py")))
stats, files = [], []
for i, spec in enumerate(specs):
    tmp = tempfile.mkdtemp()
    with contextlib.redirect_stdout(io.StringIO()):
        metric = PoseTrack18Metric(ann_file=spec["ann_file"], score_mode=spec["score_mode"],
                                   nms_mode=spec["nms_mode"],
                                   outfile_prefix=os.path.join(tmp, "results"))
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
    written = {}
    for name in sorted(os.listdir(tmp)):
        if name.endswith(".json"):
            with open(os.path.join(tmp, name)) as f:
                written[name] = json.load(f)
    files.append(written)
outputs["stats"] = stats
outputs["files"] = files

# kpose's metric on the same inputs under the reference's numpy (same tie order as poseval).
sys.path.insert(0, str(inputs["repo"]))
from kpose.evaluation.posetrack import posetrack18_evaluate
kpose_stats = []
for i, spec in enumerate(specs):
    p = {k: inputs[f"{i}_{k}"] for k in ("id", "image_id", "keypoints", "keypoint_scores",
                                        "bbox_scores", "bbox_scales")}
    preds = [dict(id=int(p["id"][n]), image_id=int(p["image_id"][n]),
                  keypoints=p["keypoints"][n], keypoint_scores=p["keypoint_scores"][n],
                  bbox_score=p["bbox_scores"][n], area=np.prod(p["bbox_scales"][n]))
             for n in range(len(p["id"]))]
    kpose_stats.append(posetrack18_evaluate(spec["gt_folder"], preds,
                                            score_mode=spec["score_mode"],
                                            nms_mode=spec["nms_mode"]))
outputs["kpose_stats"] = kpose_stats
"""


def _video(source: dict, seq: int, frames: int, rng) -> dict:
    """A PoseTrack18 video of ``frames`` frames made from the people of ``source``'s frame."""
    people = source["annotations"]
    images, annotations = [], []
    for f in range(frames):
        image_id = 10000000000 + seq * 10000 + f
        image = {
            "id": image_id, "file_name": f"images/val/{seq:06d}_mpii_test/{f:06d}.jpg",
            "frame_id": image_id, "vid_id": f"{seq:06d}", "nframes": frames,
            "is_labeled": f != 2, "width": 1920, "height": 1080,
        }  # fmt: skip
        if f == 2:  # unlabelled frame: no people
            images.append(image)
            continue
        kept = [a for a in people if rng.random() > 0.2] or people[:1]
        for a in kept:
            kps = np.asarray(a["keypoints"], np.float64).reshape(-1, 3)
            shift = rng.normal(0, 15, 2)
            labelled = kps[:, 2] > 0
            kps[labelled, :2] += shift
            if f == 3 and a is kept[0]:
                kps[:] = 0  # a GT person without labelled joints
            x, y, w, h = a["bbox"]
            hx, hy, hw, hh = a["bbox_head"]
            annotations.append({
                "id": image_id * 100 + len(annotations), "image_id": image_id,
                "category_id": 1, "track_id": people.index(a), "iscrowd": False,
                "bbox": [x + shift[0], y + shift[1], w, h],
                "bbox_head": [hx + shift[0], hy + shift[1], hw, hh],
                "keypoints": kps.reshape(-1).tolist(), "scores": [],
                "num_keypoints": int(labelled.sum()),
            })  # fmt: skip
        if f in (1, 4):  # a region over part of the first person (its upper body, say)
            x, y, w, h = annotations[-1]["bbox"]
            image["ignore_regions_x"] = [[x - 5, x + w + 5, x + w + 5, x - 5]]
            image["ignore_regions_y"] = [[y - 5, y - 5, y + h / 2, y + h / 2]]
        if f == 5:  # a region over the whole frame: nothing left to score
            image["ignore_regions_x"] = [[0, 1920, 1920, 0]]
            image["ignore_regions_y"] = [[0, 0, 1080, 1080]]
        images.append(image)
    return {"images": images, "annotations": annotations, "categories": source["categories"]}


@pytest.fixture(scope="module")
def ground_truth(samples, tmp_path_factory):
    """``(merged val file, per-video folder)``: the sample videos and two built ones."""
    root = tmp_path_factory.mktemp("posetrack18")
    folder = root / "val"
    shutil.copytree(samples / "posetrack18" / "annotations" / "val", folder)
    rng = np.random.default_rng(0)
    sources = sorted(folder.glob("*.json"))
    for seq, source in zip((900001, 900002), sources[1:], strict=True):
        video = _video(json.loads(source.read_text()), seq, 6, rng)
        (folder / f"{seq:06d}_mpii_test.json").write_text(json.dumps(video))
    merged = {"images": [], "annotations": [], "categories": None}
    for path in sorted(folder.glob("*.json")):
        video = json.loads(path.read_text())
        merged["images"] += video["images"]
        merged["annotations"] += video["annotations"]
        merged["categories"] = video["categories"]
    ann_file = root / "posetrack18_val.json"
    ann_file.write_text(json.dumps(merged))
    return ann_file, folder, merged


@pytest.fixture(scope="module")
def scenarios(ground_truth):
    _, _, merged = ground_truth
    return {
        name: (score_mode, nms_mode, make_predictions(merged, noise, seed))
        for seed, (name, (noise, score_mode, nms_mode)) in enumerate(SCENARIOS.items())
    }


@pytest.fixture(scope="module")
def reference(mmpose_ref, ground_truth, scenarios):
    ann_file = ground_truth[0]
    arrays, specs = {}, []
    for i, (score_mode, nms_mode, preds) in enumerate(scenarios.values()):
        specs.append(
            {
                "ann_file": str(ann_file),
                "gt_folder": str(ground_truth[1]),
                "score_mode": score_mode,
                "nms_mode": nms_mode,
            }
        )
        arrays[f"{i}_id"] = np.array([p["id"] for p in preds])
        arrays[f"{i}_image_id"] = np.array([p["image_id"] for p in preds])
        for key in ("keypoints", "keypoint_scores"):
            arrays[f"{i}_{key}"] = np.stack([p[key] for p in preds])
        arrays[f"{i}_bbox_scores"] = np.array([p["bbox_score"] for p in preds], np.float32)
        arrays[f"{i}_bbox_scales"] = np.stack([p["bbox_scale"] for p in preds])
    out = mmpose_ref(
        _REFERENCE,
        specs=np.array(json.dumps(specs)),
        repo=np.array(str(Path(__file__).resolve().parents[2])),
        **arrays,
    )
    return dict(
        zip(
            scenarios, zip(out["stats"], out["files"], out["kpose_stats"], strict=True), strict=True
        )
    )


@pytest.fixture(scope="module", autouse=True)
def _poseval_installed(mmpose_ref):
    try:
        mmpose_ref("import poseval")
    except RuntimeError:
        pytest.skip(
            "poseval is not installed in the MMPose reference (pip install "
            "git+https://github.com/svenkreiss/poseval)"
        )


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_posetrack18_metric_matches_mmpose(name, scenarios, reference, ground_truth, tmp_path):
    _, folder, _ = ground_truth
    score_mode, nms_mode, preds = scenarios[name]
    ref_stats, ref_files, kpose_ref_numpy = reference[name]
    inputs = [
        {"id": p["id"], "image_id": p["image_id"], "keypoints": p["keypoints"],
         "keypoint_scores": p["keypoint_scores"], "bbox_score": p["bbox_score"],
         "area": np.prod(p["bbox_scale"])}
        for p in preds
    ]  # fmt: skip
    stats = posetrack18_evaluate(
        folder, inputs, score_mode=score_mode, nms_mode=nms_mode, outfile_dir=tmp_path
    )

    # The per-video prediction files MMPose writes for poseval.
    written = {p.name: json.loads(p.read_text()) for p in sorted(tmp_path.glob("*.json"))}
    assert written == ref_files

    assert list(stats) == list(POSETRACK_STAT_NAMES) == list(ref_stats)
    same_numpy = max(abs(kpose_ref_numpy[k] - ref_stats[k]) for k in POSETRACK_STAT_NAMES)
    assert same_numpy <= TOL, f"{name}: {kpose_ref_numpy}\n{ref_stats}"
    if name not in TIED:
        diff = max(abs(stats[k] - ref_stats[k]) for k in POSETRACK_STAT_NAMES)
        assert diff <= TOL, f"{name}: max |kpose - MMPose| = {diff}\n{stats}\n{ref_stats}"
