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
import sys

from kpose.data.formats.coco import COCO_FORMAT_DATASETS, convert_coco
from kpose.data.formats.mpii import convert_jhmdb, convert_mpii
from kpose.data.formats.posetrack18 import convert_posetrack18
from kpose.data.records import summary_lines
from kpose.data.synthetic import convert_synthetic
from kpose.errors import KposeError


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
    coco.add_argument("--dataset", default="coco", choices=COCO_FORMAT_DATASETS)
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
