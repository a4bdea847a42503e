"""Keypoints for image files, folders of images and videos (the library of ``python -m
kpose.infer``): person boxes from the estimator's detector, a boxes file or a detector's COCO
results, ``PoseEstimator.predict`` over the images (a video's frames in groups, so their crops
share model calls), and the results written as COCO keypoint results (``results.json``) with
the skeletons drawn (``vis/<name>.jpg``, or ``<video name>.mp4``).

Boxes files are ``{"<file name>": [[x1, y1, x2, y2(, score)], ...]}`` (for a video, the keys
are frame numbers); detections are a detector's COCO results file (person category, ``bbox``
as x, y, w, h), matched by ``image_id`` to numeric file names (COCO's ``000000000785.jpg`` is
image 785) or by a ``file_name`` field. Without either, the detector finds the people
(``whole=True``: each whole image is one person box, as MMPose's ``inference_topdown``).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from kpose.data.formats.coco import Report, read_detections
from kpose.detection.adapters import as_detector
from kpose.detection.presets import DEFAULT_DETECTOR
from kpose.errors import DataError
from kpose.geometry.boxes import bbox_xywh_to_xyxy
from kpose.inference.estimator import PoseEstimator
from kpose.visualize import draw_pose

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}


def read_boxes(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A boxes file: file name (or frame number) -> ``(N, 4|5)`` float32 xyxy(+score) boxes."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"--boxes {path}: cannot read ({exc})") from exc
    if not isinstance(data, dict):
        raise DataError(f"--boxes {path}: expected {{file name: [[x1, y1, x2, y2], ...]}}")
    out = {}
    for key, boxes in data.items():
        array = np.asarray(boxes, np.float32)
        array = (
            np.zeros((0, 4), np.float32) if array.size == 0 else array.reshape(-1, array.shape[-1])
        )
        if array.shape[1] not in (4, 5):
            raise DataError(
                f"--boxes {path}: entry {key!r} needs [x1, y1, x2, y2(, score)] "
                f"boxes, got shape {array.shape}"
            )
        out[str(key)] = array
    return out


def read_detection_boxes(path: str | os.PathLike, score_thr: float) -> dict[str, np.ndarray]:
    """A detector's COCO results -> key (image id or file name) -> ``(N, 5)`` float32 xyxy
    boxes with their scores; the skipped detections are logged."""
    report = Report()
    per_image = read_detections(path, score_thr, report)
    out = {}
    for image, (boxes, scores) in per_image.items():
        xyxy = bbox_xywh_to_xyxy(np.asarray(boxes, np.float32).reshape(-1, 4))
        out[str(image)] = np.concatenate([xyxy, np.asarray(scores, np.float32)[:, None]], 1)
    skipped = report.as_dict().get("skipped_detections", {})
    if skipped:
        log.warning(
            "--detections %s: kept %d boxes; skipped %s",
            path,
            sum(len(v) for v in out.values()),
            skipped,
        )
    return out


def infer_files(
    preset: str,
    weights: str | os.PathLike | None,
    source: str | os.PathLike,
    *,
    boxes_file: str | os.PathLike | None = None,
    detections_file: str | os.PathLike | None = None,
    det_score_thr: float = 0.3,
    detector=DEFAULT_DETECTOR,
    whole: bool = False,
    out: str | os.PathLike = "infer_out",
    flip_test: bool | None = None,
    score_thr: float = 0.3,
    batch_size: int = 16,
    frames_per_call: int = 8,
    progress: bool = True,
) -> list[dict]:
    """Predict ``source`` (an image, a folder of images or a video) and write to ``out``.

    Args:
        preset: preset name or recipe file; weights: MMPose ``.pth``, ``.weights.h5``,
            ``.keras`` or a URL (``None``: the preset's, see ``kpose.load``).
        boxes_file, detections_file: person boxes (see the module docstring); at most one.
        det_score_thr: boxes (from ``detections_file`` or the detector) scoring at most this
            are not used.
        detector: what finds people when no boxes are given (``PoseEstimator``'s
            ``detector``); whole: each whole image is one person instead.
        flip_test: default the recipe's; score_thr: keypoints scoring at most this are not
            drawn; batch_size: crops per model call; frames_per_call: video frames predicted
            together.

    Returns:
        The rows of ``results.json`` (``coco_rows``).
    """
    if boxes_file is not None and detections_file is not None:
        raise DataError("give person boxes as --boxes or as --detections, not both")
    boxes = None
    if boxes_file is not None:
        boxes = read_boxes(boxes_file)
    elif detections_file is not None:
        boxes = read_detection_boxes(detections_file, det_score_thr)
    source, out = Path(source), Path(out)
    if not source.exists():
        raise DataError(f"{source}: no such image, folder or video")
    if boxes is None and not whole and detector is not None:
        detector = as_detector(detector, score_thr=det_score_thr)
    estimator = PoseEstimator.from_preset(preset, weights, detector=detector)
    out.mkdir(parents=True, exist_ok=True)
    options = {
        "boxes": boxes,
        "whole": whole,
        "flip_test": flip_test,
        "score_thr": score_thr,
        "batch_size": batch_size,
    }
    if source.suffix.lower() in VIDEO_SUFFIXES:
        rows = _infer_video(
            estimator, source, out, progress=progress, frames_per_call=frames_per_call, **options
        )
    else:
        rows = _infer_images(estimator, source, out, progress=progress, **options)
    (out / "results.json").write_text(json.dumps(rows))
    return rows


def _infer_video(estimator, source: Path, out: Path, *, progress, frames_per_call, **options):
    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        raise DataError(f"{source}: cannot open this video")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    rows, writer, frame = [], None, 0
    with tqdm(total=total, desc="frames", unit="frame", disable=not progress) as bar:
        while True:
            group = []
            while len(group) < max(1, frames_per_call):
                ok, bgr = capture.read()
                if not ok:
                    break
                group.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            if not group:
                break
            names = [str(frame + i) for i in range(len(group))]
            for i, (result, drawn) in enumerate(
                _predict_and_draw(estimator, group, names, **options)
            ):
                rows += coco_rows(result, frame=frame + i)
                if writer is None:
                    writer = cv2.VideoWriter(
                        str(out / f"{source.stem}.mp4"),
                        cv2.VideoWriter_fourcc(*"mp4v"),
                        fps,
                        (drawn.shape[1], drawn.shape[0]),
                    )
                writer.write(cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
            frame += len(group)
            bar.update(len(group))
    capture.release()
    if writer is not None:
        writer.release()
    return rows


def _infer_images(estimator, source: Path, out: Path, *, progress, **options):
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    elif source.is_file():
        files = [source]
    else:
        raise DataError(f"{source}: no such image, folder or video")
    if not files:
        raise DataError(f"{source}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    (out / "vis").mkdir(exist_ok=True)
    rows = []
    for i, path in enumerate(tqdm(files, desc="images", unit="img", disable=not progress)):
        name = str(path.relative_to(source)) if source.is_dir() else path.name
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DataError(f"{path}: cannot read this image")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        [(result, drawn)] = _predict_and_draw(estimator, [rgb], [name], **options)
        image_id = int(path.stem) if path.stem.isdigit() else i
        rows += coco_rows(result, image_id=image_id, file_name=name)
        cv2.imwrite(
            str(out / "vis" / f"{Path(name).stem}.jpg"), cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)
        )
    return rows


def _predict_and_draw(estimator, images, names, *, boxes, whole, flip_test, score_thr, batch_size):
    """(result, drawing) per image of ``images`` (RGB arrays named ``names``)."""
    if boxes is not None:
        per_image = [_boxes_for(name, boxes) for name in names]
    else:
        per_image = ["whole" if whole else None] * len(images)
    results = estimator.predict(images, per_image, flip_test=flip_test, batch_size=batch_size)
    return [
        (result, draw_pose(rgb, result, estimator.dataset_info, score_thr=score_thr))
        for rgb, result in zip(images, results, strict=True)
    ]


def _boxes_for(name: str, boxes: dict | None) -> np.ndarray | None:
    if boxes is None:
        return None
    stem = Path(name).stem
    for key in (name, Path(name).name, stem, str(int(stem)) if stem.isdigit() else None):
        if key is not None and key in boxes:
            return boxes[key]
    return np.zeros((0, 4), np.float32)


def coco_rows(result: dict, **ids) -> list[dict]:
    """One image's ``predict`` result as COCO keypoint results rows: ``ids`` (``image_id``,
    ``file_name`` or ``frame``), ``category_id`` 1, ``keypoints`` ``[x, y, score] * K`` in
    image pixels, ``score`` (the box score) and ``bbox`` (xyxy)."""
    kps = np.concatenate([result["keypoints"], result["scores"][..., None]], axis=-1)
    return [
        {
            **ids,
            "category_id": 1,
            "keypoints": [round(float(v), 3) for v in k.reshape(-1)],
            "score": float(s),
            "bbox": [float(v) for v in b],
        }
        for k, s, b in zip(kps, result["box_scores"], result["boxes"], strict=True)
    ]
