"""COCO-style keypoint AP/AR with MMPose's ``CocoMetric`` post-processing, on pycocotools.

The chain is MMPose 1.3.2's: predictions grouped by image (in order of their ``id``, repeated
ids dropped), rescored (``bbox_score`` x mean of the keypoint scores above 0.2 by default),
OKS-NMS per image (across categories) at 0.9 with the padded crop area, written as COCO
results with each instance's ``category_id`` and scored by ``COCOeval(iouType="keypoints")``
(AP per category, averaged) with the dataset's OKS sigmas. MMPose scores with
xtcocotools; pycocotools gives the same numbers once the ground truth is adjusted for the three
places where they differ (see ``_ground_truth``) and detections without any keypoint score > 0
are left out, as xtcocotools does. A dataset name brings the settings of that dataset's MMPose
configs (``METRIC_SETTINGS``: OKS area, CrowdPose's crowd-index AP, score and NMS settings);
arguments override them.

Numbers follow MMPose run with numpy < 2 (its supported setting): keypoint scores are compared
with the threshold in float64, OKS in NMS is computed in the keypoints' precision and rounded to
float32, and sigmas are float32. Coordinates are original-image pixels.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from kpose.data.metainfo import get_dataset_info
from kpose.errors import DataError, KposeError
from kpose.evaluation.predictions import prediction_columns

log = logging.getLogger(__name__)

COCO_STAT_NAMES = (
    "AP", "AP .5", "AP .75", "AP (M)", "AP (L)", "AR", "AR .5", "AR .75", "AR (M)", "AR (L)",
)  # fmt: skip
CROWD_STAT_NAMES = ("AP", "AP .5", "AP .75", "AR", "AR .5", "AR .75", "AP(E)", "AP(M)", "AP(H)")
IOU_TYPES = ("keypoints", "keypoints_crowd")
# CrowdPose's crowd-index groups: easy < 0.2 <= medium < 0.8 <= hard (xtcocotools).
_CROWD_SPLITS = (0.2, 0.8)
SCORE_MODES = ("bbox_keypoint", "bbox", "keypoint")
NMS_MODES = ("oks_nms", "none")

# xtcocotools' scale for OKS and the area ranges when the GT area is not used (AIC, CrowdPose).
_BBOX_AREA_FACTOR = 0.53


@dataclass(frozen=True)
class CocoMetricSettings:
    """The arguments of MMPose's ``CocoMetric`` (and of ``PoseTrack18Metric``, its subclass)
    that a dataset's configs set; the defaults are ``CocoMetric``'s. (Its ``prefix`` only
    names the logged stats; kpose labels them with the dataset's name.)"""

    use_area: bool = True
    iou_type: str = "keypoints"
    score_mode: str = "bbox_keypoint"
    keypoint_score_thr: float = 0.2
    nms_mode: str = "oks_nms"
    nms_thr: float = 0.9


# dataset -> the val_evaluator of its MMPose 1.3.2 configs
# (configs/body_2d_keypoint/topdown_heatmap/<dataset>/); other datasets get CocoMetric's defaults.
METRIC_SETTINGS = {
    "coco": CocoMetricSettings(),
    "humanart": CocoMetricSettings(),
    "aic": CocoMetricSettings(use_area=False),
    "exlpose": CocoMetricSettings(use_area=False),
    "crowdpose": CocoMetricSettings(use_area=False, iou_type="keypoints_crowd"),
    "posetrack18": CocoMetricSettings(),
}


def metric_settings(dataset: str, **overrides) -> CocoMetricSettings:
    """``dataset``'s ``METRIC_SETTINGS`` with the ``overrides`` that are not ``None``.

    Example:
        >>> metric_settings("crowdpose", nms_thr=0.8).iou_type
        'keypoints_crowd'
    """
    settings = replace(
        METRIC_SETTINGS.get(dataset, CocoMetricSettings()),
        **{key: value for key, value in overrides.items() if value is not None},
    )
    if settings.iou_type not in IOU_TYPES:
        raise KposeError(f"iou_type must be one of {IOU_TYPES}, got {settings.iou_type!r}")
    if settings.score_mode not in SCORE_MODES:
        raise KposeError(f"score_mode must be one of {SCORE_MODES}, got {settings.score_mode!r}")
    if settings.nms_mode not in NMS_MODES:
        raise KposeError(f"nms_mode must be one of {NMS_MODES}, got {settings.nms_mode!r}")
    return settings


def rescore(
    bbox_scores: np.ndarray,
    keypoint_scores: np.ndarray,
    mode: str = "bbox_keypoint",
    keypoint_score_thr: float = 0.2,
) -> np.ndarray:
    """Instance scores as MMPose's ``CocoMetric`` computes them, float64 ``(N,)``.

    Args:
        bbox_scores: ``(N,)`` detector box scores.
        keypoint_scores: ``(N, K)`` per-keypoint confidences.
        mode: ``"bbox_keypoint"``: bbox score x mean of the keypoint scores strictly above
            ``keypoint_score_thr`` (0 when none is); ``"bbox"``: the bbox score;
            ``"keypoint"``: the mean keypoint score.
        keypoint_score_thr: threshold of ``"bbox_keypoint"``, compared in float64.

    Example:
        >>> rescore(np.array([0.5]), np.array([[0.1, 0.3, 0.5]]))
        array([0.2])
    """
    bbox = np.asarray(bbox_scores)
    kpt = np.asarray(keypoint_scores)
    if kpt.ndim != 2 or bbox.shape != kpt.shape[:1]:
        raise KposeError(
            f"rescore expects bbox_scores (N,) and keypoint_scores (N, K), got {bbox.shape} "
            f"and {kpt.shape}"
        )
    if mode == "bbox":
        return bbox.astype(np.float64)
    if mode == "keypoint":
        # The mean in the scores' own precision, like np.mean on each instance.
        return np.mean(kpt, axis=-1).astype(np.float64)
    if mode != "bbox_keypoint":
        raise KposeError(f"score_mode must be one of {SCORE_MODES}, got {mode!r}")
    kpt64 = kpt.astype(np.float64)
    passed = kpt64 > float(keypoint_score_thr)  # (N, K)
    # MMPose adds the passing scores one by one: cumsum keeps that order for float64 inputs.
    total = np.cumsum(np.where(passed, kpt64, 0.0), axis=-1)[:, -1]
    count = passed.sum(axis=-1)
    mean = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    return bbox.astype(np.float64) * mean


def _oks_to_many(
    xy: np.ndarray, others: np.ndarray, area: np.ndarray, other_areas: np.ndarray, var: np.ndarray
) -> np.ndarray:
    """OKS of one instance ``(K, 2)`` against ``(M, K, 2)`` over all joints, float32 ``(M,)``.

    Mirrors ``mmpose.evaluation.functional.oks_iou`` under numpy < 2: squared distances in the
    keypoints' dtype, divided by float32 variances, by the mean area (computed in float64, then
    cast to the working precision) and by 2; the mean of exp(-e) is stored as float32.
    """
    work = np.result_type(xy.dtype, np.float32)
    d = others - xy  # (M, K, 2)
    sq = (d[..., 0] ** 2 + d[..., 1] ** 2).astype(work, copy=False)  # (M, K)
    half_area = (area + other_areas).astype(np.float64) / 2 + np.spacing(1)  # (M,)
    e = sq / var.astype(work) / half_area.astype(work)[:, None] / 2
    total = np.sum(np.exp(-e), axis=-1)
    return (total.astype(np.float64) / xy.shape[0]).astype(np.float32)


def oks_nms(
    keypoints: np.ndarray,
    scores: np.ndarray,
    areas: np.ndarray,
    sigmas: Sequence[float] | np.ndarray,
    thr: float = 0.9,
) -> np.ndarray:
    """Greedy OKS non-maximum suppression of one image's instances (MMPose's ``oks_nms``).

    Instances are visited by descending score; each kept one suppresses the remaining ones whose
    OKS with it, over all K joints and with the mean of the two ``areas`` as scale, exceeds
    ``thr`` (compared in float32, like MMPose). Equal scores keep the later instance first, as
    MMPose's ``argsort()[::-1]`` does on small inputs.

    Args:
        keypoints: ``(N, K, 2)`` or ``(N, K, 3)`` image pixels; only x, y are used.
        scores: ``(N,)`` instance scores (after ``rescore``).
        areas: ``(N,)`` instance areas (MMPose: ``prod(bbox_scales)``, the padded crop area).
        sigmas: ``(K,)`` OKS sigmas of the dataset.
        thr: OKS above which an instance is suppressed.

    Returns:
        int64 indices of the kept instances, highest score first.

    Example:
        >>> kps = np.zeros((2, 17, 2)); kps[1] += 100
        >>> oks_nms(kps, np.array([0.5, 0.9]), np.array([1e4, 1e4]), [0.05] * 17).tolist()
        [1, 0]
    """
    kps = np.asarray(keypoints)
    scores = np.asarray(scores)
    areas = np.asarray(areas)
    n = scores.shape[0]
    if kps.ndim != 3 or kps.shape[0] != n or kps.shape[2] not in (2, 3) or areas.shape != (n,):
        raise KposeError(
            f"oks_nms expects keypoints (N, K, 2|3), scores (N,) and areas (N,), got "
            f"{kps.shape}, {scores.shape} and {areas.shape}"
        )
    var = (np.asarray(sigmas, np.float32) * 2) ** 2  # (K,)
    if var.shape != (kps.shape[1],):
        raise KposeError(f"oks_nms got {var.shape[0]} sigmas for {kps.shape[1]} keypoints")
    xy = kps[..., :2]
    thr32 = np.float32(thr)
    remaining = np.argsort(scores, kind="stable")[::-1]
    keep = []
    while remaining.size:
        top, rest = remaining[0], remaining[1:]
        keep.append(top)
        oks = _oks_to_many(xy[top], xy[rest], areas[top], areas[rest], var)
        remaining = rest[oks <= thr32]
    return np.asarray(keep, dtype=np.int64)


def dataset_sigmas(dataset: str, num_keypoints: int) -> np.ndarray:
    """The ``(K,)`` float32 OKS sigmas of ``dataset``, checked against ``num_keypoints``."""
    sigmas = np.asarray(get_dataset_info(dataset).sigmas, np.float32)
    if sigmas.shape != (num_keypoints,):
        raise DataError(
            f"{sigmas.shape[0]} OKS sigmas for dataset {dataset!r}, but the predictions have "
            f"{num_keypoints} keypoints"
        )
    return sigmas


def _load_annotations(ann_file: str | os.PathLike | Mapping) -> tuple[dict, str]:
    """The COCO dict (annotation dicts copied, since evaluation writes into them) and a name."""
    if isinstance(ann_file, Mapping):
        data, name = ann_file, "<annotation dict>"
    else:
        name = os.fspath(ann_file)
        try:
            with open(name) as f:
                data = json.load(f)
        except (OSError, json.JSONDecodeError) as err:
            raise DataError(f"cannot read the annotation file {name}: {err}") from err
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise DataError(f"{name}: a COCO keypoint file needs '{key}', it is missing")
    return {**data, "annotations": [dict(a) for a in data["annotations"]]}, name


def xtcocotools_ground_truth(
    data: dict, name: str, num_keypoints: int, use_area: bool, crowd: bool = False
) -> COCO:
    """A pycocotools ``COCO`` that scores like xtcocotools' on the same file.

    - xtcocotools ignores a GT with no keypoint of visibility > 0, pycocotools one with
      ``num_keypoints == 0``: ``num_keypoints`` is recounted from the keypoints.
    - ``use_area=False``: xtcocotools scales OKS and picks area ranges with
      ``bbox_w * bbox_h * 0.53``; that value replaces ``area``.
    - xtcocotools defaults a missing ``iscrowd`` to 0 and marks matches with -1, pycocotools
      with 0, so annotation ids are shifted to start above 0 when needed.
    - ``crowd`` (``keypoints_crowd``): xtcocotools then ignores by the file's
      ``num_keypoints`` (CrowdPose counts only v = 2), as pycocotools does: it is kept.
    """
    if crowd:
        no_count = [a.get("id") for a in data["annotations"] if "num_keypoints" not in a]
        no_index = [img.get("id") for img in data["images"] if "crowdIndex" not in img]
        if no_count or no_index:
            raise DataError(
                f"{name}: iou_type='keypoints_crowd' needs 'num_keypoints' on every annotation "
                f"and 'crowdIndex' on every image; missing on annotations {no_count[:5]} and "
                f"images {no_index[:5]}"
            )
    anns = data["annotations"]
    min_id = min((a["id"] for a in anns), default=1)
    for a in anns:
        kps = a.get("keypoints")
        if kps is None or len(kps) != 3 * num_keypoints:
            raise DataError(
                f"{name}: annotation {a.get('id')} has {0 if kps is None else len(kps) // 3} "
                f"keypoints, the predictions have {num_keypoints}"
            )
        a.setdefault("iscrowd", 0)
        if not crowd:
            a["num_keypoints"] = sum(1 for v in kps[2::3] if v > 0)
        if use_area:
            if "area" not in a:
                raise DataError(
                    f"{name}: annotation {a['id']} has no 'area'; evaluate with use_area=False "
                    "(as MMPose does for AIC and CrowdPose)"
                )
        else:
            x, y, w, h = a["bbox"]
            a["area"] = h * w * _BBOX_AREA_FACTOR
        if min_id <= 0:
            a["id"] = a["id"] - min_id + 1
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def select_instances(
    preds: dict[str, np.ndarray],
    scores: np.ndarray,
    keypoints: np.ndarray,
    sigmas: np.ndarray,
    nms_mode: str,
    nms_thr: float,
) -> np.ndarray:
    """Indices of the instances to report: grouped by image (in order of first appearance),
    sorted by ``id`` with repeated ids dropped (MMPose's ``_sort_and_unique_bboxes``), then
    OKS-NMS within each image; kept instances come highest score first."""
    image_ids, ids = preds["image_id"], preds["id"]
    _, first, inverse = np.unique(image_ids, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))[inverse.reshape(-1)]  # (N,) image order of appearance
    order = np.lexsort((ids, rank))  # stable
    repeated = (rank[order][1:] == rank[order][:-1]) & (ids[order][1:] == ids[order][:-1])
    order = order[np.concatenate([[True], ~repeated])]
    starts = np.flatnonzero(np.diff(rank[order])) + 1
    selected = []
    for group in np.split(order, starts):
        if nms_mode == "oks_nms":
            group = group[
                oks_nms(keypoints[group], scores[group], preds["area"][group], sigmas, nms_thr)
            ]
        selected.append(group)
    return np.concatenate(selected)


def coco_evaluate(
    ann_file: str | os.PathLike | Mapping,
    predictions: Mapping | Sequence[Mapping],
    dataset: str = "coco",
    *,
    sigmas: Sequence[float] | np.ndarray | None = None,
    use_area: bool | None = None,
    iou_type: str | None = None,
    score_mode: str | None = None,
    keypoint_score_thr: float | None = None,
    nms_mode: str | None = None,
    nms_thr: float | None = None,
    outfile_prefix: str | os.PathLike | None = None,
) -> dict[str, float]:
    """COCO keypoint AP/AR of top-down predictions, equal to MMPose's ``CocoMetric``.

    Args:
        ann_file: a COCO-format keypoint annotation file, or its already-loaded dict (not
            modified).
        predictions: before rescoring and NMS, one dict per instance or columns of arrays
            (``kpose.evaluation.predictions``): ``image_id``, ``keypoints`` ``(K, 2)`` in image
            pixels, ``keypoint_scores`` ``(K,)``, ``bbox_score`` (default 1) and ``area``
            (MMPose's ``prod(bbox_scales)``, the padded crop area; default the keypoints'
            extent). An optional ``id`` (the dataset index) orders instances and drops
            repeats, like MMPose's sample ids. An optional ``category_id`` (default 1) is the
            instance's GT category: COCOeval averages AP over the categories (AP-10K: 54).
        dataset: whose OKS sigmas (``kpose.data.metainfo.get_dataset_info``) and MMPose metric
            settings (``METRIC_SETTINGS``) are used; every argument below left ``None`` is the
            dataset's setting.
        sigmas: ``(K,)`` OKS sigmas overriding the dataset's.
        use_area: scale OKS by the GT ``area``; False (AIC, CrowdPose) uses the GT box
            ``w * h * 0.53`` as xtcocotools does.
        iou_type: ``"keypoints"``, or CrowdPose's ``"keypoints_crowd"`` (AP/AR over all
            images plus AP(E)/AP(M)/AP(H) by the images' ``crowdIndex``, as xtcocotools).
        score_mode, keypoint_score_thr: see ``rescore``.
        nms_mode: ``"oks_nms"`` or ``"none"``; nms_thr: see ``oks_nms``.
        outfile_prefix: when given, the COCO results are written to
            ``<outfile_prefix>.keypoints.json``.

    Returns:
        ``{"AP", "AP .5", "AP .75", "AP (M)", "AP (L)", "AR", "AR .5", "AR .75", "AR (M)",
        "AR (L)"}`` as floats (-1 where COCOeval has no ground truth in the range); for
        ``keypoints_crowd`` the keys of ``CROWD_STAT_NAMES``.

    Example:
        >>> coco_evaluate("person_keypoints_val2017.json", predictions)["AP"]
    """
    settings = metric_settings(
        dataset,
        use_area=use_area,
        iou_type=iou_type,
        score_mode=score_mode,
        keypoint_score_thr=keypoint_score_thr,
        nms_mode=nms_mode,
        nms_thr=nms_thr,
    )
    preds = prediction_columns(predictions)
    num_keypoints = preds["keypoint_scores"].shape[1]
    if sigmas is None:
        sigmas = dataset_sigmas(dataset, num_keypoints)
    else:
        sigmas = np.asarray(sigmas, np.float32)
        if sigmas.shape != (num_keypoints,):
            raise DataError(
                f"{sigmas.shape[0]} OKS sigmas given, but the predictions have "
                f"{num_keypoints} keypoints"
            )
    data, name = _load_annotations(ann_file)
    unknown = set(preds["image_id"].tolist()) - {img["id"] for img in data["images"]}
    if unknown:
        raise DataError(
            f"{len(unknown)} predicted image_id(s) are not images of {name}, e.g. "
            f"{sorted(unknown)[:5]}"
        )
    crowd = settings.iou_type == "keypoints_crowd"
    coco_gt = xtcocotools_ground_truth(data, name, num_keypoints, settings.use_area, crowd)

    scores = rescore(
        preds["bbox_score"],
        preds["keypoint_scores"],
        settings.score_mode,
        settings.keypoint_score_thr,
    )  # (N,)
    # MMPose's result keypoints: [x, y, score] per joint, in the inputs' common precision.
    keypoints = np.concatenate(
        [preds["keypoints"], preds["keypoint_scores"][..., None]], axis=-1
    )  # (N, K, 3)
    selected = select_instances(
        preds, scores, keypoints, sigmas, settings.nms_mode, settings.nms_thr
    )
    flat = keypoints[selected].reshape(len(selected), -1).tolist()
    results = [
        {
            "image_id": int(image_id),
            "category_id": int(category_id),
            "keypoints": kps,
            "score": float(score),
        }
        for image_id, category_id, kps, score in zip(
            preds["image_id"][selected],
            preds["category_id"][selected],
            flat,
            scores[selected],
            strict=True,
        )
    ]
    if outfile_prefix is not None:
        path = Path(f"{os.fspath(outfile_prefix)}.keypoints.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, sort_keys=True, indent=4))
        log.info("wrote %d keypoint results to %s", len(results), path)

    # xtcocotools skips detections without any keypoint score > 0.
    scored = (keypoints[selected][..., 2] > 0).any(axis=-1)
    kept = [r for r, ok in zip(results, scored, strict=True) if ok]
    if crowd:
        return dict(zip(CROWD_STAT_NAMES, _crowd_cocoeval(kept, coco_gt, sigmas), strict=True))
    return dict(zip(COCO_STAT_NAMES, _cocoeval(kept, coco_gt, sigmas), strict=True))


def _evaluator(results: list[dict], coco_gt: COCO, sigmas: np.ndarray) -> COCOeval:
    if results:
        coco_dt = coco_gt.loadRes(results)
    else:
        coco_dt = COCO()
        coco_dt.dataset = {**coco_gt.dataset, "annotations": []}
        coco_dt.createIndex()
    evaluator = COCOeval(coco_gt, coco_dt, iouType="keypoints")
    evaluator.params.kpt_oks_sigmas = sigmas
    return evaluator


def _summarized(results: list[dict], coco_gt: COCO, sigmas: np.ndarray) -> tuple[COCOeval, str]:
    """A ``COCOeval`` run through evaluate/accumulate/summarize, and what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        evaluator = _evaluator(results, coco_gt, sigmas)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator, out.getvalue()


def _crowd_cocoeval(results: list[dict], coco_gt: COCO, sigmas: np.ndarray) -> list[float]:
    """xtcocotools' ``keypoints_crowd`` summary: AP/AR over all images (area 'all'), then the
    mean precision (-1 entries included, rounded to 4 places) per crowd-index group."""
    evaluator, _ = _summarized(results, coco_gt, sigmas)
    stats = [float(evaluator.stats[i]) for i in (0, 1, 2, 5, 6, 7)]
    first, second = _CROWD_SPLITS
    groups = ([], [], [])
    for img in coco_gt.dataset["images"]:
        index = img["crowdIndex"]
        groups[0 if index < first else 1 if index < second else 2].append(img["id"])
    for group in groups:
        evaluator.params.imgIds = group
        with contextlib.redirect_stdout(io.StringIO()):
            evaluator.evaluate()
            evaluator.accumulate()
        stats.append(round(float(np.mean(evaluator.eval["precision"][:, :, :, 0, :])), 4))
    log.info("COCOeval keypoints_crowd: %s", dict(zip(CROWD_STAT_NAMES, stats, strict=True)))
    return stats


def _cocoeval(results: list[dict], coco_gt: COCO, sigmas: np.ndarray) -> list[float]:
    """pycocotools' keypoint evaluation; its printout goes to the log."""
    evaluator, printed = _summarized(results, coco_gt, sigmas)
    summary = "\n".join(line for line in printed.splitlines() if "Average" in line)
    log.info("COCOeval keypoints:\n%s", summary)
    return [float(v) for v in evaluator.stats]
