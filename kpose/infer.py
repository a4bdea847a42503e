"""``python -m kpose.infer``: keypoints for images, a folder of images or a video
(``kpose.inference.files.infer_files``).

    python -m kpose.infer PRESET --weights W IMAGE_OR_DIR_OR_VIDEO \\
        [--boxes BOXES.json | --detections DET.json [--det-score-thr 0.3]] [--out DIR]

Writes ``DIR/results.json`` (COCO keypoint results: ``image_id``, ``file_name``,
``category_id`` 1, ``keypoints`` ``[x, y, score] * K`` in image pixels, ``score`` = the box
score) and one picture per image with the skeletons drawn (``DIR/vis/``); a video gives
``DIR/<name>.mp4`` with every frame drawn (and ``frame`` instead of ``file_name``).

Boxes: ``--boxes`` is ``{"<file name>": [[x1, y1, x2, y2(, score)], ...]}`` (for a video, the
keys are frame numbers); ``--detections`` is a detector's COCO results file (person category,
``bbox`` as x, y, w, h), matched by ``image_id`` to numeric file names (COCO's
``000000000785.jpg`` is image 785) or by a ``file_name`` field. Without boxes each whole
image is one person box, as MMPose's ``inference_topdown``.
"""

from __future__ import annotations

from pathlib import Path

from kpose.cli import argument_parser, reports_errors


@reports_errors
def main(argv=None) -> int:
    parser = argument_parser("infer", __doc__)
    parser.add_argument("preset", help="preset name or recipe file")
    parser.add_argument("source", help="an image, a folder of images or a video")
    parser.add_argument(
        "--weights", required=True, help="MMPose .pth checkpoint, .weights.h5 or .keras"
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--boxes", help='JSON {"file name": [[x1, y1, x2, y2(, score)], ...]}')
    group.add_argument("--detections", help="detector results, COCO format (x, y, w, h)")
    parser.add_argument("--det-score-thr", type=float, default=0.3)
    parser.add_argument(
        "--score-thr", type=float, default=0.3, help="keypoints scoring below this are not drawn"
    )
    parser.add_argument("--out", default="infer_out")
    parser.add_argument("--no-flip", action="store_true", help="no flip test")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    from kpose.inference.files import infer_files

    rows = infer_files(
        args.preset,
        args.weights,
        args.source,
        boxes_file=args.boxes,
        detections_file=args.detections,
        det_score_thr=args.det_score_thr,
        out=args.out,
        flip_test=False if args.no_flip else None,
        score_thr=args.score_thr,
        batch_size=args.batch_size,
        progress=not args.no_progress,
    )
    print(f"{len(rows)} people; results in {Path(args.out) / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
