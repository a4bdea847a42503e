"""Detector presets: name -> the mmdet model and the checkpoint MMPose's inferencer pairs with
it (``mmpose/apis/inferencers/utils/default_det_models.py``), loaded by ``load_detector``.

``rtmdet-m-person`` is MMPose's detector for humans (``demo/mmdetection_cfg/
rtmdet_m_640-8xb32_coco-person.py``: RTMDet-m, one class, trained on COCO + Objects365 persons);
it is the default detector of every body preset.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from kpose.errors import ModelError


@dataclass(frozen=True)
class DetectorPreset:
    name: str
    arch: str  # RTMDet size: tiny, s, m, l
    num_classes: int
    weights: str  # the checkpoint URL
    mmdet_config: str  # the config it mirrors (in MMPose's demo/mmdetection_cfg/)
    classes: tuple[int, ...] = (0,)  # the person class ids


_DETECTORS = (
    DetectorPreset(
        "rtmdet-m-person",
        arch="m",
        num_classes=1,
        weights="https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/"
        "rtmdet_m_8xb32-100e_coco-obj365-person-235e8209.pth",
        mmdet_config="rtmdet_m_640-8xb32_coco-person.py",
    ),
)
DETECTORS = {d.name: d for d in _DETECTORS}
DEFAULT_DETECTOR = "rtmdet-m-person"


def get(name: str) -> DetectorPreset:
    try:
        return DETECTORS[name]
    except KeyError:
        raise ModelError(f"unknown detector {name!r}; available: {sorted(DETECTORS)}") from None


def load_detector(name: str, weights: str | os.PathLike | None = None, **options):
    """The ``RTMDetDetector`` of preset ``name`` with ``weights`` (an mmdet ``.pth``, a
    ``.weights.h5``, or a URL; default: ``$KPOSE_HOME/<name>.{weights.h5,keras,pth}`` if there,
    else the preset's checkpoint, downloaded once into ``$KPOSE_HOME`` and verified).
    ``options`` go to ``RTMDetDetector`` (``score_thr``, ``nms_thr``, ...)."""
    from kpose.detection.rtmdet import RTMDetDetector, build_rtmdet
    from kpose.weights.load import find_weights, load_weights

    preset = get(name)
    model = build_rtmdet(preset.arch, num_classes=preset.num_classes, name=preset.name)
    if weights is None:
        weights = find_weights(preset.name) or preset.weights
    load_weights(model, weights, cache_key=preset.name)
    options.setdefault("classes", preset.classes)
    return RTMDetDetector(model, **options)
