"""PoseTrack18's merged COCO-format file + per-video ground truth -> a TFRecord split.

The frames and their instances are COCO-format (``kpose.data.formats.coco``) with each frame's
video and frame ids; PoseTrack's AP also needs the per-video annotation files, which the
converter copies next to the shards.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from kpose.data.formats.coco import convert_coco
from kpose.errors import DataError


def convert_posetrack18(
    annotations: str | Path,
    images: str | Path,
    out: str | Path,
    *,
    split: str = "val",
    detections: str | Path | None = None,
    det_score_thr: float = 0.0,
    gt_folder: str | Path | None = None,
    shards: int = 8,
    strict: bool = False,
    progress: bool = True,
) -> dict:
    """PoseTrack18's merged COCO-format file (+ detections, kept at ``det_score_thr``, MMPose's
    ``bbox_score_thr``) -> TFRecords with each frame's video and frame ids.

    The per-video ground truth that PoseTrack's AP needs (``annotations/val/*.json``; by
    default the folder MMPose derives from the file name, ``posetrack18_val.json`` ->
    ``val/``) is copied to ``out/posetrack18-gt-<split>/``.
    """
    annotations = Path(annotations)
    if gt_folder is None:
        derived = annotations.parent / annotations.stem.split("_")[-1]
        gt_folder = derived if derived.is_dir() else None
    extra = None
    if gt_folder is not None:
        gt_folder = Path(gt_folder)
        files = sorted(gt_folder.glob("*.json"))
        if not files:
            raise DataError(f"--gt-folder {gt_folder}: no per-video .json files")
        target = Path(out) / f"posetrack18-gt-{split}"
        target.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copyfile(f, target / f.name)
        extra = {
            "per_video_gt": {"folder": target.name, "videos": len(files), "source": str(gt_folder)}
        }
    return convert_coco(
        annotations,
        images,
        out,
        split=split,
        dataset="posetrack18",
        detections=detections,
        det_score_thr=det_score_thr,
        shards=shards,
        strict=strict,
        progress=progress,
        extra=extra,
    )
