"""The public names of the metric engines (``kpose.metrics.*``); the engines live in
``kpose/evaluation/``. Metrics with MMPose's numbers: COCO-style OKS AP/AR (``coco_evaluate``,
with each dataset's MMPose settings in ``METRIC_SETTINGS``), PoseTrack18's per-joint AP
(``posetrack18_evaluate``) and the PCK family.

Predictions are in original-image pixels, as per-instance dicts or as columns of arrays
(``kpose.evaluation.predictions``); results are dicts keyed by MMPose's stat names (``"AP"``,
``"AP .5"``, ``"PCK"``, ``"Head PCK"``, ...).
"""

from kpose.evaluation.coco import (
    COCO_STAT_NAMES,
    METRIC_SETTINGS,
    coco_evaluate,
    metric_settings,
    oks_nms,
    rescore,
)
from kpose.evaluation.pck import jhmdb_pck, mpii_pckh, pck, pck_accuracy
from kpose.evaluation.posetrack import POSETRACK_STAT_NAMES, posetrack18_evaluate

__all__ = [
    "COCO_STAT_NAMES",
    "METRIC_SETTINGS",
    "POSETRACK_STAT_NAMES",
    "coco_evaluate",
    "jhmdb_pck",
    "metric_settings",
    "mpii_pckh",
    "oks_nms",
    "pck",
    "pck_accuracy",
    "posetrack18_evaluate",
    "rescore",
]
