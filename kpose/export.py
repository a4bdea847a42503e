"""``python -m kpose.export``: a preset with its weights as a SavedModel for TF Serving, or its
heatmap model as ONNX or TFLite.

    python -m kpose.export PRESET --weights W --format saved_model --out serving/PRESET/1
    python -m kpose.export PRESET --weights W --format onnx --out model.onnx
    python -m kpose.export PRESET --weights W --format tflite --out model.tflite

SavedModel (DESIGN.md's serving contract): ``serving_default(image_bytes: tf.string[B],
boxes: float32[B, N, 4]) -> {"keypoints": float32[B, N, K, 2], "scores": float32[B, N, K]}``.
Images are JPEG or PNG bytes (decoded to RGB as OpenCV decodes them; EXIF orientation is
not applied); boxes are xyxy in image pixels, all-zero rows
are ignored (their outputs are zero). Everything of ``PoseEstimator.predict`` happens inside:
decode, MMPose's crop, the model, flip test, heatmap decoding and back-projection, so TF
Serving needs no pre- or post-processing. ONNX (tf2onnx) and TFLite hold the heatmap model
alone: RGB 0..255 crops ``(B, H, W, 3)`` -> heatmaps ``(B, h, w, K)``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import keras
import tensorflow as tf

from kpose.errors import KposeError
from kpose.evaluation.evaluator import make_predict_fn
from kpose.inference.estimator import PoseEstimator, _crop

FORMATS = ("saved_model", "onnx", "tflite")
ONNX_OPSET = 17


def serving_function(estimator: PoseEstimator):
    """The ``serving_default`` function of ``estimator`` (a ``tf.function``)."""
    recipe, info = estimator.recipe, estimator.dataset_info
    input_size = estimator.input_size
    k = info.num_keypoints
    predict = make_predict_fn(
        estimator.heatmap_model,
        estimator.codec,
        info.flip_indices,
        flip_test=recipe.eval.flip_test,
        shift_heatmap=recipe.eval.shift_heatmap,
    )
    size = tf.constant(input_size, tf.float32)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="image_bytes"),
            tf.TensorSpec([None, None, 4], tf.float32, name="boxes"),
        ]
    )
    def serve(image_bytes, boxes):
        n_images = tf.shape(image_bytes)[0]
        decoded = tf.TensorArray(tf.uint8, size=n_images, infer_shape=False)
        shapes = tf.TensorArray(tf.int32, size=n_images)
        for i in tf.range(n_images):
            image = _decode_rgb(image_bytes[i])
            decoded = decoded.write(i, image)
            shapes = shapes.write(i, tf.shape(image)[:2])
        shapes = shapes.stack()  # (B, 2)
        height, width = tf.reduce_max(shapes[:, 0]), tf.reduce_max(shapes[:, 1])
        padded = tf.TensorArray(tf.uint8, size=n_images)
        for i in tf.range(n_images):
            image = decoded.read(i)
            padded = padded.write(
                i,
                tf.pad(
                    image,
                    [[0, height - tf.shape(image)[0]], [0, width - tf.shape(image)[1]], [0, 0]],
                ),
            )
        images = padded.stack()  # (B, H, W, 3), zero-padded like OpenCV's border
        valid = tf.where(tf.reduce_any(tf.not_equal(boxes, 0.0), axis=-1))  # (M, 2)
        flat_boxes = tf.gather_nd(boxes, valid)  # (M, 4)
        crops, centers, scales = _crop(
            images,
            tf.cast(valid[:, 0], tf.int32),
            flat_boxes,
            input_size,
            recipe.data.bbox_padding,
            recipe.use_udp_warp,
        )
        keypoints_in, scores = predict(crops)
        keypoints = (
            tf.cast(keypoints_in, tf.float32) / size * scales[:, None]
            + centers[:, None]
            - 0.5 * scales[:, None]
        )
        shape = tf.shape(boxes, out_type=tf.int64)
        return {
            "keypoints": tf.scatter_nd(valid, keypoints, tf.concat([shape[:2], [k, 2]], 0)),
            "scores": tf.scatter_nd(
                valid, tf.cast(scores, tf.float32), tf.concat([shape[:2], [k]], 0)
            ),
        }

    return serve


def _decode_rgb(data):
    """JPEG with libjpeg's accurate integer DCT, which decodes as OpenCV (MMPose's reader)
    does, pixel for pixel; PNG (and BMP, GIF) by ``decode_image``."""
    return tf.cond(
        tf.io.is_jpeg(data),
        lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
        lambda: tf.io.decode_image(data, channels=3, expand_animations=False),
    )


def export_saved_model(estimator: PoseEstimator, out_dir: str | Path) -> Path:
    """Write the serving SavedModel to ``out_dir`` (TF Serving wants ``.../<name>/<version>``)."""
    out_dir = Path(out_dir)
    archive = keras.export.ExportArchive()
    archive.track(estimator.heatmap_model)
    serve = serving_function(estimator)
    archive.add_endpoint("serving_default", serve)
    archive.write_out(str(out_dir), verbose=False)
    return out_dir


def _heatmap_function(estimator: PoseEstimator):
    width, height = estimator.input_size
    model = estimator.heatmap_model
    spec = tf.TensorSpec([None, height, width, 3], tf.float32, name="images")
    return tf.function(lambda images: model(images, training=False), input_signature=[spec])


def export_onnx(estimator: PoseEstimator, path: str | Path) -> Path:
    """The heatmap model as ONNX (tf2onnx, opset 17); input ``images`` float32 NHWC RGB."""
    try:
        import tf2onnx
    except ImportError as exc:
        raise KposeError('ONNX export needs tf2onnx: pip install -e ".[export]"') from exc
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fn = _heatmap_function(estimator)
    tf2onnx.convert.from_function(
        fn, input_signature=fn.input_signature, opset=ONNX_OPSET, output_path=str(path)
    )
    return path


def export_tflite(estimator: PoseEstimator, path: str | Path) -> Path:
    """The heatmap model as a float32 TFLite flatbuffer (batch 1 input)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = estimator.input_size
    model = estimator.heatmap_model
    fn = tf.function(
        lambda images: model(images, training=False),
        input_signature=[tf.TensorSpec([1, height, width, 3], tf.float32, name="images")],
    )
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    # Frozen first: with Keras 3 variables left as resources the converter keeps READ_VARIABLE
    # ops that have no values at run time.
    frozen = convert_variables_to_constants_v2(fn.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    path.write_bytes(converter.convert())
    return path


def export(preset: str, weights: str | None, fmt: str, out: str | Path) -> Path:
    import kpose

    if fmt not in FORMATS:
        raise KposeError(f"--format must be one of {FORMATS}, got {fmt!r}")
    estimator = kpose.load(preset, weights=weights)
    if fmt == "saved_model":
        return export_saved_model(estimator, out)
    if fmt == "onnx":
        return export_onnx(estimator, out)
    return export_tflite(estimator, out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kpose.export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("preset", help="preset name or recipe file")
    parser.add_argument(
        "--weights", help="MMPose .pth, .weights.h5 or .keras (default: $KPOSE_HOME/<preset>.*)"
    )
    parser.add_argument("--format", default="saved_model", choices=FORMATS)
    parser.add_argument("--out", required=True, help="SavedModel folder or model file")
    args = parser.parse_args(argv)
    try:
        path = export(args.preset, args.weights, args.format, args.out)
    except KposeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
