"""Keypoints for image files, folders of images and videos (the library of ``python -m
kpose.infer``): person boxes from a boxes file or a detector's COCO results, one
``PoseEstimator.predict`` per image or frame, and the results written as COCO keypoint results
(``results.json``) with the skeletons drawn (``vis/<name>.jpg``, or ``<video name>.mp4``).

Boxes files are ``{"<file name>": [[x1, y1, x2, y2(, score)], ...]}`` (for a video, the keys
are frame numbers); detections are a detector's COCO results file (person category, ``bbox``
as x, y, w, h), matched by ``image_id`` to numeric file names (COCO's ``000000000785.jpg`` is
image 785) or by a ``file_name`` field. Without boxes each whole image is one person box, as
MMPose's ``inference_topdown``.
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
    weights: str | os.PathLike,
    source: str | os.PathLike,
    *,
    boxes_file: str | os.PathLike | None = None,
    detections_file: str | os.PathLike | None = None,
    det_score_thr: float = 0.3,
    out: str | os.PathLike = "infer_out",
    flip_test: bool | None = None,
    score_thr: float = 0.3,
    batch_size: int = 16,
    progress: bool = True,
) -> list[dict]:
    """Predict ``source`` (an image, a folder of images or a video) and write to ``out``.

    Args:
        preset: preset name or recipe file; weights: MMPose ``.pth``, ``.weights.h5`` or
            ``.keras`` (``kpose.load``).
        boxes_file, detections_file: person boxes (see the module docstring); at most one.
        det_score_thr: detections scoring below this are not used.
        flip_test: default the recipe's; score_thr: keypoints scoring at most this are not
            drawn; batch_size: crops per model call.

    Returns:
        The rows of ``results.json``: ``image_id`` and ``file_name`` (or ``frame``),
        ``category_id`` 1, ``keypoints`` ``[x, y, score] * K`` in image pixels, ``score`` (the
        box score) and ``bbox`` (xyxy).
    """
    if boxes_file is not None and detections_file is not None:
        raise DataError("give person boxes as --boxes or as --detections, not both")
    boxes = None
    if boxes_file is not None:
        boxes = read_boxes(boxes_file)
    elif detections_file is not None:
        boxes = read_detection_boxes(detections_file, det_score_thr)
    estimator = PoseEstimator.from_preset(preset, weights)
    source, out = Path(source), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    options = {"flip_test": flip_test, "score_thr": score_thr, "batch_size": batch_size}
    if source.suffix.lower() in VIDEO_SUFFIXES:
        rows = _infer_video(estimator, source, boxes, out, progress=progress, **options)
    else:
        rows = _infer_images(estimator, source, boxes, out, progress=progress, **options)
    (out / "results.json").write_text(json.dumps(rows))
    return rows


def _infer_video(estimator: PoseEstimator, source: Path, boxes, out: Path, *, progress, **options):
    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        raise DataError(f"{source}: cannot open this video")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    rows, writer = [], None
    for frame in tqdm(range(total or 10**9), total=total, desc="frames", disable=not progress):
        ok, bgr = capture.read()
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        result, drawn = _predict_and_draw(estimator, rgb, _boxes_for(str(frame), boxes), **options)
        rows += _rows(result, frame=frame)
        if writer is None:
            writer = cv2.VideoWriter(
                str(out / f"{source.stem}.mp4"),
                cv2.VideoWriter_fourcc(*"mp4v"),
                fps,
                (rgb.shape[1], rgb.shape[0]),
            )
        writer.write(cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
    capture.release()
    if writer is not None:
        writer.release()
    return rows


def _infer_images(estimator: PoseEstimator, source: Path, boxes, out: Path, *, progress, **options):
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
        result, drawn = _predict_and_draw(estimator, rgb, _boxes_for(name, boxes), **options)
        image_id = int(path.stem) if path.stem.isdigit() else i
        rows += _rows(result, image_id=image_id, file_name=name)
        cv2.imwrite(
            str(out / "vis" / f"{Path(name).stem}.jpg"), cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)
        )
    return rows


def _predict_and_draw(estimator, rgb, boxes, *, flip_test, score_thr, batch_size):
    result = estimator.predict(rgb, boxes, flip_test=flip_test, batch_size=batch_size)
    return result, draw_pose(rgb, result, estimator.dataset_info, score_thr=score_thr)


def _boxes_for(name: str, boxes: dict | None) -> np.ndarray | None:
    if boxes is None:
        return None
    stem = Path(name).stem
    for key in (name, Path(name).name, stem, str(int(stem)) if stem.isdigit() else None):
        if key is not None and key in boxes:
            return boxes[key]
    return np.zeros((0, 4), np.float32)


def _rows(result: dict, **ids) -> list[dict]:
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
