"""``python -m kpose.evaluate`` (``kpose.evaluation.evaluator.evaluate``) on every converted
sample dataset, with weights as ``.weights.h5``, MMPose ``.pth`` and ``.keras`` (random weights:
mechanics; the metric numbers against MMPose are in tests/parity/)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from kpose.data.formats.coco import convert_coco
from kpose.data.formats.mpii import convert_jhmdb, convert_mpii
from kpose.data.formats.posetrack18 import convert_posetrack18
from kpose.data.metainfo import get_dataset_info
from kpose.evaluate import main
from kpose.models.build import build_heatmap_model
from kpose.recipe import load_recipe, replace
from tests.weights.torch_files import write_torch_state_dict

QUICKSTART = Path(__file__).parents[2] / "recipes" / "quickstart.yaml"

# dataset -> (metric, headline keys)
CASES = {
    "coco": ("coco", ["AP", "AP .5", "AR (L)"]),
    "crowdpose": ("crowdpose", ["AP", "AP(E)", "AP(M)", "AP(H)"]),
    "aic": ("coco", ["AP"]),
    "humanart": ("coco", ["AP"]),
    "mpii": ("mpii", ["Head PCK", "PCK", "PCK@0.1"]),
    "jhmdb": ("jhmdb", ["PCK", "tPCK", "Ank tPCK"]),
    "posetrack18": ("posetrack18", ["Head AP", "Ankl AP", "AP"]),
    "onehand10k": ("pck", ["PCK", "AUC", "EPE"]),
    "ap10k": ("coco", ["AP"]),
    "300w": ("nme", ["NME"]),
    "aflw": ("nme", ["NME"]),
    "freihand2d": ("pck", ["PCK", "AUC", "EPE"]),
}
FILES = {
    "coco": "test_coco.json",
    "crowdpose": "test_crowdpose.json",
    "aic": "test_aic.json",
    "humanart": "test_humanart.json",
    "mpii": "test_mpii.json",
    "jhmdb": "test_jhmdb_sub1.json",
    "posetrack18": "annotations/test_posetrack18_val.json",
    "onehand10k": "test_onehand10k.json",
    "ap10k": "test_ap10k.json",
    "300w": "test_300w.json",
    "aflw": "test_aflw.json",
    "freihand2d": "test_freihand.json",
}
FOLDERS = {"freihand2d": "freihand"}  # sample folders not named as the dataset


def convert(samples, dataset: str, out: Path) -> None:
    images = samples / FOLDERS.get(dataset, dataset)
    ann = images / FILES[dataset]
    if dataset == "mpii":
        n = len(json.loads(ann.read_text()))
        boxes = np.random.default_rng(0).uniform(0, 400, (2, 2, n))
        savemat(out.parent / "gt.mat", {"headboxes_src": boxes})
        convert_mpii(
            ann, images, out, split="val", headboxes=out.parent / "gt.mat", shards=1, progress=False
        )
    elif dataset == "jhmdb":
        convert_jhmdb(ann, images, out, split="val", shards=1, progress=False)
    elif dataset == "posetrack18":  # MMPose's setting: detected boxes kept at score 0.4
        dets = ann.parent / "test_posetrack18_human_detections.json"
        convert_posetrack18(
            ann,
            images,
            out,
            split="val",
            detections=dets,
            det_score_thr=0.4,
            shards=1,
            progress=False,
        )
    else:
        convert_coco(ann, images, out, split="val", dataset=dataset, shards=1, progress=False)


def overrides(dataset: str, root: Path, metric: str) -> list[str]:
    # AIC and CrowdPose need no eval.use_area=false: the dataset brings its MMPose settings
    extra = {
        "posetrack18": ["data.val_boxes=detections"],
        # AFLW's configs normalise by the box size (the others by the outer eye corners)
        "aflw": ["eval.nme_norm_mode=use_norm_item", "eval.nme_norm_item=bbox_size"],
    }.get(dataset, [])
    return [
        f"data.dataset={dataset}",
        f"data.root={root}",
        f"eval.metric={metric}",
        "eval.batch_size=4",
        "data.synthetic=null",
        *extra,
    ]


def random_model(dataset: str, extra: list[str]):
    recipe = replace(load_recipe(QUICKSTART), extra)
    return build_heatmap_model(
        recipe.model, tuple(recipe.codec.input_size), get_dataset_info(dataset).num_keypoints
    )


def random_weights(dataset: str, path: Path, extra: list[str]) -> Path:
    random_model(dataset, extra).save_weights(str(path))
    return path


@pytest.mark.parametrize("dataset", sorted(CASES))
def test_evaluate_every_sample_dataset(dataset, samples, tmp_path, capsys):
    metric, keys = CASES[dataset]
    root = tmp_path / "records"
    convert(samples, dataset, root)
    extra = overrides(dataset, root, metric)
    weights = random_weights(dataset, tmp_path / "w.weights.h5", extra)
    out = tmp_path / "eval"
    args = [str(QUICKSTART), *extra, "--weights", str(weights), "--out", str(out), "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["metric"] == metric
    for key in keys:
        assert key in saved["metrics"]
        assert f"{dataset}/{key}" in printed
    results = json.loads((out / "results.keypoints.json").read_text())
    k = get_dataset_info(dataset).num_keypoints
    assert results and all(len(r["keypoints"]) == 3 * k for r in results)
    if dataset == "ap10k":  # each result keeps its GT instance's category (26 and 1)
        assert sorted(r["category_id"] for r in results) == [1, 26]
    if dataset == "posetrack18":  # one prediction file per video, as MMPose writes for poseval
        videos = sorted(p.name for p in (out / "results.posetrack18").iterdir())
        assert videos == sorted(p.name for p in (root / "posetrack18-gt-val").iterdir())


def test_detections_and_no_flip(samples, tmp_path, capsys):
    root = tmp_path / "records"
    convert(samples, "coco", root)
    extra = overrides("coco", root, "coco")
    weights = random_weights("coco", tmp_path / "w.weights.h5", extra)
    dets = samples / "coco" / "test_coco_det_AP_H_56.json"
    n_dets = sum(
        1
        for d in json.loads(dets.read_text())
        if d.get("category_id", 1) == 1 and d["score"] >= 0.5
    )
    assert (
        main(
            [
                str(QUICKSTART),
                *extra,
                "--weights",
                str(weights),
                "--detections",
                str(dets),
                "--det-score-thr",
                "0.5",
                "--no-flip",
                "--out",
                str(tmp_path / "e"),
                "--no-progress",
            ]
        )
        == 0
    )
    assert "coco/AP" in capsys.readouterr().out
    assert json.loads((tmp_path / "e/metrics.json").read_text())["detections"] == str(dets)
    # one prediction per detector box that survives OKS-NMS; never more than the boxes
    results = json.loads((tmp_path / "e/results.keypoints.json").read_text())
    assert 0 < len(results) <= n_dets


def test_errors_name_the_problem(tmp_path, capsys):
    assert main([str(QUICKSTART), "--weights", str(tmp_path / "missing.h5")]) == 2
    assert "missing.h5: file not found" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["pth", "keras"])
def test_evaluate_takes_mmpose_pth_and_keras_files(kind, samples, tmp_path, capsys):
    """One weights loader: an MMPose .pth and a whole .keras model score exactly as the same
    weights saved as .weights.h5."""
    from kpose.weights.state_dict import model_state_dict

    root = tmp_path / "records"
    convert(samples, "coco", root)
    extra = overrides("coco", root, "coco")
    model = random_model("coco", extra)
    model.save_weights(str(tmp_path / "w.weights.h5"))
    if kind == "pth":
        weights = write_torch_state_dict(tmp_path / "w.pth", model_state_dict(model))
    else:
        weights = tmp_path / "w.keras"
        model.save(str(weights))
    metrics = {}
    for path in (tmp_path / "w.weights.h5", weights):
        out = tmp_path / f"eval-{path.name}"
        args = [str(QUICKSTART), *extra, "--weights", str(path), "--out", str(out)]
        assert main([*args, "--no-progress"]) == 0
        metrics[path.name] = json.loads((out / "metrics.json").read_text())["metrics"]
    assert metrics[weights.name] == metrics["w.weights.h5"]
    assert "coco/AP" in capsys.readouterr().out


def test_eval_nms_mode_reaches_the_coco_metric(samples):
    """``eval.nms_mode: none`` (MMPose's MSPN / RSN configs) keeps duplicate instances that the
    default OKS-NMS suppresses."""
    from kpose.evaluation.evaluator import score
    from kpose.recipe import EvalConfig

    gt = json.loads((samples / "coco" / "test_coco.json").read_text())
    anns = [a for a in gt["annotations"] if a["num_keypoints"] > 0]
    rng = np.random.default_rng(0)
    kps = np.stack([np.asarray(a["keypoints"], np.float64).reshape(-1, 3)[:, :2] for a in anns])
    kps = kps + rng.normal(0, 3.0, kps.shape)
    once = {
        "image_id": np.array([a["image_id"] for a in anns]),
        "keypoints": kps,
        "keypoint_scores": np.ones(kps.shape[:2]),
        "bbox_score": np.ones(len(anns)),
        "area": np.array([a["area"] for a in anns], np.float64),
    }
    twice = {k: np.concatenate([v, v]) for k, v in once.items()}
    nms = score("coco", twice, gt, dataset="coco", ev=EvalConfig())
    assert nms == score("coco", once, gt, dataset="coco", ev=EvalConfig())
    kept = score("coco", twice, gt, dataset="coco", ev=EvalConfig(nms_mode="none"))
    assert kept["AP"] < nms["AP"]
    mspn = load_recipe(Path(__file__).parents[2] / "recipes" / "mspn50_coco.yaml")
    assert mspn.eval.nms_mode == "none"
