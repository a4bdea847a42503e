"""PCK metrics with MMPose's numbers: PCK by box / head / torso size, MPII's PCKh table and
JHMDB's per-joint PCK (``mmpose/evaluation/functional/keypoint_eval.py`` and
``mmpose/evaluation/metrics/keypoint_2d_metrics.py``).

Inputs are per-instance arrays in image pixels: predictions and ground truth (N, K, 2), the
ground-truth visibility (N, K) used as the mask, and the normaliser's source (GT boxes, head
sizes). The arithmetic follows MMPose's dtypes (float32 coordinates and distances, float64 head
sizes from the .mat file, thresholds compared in float32) so that borderline joints fall on the
same side of the threshold and the numbers agree to the last digit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kpose.errors import KposeError

# (name, joint indices averaged) for the per-joint tables, in MMPose's order.
_MPII_TABLE = (
    ("Head PCK", (9,)),
    ("Shoulder PCK", (13, 12)),
    ("Elbow PCK", (14, 11)),
    ("Wrist PCK", (15, 10)),
    ("Hip PCK", (3, 2)),
    ("Knee PCK", (4, 1)),
    ("Ankle PCK", (5, 0)),
)
_JHMDB_TABLE = (
    ("Head", (2,)),
    ("Sho", (3, 4)),
    ("Elb", (7, 8)),
    ("Wri", (11, 12)),
    ("Hip", (5, 6)),
    ("Knee", (9, 10)),
    ("Ank", (13, 14)),
)
_MPII_UNSCORED = (6, 7)  # pelvis and thorax do not count towards the MPII mean


def normalized_distances(pred, gt, mask, norm) -> np.ndarray:
    """(K, N) float32 distances ||(pred - gt) / norm||; -1 where masked or the norm is 0.

    ``norm`` is (N, 2); norms <= 0 become 1e6 (MMPose's ``_calc_distances``).
    """
    pred, gt = np.asarray(pred), np.asarray(gt)
    mask = np.asarray(mask, bool).copy()
    norm = np.array(norm, copy=True)
    mask[np.flatnonzero((norm == 0).sum(1)), :] = False
    distances = np.full(mask.shape, -1, np.float32)
    norm[norm <= 0] = 1e6
    distances[mask] = np.linalg.norm(((pred - gt) / norm[:, None, :])[mask], axis=-1)
    return distances.T


def _accuracy(distances: np.ndarray, thr: float) -> float:
    valid = distances != -1
    if not valid.any():
        return -1.0
    return float((distances[valid] < np.float32(thr)).sum() / valid.sum())


def pck_accuracy(pred, gt, mask, thr: float, norm) -> tuple[np.ndarray, float, int]:
    """Per-joint accuracy (K,) (-1 where no joint is valid), their mean and the count used."""
    acc = np.array([_accuracy(d, thr) for d in normalized_distances(pred, gt, mask, norm)])
    valid = acc[acc >= 0]
    return acc, float(valid.mean()) if len(valid) else 0.0, len(valid)


def _pair(values) -> np.ndarray:
    values = np.asarray(values)
    return np.stack([values, values], axis=-1)


def bbox_sizes(bbox_xyxy) -> np.ndarray:
    """(N, 2) normaliser: the GT box's longer side, twice."""
    bbox = np.asarray(bbox_xyxy)
    return _pair(np.max(bbox[:, 2:] - bbox[:, :2], axis=1))


def torso_sizes(pred, gt, left: int = 4, right: int = 5) -> np.ndarray:
    """(N, 2) normaliser: ||gt[left] - gt[right]||, or the predicted one where that is < 1."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    size = np.linalg.norm(gt[:, left] - gt[:, right], axis=-1)
    fallback = np.linalg.norm(pred[:, left] - pred[:, right], axis=-1)
    return _pair(np.where(size < 1, fallback, size))


def pck(
    pred,
    gt,
    visible,
    *,
    thr: float = 0.05,
    norm_items: Sequence[str] = ("bbox",),
    bbox_xyxy=None,
    head_size=None,
) -> dict[str, float]:
    """MMPose's ``PCKAccuracy``: ``PCK`` (box), ``PCKh`` (head) and ``tPCK`` (torso)."""
    out = {}
    for item in norm_items:
        if item == "bbox":
            out["PCK"] = pck_accuracy(pred, gt, visible, thr, bbox_sizes(bbox_xyxy))[1]
        elif item == "head":
            out["PCKh"] = pck_accuracy(pred, gt, visible, thr, _pair(head_size))[1]
        elif item == "torso":
            out["tPCK"] = pck_accuracy(pred, gt, visible, thr, torso_sizes(pred, gt))[1]
        else:
            raise KposeError(f"PCK norm_items: {item!r} is not 'bbox', 'head' or 'torso'")
    return out


def mpii_pckh(
    pred, gt, visible, head_size, *, thr: float = 0.5, one_based: bool = True
) -> dict[str, float]:
    """MMPose's ``MpiiPCKAccuracy``: the per-joint PCKh table, ``PCK`` (PCKh@thr) and
    ``PCK@0.1``, in percent.

    ``one_based=True`` adds 1 to the predictions as MMPose does (its MPII ground truth stays
    in the file's 1-based pixels); ``False`` compares them as they are.
    """
    pred = np.asarray(pred, np.float32) + (np.float32(1.0) if one_based else np.float32(0.0))
    mask = np.asarray(visible, bool)
    norm = _pair(np.asarray(head_size, np.float64))
    per_joint = 100.0 * pck_accuracy(pred, gt, mask, thr, norm)[0]
    distances = normalized_distances(pred, gt, mask, norm)
    # MMPose keeps this table in float32 (its pckAll array)
    at_01 = (100.0 * np.array([_accuracy(d, 0.1) for d in distances])).astype(np.float32)
    count = mask.sum(axis=0).astype(np.float64)
    scored = np.ones(len(count), bool)
    scored[list(_MPII_UNSCORED)] = False
    ratio = np.where(scored, count, 0.0) / count[scored].sum()
    out = {
        name: float(np.mean([per_joint[j] for j in joints]))
        if len(joints) == 1
        else float(0.5 * (per_joint[joints[0]] + per_joint[joints[1]]))
        for name, joints in _MPII_TABLE
    }
    out["PCK"] = float(np.sum((per_joint * ratio)[scored]))
    out["PCK@0.1"] = float(np.sum((at_01 * ratio)[scored]))
    return out


def jhmdb_pck(
    pred, gt, visible, bbox_xyxy, *, thr: float = 0.2, norm_items: Sequence[str] = ("bbox", "torso")
) -> dict[str, float]:
    """MMPose's ``JhmdbPCKAccuracy``: per-joint PCK by person size (``... PCK``, ``PCK``) and by
    torso size (``... tPCK``, ``tPCK``)."""
    out = {}
    for item, suffix in (("bbox", "PCK"), ("torso", "tPCK")):
        if item not in norm_items:
            continue
        norm = bbox_sizes(bbox_xyxy) if item == "bbox" else torso_sizes(pred, gt)
        per_joint, mean, _ = pck_accuracy(pred, gt, visible, thr, norm)
        for name, joints in _JHMDB_TABLE:
            out[f"{name} {suffix}"] = (
                float(per_joint[joints[0]])
                if len(joints) == 1
                else float(0.5 * per_joint[joints[0]] + 0.5 * per_joint[joints[1]])
            )
        out[suffix] = mean
    return out
