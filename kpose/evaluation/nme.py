"""The normalised mean error of MMPose's face configs (``NME`` in
``mmpose/evaluation/metrics/keypoint_2d_metrics.py``): the mean distance between predicted and
GT visible keypoints, each instance's distance divided by its normaliser.

Two normalisers, as MMPose's ``norm_mode``: ``"keypoint_distance"``, the GT distance between
two keypoints (the outer eye corners: MMPose's ``DEFAULT_KEYPOINT_INDICES`` per dataset, used
by the 300W, WFLW, COFW and COCO-WholeBody-Face configs), and ``"use_norm_item"``, a per-instance
size (``"bbox_size"``, the GT box's longer side, as the AFLW configs use; or ``"head_size"``).
Coordinates are image pixels, in float32 as MMPose's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kpose.errors import KposeError
from kpose.evaluation.pck import bbox_sizes, mean_normalized_error

NORM_MODES = ("keypoint_distance", "use_norm_item")
NORM_ITEMS = ("bbox_size", "head_size")

# MMPose 1.3.2's NME.DEFAULT_KEYPOINT_INDICES: the dataset's outer eye corners (horse10: nose
# and eye), keyed by the dataset_name of its metainfo.
DEFAULT_KEYPOINT_INDICES: dict[str, tuple[int, int]] = {
    "horse10": (0, 1),
    "300w": (36, 45),
    "coco_wholebody_face": (36, 45),
    "cofw": (8, 9),
    "wflw": (60, 72),
    "lapa": (66, 79),
}


def nme_keypoint_indices(
    dataset_name: str, num_keypoints: int, keypoint_indices: Sequence[int] | None = None
) -> tuple[int, int]:
    """The two keypoints whose GT distance normalises the error: ``keypoint_indices`` when
    given (checked: a pair of the dataset's keypoints), else the dataset's default.

    Example:
        >>> nme_keypoint_indices("wflw", 98)
        (60, 72)
    """
    if keypoint_indices is None:
        if dataset_name not in DEFAULT_KEYPOINT_INDICES:
            raise KposeError(
                f"NME norm_mode 'keypoint_distance': dataset {dataset_name!r} has no default "
                f"keypoint pair (MMPose has them for {sorted(DEFAULT_KEYPOINT_INDICES)}); set "
                "eval.nme_keypoint_indices to the two keypoints, e.g. [36, 45]"
            )
        keypoint_indices = DEFAULT_KEYPOINT_INDICES[dataset_name]
    pair = tuple(int(i) for i in keypoint_indices)
    if len(pair) != 2 or not all(0 <= i < num_keypoints for i in pair):
        raise KposeError(
            f"NME keypoint_indices: expected two indices of {dataset_name!r}'s "
            f"{num_keypoints} keypoints, got {list(keypoint_indices)}"
        )
    return pair


def nme(
    pred,
    gt,
    visible,
    *,
    norm_mode: str = "keypoint_distance",
    norm_item: str | None = None,
    keypoint_indices: Sequence[int] | None = None,
    dataset_name: str = "",
    bbox_xyxy=None,
    head_size=None,
) -> dict[str, float]:
    """MMPose's ``NME(norm_mode, norm_item, keypoint_indices)``.

    Args:
        pred, gt: (N, K, 2) keypoints in image pixels (float32, as MMPose's).
        visible: (N, K) GT visibility; joints with 0 are not scored.
        norm_mode: ``"keypoint_distance"``: each instance's error is divided by the GT distance
            of ``keypoint_indices`` (default ``DEFAULT_KEYPOINT_INDICES[dataset_name]``);
            ``"use_norm_item"``: by ``norm_item``.
        norm_item: ``"bbox_size"`` (the longer side of ``bbox_xyxy`` (N, 4)) or
            ``"head_size"`` (``head_size`` (N,)).
        dataset_name: the metainfo's dataset name, for the default keypoint pair.

    Returns:
        ``{"NME": float}``; instances whose normaliser is 0 are left out, as MMPose does.

    Example:
        >>> gt = np.zeros((1, 68, 2), np.float32); gt[0, 45] = [100, 0]
        >>> round(nme(gt + [0, 5], gt, np.ones((1, 68)), dataset_name="300w")["NME"], 6)
        0.05
    """
    pred, gt = np.asarray(pred), np.asarray(gt)
    if norm_mode == "keypoint_distance":
        first, second = nme_keypoint_indices(dataset_name, gt.shape[1], keypoint_indices)
        distance = np.linalg.norm(gt[:, first, :] - gt[:, second, :], axis=1, keepdims=True)
        norm = np.tile(distance, [1, 2])  # (N, 2)
    elif norm_mode == "use_norm_item":
        if norm_item == "bbox_size":
            if bbox_xyxy is None:
                raise KposeError("NME norm_item 'bbox_size' needs the GT boxes, got None")
            norm = bbox_sizes(bbox_xyxy)
        elif norm_item == "head_size":
            if head_size is None or not np.any(np.asarray(head_size) > 0):
                raise KposeError(
                    "NME norm_item 'head_size' needs head sizes: convert the val split with "
                    "its head boxes"
                )
            norm = np.tile(np.asarray(head_size).reshape(-1, 1), [1, 2])
        else:
            raise KposeError(
                f"NME norm_mode 'use_norm_item' needs norm_item, one of {NORM_ITEMS}; "
                f"got {norm_item!r}"
            )
    else:
        raise KposeError(f"NME norm_mode: expected one of {NORM_MODES}, got {norm_mode!r}")
    return {"NME": mean_normalized_error(pred, gt, visible, norm)}
