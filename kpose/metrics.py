"""The public names of the metric engines (``kpose.metrics.*``); the engines live in
``kpose/evaluation/``. Metrics with MMPose's numbers: COCO-style OKS AP/AR (``coco_evaluate``,
with each dataset's MMPose settings in ``METRIC_SETTINGS``), COCO-WholeBody's per-part AP/AR
(``coco_wholebody_evaluate``), PoseTrack18's per-joint AP
(``posetrack18_evaluate``), the PCK family (with AUC and EPE) and the face NME.

Predictions are in original-image pixels, as per-instance dicts or as columns of arrays
(``kpose.evaluation.predictions``); results are dicts keyed by MMPose's stat names (``"AP"``,
``"AP .5"``, ``"PCK"``, ``"Head PCK"``, ``"AUC"``, ``"NME"``, ...).
"""

from kpose.evaluation.coco import (
    COCO_STAT_NAMES,
    METRIC_SETTINGS,
    coco_evaluate,
    metric_settings,
    oks_nms,
    rescore,
)
from kpose.evaluation.nme import DEFAULT_KEYPOINT_INDICES, nme
from kpose.evaluation.pck import (
    auc,
    end_point_error,
    jhmdb_pck,
    mpii_pckh,
    pck,
    pck_accuracy,
    pck_auc_epe,
)
from kpose.evaluation.posetrack import POSETRACK_STAT_NAMES, posetrack18_evaluate
from kpose.evaluation.wholebody import (
    WHOLEBODY_PARTS,
    WHOLEBODY_STAT_NAMES,
    coco_wholebody_evaluate,
)

__all__ = [
    "COCO_STAT_NAMES",
    "DEFAULT_KEYPOINT_INDICES",
    "METRIC_SETTINGS",
    "POSETRACK_STAT_NAMES",
    "WHOLEBODY_PARTS",
    "WHOLEBODY_STAT_NAMES",
    "auc",
    "coco_evaluate",
    "coco_wholebody_evaluate",
    "end_point_error",
    "jhmdb_pck",
    "metric_settings",
    "mpii_pckh",
    "nme",
    "oks_nms",
    "pck",
    "pck_accuracy",
    "pck_auc_epe",
    "posetrack18_evaluate",
    "rescore",
]
