"""Pictures: skeleton overlays and training curves, drawn with OpenCV into image files."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np


def draw_pose(
    image: np.ndarray,
    result,
    info="coco",
    *,
    score_thr: float = 0.3,
    radius: int | None = None,
    thickness: int | None = None,
    draw_boxes: bool = True,
) -> np.ndarray:
    """Draw people on a copy of an RGB uint8 image, in the dataset's MMPose colours.

    Args:
        image: (H, W, 3) uint8 RGB.
        result: ``PoseEstimator.predict``'s dict for this image (``keypoints`` (N, K, 2) in
            image pixels, ``scores`` (N, K), optional ``boxes`` (N, 4)), or just the
            keypoints array.
        info: the dataset (name or ``DatasetInfo``) whose skeleton and colours are used.
        score_thr: joints scoring at most this are not drawn (nor their links).
        radius, thickness: default scale with the image size.

    Example:
        >>> cv2.imwrite("pose.jpg", draw_pose(rgb, estimator.predict(rgb, boxes))[..., ::-1])
    """
    from kpose.data.metainfo import get_dataset_info

    info = get_dataset_info(info) if isinstance(info, str) else info
    if isinstance(result, dict):
        keypoints, scores, boxes = result["keypoints"], result.get("scores"), result.get("boxes")
    else:
        keypoints, scores, boxes = result, None, None
    canvas = np.ascontiguousarray(image).copy()
    size = max(canvas.shape[:2])
    radius = radius or max(2, size // 200)
    thickness = thickness or max(1, size // 300)
    keypoints = np.asarray(keypoints, np.float64).reshape(-1, info.num_keypoints, 2)
    scores = (
        np.ones(keypoints.shape[:2])
        if scores is None
        else np.asarray(scores).reshape(keypoints.shape[:2])
    )
    if draw_boxes and boxes is not None:
        for x1, y1, x2, y2 in np.asarray(boxes, np.float64).reshape(-1, 4):
            cv2.rectangle(canvas, _pt((x1, y1)), _pt((x2, y2)), (0, 255, 0), thickness)
    for person, person_scores in zip(keypoints, scores, strict=True):
        shown = person_scores > score_thr
        for (a, b), color in zip(info.skeleton, info.skeleton_colors, strict=True):
            if shown[a] and shown[b]:
                cv2.line(
                    canvas,
                    _pt(person[a]),
                    _pt(person[b]),
                    tuple(int(c) for c in color),
                    thickness,
                    cv2.LINE_AA,
                )
        for k, color in enumerate(info.keypoint_colors):
            if shown[k]:
                cv2.circle(
                    canvas, _pt(person[k]), radius, tuple(int(c) for c in color), -1, cv2.LINE_AA
                )
    return canvas


def draw_heatmaps(crop: np.ndarray, heatmaps: np.ndarray, *, alpha: float = 0.5) -> np.ndarray:
    """Overlay one crop's heatmaps ``(h, w, K)`` (their maximum over K, min-max scaled, in the
    JET colour map) on the RGB uint8 model input ``crop`` ``(H, W, 3)``."""
    peak = np.asarray(heatmaps, np.float32).max(axis=-1)
    span = float(peak.max() - peak.min())
    peak = (peak - peak.min()) / span if span > 0 else np.zeros_like(peak)
    peak = cv2.resize(peak, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
    colored = cv2.applyColorMap((peak * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    return cv2.addWeighted(np.ascontiguousarray(crop), 1 - alpha, colored, alpha, 0)


def _pt(xy) -> tuple[int, int]:
    return int(round(float(xy[0]))), int(round(float(xy[1])))


def plot_history(history_jsonl: str | Path, out_png: str | Path, size=(720, 400)) -> Path:
    """Training curves (loss and each validation metric per epoch) from the trainer's
    ``history.jsonl`` to a PNG."""
    rows = [json.loads(line) for line in Path(history_jsonl).read_text().splitlines() if line]
    w, h = size
    columns = sorted({c for r in rows for c in r if c != "epoch"}, key=lambda c: (c != "loss", c))
    panel_h = h // max(1, len(columns))
    canvas = np.full((panel_h * max(1, len(columns)), w, 3), 255, np.uint8)
    epochs = [float(r["epoch"]) for r in rows]
    for i, name in enumerate(columns):
        pts = [
            (e, float(r[name]))
            for e, r in zip(epochs, rows, strict=True)
            if r.get(name) is not None
        ]
        top = i * panel_h
        cv2.putText(
            canvas, name, (8, top + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA
        )
        if not pts:
            continue
        xs, ys = np.array(pts).T
        lo, hi = float(ys.min()), float(ys.max())
        span_x = max(xs.max() - xs.min(), 1.0)
        span_y = max(hi - lo, 1e-12)
        px = 40 + (xs - xs.min()) / span_x * (w - 60)
        py = top + panel_h - 20 - (ys - lo) / span_y * (panel_h - 50)
        poly = np.stack([px, py], -1).round().astype(np.int32)
        cv2.polylines(canvas, [poly], False, (200, 60, 20), 2, cv2.LINE_AA)
        for p in poly:
            cv2.circle(canvas, tuple(int(v) for v in p), 3, (200, 60, 20), -1, cv2.LINE_AA)
        cv2.putText(
            canvas,
            f"{hi:.4g}",
            (w - 90, top + 18),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (80, 80, 80),
            1,
            cv2.LINE_AA,
        )
        cv2.putText(
            canvas,
            f"{lo:.4g}",
            (w - 90, top + panel_h - 8),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (80, 80, 80),
            1,
            cv2.LINE_AA,
        )
    out_png = Path(out_png)
    cv2.imwrite(str(out_png), canvas[..., ::-1])
    return out_png
