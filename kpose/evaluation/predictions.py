"""Top-down predictions as columns, the form in which the evaluator hands them to the metric
engines: one array per field, one row per person instance.

``image_id`` ``(N,)``, ``keypoints`` ``(N, K, 2)`` in original-image pixels, ``keypoint_scores``
``(N, K)``, and optionally ``bbox_score`` ``(N,)`` (default 1), ``area`` ``(N,)`` (MMPose's
``prod(bbox_scales)``, the padded crop area; default the keypoints' extent), ``id`` ``(N,)``
(the dataset index, which orders instances and drops repeats like MMPose's sample ids; default
the row number) and ``category_id`` ``(N,)`` (the GT instance's category, which COCO results
carry as MMPose's ``CocoMetric`` does, e.g. AP-10K's 54 animals; default 1, person). The
engines also take the per-instance dicts of the same fields (one dict per instance, as
``kpose.metrics`` documents); ``prediction_columns`` turns either into columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from kpose.errors import DataError

REQUIRED = ("image_id", "keypoints", "keypoint_scores")


def prediction_columns(predictions: Mapping | Sequence[Mapping]) -> dict[str, np.ndarray]:
    """``{"id", "image_id", "keypoints", "keypoint_scores", "bbox_score", "area",
    "category_id"}`` arrays of
    columnar predictions (a mapping of arrays) or of per-instance dicts, in the dtypes they came
    in (the metrics' rounding follows them)."""
    if isinstance(predictions, Mapping):
        columns = _from_columns(predictions)
    else:
        columns = _from_instances(predictions)
    n, k = columns["keypoint_scores"].shape if columns["keypoint_scores"].ndim == 2 else (0, 0)
    if columns["keypoints"].shape != (n, k, 2) or k == 0:
        raise DataError(
            f"predictions need keypoints (K, 2) and keypoint_scores (K,) per instance, got "
            f"{columns['keypoints'].shape[1:]} and {columns['keypoint_scores'].shape[1:]}"
        )
    for key in ("id", "image_id", "bbox_score", "area", "category_id"):
        if columns[key].shape != (n,):
            raise DataError(f"predictions: '{key}' has shape {columns[key].shape}, expected ({n},)")
    return columns


def _keypoint_extent(keypoints: np.ndarray) -> np.ndarray:
    """MMPose's area when none is given: the keypoints' bounding-box area ``(N,)``."""
    span = keypoints.max(axis=1) - keypoints.min(axis=1)  # (N, 2)
    return span[:, 0] * span[:, 1]


def _from_columns(predictions: Mapping) -> dict[str, np.ndarray]:
    missing = [key for key in REQUIRED if key not in predictions]
    if missing:
        raise DataError(
            f"columnar predictions have no {missing}; expected image_id (N,), keypoints "
            "(N, K, 2), keypoint_scores (N, K), and optionally bbox_score, area, id, "
            "category_id (N,)"
        )
    keypoints = np.asarray(predictions["keypoints"])
    n = len(keypoints)
    if n == 0:
        raise DataError("got no predictions")
    area = predictions.get("area")
    return {
        "image_id": np.asarray(predictions["image_id"]).astype(np.int64),
        "id": np.asarray(predictions["id"]).astype(np.int64)
        if "id" in predictions
        else np.arange(n),
        "keypoints": keypoints,
        "keypoint_scores": np.asarray(predictions["keypoint_scores"]),
        "bbox_score": np.asarray(predictions.get("bbox_score", np.ones(n))),
        "area": _keypoint_extent(keypoints) if area is None else np.asarray(area),
        "category_id": np.asarray(predictions.get("category_id", np.ones(n))).astype(np.int64),
    }


def _from_instances(predictions: Sequence[Mapping]) -> dict[str, np.ndarray]:
    if len(predictions) == 0:
        raise DataError("got no predictions")
    for key in REQUIRED:
        missing = [i for i, p in enumerate(predictions) if key not in p]
        if missing:
            raise DataError(
                f"prediction {missing[0]} (and {len(missing) - 1} more) has no '{key}'; "
                "expected image_id, keypoints [[x, y], ...], keypoint_scores, bbox_score, area"
            )
    keypoints = np.stack([np.asarray(p["keypoints"]) for p in predictions])  # (N, K, 2)
    keypoint_scores = np.stack([np.asarray(p["keypoint_scores"]) for p in predictions])  # (N, K)
    has_id = ["id" in p for p in predictions]
    if any(has_id) and not all(has_id):
        raise DataError("either every prediction has an 'id' or none does")
    ids = [int(p["id"]) for p in predictions] if all(has_id) else np.arange(len(predictions))
    if "area" in predictions[0]:
        areas = np.asarray([p["area"] for p in predictions])
    elif keypoints.ndim == 3:
        areas = _keypoint_extent(keypoints)
    else:  # the shape check of prediction_columns reports it
        areas = np.zeros(len(predictions))
    return {
        "image_id": np.asarray([int(p["image_id"]) for p in predictions], np.int64),
        "id": np.asarray(ids),
        "keypoints": keypoints,
        "keypoint_scores": keypoint_scores,
        "bbox_score": np.asarray([p.get("bbox_score", 1.0) for p in predictions]),
        "area": areas,
        "category_id": np.asarray([int(p.get("category_id", 1)) for p in predictions], np.int64),
    }
