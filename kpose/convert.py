"""``python -m kpose.convert``: annotation files + images -> sharded TFRecords.

    python -m kpose.convert coco --annotations A.json --images DIR --out tfrecords/coco \
        [--split val] [--detections DET.json] [--dataset crowdpose | --metainfo M.yaml] \
        [--shards N]
    python -m kpose.convert coco --dataset wflw --annotations face_landmarks_wflw_test.json \
        --images images --out tfrecords/wflw --split val
        (faces: 300w, 300wlp, aflw, cofw, wflw, lapa; hands: onehand10k, freihand2d, rhd2d;
        300w / aflw / wflw boxes come from the annotations' center and scale, FreiHAND's are
        [0, 0, 224, 224])
    python -m kpose.convert coco_wholebody --annotations coco_wholebody_val_v1.0.json \
        --images val2017 --out tfrecords/coco_wholebody --split val [--detections DET.json] \
        [--dataset ubody2d --sample-interval 10]
    python -m kpose.convert coco_wholebody --dataset coco_wholebody_hand \
        --annotations coco_wholebody_val_v1.0.json --images val2017 \
        --out tfrecords/coco_wholebody_hand --split val
        (one instance per valid hand; coco_wholebody_face: one per valid face)
    python -m kpose.convert mpii --annotations mpii_val.json --images DIR --out tfrecords/mpii \
        --split val [--headboxes mpii_gt_val.mat]
    python -m kpose.convert posetrack18 --annotations posetrack18_val.json --images DIR \
        --out tfrecords/posetrack18 [--detections DET.json --det-score-thr 0.4]
    python -m kpose.convert jhmdb --annotations Sub1_test.json --images DIR --out tfrecords/jhmdb
    python -m kpose.convert synthetic --out tfrecords/synthetic --images N --seed S [--split val]
"""

from __future__ import annotations

import sys

from kpose.cli import argument_parser, reports_errors
from kpose.data.formats.coco import COCO_FORMAT_DATASETS, convert_coco
from kpose.data.formats.coco_wholebody import WHOLEBODY_DATASETS, convert_coco_wholebody
from kpose.data.formats.mpii import convert_jhmdb, convert_mpii
from kpose.data.formats.posetrack18 import convert_posetrack18
from kpose.data.records import summary_lines
from kpose.data.synthetic import convert_synthetic


def _annotation_parser(sub, name: str, help: str, convert, *, split: str, detections: bool):
    """A subcommand for an annotation format: the arguments every converter takes."""
    p = sub.add_parser(name, help=help)
    p.set_defaults(convert=convert)
    p.add_argument("--annotations", required=True)
    p.add_argument("--images", required=True, help="folder the image names are under")
    p.add_argument("--out", required=True)
    p.add_argument("--split", default=split)
    p.add_argument("--shards", type=int, default=8)
    p.add_argument("--strict", action="store_true", help="fail if anything is skipped")
    if detections:
        p.add_argument("--detections", help="person detections (COCO results JSON)")
        p.add_argument(
            "--det-score-thr",
            type=float,
            default=0.0,
            help="drop detections scoring below this (MMPose's bbox_score_thr)",
        )
    return p


@reports_errors
def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("convert", __doc__)
    sub = parser.add_subparsers(dest="format", required=True)
    coco = _annotation_parser(
        sub,
        "coco",
        "COCO-format keypoint files (COCO, CrowdPose, AIC, Human-Art, Halpe, ExLPose, the "
        "animal, face and hand datasets, your own keypoints)",
        convert_coco,
        split="train",
        detections=True,
    )
    coco.add_argument("--dataset", default="coco", choices=COCO_FORMAT_DATASETS)
    coco.add_argument(
        "--metainfo",
        help="keypoint metadata file (kpose YAML or MMPose dataset_info .py) for your own "
        "keypoints, instead of --dataset",
    )
    wholebody = _annotation_parser(
        sub,
        "coco_wholebody",
        "COCO-WholeBody files (body, foot, face and hand fields -> 133 keypoints; UBody2d; "
        "or one instance per valid face / hand)",
        convert_coco_wholebody,
        split="train",
        detections=True,
    )
    wholebody.add_argument("--dataset", default="coco_wholebody", choices=WHOLEBODY_DATASETS)
    wholebody.add_argument(
        "--sample-interval",
        type=int,
        default=1,
        help="keep only images whose id is a multiple of N (MMPose's sample_interval; "
        "UBody2d's training configs use 10)",
    )
    mpii = _annotation_parser(
        sub,
        "mpii",
        "MMPose's MPII JSON (+ mpii_gt_val.mat head boxes)",
        convert_mpii,
        split="train",
        detections=False,
    )
    mpii.add_argument("--headboxes", help="mpii_gt_val.mat: head boxes for PCKh (val split)")
    _annotation_parser(
        sub,
        "jhmdb",
        "MMPose's JHMDB COCO-like JSON (1-based)",
        convert_jhmdb,
        split="train",
        detections=False,
    )
    pt = _annotation_parser(
        sub,
        "posetrack18",
        "PoseTrack18's merged COCO-format file",
        convert_posetrack18,
        split="val",
        detections=True,
    )
    pt.add_argument("--gt-folder", help="per-video GT JSONs (default: derived from the name)")
    syn = sub.add_parser("synthetic", help="generate the synthetic person dataset")
    syn.set_defaults(convert=convert_synthetic)
    syn.add_argument("--out", required=True)
    syn.add_argument("--images", type=int, required=True)
    syn.add_argument("--seed", type=int, required=True)
    syn.add_argument("--split", default="train")
    syn.add_argument("--shards", type=int, default=4)
    options = vars(parser.parse_args(argv))
    convert, split = options.pop("convert"), options["split"]
    del options["format"]
    entry = convert(**options)
    print("\n".join(summary_lines(split, entry)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
