"""COCO AP of the animal datasets, whose instances have categories (AP-10K: 54 animals, two of
them in the sample; AnimalPose: 5), against MMPose 1.3.2's ``CocoMetric``: each prediction
carries its GT instance's ``category_id`` from the converted records through the val pipeline
into the COCO results, and the ground truth rebuilt from the records scores like MMPose's
annotation file. One reference run scores every case."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kpose.data import pipeline
from kpose.data.formats.coco import convert_coco
from kpose.data.metainfo import get_dataset_info
from kpose.evaluation.coco import COCO_STAT_NAMES, coco_evaluate
from kpose.evaluation.evaluator import coco_ground_truth

pytestmark = pytest.mark.parity

# name -> (sample file, kpose / MMPose dataset, keypoint noise in px)
CASES = {
    **{f"ap10k-noise{n}": ("ap10k/test_ap10k.json", "ap10k", n) for n in (1, 4, 12)},
    **{
        f"animalpose-noise{n}": ("animalpose/test_animalpose.json", "animalpose", n) for n in (2, 8)
    },
}

_REFERENCE = """
import contextlib, io, tempfile
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.evaluation.metrics import CocoMetric

specs = json.loads(str(inputs["specs"]))
for name, spec in specs.items():
    p = {k: inputs[f"{name}_{k}"] for k in ("id", "image_id", "category_id", "keypoints",
                                            "keypoint_scores", "bbox_scores", "bbox_scales")}
    tmp = tempfile.mkdtemp()
    with contextlib.redirect_stdout(io.StringIO()):
        metric = CocoMetric(ann_file=spec["ann_file"], outfile_prefix=os.path.join(tmp, "res"))
        metric.dataset_meta = parse_pose_metainfo(dict(from_file=os.path.join(
            MMPOSE_CONFIGS, "_base_", "datasets", spec["dataset"] + ".py")))
        samples = [
            dict(id=int(p["id"][n]), img_id=int(p["image_id"][n]),
                 category_id=np.array(p["category_id"][n]),
                 pred_instances=dict(keypoints=p["keypoints"][n:n + 1],
                                     keypoint_scores=p["keypoint_scores"][n:n + 1]),
                 gt_instances=dict(bbox_scores=p["bbox_scores"][n:n + 1],
                                   bbox_scales=p["bbox_scales"][n:n + 1]))
            for n in range(len(p["id"]))
        ]
        metric.process([], samples)
        out = metric.evaluate(len(samples))
    with open(os.path.join(tmp, "res.keypoints.json")) as f:
        results = json.load(f)
    outputs[name] = {"stats": {k.split("/", 1)[1]: float(v) for k, v in out.items()},
                     "categories": [r["category_id"] for r in results]}
"""


def _predictions(instances: list[dict], noise: float, seed: int) -> dict[str, np.ndarray]:
    """Top-down predictions around the val instances (GT boxes): each instance predicted
    twice (the second a worse duplicate for OKS-NMS), and a false positive beside it."""
    rng = np.random.default_rng(seed)
    rows = []
    for inst in instances:
        xy = inst["gt_keypoints"][:, :2]
        x0, y0, x1, y1 = inst["bbox"]
        w, h = x1 - x0, y1 - y0
        for shift, spread in (((0.0, 0.0), noise), ((0.0, 0.0), 3 * noise), ((1.2 * w, 0), noise)):
            rows.append(
                {
                    "image_id": inst["image_id"],
                    "category_id": inst["category_id"],
                    "keypoints": (xy + shift + rng.normal(0, spread, xy.shape)).astype(np.float32),
                    "keypoint_scores": rng.random(len(xy)).astype(np.float32),
                    "bbox_score": np.float32(1.0),
                    # MMPose's bbox_scales: the GT box padded by 1.25 (square input)
                    "bbox_scale": np.float32(1.25 * max(w, h)) * np.ones(2, np.float32),
                }
            )
    columns = {k: np.stack([r[k] for r in rows]) for k in rows[0]}
    columns["id"] = np.arange(len(rows))
    return columns


@pytest.fixture(scope="module")
def cases(samples, tmp_path_factory):
    """name -> (annotation file, dataset, GT rebuilt from the records, predictions)"""
    out, converted = {}, {}
    for seed, (name, (path, dataset, noise)) in enumerate(CASES.items()):
        info = get_dataset_info(dataset)
        if dataset not in converted:
            root = tmp_path_factory.mktemp(dataset)
            ann = samples / path
            convert_coco(
                ann, ann.parent, root, split="val", dataset=dataset, shards=1, progress=False
            )
            instances = [
                {k: v.numpy() for k, v in inst.items() if k not in ("encoded", "format")}
                for inst in pipeline.val_instances(str(root), "val", info)
            ]
            gt = coco_ground_truth(str(root), "val", info.num_keypoints, info.keypoint_names)
            converted[dataset] = (instances, gt)
        instances, gt = converted[dataset]
        out[name] = (samples / path, dataset, gt, _predictions(instances, noise, seed))
    return out


@pytest.fixture(scope="module")
def reference(mmpose_ref, cases):
    arrays, specs = {}, {}
    for name, (ann_file, dataset, _, preds) in cases.items():
        specs[name] = {"ann_file": str(ann_file), "dataset": dataset}
        arrays |= {f"{name}_{k}": v for k, v in preds.items() if k not in ("bbox_score",)}
        arrays[f"{name}_bbox_scores"] = preds["bbox_score"]
        arrays[f"{name}_bbox_scales"] = preds["bbox_scale"]
    return mmpose_ref(_REFERENCE, specs=np.array(json.dumps(specs)), **arrays)


def _kpose(ann, dataset, preds, **kwargs):
    columns = {k: v for k, v in preds.items() if k != "bbox_scale"}
    columns["area"] = np.prod(preds["bbox_scale"], axis=-1)
    return coco_evaluate(ann, columns, dataset=dataset, **kwargs)


def test_val_instances_keep_the_categories(cases):
    for path, _, gt, preds in cases.values():
        file = json.loads(path.read_text())
        by_id = {a["id"]: a["category_id"] for a in file["annotations"]}
        assert {a["id"]: a["category_id"] for a in gt["annotations"]} == by_id
        assert set(preds["category_id"].tolist()) == set(by_id.values())


@pytest.mark.parametrize("name", list(CASES))
def test_coco_ap_per_category_equals_mmpose(name, cases, reference, tmp_path):
    ann_file, dataset, gt, preds = cases[name]
    ref = reference[name]
    from_records = _kpose(gt, dataset, preds, outfile_prefix=tmp_path / "res")
    from_file = _kpose(ann_file, dataset, preds)
    results = json.loads((tmp_path / "res.keypoints.json").read_text())
    assert [r["category_id"] for r in results] == ref["categories"]
    print(f"\n{name}: kpose AP {from_records['AP']:.6f}, MMPose AP {ref['stats']['AP']:.6f}")
    for stats in (from_records, from_file):
        assert list(stats) == list(COCO_STAT_NAMES) == list(ref["stats"])
        diff = max(abs(stats[k] - ref["stats"][k]) for k in COCO_STAT_NAMES)
        assert diff <= 1e-9, (stats, ref["stats"])
    if name.startswith("ap10k"):  # every result as category 1 (person) scores another AP
        person = _kpose(ann_file, dataset, {**preds, "category_id": np.ones(len(preds["id"]))})
        assert person["AP"] != pytest.approx(ref["stats"]["AP"])
