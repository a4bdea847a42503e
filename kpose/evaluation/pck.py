"""PCK-family metrics with MMPose's numbers: PCK by box / head / torso size, MPII's PCKh table,
JHMDB's per-joint PCK, and the AUC / EPE that hand and animal configs report with PCK
(``mmpose/evaluation/functional/keypoint_eval.py`` and
``mmpose/evaluation/metrics/keypoint_2d_metrics.py``); ``kpose.evaluation.nme`` builds the face
metric on the same normalised distances.

Inputs are per-instance arrays in image pixels: predictions and ground truth (N, K, 2), the
ground-truth visibility (N, K) used as the mask, and the normaliser's source (GT boxes, head
sizes). The arithmetic follows MMPose's dtypes (float32 coordinates and distances, float64 head
sizes from the .mat file, thresholds compared in float32, mean errors summed in float32 and
divided in float64 as numpy < 2 does) so that borderline joints fall on the same side of the
threshold and the numbers agree to the last digit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kpose.errors import KposeError

NORM_ITEMS = ("bbox", "head", "torso")

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
        needed = {"bbox": ("bbox_xyxy", bbox_xyxy), "head": ("head_size", head_size)}.get(item)
        if needed is not None and needed[1] is None:
            raise KposeError(f"PCK normalised by {item!r} needs {needed[0]}, got None")
        if item == "bbox":
            out["PCK"] = pck_accuracy(pred, gt, visible, thr, bbox_sizes(bbox_xyxy))[1]
        elif item == "head":
            out["PCKh"] = pck_accuracy(pred, gt, visible, thr, _pair(head_size))[1]
        elif item == "torso":
            out["tPCK"] = pck_accuracy(pred, gt, visible, thr, torso_sizes(pred, gt))[1]
        else:
            raise KposeError(f"PCK norm_items: {item!r} is not one of {NORM_ITEMS}")
    return out


def pck_auc_epe(
    pred,
    gt,
    visible,
    *,
    thr: float = 0.05,
    norm_item: str = "bbox",
    bbox_xyxy=None,
    head_size=None,
    auc_norm_factor: float = 30,
    auc_num_thrs: int = 20,
    epe: bool = True,
) -> dict[str, float]:
    """MMPose's ``[PCKAccuracy(thr, norm_item), AUC(norm_factor, num_thrs), EPE()]`` evaluator
    of the hand, locust / zebra and Animal Kingdom configs, as one dict.

    Args:
        pred, gt: (N, K, 2) keypoints in image pixels (float32, as MMPose's).
        visible: (N, K) GT visibility; joints with 0 are not scored.
        thr: the PCK threshold on the normalised distance (``PCKAccuracy``'s default 0.05;
            the hand and locust / zebra configs use 0.2).
        norm_item: "bbox" (key ``PCK``), "head" (``PCKh``) or "torso" (``tPCK``), see ``pck``.
        bbox_xyxy: (N, 4) GT boxes for "bbox"; head_size: (N,) for "head".
        auc_norm_factor, auc_num_thrs: see ``auc``.
        epe: also report ``EPE`` (Animal Kingdom's configs do not).

    Returns:
        ``{"PCK" | "PCKh" | "tPCK", "AUC"[, "EPE"]}``.
    """
    if norm_item not in NORM_ITEMS:
        raise KposeError(f"PCK norm_item: {norm_item!r} is not one of {NORM_ITEMS}")
    norms = {"bbox_xyxy": bbox_xyxy, "head_size": head_size}
    out = pck(pred, gt, visible, thr=thr, norm_items=(norm_item,), **norms)
    out["AUC"] = auc(pred, gt, visible, norm_factor=auc_norm_factor, num_thrs=auc_num_thrs)
    if epe:
        out["EPE"] = end_point_error(pred, gt, visible)
    return out


def auc(pred, gt, visible, *, norm_factor: float = 30, num_thrs: int = 20) -> float:
    """MMPose's ``AUC``: the mean of the PCK (mean over joints) at thresholds
    ``i / num_thrs`` (i = 0 .. num_thrs - 1) of the distances divided by ``norm_factor``
    pixels, summed as MMPose sums it.

    Example:
        >>> gt = np.zeros((1, 2, 2), np.float32)
        >>> round(auc(gt + 3, gt, np.ones((1, 2))), 6)  # 4.24 px = 0.14 of 30: PCK 1 from 0.15
        0.85
    """
    pred = np.asarray(pred)
    if num_thrs < 1:
        raise KposeError(f"AUC num_thrs must be at least 1, got {num_thrs}")
    norm = np.tile(np.array([[norm_factor, norm_factor]]), (pred.shape[0], 1))  # (N, 2)
    total = 0.0
    for i in range(num_thrs):
        total += 1.0 / num_thrs * pck_accuracy(pred, gt, visible, 1.0 * i / num_thrs, norm)[1]
    return float(total)


def mean_normalized_error(pred, gt, mask, norm) -> float:
    """The mean of ``normalized_distances`` over the valid joints (0 when none is): MMPose's
    ``keypoint_nme`` (``keypoint_epe`` with a norm of 1)."""
    distances = normalized_distances(pred, gt, mask, norm)
    valid = distances[distances != -1]
    # float64 division of the float32 sum: numpy < 2's promotion of a float32 scalar by an int
    return float(np.float64(_numpy1_sum(valid)) / max(1, len(valid)))


_NUMPY1_BUFFER = 8192  # numpy < 2's ufunc buffer size (elements)


def _numpy1_sum(values: np.ndarray) -> np.float32:
    """The float32 sum of a 1-D array as numpy < 2 (MMPose's) computes it: pairwise within
    buffers of 8192 elements, the buffers added in order. numpy 2 sums the whole array
    pairwise, which differs in the last bits once there are more than 8192 values."""
    total = np.float32(0)
    for start in range(0, len(values), _NUMPY1_BUFFER):
        total = np.float32(total + values[start : start + _NUMPY1_BUFFER].sum(dtype=np.float32))
    return total


def end_point_error(pred, gt, visible) -> float:
    """MMPose's ``EPE``: the mean pixel distance between predicted and GT visible joints.

    Example:
        >>> gt = np.zeros((1, 2, 2), np.float32)
        >>> end_point_error(gt + [3, 4], gt, np.array([[1, 0]]))
        5.0
    """
    pred = np.asarray(pred)
    ones = np.ones((pred.shape[0], pred.shape[2]), np.float32)
    return mean_normalized_error(pred, gt, visible, ones)


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
