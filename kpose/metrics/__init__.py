"""Metrics with MMPose's numbers: COCO-style OKS AP/AR (``coco_evaluate``) and its parts.

Predictions are plain per-instance dicts in original-image pixels; results are dicts keyed by
MMPose's stat names (``"AP"``, ``"AP .5"``, ...).
"""

from kpose.metrics.coco import COCO_STAT_NAMES, coco_evaluate, oks_nms, rescore

__all__ = ["COCO_STAT_NAMES", "coco_evaluate", "oks_nms", "rescore"]
