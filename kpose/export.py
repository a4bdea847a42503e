"""``python -m kpose.export``: a preset with its weights as a SavedModel for TF Serving, or its
heatmap model as ONNX or TFLite (``kpose.inference.serving.export``).

    python -m kpose.export PRESET --weights W --format saved_model --out serving/PRESET/1
    python -m kpose.export PRESET --detector rtmdet-m-person --out serving/PRESET/1
    python -m kpose.export PRESET --weights W --format onnx --out model.onnx
    python -m kpose.export PRESET --weights W --format tflite --out model.tflite

SavedModel (docs/serving.md): ``serving_default(image_bytes: tf.string[B], boxes:
float32[B, N, 4]) -> {"keypoints": float32[B, N, K, 2], "scores": float32[B, N, K]}``, with
decoding, MMPose's crop, the model, flip test, heatmap decoding and back-projection inside.
With ``--detector``, ``serving_default(image_bytes)`` finds the people too (boxes, box scores,
keypoints, scores, num_people) and ``with_boxes(image_bytes, boxes)`` takes boxes as above.
Without ``--weights`` the preset's MMPose checkpoint is used (downloaded once, as kpose.load).
ONNX (tf2onnx) and TFLite hold the heatmap model alone: RGB 0..255 crops ``(B, H, W, 3)`` ->
heatmaps ``(B, h, w, K)``.
"""

from __future__ import annotations

from kpose.cli import argument_parser, reports_errors
from kpose.inference.serving import FORMATS, export


@reports_errors
def main(argv=None) -> int:
    parser = argument_parser("export", __doc__)
    parser.add_argument("preset", help="preset name or recipe file")
    parser.add_argument(
        "--weights", help="MMPose .pth, .weights.h5, .keras or a URL (default: the preset's)"
    )
    parser.add_argument("--detector", help="a detector preset to put in the SavedModel")
    parser.add_argument("--detector-weights", help="its weights (default: the preset's)")
    parser.add_argument("--format", default="saved_model", choices=FORMATS)
    parser.add_argument("--out", required=True, help="SavedModel folder or model file")
    args = parser.parse_args(argv)
    path = export(
        args.preset, args.weights, args.format, args.out, args.detector, args.detector_weights
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
