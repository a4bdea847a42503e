"""``python -m kpose.infer``: keypoints for images, a folder of images or a video.

    python -m kpose.infer PRESET --weights W IMAGE_OR_DIR_OR_VIDEO \\
        [--boxes BOXES.json | --detections DET.json [--det-score-thr 0.3]] [--out DIR]

Writes ``DIR/results.json`` (COCO keypoint results: ``image_id``, ``file_name``,
``category_id`` 1, ``keypoints`` ``[x, y, score] * K`` in image pixels, ``score`` = the box
score) and one picture per image with the skeletons drawn (``DIR/vis/``); a video gives
``DIR/<name>.mp4`` with every frame drawn (and ``frame`` instead of ``file_name``).

Boxes: ``--boxes`` is ``{"<file name>": [[x1, y1, x2, y2(, score)], ...]}`` (for a video, the
keys are frame numbers); ``--detections`` is a detector's COCO results file (person category,
``bbox`` as x, y, w, h), matched by ``image_id`` to numeric file names (COCO's
``000000000785.jpg`` is image 785) or by a ``file_name`` field. Without boxes each whole
image is one person box, as MMPose's ``inference_topdown``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from kpose.errors import KposeError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}


def read_boxes(path: str | Path) -> dict[str, np.ndarray]:
    """``--boxes``: file name (or frame number) -> (N, 4|5) array."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise KposeError(f"--boxes {path}: cannot read ({exc})") from exc
    if not isinstance(data, dict):
        raise KposeError(f"--boxes {path}: expected {{file name: [[x1, y1, x2, y2], ...]}}")
    out = {}
    for key, boxes in data.items():
        array = np.asarray(boxes, np.float32)
        array = (
            np.zeros((0, 4), np.float32) if array.size == 0 else array.reshape(-1, array.shape[-1])
        )
        if array.shape[1] not in (4, 5):
            raise KposeError(
                f"--boxes {path}: entry {key!r} needs [x1, y1, x2, y2(, score)] "
                f"boxes, got shape {array.shape}"
            )
        out[str(key)] = array
    return out


def read_detection_boxes(path: str | Path, score_thr: float) -> dict[str, np.ndarray]:
    """``--detections``: COCO results of a detector -> key (image id or file name) -> (N, 5)
    xyxy boxes with scores."""
    from kpose.data.formats.coco import Report, read_detections

    report = Report()
    per_image = read_detections(path, score_thr, report)
    out = {}
    for image, (boxes, scores) in per_image.items():
        xywh = np.asarray(boxes, np.float32).reshape(-1, 4)
        out[str(image)] = np.concatenate(
            [xywh[:, :2], xywh[:, :2] + xywh[:, 2:], np.asarray(scores, np.float32)[:, None]], 1
        )
    skipped = report.as_dict().get("skipped_detections", {})
    if skipped:
        print(f"--detections: kept {sum(len(v) for v in out.values())} boxes; skipped {skipped}")
    return out


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


def run(
    preset: str,
    weights: str,
    source: str,
    *,
    boxes: dict | None = None,
    out: str | Path = "infer_out",
    flip_test: bool | None = None,
    score_thr: float = 0.3,
    batch_size: int = 16,
    progress: bool = True,
) -> list[dict]:
    """Predict ``source`` (image, folder or video) and write results and pictures to ``out``."""
    import kpose
    from kpose.visualize import draw_pose

    estimator = kpose.load(preset, weights=weights)
    info = estimator.dataset_info
    source_path, out = Path(source), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    if source_path.suffix.lower() in VIDEO_SUFFIXES:
        capture = cv2.VideoCapture(str(source_path))
        if not capture.isOpened():
            raise KposeError(f"{source_path}: cannot open this video")
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        writer = None
        for frame in tqdm(range(total or 10**9), total=total, desc="frames", disable=not progress):
            ok, bgr = capture.read()
            if not ok:
                break
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            result = estimator.predict(
                rgb, _boxes_for(str(frame), boxes), flip_test=flip_test, batch_size=batch_size
            )
            rows += _rows(result, frame=frame)
            drawn = draw_pose(rgb, result, info, score_thr=score_thr)
            if writer is None:
                writer = cv2.VideoWriter(
                    str(out / f"{source_path.stem}.mp4"),
                    cv2.VideoWriter_fourcc(*"mp4v"),
                    fps,
                    (rgb.shape[1], rgb.shape[0]),
                )
            writer.write(cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
        capture.release()
        if writer is not None:
            writer.release()
    else:
        if source_path.is_dir():
            files = sorted(p for p in source_path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        elif source_path.is_file():
            files = [source_path]
        else:
            raise KposeError(f"{source_path}: no such image, folder or video")
        if not files:
            raise KposeError(f"{source_path}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        (out / "vis").mkdir(exist_ok=True)
        for i, path in enumerate(tqdm(files, desc="images", unit="img", disable=not progress)):
            name = str(path.relative_to(source_path)) if source_path.is_dir() else path.name
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise KposeError(f"{path}: cannot read this image")
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            result = estimator.predict(
                rgb, _boxes_for(name, boxes), flip_test=flip_test, batch_size=batch_size
            )
            image_id = int(path.stem) if path.stem.isdigit() else i
            rows += _rows(result, image_id=image_id, file_name=name)
            drawn = draw_pose(rgb, result, info, score_thr=score_thr)
            cv2.imwrite(
                str(out / "vis" / f"{Path(name).stem}.jpg"), cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)
            )
    (out / "results.json").write_text(json.dumps(rows))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kpose.infer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("preset", help="preset name or recipe file")
    parser.add_argument("source", help="an image, a folder of images or a video")
    parser.add_argument(
        "--weights", required=True, help="MMPose .pth checkpoint, .weights.h5 or .keras"
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--boxes", help='JSON {"file name": [[x1, y1, x2, y2(, score)], ...]}')
    group.add_argument("--detections", help="detector results, COCO format (x, y, w, h)")
    parser.add_argument("--det-score-thr", type=float, default=0.3)
    parser.add_argument(
        "--score-thr", type=float, default=0.3, help="keypoints scoring below this are not drawn"
    )
    parser.add_argument("--out", default="infer_out")
    parser.add_argument("--no-flip", action="store_true", help="no flip test")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        boxes = None
        if args.boxes:
            boxes = read_boxes(args.boxes)
        elif args.detections:
            boxes = read_detection_boxes(args.detections, args.det_score_thr)
        rows = run(
            args.preset,
            args.weights,
            args.source,
            boxes=boxes,
            out=args.out,
            flip_test=False if args.no_flip else None,
            score_thr=args.score_thr,
            batch_size=args.batch_size,
            progress=not args.no_progress,
        )
    except KposeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(rows)} people; results in {Path(args.out) / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
