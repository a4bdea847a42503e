"""Score a recipe's model on its val split with the dataset's MMPose metric: the ``Evaluator``
(the validation of ``kpose.fit``), ``evaluate`` (the library of ``python -m kpose.evaluate``),
and the ground truth rebuilt from the converted records.

The val pipeline gives MMPose's crops; ``kpose.inference.predict`` runs the model on them (with
flip test), decodes and maps the keypoints back to image pixels. The predictions stay columns
of arrays (``kpose.evaluation.predictions``) from the model to the metric engines.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from kpose.codecs import make_codec
from kpose.data import pipeline
from kpose.data.formats.coco import Report, read_detections
from kpose.data.records import from_example, read_meta, split_files
from kpose.devices import use_xla
from kpose.errors import KposeError
from kpose.evaluation.coco import coco_evaluate
from kpose.evaluation.nme import nme
from kpose.evaluation.pck import jhmdb_pck, mpii_pckh, pck_auc_epe
from kpose.evaluation.posetrack import posetrack18_evaluate
from kpose.evaluation.wholebody import coco_wholebody_evaluate
from kpose.inference.estimator import PoseEstimator
from kpose.inference.predict import make_predict_fn, to_image_coords
from kpose.recipe import EvalConfig, Recipe

log = logging.getLogger(__name__)


def predict_dataset(
    predict,
    dataset: tf.data.Dataset,
    input_size: tuple[int, int],
    *,
    total: int | None = None,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Run ``predict`` (``make_predict_fn``) over a val dataset: columnar predictions
    (``kpose.evaluation.predictions``) in image pixels, with the instances' ``category_id``
    (COCO results), ``bbox`` (xyxy), ``gt_keypoints`` (K, 3) and ``head_size`` for the PCK and
    NME metrics."""
    batches = []
    for batch in tqdm(
        dataset, total=total, desc="predict", unit="batch", disable=not progress, leave=False
    ):
        kp_in, scores = predict(batch["image"])[:2]  # (a vis head's visibility is not scored)
        center = batch["center"].numpy().astype(np.float64)
        scale = batch["scale"].numpy().astype(np.float64)
        batches.append(
            {
                "image_id": batch["image_id"].numpy().astype(np.int64),
                "keypoints": to_image_coords(
                    np.asarray(kp_in, np.float64), center, scale, input_size
                ),  # (B, K, 2)
                "keypoint_scores": np.asarray(scores),
                "bbox_score": batch["bbox_score"].numpy().astype(np.float64),
                "area": np.prod(scale, axis=-1),
                "bbox": batch["bbox"].numpy(),
                "gt_keypoints": batch["gt_keypoints"].numpy(),
                "head_size": batch["head_size"].numpy().astype(np.float64),
                "category_id": batch["category_id"].numpy().astype(np.int64),
            }
        )
    if not batches:
        raise KposeError("the val split gave no instances to predict")
    columns = {key: np.concatenate([b[key] for b in batches]) for key in batches[0]}
    columns["id"] = np.arange(len(columns["image_id"]))
    return columns


# eval.metric -> its headline key (for "pck" with eval.pck_norm head / torso: PCKh / tPCK)
METRICS = {
    "coco": "AP",
    "crowdpose": "AP",
    "mpii": "PCK",
    "jhmdb": "PCK",
    "posetrack18": "AP",
    "pck": "PCK",
    "nme": "NME",
    "coco_wholebody": "AP",  # the whole body's (MMPose's coco-wholebody/AP)
}
# metrics whose headline improves downwards (MMPose's face configs: save_best NME, rule 'less')
LOWER_IS_BETTER = frozenset({"nme"})
_PCK_KEYS = {"bbox": "PCK", "head": "PCKh", "torso": "tPCK"}


def headline(ev: EvalConfig) -> str:
    """The key of ``ev.metric``'s stats that ranks checkpoints (``METRICS``)."""
    if ev.metric not in METRICS:
        raise KposeError(f"eval.metric: {ev.metric!r} is not one of {sorted(METRICS)}")
    return _PCK_KEYS[ev.pck_norm] if ev.metric == "pck" else METRICS[ev.metric]


def score(
    metric: str,
    predictions: dict[str, np.ndarray],
    ground_truth: dict | None,
    *,
    dataset: str,
    ev: EvalConfig,
    outfile_prefix: str | os.PathLike | None = None,
    sigmas: np.ndarray | None = None,
    dataset_name: str | None = None,
) -> dict[str, float]:
    """MMPose's metric ``metric`` of top-down ``predictions`` (``predict_dataset``'s columns).

    COCO-style metrics score against ``ground_truth`` (the COCO dict of the split), PoseTrack18
    against the per-video GT folder (``ground_truth`` is then ``{"gt_folder": path}``), both
    with ``dataset``'s MMPose settings where the recipe's ``eval`` does not set them (OKS with
    ``sigmas``, by default the built-in dataset's); PCK
    metrics use the GT keypoints, boxes and head sizes the predictions carry (GT boxes only):
    ``"pck"`` is ``PCKAccuracy`` + ``AUC`` + ``EPE`` (``pck_auc_epe``), ``"nme"`` is ``NME``
    (``kpose.evaluation.nme``; its default keypoint pair is looked up by ``dataset_name``, the
    metainfo's name, default ``dataset``).
    PoseTrack18's per-video prediction files are written next to ``outfile_prefix``.
    """
    if metric not in METRICS:
        raise KposeError(f"eval.metric: {metric!r} is not one of {sorted(METRICS)}")
    scoring = {
        "score_mode": ev.score_mode,
        "keypoint_score_thr": ev.keypoint_score_thr,
        "nms_thr": ev.nms_thr,
        "nms_mode": ev.nms_mode,
    }
    if metric in ("coco", "crowdpose", "coco_wholebody"):
        # coco_wholebody: per-part AP/AR; ground_truth holds all 133 keypoints
        evaluate = coco_wholebody_evaluate if metric == "coco_wholebody" else coco_evaluate
        return evaluate(
            ground_truth,
            predictions,
            dataset=dataset,
            sigmas=sigmas,
            # eval.use_area (default true, CocoMetric's) can only turn the dataset's off
            use_area=None if ev.use_area else False,
            outfile_prefix=outfile_prefix,
            **scoring,
        )
    if outfile_prefix is not None:
        _write_keypoints(Path(f"{outfile_prefix}.keypoints.json"), predictions)
    if metric == "posetrack18":
        return posetrack18_evaluate(
            ground_truth["gt_folder"],
            predictions,
            dataset=dataset,
            outfile_dir=None if outfile_prefix is None else Path(f"{outfile_prefix}.posetrack18"),
            **scoring,
        )
    pred = predictions["keypoints"].astype(np.float32)
    gt = predictions["gt_keypoints"].astype(np.float32)
    visible = np.minimum(1, gt[..., 2])
    if metric == "mpii":
        head = predictions["head_size"]
        if not np.any(head > 0):
            raise KposeError(
                "eval.metric 'mpii' needs head sizes: convert the val split with "
                "--headboxes mpii_gt_val.mat"
            )
        return mpii_pckh(
            pred,
            gt[..., :2],
            visible,
            head,
            thr=0.5 if ev.pck_thr is None else ev.pck_thr,
            one_based=ev.mpii_one_based,
        )
    bbox = predictions["bbox"].astype(np.float32)
    if metric == "pck":
        return pck_auc_epe(
            pred,
            gt[..., :2],
            visible,
            thr=0.05 if ev.pck_thr is None else ev.pck_thr,
            norm_item=ev.pck_norm,
            bbox_xyxy=bbox,
            head_size=_head_sizes(predictions, "eval.pck_norm 'head'")
            if ev.pck_norm == "head"
            else None,
            auc_norm_factor=ev.auc_norm_factor,
            auc_num_thrs=ev.auc_num_thrs,
            epe=ev.epe,
        )
    if metric == "nme":
        return nme(
            pred,
            gt[..., :2],
            visible,
            norm_mode=ev.nme_norm_mode,
            norm_item=ev.nme_norm_item,
            keypoint_indices=ev.nme_keypoint_indices,
            dataset_name=dataset if dataset_name is None else dataset_name,
            bbox_xyxy=bbox,
            head_size=_head_sizes(predictions, "eval.nme_norm_item 'head_size'")
            if ev.nme_norm_item == "head_size"
            else None,
        )
    return jhmdb_pck(
        pred, gt[..., :2], visible, bbox, thr=0.2 if ev.pck_thr is None else ev.pck_thr
    )


def _head_sizes(predictions: dict[str, np.ndarray], what: str) -> np.ndarray:
    head = predictions["head_size"]
    if not np.any(head > 0):
        raise KposeError(
            f"{what} needs head sizes: convert the val split with its head boxes (--headboxes)"
        )
    return head


def _write_keypoints(path: Path, predictions: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    kps = np.concatenate(
        [predictions["keypoints"], predictions["keypoint_scores"][..., None]], axis=-1
    )  # (N, K, 3)
    categories = predictions.get("category_id", np.ones(len(kps), np.int64))
    rows = [
        {
            "image_id": int(image_id),
            "category_id": int(category_id),
            "keypoints": k.reshape(-1).tolist(),
            "score": float(score),
        }
        for image_id, category_id, k, score in zip(
            predictions["image_id"], categories, kps, predictions["bbox_score"], strict=True
        )
    ]
    path.write_text(json.dumps(rows))


class Evaluator:
    """Predict a recipe's val split and score it with the recipe's metric (the validation
    callback of ``kpose.fit`` and the body of ``python -m kpose.evaluate``)."""

    def __init__(
        self,
        recipe: Recipe,
        model,
        codec,
        info,
        *,
        progress: bool = True,
        detections: dict | None = None,
        flip_test: bool | None = None,
    ):
        self.recipe, self.info, self.progress, self.detections = recipe, info, progress, detections
        ev = recipe.eval
        if ev.metric not in METRICS:
            raise KposeError(
                f"{recipe.source}: eval.metric {ev.metric!r} is not one of {sorted(METRICS)}"
            )
        self.prefix, self.key = recipe.data.dataset, headline(ev)
        self.lower_is_better = ev.metric in LOWER_IS_BETTER
        if ev.metric == "nme" and ev.nme_norm_mode == "use_norm_item" and not ev.nme_norm_item:
            raise KposeError(
                f"{recipe.source}: eval.nme_norm_mode 'use_norm_item' needs eval.nme_norm_item "
                "('bbox_size' as MMPose's AFLW configs, or 'head_size')"
            )
        self.predict = make_predict_fn(
            model,
            codec,
            recipe.model_info.flip_indices,  # the model's keypoints; predictions keep info's
            flip_test=ev.flip_test if flip_test is None else flip_test,
            shift_heatmap=ev.shift_heatmap,
            jit_compile=use_xla("model", ev.jit_compile),
            jit_decode=use_xla("decode"),
            output_keypoint_indices=ev.output_keypoint_indices,
            flip_mode=recipe.flip_mode,
        )
        self.ground_truth = None
        if ev.metric in ("coco", "crowdpose", "coco_wholebody"):
            self.ground_truth = coco_ground_truth(
                recipe.data.root, recipe.data.val_split, info.num_keypoints, info.keypoint_names
            )
        elif ev.metric == "posetrack18":
            self.ground_truth = {
                "gt_folder": posetrack18_gt_folder(recipe.data.root, recipe.data.val_split)
            }
        elif detections is not None or recipe.data.val_boxes != "gt":
            raise KposeError(
                f"eval.metric {ev.metric!r} scores GT boxes only; "
                "use data.val_boxes=gt and no detections"
            )

    def predictions(self) -> dict[str, np.ndarray]:
        """Columnar predictions of the val split (``predict_dataset``)."""
        r = self.recipe
        ds = pipeline.val_dataset(
            r.data.root,
            r.data.val_split,
            r.data,
            self.info,
            tuple(r.codec.input_size),
            r.eval.batch_size,
            use_udp=r.use_udp_warp,
            detections=self.detections,
        )
        return predict_dataset(self.predict, ds, tuple(r.codec.input_size), progress=self.progress)

    def run(self, outfile_prefix: str | os.PathLike | None = None) -> dict[str, float]:
        """The metric's stats (``score``); ``outfile_prefix``: where results are written."""
        r = self.recipe
        return score(
            r.eval.metric,
            self.predictions(),
            self.ground_truth,
            dataset=r.data.dataset,
            ev=r.eval,
            outfile_prefix=outfile_prefix,
            sigmas=(
                np.float32(self.info.require_sigmas())
                if r.eval.metric in ("coco", "crowdpose", "coco_wholebody")
                else None
            ),
            dataset_name=self.info.name,
        )


def evaluate(
    recipe: Recipe,
    weights: str | os.PathLike,
    *,
    detections: str | os.PathLike | None = None,
    det_score_thr: float = 0.0,
    flip_test: bool | None = None,
    out: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict[str, float]:
    """Load ``weights`` into the recipe's model, predict the val split and score it.

    Args:
        recipe: the model, data (``data.root``, ``data.val_split``) and ``eval`` settings.
        weights: an MMPose ``.pth``, a ``.weights.h5`` or a ``.keras`` file
            (``PoseEstimator.from_recipe``).
        detections: a detector's COCO results (person category) replacing the recipe's val
            boxes; det_score_thr: boxes scoring below it are not used.
        flip_test: default the recipe's ``eval.flip_test``.
        out: the folder for ``results.keypoints.json`` (COCO results, image pixels) and
            ``metrics.json``; default ``eval/`` next to the weights.

    Returns:
        The metric's stats, keyed by MMPose's names (``"AP"``, ``"PCK"``, ...).
    """
    weights = Path(weights)
    if not weights.is_file():
        raise KposeError(f"--weights {weights}: file not found")
    estimator = PoseEstimator.from_recipe(recipe, weights)
    boxes = None
    if detections is not None:
        report = Report()
        boxes = read_detections(detections, det_score_thr, report)
        if not boxes:
            raise KposeError(
                f"--detections {detections}: no person boxes kept "
                f"({json.dumps(report.as_dict()['skipped_detections'])})"
            )
    evaluator = Evaluator(
        recipe,
        estimator.heatmap_model,
        make_codec(recipe),
        estimator.dataset_info,
        progress=progress,
        detections=boxes,
        flip_test=flip_test,
    )
    out = Path(out) if out is not None else weights.parent / "eval"
    out.mkdir(parents=True, exist_ok=True)
    metrics = evaluator.run(outfile_prefix=out / "results")
    (out / "metrics.json").write_text(
        json.dumps(
            {
                "recipe": recipe.source,
                "weights": str(weights),
                "detections": str(detections or ""),
                "metric": recipe.eval.metric,
                "metrics": metrics,
            },
            indent=1,
        )
    )
    return metrics


def posetrack18_gt_folder(root: str, split: str) -> Path:
    """The per-video PoseTrack18 ground truth ``kpose.convert posetrack18`` stored for ``split``."""
    entry = read_meta(root).get("splits", {}).get(split, {}).get("per_video_gt")
    if entry is None:
        raise KposeError(
            f"{root}: split {split!r} has no per-video PoseTrack18 ground truth; "
            "convert it with `python -m kpose.convert posetrack18 ... "
            "--gt-folder annotations/val`"
        )
    return Path(root) / entry["folder"]


def coco_ground_truth(
    root: str, split: str, num_keypoints: int, keypoint_names: tuple[str, ...]
) -> dict:
    """Rebuild the COCO-format ground truth of a converted split from its TFRecords."""
    images, annotations = [], []
    for path in split_files(root, split):
        for serialized in tf.data.TFRecordDataset(path):
            rec = from_example(serialized.numpy(), num_keypoints)
            images.append(
                {
                    "id": rec.image_id,
                    "file_name": rec.file_name,
                    "width": rec.width,
                    "height": rec.height,
                    "crowdIndex": rec.crowd_index,
                }
            )
            for j in range(len(rec.instance_ids)):
                ann = {
                    "id": int(rec.instance_ids[j]),
                    "image_id": rec.image_id,
                    "category_id": int(rec.category_id[j]),
                    "bbox": [float(v) for v in rec.bbox_xywh[j]],
                    "iscrowd": int(rec.iscrowd[j]),
                    "keypoints": [float(v) for v in rec.keypoints[j].reshape(-1)],
                    "num_keypoints": int(rec.instance_num_keypoints[j]),
                }
                if rec.area[j] >= 0:  # -1: the source file had no area
                    ann["area"] = float(rec.area[j])
                annotations.append(ann)
    images.sort(key=lambda d: d["id"])
    annotations.sort(key=lambda d: d["id"])
    # COCOeval scores each GT category (AP-10K: 54 animals); the records keep the ids, not
    # the names. Categories without GT give no AP, so the ones present are all that count.
    ids = sorted({a["category_id"] for a in annotations} or {1})
    categories = [
        {
            "id": i,
            "name": "person" if ids == [1] else f"category {i}",
            "supercategory": "person" if ids == [1] else "",
            "keypoints": list(keypoint_names),
            "skeleton": [],
        }
        for i in ids
    ]
    return {"images": images, "annotations": annotations, "categories": categories}
