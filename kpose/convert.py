"""``python -m kpose.convert``: annotation files + images -> sharded TFRecords.

    python -m kpose.convert coco --annotations A.json --images DIR --out tfrecords/coco \
        [--split val] [--detections DET.json] [--dataset crowdpose] [--shards N]
    python -m kpose.convert mpii --annotations mpii_val.json --images DIR --out tfrecords/mpii \
        --split val [--headboxes mpii_gt_val.mat]
    python -m kpose.convert posetrack18 --annotations posetrack18_val.json --images DIR \
        --out tfrecords/posetrack18 [--detections DET.json --det-score-thr 0.4]
    python -m kpose.convert jhmdb --annotations Sub1_test.json --images DIR --out tfrecords/jhmdb
    python -m kpose.convert synthetic --out tfrecords/synthetic --images N --seed S [--split val]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from kpose.data.convert import write_split
from kpose.data.formats.coco import Report, load_json, read_coco
from kpose.data.formats.mpii import jhmdb_to_coco, mpii_to_coco
from kpose.data.metainfo import get_dataset_info
from kpose.errors import KposeError

COCO_FORMAT = ("coco", "crowdpose", "aic", "humanart", "synthetic")


def convert_coco(
    annotations: str | Path,
    images: str | Path,
    out: str | Path,
    *,
    split: str = "train",
    dataset: str = "coco",
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

    ``data`` is the file already in COCO form (the MPII and JHMDB readers build it).
    """
    info = get_dataset_info(dataset)
    report = report or Report()
    if data is None:
        data = load_json(annotations, "annotation")
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
        raise KposeError(
            f"{annotations}: --strict and the converter skipped items: "
            f"{json.dumps(report.as_dict(), indent=1)}"
        )
    return entry


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
            raise KposeError(f"--gt-folder {gt_folder}: no per-video .json files")
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


def convert_synthetic(
    out: str | Path,
    *,
    images: int,
    seed: int,
    split: str = "train",
    shards: int = 4,
    progress: bool = True,
) -> dict:
    """Generate a synthetic COCO-format split under ``out/raw-<split>`` and convert it."""
    from kpose.data import synthetic

    raw = Path(out) / f"raw-{split}"
    ann = synthetic.generate(raw, images, seed, progress=progress)
    return convert_coco(
        ann, raw / "images", out, split=split, dataset="synthetic", shards=shards, progress=progress
    )


def summary_lines(split: str, entry: dict) -> list[str]:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kpose.convert",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="format", required=True)
    coco = sub.add_parser(
        "coco", help="COCO-format keypoint files (COCO, CrowdPose, AIC, Human-Art)"
    )
    coco.add_argument("--annotations", required=True)
    coco.add_argument("--images", required=True, help="folder the file_name fields are under")
    coco.add_argument("--out", required=True)
    coco.add_argument("--split", default="train")
    coco.add_argument("--dataset", default="coco", choices=COCO_FORMAT)
    coco.add_argument("--detections", help="person detections (COCO results JSON)")
    coco.add_argument("--det-score-thr", type=float, default=0.0)
    coco.add_argument("--shards", type=int, default=8)
    coco.add_argument("--strict", action="store_true", help="fail if anything is skipped")
    mpii = sub.add_parser("mpii", help="MMPose's MPII JSON (+ mpii_gt_val.mat head boxes)")
    jhmdb = sub.add_parser("jhmdb", help="MMPose's JHMDB COCO-like JSON (1-based)")
    for p in (mpii, jhmdb):
        p.add_argument("--annotations", required=True)
        p.add_argument("--images", required=True, help="folder the image names are under")
        p.add_argument("--out", required=True)
        p.add_argument("--split", default="train")
        p.add_argument("--shards", type=int, default=8)
        p.add_argument("--strict", action="store_true", help="fail if anything is skipped")
    mpii.add_argument("--headboxes", help="mpii_gt_val.mat: head boxes for PCKh (val split)")
    pt = sub.add_parser("posetrack18", help="PoseTrack18's merged COCO-format file")
    pt.add_argument("--annotations", required=True)
    pt.add_argument("--images", required=True, help="folder the file_name fields are under")
    pt.add_argument("--out", required=True)
    pt.add_argument("--split", default="val")
    pt.add_argument("--detections", help="person detections (COCO results JSON)")
    pt.add_argument(
        "--det-score-thr",
        type=float,
        default=0.0,
        help="MMPose's bbox_score_thr (0.4 in its PoseTrack18 configs)",
    )
    pt.add_argument("--gt-folder", help="per-video GT JSONs (default: derived from the name)")
    pt.add_argument("--shards", type=int, default=8)
    pt.add_argument("--strict", action="store_true", help="fail if anything is skipped")
    syn = sub.add_parser("synthetic", help="generate the synthetic person dataset")
    syn.add_argument("--out", required=True)
    syn.add_argument("--images", type=int, required=True)
    syn.add_argument("--seed", type=int, required=True)
    syn.add_argument("--split", default="train")
    syn.add_argument("--shards", type=int, default=4)
    args = parser.parse_args(argv)
    try:
        if args.format == "synthetic":
            entry = convert_synthetic(
                args.out, images=args.images, seed=args.seed, split=args.split, shards=args.shards
            )
        elif args.format == "mpii":
            entry = convert_mpii(
                args.annotations,
                args.images,
                args.out,
                split=args.split,
                headboxes=args.headboxes,
                shards=args.shards,
                strict=args.strict,
            )
        elif args.format == "posetrack18":
            entry = convert_posetrack18(
                args.annotations,
                args.images,
                args.out,
                split=args.split,
                detections=args.detections,
                det_score_thr=args.det_score_thr,
                gt_folder=args.gt_folder,
                shards=args.shards,
                strict=args.strict,
            )
        elif args.format == "jhmdb":
            entry = convert_jhmdb(
                args.annotations,
                args.images,
                args.out,
                split=args.split,
                shards=args.shards,
                strict=args.strict,
            )
        else:
            entry = convert_coco(
                args.annotations,
                args.images,
                args.out,
                split=args.split,
                dataset=args.dataset,
                detections=args.detections,
                det_score_thr=args.det_score_thr,
                shards=args.shards,
                strict=args.strict,
            )
    except KposeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(summary_lines(args.split, entry)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
