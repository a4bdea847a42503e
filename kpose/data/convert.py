"""Write ImageRecords as sharded TFRecords plus ``meta.json``, then verify what was written.

Layout (contract): ``<out>/<split>-00000-of-000NN.tfrecord`` and ``<out>/meta.json``; the meta
file holds, per split, the shard files with record counts and SHA-256, the converter's report
(read / kept / skipped by reason) and the checksums of the source files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from kpose.data.metainfo import DatasetInfo
from kpose.data.records import ImageRecord, to_example
from kpose.errors import DataError

META_FILE = "meta.json"


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
    from kpose.data.pipeline import instance_bbox_xyxy, topdown_valid

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


def split_files(root: str | Path, split: str) -> list[str]:
    """Shard paths of ``split`` under ``root``, checked against meta.json."""
    meta = read_meta(root)
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
