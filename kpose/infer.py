"""``python -m kpose.infer``: every person's keypoints in images, a folder of images or a video
(``kpose.inference.files.infer_files``).

    python -m kpose.infer PRESET IMAGE_OR_DIR_OR_VIDEO [--weights W] [--detector D | --whole]
        [--boxes BOXES.json | --detections DET.json] [--det-score-thr 0.3] [--out DIR]

With no other argument the preset's MMPose checkpoint and the person detector (RTMDet-m, as
MMPose's inferencer) are downloaded once into ``$KPOSE_HOME`` and the detector finds the people.
Writes ``DIR/results.json`` (COCO keypoint results: ``image_id``, ``file_name``,
``category_id`` 1, ``keypoints`` ``[x, y, score] * K`` in image pixels, ``score`` = the box
score, ``bbox`` xyxy) and one picture per image with the skeletons drawn (``DIR/vis/``); a video
gives ``DIR/<name>.mp4`` with every frame drawn (and ``frame`` instead of ``file_name``).

Boxes instead of the detector: ``--boxes`` is ``{"<file name>": [[x1, y1, x2, y2(, score)],
...]}`` (for a video, the keys are frame numbers); ``--detections`` is a detector's COCO results
file (person category, ``bbox`` as x, y, w, h), matched by ``image_id`` to numeric file names
(COCO's ``000000000785.jpg`` is image 785) or by a ``file_name`` field; ``--whole`` takes each
whole image as one person box (MMPose's ``inference_topdown`` without boxes).
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
        "--weights",
        help="MMPose .pth checkpoint, .weights.h5, .keras or a URL (default: the preset's)",
    )
    people = parser.add_mutually_exclusive_group()
    people.add_argument("--boxes", help='JSON {"file name": [[x1, y1, x2, y2(, score)], ...]}')
    people.add_argument("--detections", help="detector results, COCO format (x, y, w, h)")
    people.add_argument("--whole", action="store_true", help="each whole image is one person")
    people.add_argument(
        "--detector",
        default="rtmdet-m-person",
        help="a detector preset or an .onnx detector (mmdeploy end2end outputs)",
    )
    parser.add_argument("--det-score-thr", type=float, default=0.3)
    parser.add_argument(
        "--score-thr", type=float, default=0.3, help="keypoints scoring below this are not drawn"
    )
    parser.add_argument("--out", default="infer_out")
    parser.add_argument("--no-flip", action="store_true", help="no flip test")
    parser.add_argument("--batch-size", type=int, default=16, help="crops per model call")
    parser.add_argument("--frames-per-call", type=int, default=8, help="video frames together")
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
        detector=args.detector,
        whole=args.whole,
        out=args.out,
        flip_test=False if args.no_flip else None,
        score_thr=args.score_thr,
        batch_size=args.batch_size,
        frames_per_call=args.frames_per_call,
        progress=not args.no_progress,
    )
    print(f"{len(rows)} people; results in {Path(args.out) / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
