"""COCO-WholeBody files (and UBody2d's, the same 133-keypoint layout) -> TFRecord splits.

COCO-WholeBody keeps a person's keypoints in five fields: ``keypoints`` (17 body),
``foot_kpts`` (6), ``face_kpts`` (68), ``lefthand_kpts`` (21) and ``righthand_kpts`` (21).
``wholebody_to_coco`` concatenates them in that order into 133 ``(x, y, v)`` triples, as MMPose's
``CocoWholeBodyDataset`` (and ``UBody2dDataset``, its subclass) does, and
``convert_coco_wholebody`` writes the result through the COCO converter
(``kpose.data.formats.coco``): one record writer, one skip report, the same detections.

What the records keep for the metric: ``CocoWholeBodyMetric`` scores each part with that part's
slice of the 133 keypoints plus the box, area, crowd flag and ids, all of which the records
hold; ``kpose.evaluation.wholebody`` splits the records' ground truth back into the parts
(``WHOLEBODY_PARTS``). The part boxes and ``*_valid`` flags are read by neither MMPose's dataset
nor its metric and are not stored. Two values are stored as MMPose reads them rather than as
the file has them: a part keypoint is visible when ``v > 0`` (some hand keypoints carry
fractional v such as 0.04), so v in (0, 1) is stored as 1 (and v < 0 as 0) and the readers'
``min(1, v)`` gives MMPose's visibility; the metric only tests ``v > 0``, which this keeps.
``num_keypoints`` stays the file's (the body count), which MMPose's training filter uses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kpose.data.formats.coco import Report, convert_coco, load_json
from kpose.errors import DataError

# The datasets whose files are in COCO-WholeBody form (MMPose's CocoWholeBodyDataset family).
WHOLEBODY_DATASETS = ("coco_wholebody", "ubody2d")
# The annotation fields in MMPose's concatenation order, with their keypoint counts.
PART_FIELDS = (
    ("keypoints", 17),
    ("foot_kpts", 6),
    ("face_kpts", 68),
    ("lefthand_kpts", 21),
    ("righthand_kpts", 21),
)
NUM_KEYPOINTS = sum(count for _, count in PART_FIELDS)  # 133


def wholebody_to_coco(
    annotations: str | Path, report: Report, sample_interval: int = 1
) -> tuple[dict, dict]:
    """A COCO-WholeBody file as a COCO-form dict with 133 keypoints per annotation, and the
    counts of images and annotations ``sample_interval`` left out.

    Images whose id is not a multiple of ``sample_interval`` are left out with their
    annotations (MMPose's ``sample_interval``).
    Annotations without one of the part fields are counted in ``report`` and left out (MMPose
    fails on them).
    """
    if sample_interval < 1:
        raise DataError(f"--sample-interval must be >= 1, got {sample_interval}")
    data = load_json(annotations, "annotation")
    if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
        raise DataError(f"{annotations}: expected a COCO file with 'images' and 'annotations'")
    images = [img for img in data["images"] if img["id"] % sample_interval == 0]
    sampled = {img["id"] for img in images}
    left_out = {img["id"] for img in data["images"]} - sampled
    anns = []
    left_out_instances = 0
    for ann in data["annotations"]:
        if ann.get("image_id") in left_out:
            left_out_instances += 1
            continue
        missing = [name for name, _ in PART_FIELDS if name not in ann]
        if missing:
            report.instances_read += 1
            report.skip(
                "instances",
                f"no {'/'.join(missing)} field (not a COCO-WholeBody annotation)",
                f"annotation {ann.get('id')} (image {ann.get('image_id')})",
            )
            continue
        parts = [np.asarray(ann[name], np.float64).reshape(-1) for name, _ in PART_FIELDS]
        kpts = np.concatenate(parts)
        if kpts.size == NUM_KEYPOINTS * 3:
            kpts = kpts.reshape(-1, 3)
            v = kpts[:, 2]
            kpts[:, 2] = np.where(v > 0, np.maximum(v, 1.0), 0.0)
        # any other count, or a bad box, read_coco reports
        anns.append({**ann, "keypoints": kpts.reshape(-1).tolist()})
    if data["annotations"] and not anns and report.skipped_instances:
        raise DataError(
            f"{annotations}: no annotation has all of the COCO-WholeBody fields "
            f"{[name for name, _ in PART_FIELDS]}; for other COCO-format files use "
            "`python -m kpose.convert coco`"
        )
    counts = {"images": len(left_out), "instances": left_out_instances}
    return {**data, "images": images, "annotations": anns}, counts


def convert_coco_wholebody(
    annotations: str | Path,
    images: str | Path,
    out: str | Path,
    *,
    split: str = "train",
    dataset: str = "coco_wholebody",
    detections: str | Path | None = None,
    det_score_thr: float = 0.0,
    sample_interval: int = 1,
    shards: int = 8,
    strict: bool = False,
    progress: bool = True,
) -> dict:
    """A COCO-WholeBody-form file (``dataset``: ``coco_wholebody`` or ``ubody2d``) -> TFRecords
    with 133 keypoints per instance; returns the split's meta entry.

    ``detections``: person boxes for a val split (MMPose's ``bbox_file``), kept from
    ``det_score_thr``. ``sample_interval``: keep only images whose id is a multiple of it
    (UBody2d's training configs use 10); the meta entry records how many were left out.
    """
    if dataset not in WHOLEBODY_DATASETS:
        raise DataError(f"--dataset must be one of {WHOLEBODY_DATASETS}, got {dataset!r}")
    report = Report()
    data, left_out = wholebody_to_coco(annotations, report, sample_interval)
    extra = None
    if sample_interval > 1:
        extra = {"sample_interval": {"interval": sample_interval, **left_out}}
    return convert_coco(
        annotations,
        images,
        out,
        split=split,
        dataset=dataset,
        detections=detections,
        det_score_thr=det_score_thr,
        shards=shards,
        strict=strict,
        progress=progress,
        data=data,
        report=report,
        extra=extra,
    )
