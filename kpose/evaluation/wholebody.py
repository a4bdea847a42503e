"""COCO-WholeBody AP/AR per body part, equal to MMPose 1.3.2's ``CocoWholeBodyMetric``.

The instances are chosen as ``kpose.evaluation.coco`` chooses them (``rescore`` and OKS-NMS
over all 133 keypoints with the whole-body sigmas, ``select_instances``); then the results are
scored six times, once per part (body, foot, face, left hand, right hand) with the part's
keypoints and sigmas, and once for the whole body. MMPose scores with xtcocotools' part iou
types (``keypoints_body``, ..., ``keypoints_wholebody``); kpose runs pycocotools' keypoint
``COCOeval`` on each part's slice, adjusted as ``kpose.evaluation.coco`` adjusts it (the GT
``num_keypoints`` recounted from the part's visibilities, the box area * 0.53 when
``use_area=False``, annotation ids above 0, detections without a part score > 0 left out) and
in one more place: a detection's area, which decides the area ranges in which an unmatched
detection is ignored, is the extent of its *body* keypoints for every part, as xtcocotools'
``loadRes`` computes it from the ``keypoints`` field.

Ground truth is a COCO-WholeBody file (parts in ``keypoints``, ``foot_kpts``, ``face_kpts``,
``lefthand_kpts``, ``righthand_kpts``) or a COCO dict whose ``keypoints`` hold all 133 in that
order (the converted records' ground truth). Coordinates are original-image pixels.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from kpose.data.formats.coco_wholebody import NUM_KEYPOINTS, PART_FIELDS
from kpose.errors import DataError, KposeError
from kpose.evaluation.coco import (
    COCO_STAT_NAMES,
    dataset_sigmas,
    metric_settings,
    rescore,
    select_instances,
    xtcocotools_ground_truth,
)
from kpose.evaluation.predictions import prediction_columns

log = logging.getLogger(__name__)

# part -> (its field in COCO-WholeBody files and MMPose's results, first keypoint, end), in the
# order of the 133 keypoints (``kpose.data.formats.coco_wholebody.PART_FIELDS``) and of MMPose's
# evaluations.
WHOLEBODY_PARTS = {
    "body": ("keypoints", 0, 17),
    "foot": ("foot_kpts", 17, 23),
    "face": ("face_kpts", 23, 91),
    "lefthand": ("lefthand_kpts", 91, 112),
    "righthand": ("righthand_kpts", 112, 133),
}

# The stats: the whole body's under COCO's names (what MMPose returns, logged with the
# "coco-wholebody/" prefix), each part's under "<part>/<name>" (what MMPose prints).
WHOLEBODY_STAT_NAMES = COCO_STAT_NAMES + tuple(
    f"{part}/{name}" for part in WHOLEBODY_PARTS for name in COCO_STAT_NAMES
)


def coco_wholebody_evaluate(
    ann_file: str | os.PathLike | Mapping,
    predictions: Mapping | Sequence[Mapping],
    dataset: str = "coco_wholebody",
    *,
    sigmas: Sequence[float] | np.ndarray | None = None,
    use_area: bool | None = None,
    score_mode: str | None = None,
    keypoint_score_thr: float | None = None,
    nms_mode: str | None = None,
    nms_thr: float | None = None,
    outfile_prefix: str | os.PathLike | None = None,
) -> dict[str, float]:
    """COCO-WholeBody keypoint AP/AR of top-down predictions, as MMPose's
    ``CocoWholeBodyMetric``.

    Args:
        ann_file: a COCO-WholeBody annotation file or its loaded dict (not modified), or a COCO
            dict with all 133 keypoints in ``keypoints``.
        predictions: 133-keypoint top-down predictions before rescoring and NMS, as
            ``kpose.evaluation.coco.coco_evaluate`` takes them (``image_id``, ``keypoints``
            ``(133, 2)`` in image pixels, ``keypoint_scores``, ``bbox_score``, ``area``, ``id``).
        dataset: whose OKS sigmas (133 of them) and MMPose metric settings are used
            (``coco_wholebody``, ``ubody2d``); arguments left ``None`` are the dataset's.
        sigmas: ``(133,)`` OKS sigmas overriding the dataset's; each part uses its slice.
        use_area: scale OKS by the GT ``area`` (MMPose's default); False uses the GT box
            ``w * h * 0.53``.
        score_mode, keypoint_score_thr: see ``kpose.evaluation.coco.rescore``.
        nms_mode, nms_thr: see ``kpose.evaluation.coco.oks_nms``.
        outfile_prefix: when given, the results are written to
            ``<outfile_prefix>.keypoints.json`` in MMPose's form (one field per part).

    Returns:
        The whole body's ``COCO_STAT_NAMES`` stats (``"AP"``, ... ``"AR (L)"``: what MMPose
        logs as ``coco-wholebody/AP`` ...), then each part's as ``"body/AP"``, ``"foot/AP"``,
        ``"face/AP"``, ``"lefthand/AP"``, ``"righthand/AP"``, ... (``WHOLEBODY_STAT_NAMES``).

    Example:
        >>> coco_wholebody_evaluate("coco_wholebody_val_v1.0.json", predictions)["face/AP"]
    """
    settings = metric_settings(
        dataset,
        use_area=use_area,
        score_mode=score_mode,
        keypoint_score_thr=keypoint_score_thr,
        nms_mode=nms_mode,
        nms_thr=nms_thr,
    )
    if settings.iou_type != "keypoints":
        raise KposeError(f"COCO-WholeBody is scored with iou_type 'keypoints', not {dataset!r}'s")
    preds = prediction_columns(predictions)
    num_keypoints = preds["keypoint_scores"].shape[1]
    if num_keypoints != NUM_KEYPOINTS:
        raise DataError(
            f"COCO-WholeBody predictions need {NUM_KEYPOINTS} keypoints, got {num_keypoints}"
        )
    if sigmas is None:
        sigmas = dataset_sigmas(dataset, num_keypoints)
    else:
        sigmas = np.asarray(sigmas, np.float32)
        if sigmas.shape != (num_keypoints,):
            raise DataError(f"{sigmas.shape[0]} OKS sigmas given for {num_keypoints} keypoints")
    images, annotations, gt_keypoints, name = _load_ground_truth(ann_file)
    unknown = set(preds["image_id"].tolist()) - {img["id"] for img in images}
    if unknown:
        raise DataError(
            f"{len(unknown)} predicted image_id(s) are not images of {name}, e.g. "
            f"{sorted(unknown)[:5]}"
        )

    scores = rescore(
        preds["bbox_score"],
        preds["keypoint_scores"],
        settings.score_mode,
        settings.keypoint_score_thr,
    )
    keypoints = np.concatenate(
        [preds["keypoints"], preds["keypoint_scores"][..., None]], axis=-1
    )  # (N, 133, 3)
    selected = select_instances(
        preds, scores, keypoints, sigmas, settings.nms_mode, settings.nms_thr
    )
    kept = keypoints[selected]  # (M, 133, 3)
    image_ids = preds["image_id"][selected]
    kept_scores = scores[selected]
    if outfile_prefix is not None:
        _write_results(
            Path(f"{os.fspath(outfile_prefix)}.keypoints.json"), kept, image_ids, kept_scores
        )

    # xtcocotools' loadRes: the area of the body keypoints' extent, for every part.
    body = kept[:, : WHOLEBODY_PARTS["body"][2], :2].astype(np.float64)  # (M, 17, 2)
    span = body.max(axis=1) - body.min(axis=1)
    dt_areas = span[:, 0] * span[:, 1]  # (M,)
    ranges = {
        **{part: (start, end) for part, (_, start, end) in WHOLEBODY_PARTS.items()},
        "wholebody": (0, NUM_KEYPOINTS),
    }
    stats = {}
    for part, (start, end) in ranges.items():
        part_stats = _part_cocoeval(
            images,
            annotations,
            gt_keypoints[:, start:end],
            kept[:, start:end],
            image_ids,
            kept_scores,
            dt_areas,
            sigmas[start:end],
            settings.use_area,
            part,
        )
        prefix = "" if part == "wholebody" else f"{part}/"
        stats.update({f"{prefix}{k}": v for k, v in zip(COCO_STAT_NAMES, part_stats, strict=True)})
    return {key: stats[key] for key in WHOLEBODY_STAT_NAMES}


def _load_ground_truth(ann_file) -> tuple[list[dict], list[dict], np.ndarray, str]:
    """Images, annotations and their ``(G, 133, 3)`` float64 keypoints in MMPose's order."""
    if isinstance(ann_file, Mapping):
        data, name = ann_file, "<annotation dict>"
    else:
        name = os.fspath(ann_file)
        try:
            with open(name) as f:
                data = json.load(f)
        except (OSError, json.JSONDecodeError) as err:
            raise DataError(f"cannot read the annotation file {name}: {err}") from err
    for key in ("images", "annotations"):
        if key not in data:
            raise DataError(f"{name}: a COCO keypoint file needs '{key}', it is missing")
    rows = []
    for ann in data["annotations"]:
        if all(field in ann for field, _ in PART_FIELDS):
            flat = [v for field, _ in PART_FIELDS for v in ann[field]]
        else:
            flat = ann.get("keypoints", [])
        if len(flat) != NUM_KEYPOINTS * 3:
            raise DataError(
                f"{name}: annotation {ann.get('id')} has {len(flat) // 3} keypoints; "
                f"COCO-WholeBody needs the {', '.join(f for f, _ in PART_FIELDS)} fields or "
                f"{NUM_KEYPOINTS} keypoints in 'keypoints'"
            )
        rows.append(flat)
    keypoints = np.asarray(rows, np.float64).reshape(-1, NUM_KEYPOINTS, 3)
    return list(data["images"]), list(data["annotations"]), keypoints, name


def _write_results(path: Path, keypoints: np.ndarray, image_ids: np.ndarray, scores) -> None:
    """MMPose's ``results2json``: one field per part, category 1."""
    results = []
    for kps, image_id, score in zip(keypoints, image_ids, scores, strict=True):
        result = {"image_id": int(image_id), "category_id": 1, "score": float(score)}
        for field, start, end in WHOLEBODY_PARTS.values():
            result[field] = kps[start:end].reshape(-1).tolist()
        results.append(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, sort_keys=True, indent=4))
    log.info("wrote %d keypoint results to %s", len(results), path)


def _part_cocoeval(
    images: list[dict],
    annotations: list[dict],
    gt_keypoints: np.ndarray,
    dt_keypoints: np.ndarray,
    image_ids: np.ndarray,
    scores: np.ndarray,
    dt_areas: np.ndarray,
    sigmas: np.ndarray,
    use_area: bool,
    part: str,
) -> list[float]:
    """pycocotools' keypoint COCOeval of one part: ``gt_keypoints`` ``(G, k, 3)`` and
    ``dt_keypoints`` ``(M, k, 3)`` are the part's slices; the 10 COCO stats."""
    gt_anns = [
        {
            **{k: ann[k] for k in ("id", "image_id", "bbox", "iscrowd", "area") if k in ann},
            "category_id": ann.get("category_id", 1),
            "keypoints": kps.reshape(-1).tolist(),
        }
        for ann, kps in zip(annotations, gt_keypoints, strict=True)
    ]
    data = {"images": images, "annotations": gt_anns, "categories": [{"id": 1, "name": "person"}]}
    coco_gt = xtcocotools_ground_truth(
        data, f"<{part} ground truth>", gt_keypoints.shape[1], use_area
    )
    scored = np.flatnonzero((dt_keypoints[..., 2] > 0).any(axis=-1))  # xtcocotools skips others
    results = [
        {
            "image_id": int(image_ids[i]),
            "category_id": 1,
            "keypoints": dt_keypoints[i].reshape(-1).tolist(),
            "score": float(scores[i]),
        }
        for i in scored
    ]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        if results:
            coco_dt = coco_gt.loadRes(results)
            for ann, area in zip(coco_dt.dataset["annotations"], dt_areas[scored], strict=True):
                ann["area"] = float(area)
        else:
            coco_dt = COCO()
            coco_dt.dataset = {**coco_gt.dataset, "annotations": []}
            coco_dt.createIndex()
        evaluator = COCOeval(coco_gt, coco_dt, iouType="keypoints")
        evaluator.params.kpt_oks_sigmas = np.asarray(sigmas, np.float32)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    summary = "\n".join(line for line in out.getvalue().splitlines() if "Average" in line)
    log.info("COCOeval keypoints_%s:\n%s", part, summary)
    return [float(v) for v in evaluator.stats]
