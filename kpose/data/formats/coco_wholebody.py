"""COCO-WholeBody files (and UBody2d's, the same 133-keypoint layout) -> TFRecord splits, of
whole people or of their faces or hands.

COCO-WholeBody keeps a person's keypoints in five fields: ``keypoints`` (17 body),
``foot_kpts`` (6), ``face_kpts`` (68), ``lefthand_kpts`` (21) and ``righthand_kpts`` (21).
``wholebody_to_coco`` concatenates them in that order into 133 ``(x, y, v)`` triples, as MMPose's
``CocoWholeBodyDataset`` (and ``UBody2dDataset``, its subclass) does, and
``convert_coco_wholebody`` writes the result through the COCO converter
(``kpose.data.formats.coco``): one record writer, one skip report, the same detections.

What the records keep for the metric: ``CocoWholeBodyMetric`` scores each part with that part's
slice of the 133 keypoints plus the box, area, crowd flag and ids, all of which the records
hold; ``kpose.evaluation.wholebody`` splits the records' ground truth back into the parts
(``WHOLEBODY_PARTS``). The part boxes and ``*_valid`` flags are read by neither MMPose's
whole-body dataset nor its metric and are not stored with the 133 keypoints. Two values are
stored as MMPose reads them rather than as the file has them: a part keypoint is visible when
``v > 0`` (some hand keypoints carry fractional v such as 0.04), so v in (0, 1) is stored as 1
(and v < 0 as 0) and the readers' ``min(1, v)`` gives MMPose's visibility; the metric only
tests ``v > 0``, which this keeps.
``num_keypoints`` stays the file's (the body count), which MMPose's training filter uses.

The face and hand datasets of the same files (``coco_wholebody_face``, ``coco_wholebody_hand``:
MMPose's ``CocoWholeBodyFaceDataset`` and ``CocoWholeBodyHandDataset``) are made by
``wholebody_parts_to_coco``: one instance per part of a person annotation whose ``*_valid``
flag is set and whose ``*_kpts`` have a value above 0, boxed with the part's ``*_box``, with
the part's keypoints and visibility as the file has them (MMPose reads ``min(1, v)``, fractional
hand values included) and ``num_keypoints`` counted. ``PART_DATASETS`` holds what differs:
faces keep the annotation's id, hands are numbered 0, 1, ... in reading order (images in file
order, left hand before right) over the annotations that are not crowd, which are all the hand
dataset reads.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kpose.data.formats.coco import Report, convert_coco, load_json
from kpose.errors import DataError


@dataclass(frozen=True)
class PartDataset:
    """A dataset of one kind of COCO-WholeBody part: the field prefixes of its parts
    (``face`` -> ``face_box``, ``face_kpts``, ``face_valid``), in reading order, and how its
    instances are numbered (``sequential_ids``: 0, 1, ... over the non-crowd annotations, as
    ``CocoWholeBodyHandDataset``; else the annotation's id)."""

    parts: tuple[str, ...]
    sequential_ids: bool


PART_DATASETS = {
    "coco_wholebody_face": PartDataset(("face",), sequential_ids=False),
    "coco_wholebody_hand": PartDataset(("lefthand", "righthand"), sequential_ids=True),
}
# The datasets whose files are in COCO-WholeBody form: MMPose's CocoWholeBodyDataset family
# (133 keypoints per person) and its face and hand datasets (one instance per part).
WHOLEBODY_DATASETS = ("coco_wholebody", "ubody2d", *PART_DATASETS)
# The annotation fields in MMPose's concatenation order, with their keypoint counts.
PART_FIELDS = (
    ("keypoints", 17),
    ("foot_kpts", 6),
    ("face_kpts", 68),
    ("lefthand_kpts", 21),
    ("righthand_kpts", 21),
)
NUM_KEYPOINTS = sum(count for _, count in PART_FIELDS)  # 133


def _load_sampled(annotations: str | Path, sample_interval: int) -> tuple[dict, list, set]:
    """A COCO-WholeBody file's content, the images ``sample_interval`` keeps (MMPose's: ids
    that are a multiple of it) and their ids."""
    if sample_interval < 1:
        raise DataError(f"--sample-interval must be >= 1, got {sample_interval}")
    data = load_json(annotations, "annotation")
    if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
        raise DataError(f"{annotations}: expected a COCO file with 'images' and 'annotations'")
    images = [img for img in data["images"] if img["id"] % sample_interval == 0]
    return data, images, {img["id"] for img in images}


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
    data, images, sampled = _load_sampled(annotations, sample_interval)
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


def wholebody_parts_to_coco(
    annotations: str | Path, dataset: str, report: Report, sample_interval: int = 1
) -> tuple[dict, dict]:
    """A COCO-WholeBody file as a COCO-form dict of ``dataset``'s part instances
    (``PART_DATASETS``), and what was read: ``{"annotations": ..., "parts_per_annotation":
    ...}``.

    Each (annotation, part) pair is one instance read; those MMPose's class does not make an
    instance of are counted in ``report`` under the reason. ``sample_interval`` as in
    ``wholebody_to_coco`` (the face dataset's; the hand dataset has none).
    """
    spec = PART_DATASETS[dataset]
    if sample_interval > 1 and spec.sequential_ids:
        raise DataError(
            f"--sample-interval: MMPose's {dataset} dataset reads every image; got "
            f"{sample_interval}"
        )
    data, images, sampled = _load_sampled(annotations, sample_interval)
    anns_by_image = defaultdict(list)
    for ann in data["annotations"]:
        anns_by_image[ann.get("image_id")].append(ann)
    on_no_image = set(anns_by_image) - {img["id"] for img in data["images"]}
    parts = len(spec.parts)

    def skip(reason: str, ann: dict, count: int = 1) -> None:
        report.instances_read += count
        what = f"annotation {ann.get('id')} (image {ann.get('image_id')})"
        report.skip("instances", reason, what, count)

    instances: list[dict] = []
    read = 0
    left_out_instances = 0
    for ann in data["annotations"]:
        if ann.get("image_id") in on_no_image:
            read += 1
            skip("image_id not in images", ann, parts)
    for img in data["images"]:
        anns = anns_by_image.pop(img["id"], [])
        if img["id"] not in sampled:
            left_out_instances += len(anns)
            continue
        for ann in anns:
            read += 1
            if spec.sequential_ids and ann.get("iscrowd", 0):
                skip(f"crowd annotation (MMPose's {dataset} reads iscrowd 0 only)", ann, parts)
                continue
            for part in spec.parts:
                fields = [f"{part}_box", f"{part}_kpts", f"{part}_valid"]
                missing = [name for name in fields if name not in ann]
                if missing:
                    skip(f"no {'/'.join(missing)} field", ann)
                    continue
                if not ann[f"{part}_valid"]:
                    skip(f"{part}_valid is false", ann)
                    continue
                kpts = np.asarray(ann[f"{part}_kpts"], np.float64).reshape(-1)
                if kpts.size == 0 or kpts.max() <= 0:
                    skip(f"no {part}_kpts value above 0", ann)
                    continue
                instance = {
                    "id": len(instances) if spec.sequential_ids else ann["id"],
                    "image_id": ann["image_id"],
                    "category_id": ann.get("category_id", 1),
                    "iscrowd": ann.get("iscrowd", 0),
                    "bbox": ann[f"{part}_box"],
                    "keypoints": kpts.tolist(),
                }  # no num_keypoints: read_coco counts them as MMPose does
                instances.append(instance)
    fields = [f"{part}_{name}" for part in spec.parts for name in ("box", "kpts", "valid")]
    if data["annotations"] and not any(
        name in ann for ann in data["annotations"] for name in fields
    ):
        raise DataError(
            f"{annotations}: no annotation has any of the COCO-WholeBody fields {fields} that "
            f"{dataset} is read from; is this a COCO-WholeBody file?"
        )
    counts = {
        "annotations": read,
        "parts_per_annotation": parts,
        "left_out": {"images": len(data["images"]) - len(images), "instances": left_out_instances},
    }
    return {**data, "images": images, "annotations": instances}, counts


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
    """A COCO-WholeBody-form file -> TFRecords; returns the split's meta entry.

    ``dataset``: ``coco_wholebody`` or ``ubody2d`` (133 keypoints per person), or
    ``coco_wholebody_face`` / ``coco_wholebody_hand`` (one instance per valid face / hand,
    ``wholebody_parts_to_coco``; the meta entry's ``wholebody_parts`` says how many annotations
    were read for how many part instances).
    ``detections``: person boxes for a val split (MMPose's ``bbox_file``; not for the face and
    hand datasets), kept from ``det_score_thr``. ``sample_interval``: keep only images whose id
    is a multiple of it (UBody2d's training configs use 10); the meta entry records how many
    were left out.
    """
    if dataset not in WHOLEBODY_DATASETS:
        raise DataError(f"--dataset must be one of {WHOLEBODY_DATASETS}, got {dataset!r}")
    report = Report()
    extra = {}
    if dataset in PART_DATASETS:
        if detections is not None:
            raise DataError(
                f"--detections: {dataset} is scored on its GT boxes (MMPose's configs have no "
                "bbox_file); person detections are not face or hand boxes"
            )
        data, counts = wholebody_parts_to_coco(annotations, dataset, report, sample_interval)
        left_out = counts.pop("left_out")
        extra["wholebody_parts"] = counts
    else:
        data, left_out = wholebody_to_coco(annotations, report, sample_interval)
    if sample_interval > 1:
        extra["sample_interval"] = {"interval": sample_interval, **left_out}
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
        extra=extra or None,
    )
