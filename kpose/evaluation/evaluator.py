"""Predict keypoints for validation crops and score them with the dataset's metric.

The chain is MMPose's test step: model on the crop (and on the horizontally flipped crop when
flip test is on, flipped back with ``flip_indices`` and MMPose's ``shift_heatmap``), the two
heatmaps averaged, decoded by the codec to input-crop pixels, and mapped back to the image with
``kp_img = kp_in / input_size * scale + center - scale / 2``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from kpose.codecs import flip_heatmaps
from kpose.data import pipeline
from kpose.data.convert import read_meta, split_files
from kpose.data.records import from_example
from kpose.errors import KposeError
from kpose.evaluation.coco import coco_evaluate
from kpose.evaluation.pck import jhmdb_pck, mpii_pckh
from kpose.evaluation.posetrack import posetrack18_evaluate
from kpose.recipe import EvalConfig, Recipe

log = logging.getLogger(__name__)


def make_predict_fn(
    model,
    codec,
    flip_indices,
    *,
    flip_test: bool = True,
    shift_heatmap: bool = True,
    jit_compile: bool = False,
):
    """A compiled function: uint8/float crops (B, h, w, 3) -> (keypoints_in, scores)."""

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def predict(images):
        images = tf.cast(images, tf.float32)
        heatmaps = tf.cast(model(images, training=False), tf.float32)
        if flip_test:
            flipped = tf.cast(model(tf.reverse(images, axis=[2]), training=False), tf.float32)
            heatmaps = (heatmaps + flip_heatmaps(flipped, flip_indices, shift_heatmap)) * 0.5
        return codec.decode(heatmaps)

    return predict


def to_image_coords(
    keypoints_in: np.ndarray, center: np.ndarray, scale: np.ndarray, input_size: tuple[int, int]
) -> np.ndarray:
    """MMPose's back-projection: input-crop pixels -> original image pixels."""
    size = np.asarray(input_size, np.float64)
    return keypoints_in / size * scale[:, None, :] + center[:, None, :] - 0.5 * scale[:, None, :]


def predict_dataset(
    predict,
    dataset: tf.data.Dataset,
    input_size: tuple[int, int],
    *,
    total: int | None = None,
    progress: bool = True,
) -> list[dict]:
    """Run ``predict`` over a val dataset; one prediction dict per instance (metric API)."""
    preds = []
    for batch in tqdm(
        dataset, total=total, desc="predict", unit="batch", disable=not progress, leave=False
    ):
        kp_in, scores = predict(batch["image"])
        center = batch["center"].numpy().astype(np.float64)
        scale = batch["scale"].numpy().astype(np.float64)
        kps = to_image_coords(np.asarray(kp_in, np.float64), center, scale, input_size)
        scores = np.asarray(scores)
        bbox = batch["bbox"].numpy()
        gt_keypoints = batch["gt_keypoints"].numpy()
        head_size = batch["head_size"].numpy()
        for i in range(kps.shape[0]):
            preds.append(
                {
                    "id": len(preds),
                    "image_id": int(batch["image_id"][i]),
                    "keypoints": kps[i],
                    "keypoint_scores": scores[i],
                    "bbox_score": float(batch["bbox_score"][i]),
                    "area": float(np.prod(scale[i])),
                    "bbox": bbox[i],
                    "gt_keypoints": gt_keypoints[i],
                    "head_size": float(head_size[i]),
                }
            )
    return preds


# eval.metric -> (MMPose metric, its headline key)
METRICS = {"coco": "AP", "crowdpose": "AP", "mpii": "PCK", "jhmdb": "PCK", "posetrack18": "AP"}


def score(
    metric: str,
    predictions: list[dict],
    ground_truth: dict | None,
    *,
    dataset: str,
    ev: EvalConfig,
    outfile_prefix: str | Path | None = None,
) -> dict[str, float]:
    """MMPose's metric ``metric`` of top-down ``predictions`` (``predict_dataset``'s dicts).

    COCO-style metrics score against ``ground_truth`` (the COCO dict of the split), PoseTrack18
    against the per-video GT folder (``ground_truth`` is then ``{"gt_folder": path}``); PCK
    metrics use the GT keypoints, boxes and head sizes the predictions carry (GT boxes only).
    PoseTrack18's per-video prediction files are written next to ``outfile_prefix``.
    """
    if metric not in METRICS:
        raise KposeError(f"eval.metric: {metric!r} is not one of {sorted(METRICS)}")
    if metric in ("coco", "crowdpose"):
        crowd = metric == "crowdpose"
        return coco_evaluate(
            ground_truth,
            predictions,
            dataset=dataset,
            use_area=ev.use_area and not crowd,
            iou_type="keypoints_crowd" if crowd else "keypoints",
            score_mode=ev.score_mode,
            keypoint_score_thr=ev.keypoint_score_thr,
            nms_thr=ev.nms_thr,
            outfile_prefix=outfile_prefix,
        )
    if metric == "posetrack18":
        if outfile_prefix is not None:
            _write_keypoints(Path(f"{outfile_prefix}.keypoints.json"), predictions)
        return posetrack18_evaluate(
            ground_truth["gt_folder"],
            predictions,
            dataset=dataset,
            score_mode=ev.score_mode,
            keypoint_score_thr=ev.keypoint_score_thr,
            nms_thr=ev.nms_thr,
            outfile_dir=None if outfile_prefix is None else Path(f"{outfile_prefix}.posetrack18"),
        )
    pred = np.stack([p["keypoints"] for p in predictions]).astype(np.float32)
    gt = np.stack([p["gt_keypoints"] for p in predictions]).astype(np.float32)
    visible = np.minimum(1, gt[..., 2])
    if outfile_prefix is not None:
        _write_keypoints(Path(f"{outfile_prefix}.keypoints.json"), predictions)
    if metric == "mpii":
        head = np.array([p["head_size"] for p in predictions], np.float64)
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
    bbox = np.stack([p["bbox"] for p in predictions]).astype(np.float32)
    return jhmdb_pck(
        pred, gt[..., :2], visible, bbox, thr=0.2 if ev.pck_thr is None else ev.pck_thr
    )


def _write_keypoints(path: Path, predictions: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for p in predictions:
        kps = np.concatenate([p["keypoints"], np.asarray(p["keypoint_scores"])[:, None]], axis=1)
        rows.append(
            {
                "image_id": p["image_id"],
                "category_id": 1,
                "keypoints": kps.reshape(-1).tolist(),
                "score": float(p["bbox_score"]),
            }
        )
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
        self.prefix, self.key = recipe.data.dataset, METRICS[ev.metric]
        self.predict = make_predict_fn(
            model,
            codec,
            info.flip_indices,
            flip_test=ev.flip_test if flip_test is None else flip_test,
            shift_heatmap=ev.shift_heatmap,
        )
        self.ground_truth = None
        if ev.metric in ("coco", "crowdpose"):
            self.ground_truth = coco_ground_truth(
                recipe.data.root, recipe.data.val_split, info.num_keypoints, info.keypoint_names
            )
        elif ev.metric == "posetrack18":
            self.ground_truth = {
                "gt_folder": posetrack18_gt_folder(recipe.data.root, recipe.data.val_split)
            }
        elif detections is not None or recipe.data.val_boxes != "gt":
            raise KposeError(
                f"eval.metric {ev.metric!r} (PCK) scores GT boxes only; "
                "use data.val_boxes=gt and no detections"
            )

    def predictions(self) -> list[dict]:
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

    def run(self, outfile_prefix: str | Path | None = None) -> dict[str, float]:
        r = self.recipe
        return score(
            r.eval.metric,
            self.predictions(),
            self.ground_truth,
            dataset=r.data.dataset,
            ev=r.eval,
            outfile_prefix=outfile_prefix,
        )


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
    categories = [
        {
            "id": 1,
            "name": "person",
            "supercategory": "person",
            "keypoints": list(keypoint_names),
            "skeleton": [],
        }
    ]
    return {"images": images, "annotations": annotations, "categories": categories}
