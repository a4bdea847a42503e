"""COCO-format keypoint files (COCO, CrowdPose, AIC, Human-Art, Halpe, ExLPose, the animal, face
and hand datasets, synthetic) -> TFRecords.

``read_coco`` reads a file into ImageRecords and ``convert_coco`` writes them as a split
(``kpose.data.records.write_split``); the other formats' converters build a COCO-form dict and
go through the same two. Every annotation either becomes part of a record or is counted under a
named reason in the ``Report``; nothing is dropped silently. Instances MMPose itself ignores for
training (``iscrowd``, ``num_keypoints == 0``) are kept: the metric needs them, and the
training reader filters them as MMPose does.

The records' ``bbox`` is the box the dataset's MMPose class builds, which for most datasets is
the file's ``bbox`` and for a few is not (``BOX_RULES``: 300W, AFLW and WFLW square boxes from
the annotation's ``center`` and ``scale``, FreiHAND's fixed 224 x 224 box); whether the readers
then clip it to the image is ``kpose.data.records.instance_bbox_xyxy``'s business.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from kpose.data.metainfo import get_dataset_info
from kpose.data.records import ImageRecord, write_split
from kpose.errors import DataError

log = logging.getLogger(__name__)

# The datasets whose annotation files are in COCO format as they come; the animal ones
# (AP-10K, Animal-Pose, Animal Kingdom, Desert Locust, Grevy's Zebra) keep only what MMPose's
# dataset classes read (not Animal Kingdom's center / scale / animal_* / protocol fields).
COCO_FORMAT_DATASETS = (
    "coco", "crowdpose", "aic", "humanart", "halpe", "exlpose", "synthetic",
    "ap10k", "animalpose", "ak", "locust", "zebra",
    "300w", "300wlp", "aflw", "cofw", "wflw", "lapa",
    "onehand10k", "freihand2d", "rhd2d",
)  # fmt: skip

PIXEL_STD = 200.0  # the unit of the face files' ``scale`` (MMPose's pixel_std)


@dataclass(frozen=True)
class BoxRule:
    """How a dataset's MMPose class boxes an instance (and counts its keypoints).

    ``source``: ``"bbox"``, the file's xywh ``bbox``; ``"center_scale"``, the square of side
    ``scale * PIXEL_STD`` around ``center`` (float32, as ``bbox_cs2xyxy``), the file's ``bbox``
    unread; ``"fixed"``: ``fixed_xywh`` for every instance.
    ``count_keypoints``: ``num_keypoints`` is the count of keypoints with a non-zero
    coordinate even where the file has the field (otherwise the file's, and the count only
    where it is missing).
    """

    source: Literal["bbox", "center_scale", "fixed"] = "bbox"
    fixed_xywh: tuple[float, float, float, float] | None = None
    count_keypoints: bool = False


# --dataset -> its box rule, for the datasets whose MMPose class does not box instances with
# the file's ``bbox`` (Face300WDataset, AFLWDataset, WFLWDataset, FreiHandDataset); 300W-LP,
# COFW, LaPa, OneHand10K and RHD read ``bbox`` like COCO. AFLW's ``box_size`` is not kept: the
# NME of its configs (norm_item 'bbox_size') divides by the longer side of this box.
BOX_RULES: dict[str, BoxRule] = {
    "300w": BoxRule("center_scale"),
    "aflw": BoxRule("center_scale"),
    "wflw": BoxRule("center_scale"),
    "freihand2d": BoxRule("fixed", fixed_xywh=(0.0, 0.0, 224.0, 224.0), count_keypoints=True),
}
FILE_BOX = BoxRule()


@dataclass
class Report:
    """What a converter read, kept and skipped (by reason), so that the counts reconcile."""

    images_read: int = 0
    images_kept: int = 0
    instances_read: int = 0
    instances_kept: int = 0
    detections_read: int = 0
    detections_kept: int = 0
    skipped_images: Counter = field(default_factory=Counter)
    skipped_instances: Counter = field(default_factory=Counter)
    skipped_detections: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)  # reason -> first offending item

    def skip(self, kind: str, reason: str, what: str, count: int = 1) -> None:
        getattr(self, f"skipped_{kind}")[reason] += count
        self.examples.setdefault(f"{kind}: {reason}", what)

    def as_dict(self) -> dict:
        return {
            "images_read": self.images_read,
            "images_kept": self.images_kept,
            "instances_read": self.instances_read,
            "instances_kept": self.instances_kept,
            "detections_read": self.detections_read,
            "detections_kept": self.detections_kept,
            "skipped_images": dict(self.skipped_images),
            "skipped_instances": dict(self.skipped_instances),
            "skipped_detections": dict(self.skipped_detections),
            "examples": self.examples,
        }


def load_json(path: str | Path, what: str) -> object:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {what} file not found")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: {what} file is not valid JSON: {exc}") from exc


def apply_box_rule(data: dict, rule: BoxRule, annotations: str | Path, report: Report) -> dict:
    """``data`` (a COCO-form dict) with each annotation's ``bbox`` and ``num_keypoints`` as the
    dataset's MMPose class reads them (``rule``).

    Annotations a ``"center_scale"`` rule cannot box (no ``center``/``scale``, or values that
    make no box) are counted in ``report`` and left out; ``DataError`` when none can be boxed.
    """
    if rule == FILE_BOX:
        return data
    anns = []
    for ann in data["annotations"]:
        ann = dict(ann)
        if rule.source == "center_scale":
            bbox, reason = _center_scale_box(ann)
            if reason:
                report.instances_read += 1
                what = f"annotation {ann.get('id')} (image {ann.get('image_id')})"
                report.skip("instances", reason, what)
                continue
            ann["bbox"] = bbox
        elif rule.source == "fixed":
            ann["bbox"] = list(rule.fixed_xywh)
        if rule.count_keypoints:  # the file's count is not read: read_coco counts them
            ann.pop("num_keypoints", None)
        anns.append(ann)
    if data["annotations"] and not anns:
        raise DataError(
            f"{annotations}: no annotation has a usable 'center' and 'scale', which this "
            "dataset's boxes are made of (a square of scale x 200 px around center; "
            f"{json.dumps(dict(report.skipped_instances))}); is the file of this dataset?"
        )
    return {**data, "annotations": anns}


def _center_scale_box(ann: dict) -> tuple[list[float] | None, str | None]:
    """MMPose's box of a face annotation, xywh: ``bbox_cs2xyxy(center, scale * 200)``, square,
    in float32; or the reason there is none."""
    if "center" not in ann or "scale" not in ann:
        return None, "no center/scale field (the box is made of them)"
    center = np.asarray(ann["center"], np.float64).reshape(-1)
    scale = np.asarray(ann["scale"], np.float64).reshape(-1)
    if center.shape != (2,) or scale.shape != (1,):
        return None, "center is not [x, y] or scale not a number"
    if not (np.all(np.isfinite(center)) and np.isfinite(scale[0])) or scale[0] <= 0:
        return None, "center/scale not finite or scale <= 0"
    center32 = center.astype(np.float32)
    size = np.float32(scale[0]) * np.float32(PIXEL_STD)
    top_left = center32 - np.float32(0.5) * size
    bottom_right = center32 + np.float32(0.5) * size
    return [float(v) for v in (*top_left, *(bottom_right - top_left))], None


def read_coco(
    annotations: str | Path,
    images_dir: str | Path,
    num_keypoints: int,
    report: Report,
    *,
    detections: str | Path | None = None,
    det_score_thr: float = 0.0,
    workers: int = 8,
    data: dict | None = None,
) -> Iterator[ImageRecord]:
    """Yield one ImageRecord per readable image of a COCO-format keypoint file.

    ``data`` is the file's content when a dataset reader has already built it in COCO form
    (MPII, JHMDB); ``annotations`` then only names the source in messages. Images without
    ``width``/``height`` take them from their pixels.
    """
    if data is None:
        data = load_json(annotations, "annotation")
    if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
        raise DataError(f"{annotations}: expected a COCO file with 'images' and 'annotations'")
    images_dir = Path(images_dir)
    anns_by_image: dict[int, list[dict]] = defaultdict(list)
    image_ids = {img["id"] for img in data["images"]}
    for ann in data["annotations"]:
        report.instances_read += 1
        if ann.get("image_id") not in image_ids:
            report.skip("instances", "image_id not in images", f"annotation {ann.get('id')}")
            continue
        anns_by_image[ann["image_id"]].append(ann)
    dets_by_image = read_detections(detections, det_score_thr, report)

    def load(img: dict) -> tuple[dict, bytes | None, str]:
        path = _find_image(images_dir, img["file_name"])
        if path is None:
            return img, None, "image file missing"
        encoded = path.read_bytes()
        pixels = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_UNCHANGED)
        if pixels is None:
            return img, None, "image file corrupt"
        if "width" not in img or "height" not in img:
            img = {**img, "height": pixels.shape[0], "width": pixels.shape[1]}
        if pixels.shape[:2] != (img["height"], img["width"]):
            return img, None, "image size differs from annotation"
        return img, encoded, _image_format(encoded)

    with ThreadPoolExecutor(workers) as pool:
        for img, encoded, status in pool.map(load, data["images"]):
            report.images_read += 1
            anns = anns_by_image.get(img["id"], [])
            if encoded is None:
                report.skip("images", status, str(images_dir / img["file_name"]))
                report.skip(
                    "instances", f"on skipped image ({status})", f"image {img['id']}", len(anns)
                )
                dets = dets_by_image.pop(img["id"], ([], []))
                report.skip(
                    "detections", f"on skipped image ({status})", f"image {img['id']}", len(dets[0])
                )
                continue
            if status not in ("jpeg", "png"):
                report.skip("images", "not a JPEG or PNG", str(images_dir / img["file_name"]))
                report.skip(
                    "instances", "on skipped image (format)", f"image {img['id']}", len(anns)
                )
                continue
            report.images_kept += 1
            rec = _image_record(img, encoded, status, anns, num_keypoints, report)
            boxes, scores = dets_by_image.pop(img["id"], ([], []))
            if boxes:
                rec.det_bbox_xywh = np.asarray(boxes, np.float32).reshape(-1, 4)
                rec.det_score = np.asarray(scores, np.float32)
                report.detections_kept += len(boxes)
            yield rec
    for image_id, (boxes, _) in dets_by_image.items():
        report.skip(
            "detections", "image_id not in annotation file", f"image {image_id}", len(boxes)
        )


def _find_image(images_dir: Path, file_name: str) -> Path | None:
    """``images_dir / file_name``, or failing that the longest trailing part of ``file_name``
    under ``images_dir``: Human-Art's names start with ``HumanArt/images/``, which users'
    ``--images`` folders often already are."""
    parts = Path(file_name).parts
    for start in range(len(parts)):
        path = images_dir.joinpath(*parts[start:])
        if path.is_file():
            return path
    return None


def _image_format(encoded: bytes) -> str:
    if encoded[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if encoded[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    return "other"


def _image_record(
    img: dict, encoded: bytes, fmt: str, anns: list[dict], num_keypoints: int, report: Report
) -> ImageRecord:
    width, height = img["width"], img["height"]
    kept = []
    for ann in anns:
        reason = _instance_problem(ann, num_keypoints, width, height)
        if reason:
            report.skip("instances", reason, f"annotation {ann.get('id')} (image {img['id']})")
            continue
        kept.append(ann)
    report.instances_kept += len(kept)
    n = len(kept)
    return ImageRecord(
        image_id=int(img["id"]),
        file_name=img["file_name"],
        width=int(width),
        height=int(height),
        encoded=encoded,
        image_format=fmt,
        num_keypoints=num_keypoints,
        instance_ids=np.array([a["id"] for a in kept], np.int64),
        bbox_xywh=np.array([a["bbox"] for a in kept], np.float32).reshape(n, 4),
        keypoints=np.array([a["keypoints"] for a in kept], np.float32).reshape(n, num_keypoints, 3),
        # -1 marks "no area in the file" (CrowdPose) so the ground truth rebuilds exactly
        area=np.array([a.get("area", -1.0) for a in kept], np.float32),
        iscrowd=np.array([a.get("iscrowd", 0) for a in kept], np.int64),
        instance_num_keypoints=np.array(
            [a.get("num_keypoints", _labeled(a)) for a in kept], np.int64
        ),
        category_id=np.array([a.get("category_id", 1) for a in kept], np.int64),
        crowd_index=float(img.get("crowdIndex", 0.0)),
        video_id=str(img.get("vid_id", "")),
        frame_id=int(img.get("frame_id", 0)),
        head_size=np.array([a["head_size"] for a in kept if "head_size" in a], np.float32),
    )


def _instance_problem(ann: dict, num_keypoints: int, width: int, height: int) -> str | None:
    """The reason an annotation cannot be stored, or None."""
    if "bbox" not in ann or "keypoints" not in ann:
        return "no bbox or keypoints field"
    kpts = np.asarray(ann["keypoints"], np.float64)
    if kpts.size != num_keypoints * 3:
        return f"keypoint count is not {num_keypoints}"
    bbox = np.asarray(ann["bbox"], np.float64)
    if bbox.shape != (4,):
        return "bbox is not [x, y, w, h]"
    if not (np.all(np.isfinite(bbox)) and np.all(np.isfinite(kpts))):
        return "NaN or infinite value"
    x, y, w, h = bbox
    if w <= 0 or h <= 0:
        return "zero-area bbox"
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        return "bbox outside image"
    return None


def read_detections(path, score_thr: float, report: Report) -> dict:
    """Detector boxes per image (``image_id``, or ``file_name`` for entries without one):
    image -> (xywh boxes, scores), person category only, score >= score_thr."""
    out: dict[int, tuple[list, list]] = defaultdict(lambda: ([], []))
    if path is None:
        return out
    dets = load_json(path, "detection")
    if not isinstance(dets, list):
        raise DataError(f"{path}: expected a list of detections (COCO results format)")
    for i, det in enumerate(dets):
        report.detections_read += 1
        image = det.get("image_id", det.get("file_name")) if isinstance(det, dict) else None
        if image is None or not {"bbox", "score"} <= set(det):
            report.skip("detections", "missing image_id/bbox/score", f"{path} entry {i}")
            continue
        if det.get("category_id", 1) != 1:
            report.skip("detections", "category is not person", f"{path} entry {i}")
            continue
        if det["score"] < score_thr:
            report.skip("detections", f"score below {score_thr}", f"{path} entry {i}")
            continue
        bbox = np.asarray(det["bbox"][:4], np.float64)
        if not np.all(np.isfinite(bbox)) or not np.isfinite(det["score"]):
            report.skip("detections", "NaN or infinite value", f"{path} entry {i}")
            continue
        boxes, scores = out[image]
        boxes.append(bbox.tolist())
        scores.append(float(det["score"]))
    return dict(out)


def _labeled(ann: dict) -> int:
    """MMPose's keypoint count for files without ``num_keypoints``: keypoints whose larger
    coordinate is non-zero (``count_nonzero(keypoints.max(axis=2))``), not the v > 0 count."""
    return int(np.count_nonzero(np.reshape(ann["keypoints"], (-1, 3))[:, :2].max(axis=1)))


def convert_coco(
    annotations: str | Path,
    images: str | Path,
    out: str | Path,
    *,
    split: str = "train",
    dataset: str = "coco",
    metainfo: str | Path | None = None,
    detections: str | Path | None = None,
    det_score_thr: float = 0.0,
    shards: int = 8,
    strict: bool = False,
    progress: bool = True,
    data: dict | None = None,
    extra_sources: dict[str, str] | None = None,
    report: Report | None = None,
    extra: dict | None = None,
) -> dict:
    """Convert a COCO-format keypoint file; returns the split's meta entry (with the report).

    ``metainfo``: a keypoint metadata file (``kpose.data.metainfo``) for keypoints of your own,
    instead of the built-in ``dataset``. ``data`` is the file already in COCO form (the MPII and
    JHMDB readers build it). The boxes follow ``dataset``'s ``BOX_RULES`` entry (the file's
    ``bbox`` with ``metainfo`` or without an entry).
    """
    info = get_dataset_info(metainfo or dataset)
    report = report or Report()
    if data is None:
        data = load_json(annotations, "annotation")
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        rule = FILE_BOX if metainfo else BOX_RULES.get(dataset, FILE_BOX)
        data = apply_box_rule(data, rule, annotations, report)
    total = len(data.get("images", [])) if isinstance(data, dict) else None
    records = read_coco(
        annotations,
        images,
        info.num_keypoints,
        report,
        detections=detections,
        det_score_thr=det_score_thr,
        data=data,
    )
    sources = {"annotations": str(annotations), **(extra_sources or {})}
    if detections:
        sources["detections"] = str(detections)
    entry = write_split(
        records,
        out,
        split,
        info,
        shards=shards,
        total=total,
        report=report.as_dict,
        sources=sources,
        extra=extra,
        progress=progress,
    )
    skipped = sum(report.skipped_images.values()) + sum(report.skipped_instances.values())
    if strict and skipped:
        raise DataError(
            f"{annotations}: --strict and the converter skipped items: "
            f"{json.dumps(report.as_dict(), indent=1)}"
        )
    return entry
