"""MPII and JHMDB annotation files -> COCO-form dicts in MMPose's parsed conventions -> shards.

Both readers return what ``kpose.data.formats.coco.read_coco(data=...)`` stores, and
``convert_mpii`` / ``convert_jhmdb`` write it through ``convert_coco``, so every dataset goes
through one record writer. The values are MMPose's after loading (its ``MpiiDataset`` and
``JhmdbDataset``), because the metrics (PCKh, PCK) compare against exactly those:

- MPII (MMPose's converted JSON: a list of ``{image, center, scale, joints, joints_vis}``): the
  box is the square ``scale * 200`` around the centre moved down by ``15 / 200 * scale`` and
  shifted by -1 (1-based MATLAB centre); the joints are kept as they are (MMPose does not shift
  them); ``area = max(1, w * h * 0.53)``; the image id is the file name's number. With
  ``mpii_gt_val.mat``, head size = 0.6 * the head box diagonal (PCKh's normaliser).
- JHMDB (COCO-like JSON): box x, y and keypoint x, y shifted by -1 (1-based); ``area`` from the
  clipped box * 0.53; ``num_keypoints`` counted as MMPose counts it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kpose.data.formats.coco import Report, convert_coco, load_json
from kpose.errors import DataError

PIXEL_STD = 200.0
HEAD_SIZE_BIAS = 0.6  # MMPose's SC_BIAS


def read_headboxes(path: str | Path) -> np.ndarray:
    """``headboxes_src`` of ``mpii_gt_val.mat`` as (N, 2, 2) corner pairs."""
    from scipy.io import loadmat

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: head box file not found")
    mat = loadmat(str(path))
    if "headboxes_src" not in mat:
        raise DataError(f"{path}: no 'headboxes_src' variable (expected mpii_gt_val.mat)")
    boxes = np.asarray(mat["headboxes_src"])
    if boxes.ndim != 3 or boxes.shape[:2] != (2, 2):
        raise DataError(f"{path}: 'headboxes_src' has shape {boxes.shape}, expected (2, 2, N)")
    return np.transpose(boxes, (2, 0, 1))


def mpii_to_coco(
    annotations: str | Path, report: Report, headboxes: str | Path | None = None
) -> dict:
    """MMPose's MPII JSON (+ optional head boxes) -> a COCO-form dict (no image sizes)."""
    entries = load_json(annotations, "annotation")
    if not isinstance(entries, list):
        raise DataError(
            f"{annotations}: expected a list of MPII entries "
            "(image, center, scale, joints, joints_vis)"
        )
    heads = read_headboxes(headboxes) if headboxes is not None else None
    if heads is not None and len(heads) != len(entries):
        raise DataError(
            f"{headboxes}: {len(heads)} head boxes for {len(entries)} annotations "
            f"in {annotations}; they must be the same split (mpii_val.json)"
        )
    images: dict[int, dict] = {}
    anns = []
    for index, entry in enumerate(entries):
        where = f"{annotations} entry {index}"
        missing = {"image", "center", "scale", "joints", "joints_vis"} - set(entry)
        if missing:
            report.instances_read += 1
            report.skip("instances", f"missing {sorted(missing)}", where)
            continue
        try:
            image_id = int(Path(entry["image"]).stem)
        except ValueError:
            report.instances_read += 1
            report.skip("instances", "image name is not a number", where)
            continue
        center = np.array(entry["center"], np.float32)
        scale = np.array([entry["scale"], entry["scale"]], np.float32) * np.float32(PIXEL_STD)
        if center[0] != -1:
            center[1] = center[1] + np.float32(15.0 / PIXEL_STD) * scale[1]
        center = center - np.float32(1.0)
        x1y1 = center - np.float32(0.5) * scale
        x2y2 = x1y1 + scale
        w, h = x2y2 - x1y1
        joints = np.array(entry["joints"], np.float32).reshape(-1, 2)
        vis = np.array(entry["joints_vis"], np.float32).reshape(-1, 1)
        ann = {
            "id": index,
            "image_id": image_id,
            "category_id": 1,
            "bbox": [float(x1y1[0]), float(x1y1[1]), float(w), float(h)],
            "keypoints": np.concatenate([joints, vis], 1).reshape(-1).tolist(),
            "area": float(max(np.float32(w * h * np.float32(0.53)), 1.0)),
            "iscrowd": 0,
        }
        if heads is not None:
            ann["head_size"] = float(
                np.linalg.norm(heads[index][1] - heads[index][0]) * HEAD_SIZE_BIAS
            )
        images.setdefault(image_id, {"id": image_id, "file_name": entry["image"]})
        anns.append(ann)
    return {"images": list(images.values()), "annotations": anns}


def jhmdb_to_coco(annotations: str | Path) -> dict:
    """JHMDB's COCO-like JSON with MMPose's 1-based -> 0-based shift applied."""
    data = load_json(annotations, "annotation")
    if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
        raise DataError(f"{annotations}: expected a COCO-like file with 'images' and 'annotations'")
    sizes = {img["id"]: (img.get("width"), img.get("height")) for img in data["images"]}
    anns = []
    for ann in data["annotations"]:
        ann = dict(ann)
        if "bbox" in ann and "keypoints" in ann and ann.get("image_id") in sizes:
            x, y, w, h = (float(v) for v in ann["bbox"])
            kpts = np.array(ann["keypoints"], np.float32).reshape(-1, 3)
            kpts[:, :2] -= 1
            ann["bbox"] = [x - 1, y - 1, w, h]
            ann["keypoints"] = kpts.reshape(-1).tolist()
            ann["num_keypoints"] = int(np.count_nonzero(kpts[:, :2].max(axis=1)))
            img_w, img_h = sizes[ann["image_id"]]
            if img_w is not None and img_h is not None:
                x1, y1 = np.clip(x - 1, 0, img_w - 1), np.clip(y - 1, 0, img_h - 1)
                x2, y2 = np.clip(x - 1 + w, 0, img_w - 1), np.clip(y - 1 + h, 0, img_h - 1)
                ann["area"] = float(max(np.float32((x2 - x1) * (y2 - y1) * 0.53), 1.0))
        anns.append(ann)
    return {**data, "annotations": anns}


def convert_mpii(
    annotations: str | Path,
    images: str | Path,
    out: str | Path,
    *,
    split: str = "train",
    headboxes: str | Path | None = None,
    shards: int = 8,
    strict: bool = False,
    progress: bool = True,
) -> dict:
    """MMPose's MPII JSON (+ ``mpii_gt_val.mat`` head boxes for PCKh) -> TFRecords."""
    report = Report()
    data = mpii_to_coco(annotations, report, headboxes)
    extra = {"headboxes": str(headboxes)} if headboxes else {}
    return convert_coco(
        annotations,
        images,
        out,
        split=split,
        dataset="mpii",
        shards=shards,
        strict=strict,
        progress=progress,
        data=data,
        extra_sources=extra,
        report=report,
    )


def convert_jhmdb(
    annotations: str | Path,
    images: str | Path,
    out: str | Path,
    *,
    split: str = "train",
    shards: int = 8,
    strict: bool = False,
    progress: bool = True,
) -> dict:
    """JHMDB's COCO-like JSON (1-based) -> TFRecords in MMPose's 0-based convention."""
    return convert_coco(
        annotations,
        images,
        out,
        split=split,
        dataset="jhmdb",
        shards=shards,
        strict=strict,
        progress=progress,
        data=jhmdb_to_coco(annotations),
    )
