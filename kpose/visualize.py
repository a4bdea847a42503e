"""Pictures: skeleton overlays and training curves, drawn with OpenCV into image files."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np


def draw_pose(image: np.ndarray, keypoints: np.ndarray, scores: np.ndarray | None, info, *,
              score_thr: float = 0.3, radius: int = 3, thickness: int = 2) -> np.ndarray:
    """Draw people on a copy of an RGB uint8 image.

    keypoints: (N, K, 2) image pixels; scores: (N, K) or None (all drawn); ``info`` is the
    dataset's ``DatasetInfo`` (skeleton and colours).
    """
    canvas = np.ascontiguousarray(image).copy()
    keypoints = np.asarray(keypoints, np.float64).reshape(-1, info.num_keypoints, 2)
    if scores is None:
        scores = np.ones(keypoints.shape[:2])
    scores = np.asarray(scores).reshape(keypoints.shape[:2])
    for person, person_scores in zip(keypoints, scores, strict=True):
        shown = person_scores > score_thr
        for (a, b), color in zip(info.skeleton, info.skeleton_colors, strict=True):
            if shown[a] and shown[b]:
                cv2.line(canvas, _pt(person[a]), _pt(person[b]), tuple(int(c) for c in color),
                         thickness, cv2.LINE_AA)
        for k, color in enumerate(info.keypoint_colors):
            if shown[k]:
                cv2.circle(canvas, _pt(person[k]), radius, tuple(int(c) for c in color), -1,
                           cv2.LINE_AA)
    return canvas


def _pt(xy) -> tuple[int, int]:
    return int(round(float(xy[0]))), int(round(float(xy[1])))


def plot_history(history_jsonl: str | Path, out_png: str | Path, size=(720, 400)) -> Path:
    """Training curves (loss and each validation metric per epoch) from the trainer's
    ``history.jsonl`` to a PNG."""
    rows = [json.loads(line) for line in Path(history_jsonl).read_text().splitlines() if line]
    w, h = size
    columns = sorted({c for r in rows for c in r if c != "epoch"},
                     key=lambda c: (c != "loss", c))
    panel_h = h // max(1, len(columns))
    canvas = np.full((panel_h * max(1, len(columns)), w, 3), 255, np.uint8)
    epochs = [float(r["epoch"]) for r in rows]
    for i, name in enumerate(columns):
        pts = [(e, float(r[name])) for e, r in zip(epochs, rows, strict=True)
               if r.get(name) is not None]
        top = i * panel_h
        cv2.putText(canvas, name, (8, top + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
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
        cv2.putText(canvas, f"{hi:.4g}", (w - 90, top + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (80, 80, 80), 1, cv2.LINE_AA)
        cv2.putText(canvas, f"{lo:.4g}", (w - 90, top + panel_h - 8), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (80, 80, 80), 1, cv2.LINE_AA)
    out_png = Path(out_png)
    cv2.imwrite(str(out_png), canvas[..., ::-1])
    return out_png
