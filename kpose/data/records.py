"""The TFRecord dataset on disk: the schema, how a record's instances are read, the shards.

One ``tf.train.Example`` per image with all its person instances. Values are stored as the
annotation file has them (COCO ``bbox`` is xywh, unclipped; keypoints are ``(x, y, v)``
triples), so the ground truth a metric needs can be rebuilt exactly from the records;
``instance_bbox_xyxy`` and ``topdown_valid`` apply MMPose's box clipping and instance filter on
top. A split is ``<root>/<split>-00000-of-000NN.tfrecord`` shards plus ``<root>/meta.json``,
which holds, per split, the shard files with record counts and SHA-256, the converter's report
(read / kept / skipped by reason) and the checksums of the source files. This module is the
one the converters (``kpose.data.formats``) write through and the input pipelines
(``kpose.data.pipeline``) and the evaluator read through; it imports neither.

Feature keys (contract for every converter):

========================  =======  ============================================================
key                        dtype    meaning
========================  =======  ============================================================
image/encoded             bytes    the original file bytes (JPEG or PNG), never re-encoded
image/format              bytes    ``jpeg`` or ``png``
image/file_name           bytes    path relative to the converter's ``--images`` folder
image/id                  int64    the annotation file's image id
image/width, image/height int64    from the annotation file, checked against the pixels
image/crowd_index         float    CrowdPose's crowdIndex (0 elsewhere)
image/video_id            bytes    PoseTrack18's ``vid_id`` ("" elsewhere)
image/frame_id            int64    PoseTrack18's ``frame_id`` (0 elsewhere)
instance/id               int64    [N] annotation ids (COCO-WholeBody-Hand: MMPose's running
                                   number of the hands)
instance/bbox             float    [N*4] xywh as in the annotation file (300W / AFLW / WFLW:
                                   from center + scale; FreiHAND: [0, 0, 224, 224])
instance/keypoints        float    [N*K*3] (x, y, visibility)
instance/area             float    [N] (-1 where the annotation file has none)
instance/iscrowd          int64    [N]
instance/num_keypoints    int64    [N]
instance/category_id      int64    [N]
instance/head_size        float    [N] MPII PCKh normaliser (empty elsewhere)
detection/bbox            float    [M*4] detector boxes, xywh (val sets with --detections)
detection/score           float    [M]
========================  =======  ============================================================
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
import yaml
from tqdm import tqdm

from kpose.data.metainfo import DatasetInfo, from_yaml_mapping, get_dataset_info, to_yaml
from kpose.errors import DataError
from kpose.geometry.boxes import bbox_xywh_to_xyxy, clip_bbox_xyxy

META_FILE = "meta.json"


@dataclass
class ImageRecord:
    """One image and its instances, in annotation-file conventions (numpy arrays)."""

    image_id: int
    file_name: str
    width: int
    height: int
    encoded: bytes
    image_format: str
    num_keypoints: int  # K of the dataset
    instance_ids: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))
    bbox_xywh: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    keypoints: np.ndarray | None = None  # (N, K, 3)
    area: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    iscrowd: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))
    instance_num_keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))
    category_id: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))
    head_size: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    crowd_index: float = 0.0
    video_id: str = ""
    frame_id: int = 0
    det_bbox_xywh: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    det_score: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))

    def __post_init__(self) -> None:
        if self.keypoints is None:
            self.keypoints = np.zeros((0, self.num_keypoints, 3), np.float32)


def _bytes(values: list[bytes]) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _floats(values: np.ndarray) -> tf.train.Feature:
    return tf.train.Feature(float_list=tf.train.FloatList(value=np.ravel(values).tolist()))


def _ints(values: np.ndarray) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=np.ravel(values).tolist()))


def to_example(rec: ImageRecord) -> tf.train.Example:
    feature = {
        "image/encoded": _bytes([rec.encoded]),
        "image/format": _bytes([rec.image_format.encode()]),
        "image/file_name": _bytes([rec.file_name.encode()]),
        "image/id": _ints(np.array([rec.image_id])),
        "image/width": _ints(np.array([rec.width])),
        "image/height": _ints(np.array([rec.height])),
        "image/crowd_index": _floats(np.array([rec.crowd_index])),
        "image/video_id": _bytes([rec.video_id.encode()]),
        "image/frame_id": _ints(np.array([rec.frame_id])),
        "instance/id": _ints(rec.instance_ids),
        "instance/bbox": _floats(rec.bbox_xywh),
        "instance/keypoints": _floats(rec.keypoints),
        "instance/area": _floats(rec.area),
        "instance/iscrowd": _ints(rec.iscrowd),
        "instance/num_keypoints": _ints(rec.instance_num_keypoints),
        "instance/category_id": _ints(rec.category_id),
        "instance/head_size": _floats(rec.head_size),
        "detection/bbox": _floats(rec.det_bbox_xywh),
        "detection/score": _floats(rec.det_score),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature))


_SCALARS = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/format": tf.io.FixedLenFeature([], tf.string),
    "image/file_name": tf.io.FixedLenFeature([], tf.string),
    "image/id": tf.io.FixedLenFeature([], tf.int64),
    "image/width": tf.io.FixedLenFeature([], tf.int64),
    "image/height": tf.io.FixedLenFeature([], tf.int64),
    "image/crowd_index": tf.io.FixedLenFeature([], tf.float32, default_value=0.0),
    "image/video_id": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "image/frame_id": tf.io.FixedLenFeature([], tf.int64, default_value=0),
}
_LISTS = {
    "instance/id": tf.int64,
    "instance/bbox": tf.float32,
    "instance/keypoints": tf.float32,
    "instance/area": tf.float32,
    "instance/iscrowd": tf.int64,
    "instance/num_keypoints": tf.int64,
    "instance/category_id": tf.int64,
    "instance/head_size": tf.float32,
    "detection/bbox": tf.float32,
    "detection/score": tf.float32,
}
FEATURES = {**_SCALARS, **{k: tf.io.VarLenFeature(v) for k, v in _LISTS.items()}}


def parse_example(serialized: tf.Tensor, num_keypoints: int) -> dict[str, tf.Tensor]:
    """Parse one serialized Example into dense tensors with instance axes restored."""
    ex = tf.io.parse_single_example(serialized, FEATURES)
    out = {k: ex[k] for k in _SCALARS}
    for key in _LISTS:
        out[key] = tf.sparse.to_dense(ex[key])
    out["instance/bbox"] = tf.reshape(out["instance/bbox"], [-1, 4])
    out["instance/keypoints"] = tf.reshape(out["instance/keypoints"], [-1, num_keypoints, 3])
    out["detection/bbox"] = tf.reshape(out["detection/bbox"], [-1, 4])
    return out


def from_example(serialized: bytes, num_keypoints: int) -> ImageRecord:
    """Parse one serialized Example back into an ImageRecord (numpy; for tests and tools)."""
    ex = {k: v.numpy() for k, v in parse_example(tf.constant(serialized), num_keypoints).items()}
    return ImageRecord(
        image_id=int(ex["image/id"]),
        file_name=ex["image/file_name"].decode(),
        width=int(ex["image/width"]),
        height=int(ex["image/height"]),
        encoded=ex["image/encoded"],
        image_format=ex["image/format"].decode(),
        num_keypoints=num_keypoints,
        instance_ids=ex["instance/id"],
        bbox_xywh=ex["instance/bbox"],
        keypoints=ex["instance/keypoints"],
        area=ex["instance/area"],
        iscrowd=ex["instance/iscrowd"],
        instance_num_keypoints=ex["instance/num_keypoints"],
        category_id=ex["instance/category_id"],
        head_size=ex["instance/head_size"],
        crowd_index=float(ex["image/crowd_index"]),
        video_id=ex["image/video_id"].decode(),
        frame_id=int(ex["image/frame_id"]),
        det_bbox_xywh=ex["detection/bbox"],
        det_score=ex["detection/score"],
    )


# ----------------------------------------------------- MMPose's reading of a record


def decode_image(encoded: tf.Tensor, image_format: tf.Tensor) -> tf.Tensor:
    """RGB uint8 (H, W, 3). JPEG uses the accurate integer DCT, as OpenCV/libjpeg do."""
    return tf.cond(
        tf.equal(image_format, "png"),
        lambda: tf.io.decode_png(encoded, channels=3),
        lambda: tf.io.decode_jpeg(encoded, channels=3, dct_method="INTEGER_ACCURATE"),
    )


# MMPose clips the boxes of COCO-style files to the image, but not the boxes it makes of the
# file's centre and scale (MPII, 300W, AFLW, WFLW), FreiHAND's fixed 224 x 224 box, nor
# COCO-WholeBody-Hand's hand boxes: those are used as they are.
_UNCLIPPED_BOXES = ("mpii", "300w", "aflw", "wflw", "freihand", "coco_wholebody_hand")
# MMPose's LocustDataset and ZebraDataset ignore the file's bbox: every instance is boxed with
# the whole image, written as the constant [0, 0, 160, 160] xywh (the size of their images).
_WHOLE_IMAGE_BOXES = ("locust", "zebra")
_WHOLE_IMAGE_XYXY = (0.0, 0.0, 160.0, 160.0)


def instance_bbox_xyxy(ex: dict, info: DatasetInfo):
    """The (N, 4) xyxy boxes MMPose's loader builds for a record's instances.

    ``ex`` holds ``instance/bbox`` (N, 4) xywh, ``image/width`` and ``image/height``, as
    tensors (``parse_example``) or numpy arrays (an ``ImageRecord``'s).
    """
    xyxy = bbox_xywh_to_xyxy(ex["instance/bbox"])
    if info.name in _WHOLE_IMAGE_BOXES:
        return xyxy * 0 + np.asarray(_WHOLE_IMAGE_XYXY, np.float32)  # numpy or TF, as given
    if info.name in _UNCLIPPED_BOXES:
        return xyxy
    return clip_bbox_xyxy(xyxy, ex["image/width"], ex["image/height"])


def topdown_valid(
    bbox_xyxy: tf.Tensor, keypoints: tf.Tensor, iscrowd: tf.Tensor, num_keypoints: tf.Tensor
) -> tf.Tensor:
    """MMPose's ``_is_valid_instance``: not crowd, has keypoints, positive box, max(kpts) > 0.

    ``keypoints`` is (N, K, 3) (x, y, v); like MMPose, the last test looks at x and y only.
    """
    wh = bbox_xyxy[..., 2:] - bbox_xyxy[..., :2]
    xy = tf.reshape(keypoints[..., :2], [tf.shape(keypoints)[0], -1])
    return (
        tf.equal(iscrowd, 0)
        & tf.not_equal(num_keypoints, 0)
        & tf.reduce_all(wh > 0, axis=-1)
        & (tf.reduce_max(xy, axis=-1) > 0)
    )


# ------------------------------------------------------------------- shards and meta.json


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_split(
    records: Iterable[ImageRecord],
    out_dir: str | Path,
    split: str,
    info: DatasetInfo,
    *,
    shards: int,
    total: int | None = None,
    report: Callable[[], dict] | None = None,
    sources: dict[str, str] | None = None,
    extra: dict | None = None,
    progress: bool = True,
) -> dict:
    """Write ``records`` round-robin into ``shards`` files and record the split in meta.json.

    Returns the split's meta entry (``extra`` is merged into it). Existing shards of the same
    split are replaced.
    ``report`` is called once the records are consumed (the reader fills it as it goes).
    """
    if shards < 1:
        raise DataError(f"--shards must be >= 1, got {shards}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob(f"{split}-*-of-*.tfrecord"):
        old.unlink()
    paths = [out_dir / shard_name(split, i, shards) for i in range(shards)]
    writers = [tf.io.TFRecordWriter(str(p)) for p in paths]

    counts = [0] * shards
    instances = 0
    topdown = 0
    bar = tqdm(records, total=total, desc=f"writing {split}", unit="img", disable=not progress)
    try:
        for i, rec in enumerate(bar):
            writers[i % shards].write(to_example(rec).SerializeToString())
            counts[i % shards] += 1
            instances += len(rec.instance_ids)
            bbox = instance_bbox_xyxy(
                {
                    "instance/bbox": rec.bbox_xywh,
                    "image/width": rec.width,
                    "image/height": rec.height,
                },
                info,
            )
            topdown += int(
                np.sum(topdown_valid(bbox, rec.keypoints, rec.iscrowd, rec.instance_num_keypoints))
            )
    finally:
        for w in writers:
            w.close()
    shard_meta = [
        {"file": p.name, "records": c, "sha256": sha256_file(p)}
        for p, c in zip(paths, counts, strict=True)
    ]
    entry = {
        "images": sum(counts),
        "instances": instances,
        "topdown_instances": topdown,  # valid for top-down training (MMPose's filter)
        "shards": shard_meta,
        "report": report() if report else {},
        "sources": {
            k: {"path": v, "sha256": sha256_file(v) if Path(v).is_file() else None}
            for k, v in (sources or {}).items()
        },
        **(extra or {}),
    }
    verify_split(out_dir, split, entry)
    meta_path = out_dir / META_FILE
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    meta.update(
        {
            "dataset": info.name,
            "num_keypoints": info.num_keypoints,
            "keypoint_names": list(info.keypoint_names),
            "metainfo": to_yaml(info),  # the whole keypoint metadata the records were made with
        }
    )
    meta.setdefault("splits", {})[split] = entry
    meta_path.write_text(json.dumps(meta, indent=2))
    return entry


def verify_split(out_dir: Path, split: str, entry: dict) -> None:
    """Re-read every shard: record counts and checksums must equal what was written."""
    for shard in entry["shards"]:
        path = out_dir / shard["file"]
        n = sum(1 for _ in tf.data.TFRecordDataset(str(path)))
        if n != shard["records"]:
            raise DataError(f"{path}: wrote {shard['records']} records but read back {n}")
        if sha256_file(path) != shard["sha256"]:
            raise DataError(f"{path}: checksum changed while verifying")


def read_meta(root: str | Path) -> dict:
    path = Path(root) / META_FILE
    if not path.is_file():
        raise DataError(
            f"{path}: no converted dataset here; run `python -m kpose.convert ...` first"
        )
    return json.loads(path.read_text())


def records_info(root: str | Path) -> DatasetInfo:
    """The keypoint metadata the records under ``root`` were converted with (meta.json's
    ``metainfo``; the built-in dataset of its ``dataset`` name for files written without it)."""
    meta, path = read_meta(root), Path(root) / META_FILE
    if "metainfo" not in meta:
        return get_dataset_info(meta.get("dataset", ""))
    try:
        return from_yaml_mapping(yaml.safe_load(meta["metainfo"]), f"{path} (metainfo)")
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: 'metainfo' is not valid YAML: {exc}") from None


def split_files(root: str | Path, split: str, info: DatasetInfo | None = None) -> list[str]:
    """Shard paths of ``split`` under ``root``, checked against meta.json (and, with ``info``,
    that the records hold ``info``'s keypoints)."""
    meta = read_meta(root)
    if info is not None:
        check_keypoints(meta, info, Path(root) / META_FILE)
    if split not in meta.get("splits", {}):
        raise DataError(
            f"{Path(root) / META_FILE}: no split {split!r}; "
            f"converted splits: {sorted(meta.get('splits', {}))}"
        )
    files = [str(Path(root) / s["file"]) for s in meta["splits"][split]["shards"]]
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise DataError(f"{missing[0]}: shard listed in meta.json is missing")
    return files


def check_keypoints(meta: dict, info: DatasetInfo, where: Path) -> None:
    """``DataError`` unless the converted records (``meta``) hold ``info``'s keypoints."""
    count, names = meta.get("num_keypoints"), meta.get("keypoint_names")
    if count != info.num_keypoints or (
        names is not None and list(names) != list(info.keypoint_names)
    ):
        theirs = f"{count} keypoints ({', '.join(map(str, (names or [])[:4]))}, ...)"
        raise DataError(
            f"{where}: these records hold {theirs} of dataset {meta.get('dataset')!r}, but the "
            f"recipe's keypoints are {info.num_keypoints} ({', '.join(info.keypoint_names[:4])}"
            f", ...) from {info.source or info.name}: convert with the same metainfo"
        )


def count_train_instances(root: str | Path, split: str) -> int:
    """Number of instances of ``split`` valid for top-down training (MMPose's filter), as the
    converter counted them into meta.json."""
    return int(read_meta(root)["splits"][split]["topdown_instances"])


def summary_lines(split: str, entry: dict) -> list[str]:
    """A split's meta entry (``write_split``'s result) as lines for a person to read."""
    rep = entry["report"]
    lines = [
        f"{split}: {entry['images']} images, {entry['instances']} instances "
        f"in {len(entry['shards'])} shards",
        f"  images read {rep.get('images_read', 0)}, kept {rep.get('images_kept', 0)}",
        f"  instances read {rep.get('instances_read', 0)}, kept {rep.get('instances_kept', 0)}",
    ]
    if rep.get("detections_read"):
        lines.append(f"  detections read {rep['detections_read']}, kept {rep['detections_kept']}")
    for kind in ("images", "instances", "detections"):
        for reason, count in sorted(rep.get(f"skipped_{kind}", {}).items()):
            lines.append(f"  skipped {count} {kind}: {reason}")
    return lines
