"""Exports of a ``PoseEstimator``: the SavedModel for TF Serving, with the whole predict path
inside, and the heatmap model alone as ONNX or TFLite (the library of ``python -m
kpose.export``).

SavedModel: ``serving_default(image_bytes: tf.string[B], boxes: float32[B, N, 4]) ->
{"keypoints": float32[B, N, K, 2], "scores": float32[B, N, K]}``. Images are JPEG or PNG bytes
(decoded to RGB as OpenCV decodes them; EXIF orientation is not applied); boxes are xyxy in
image pixels, all-zero rows are ignored (their outputs are zero). Everything of
``PoseEstimator.predict`` happens inside: decode, MMPose's crop, the model, flip test, heatmap
decoding and back-projection (``kpose.inference.predict``), so TF Serving needs no pre- or
post-processing.

Exported with a detector (one that runs as TF ops, ``GraphDetector``: RTMDet), the SavedModel
also finds the people: ``serving_default(image_bytes: tf.string[B]) -> {"boxes": float32[B, M,
4], "box_scores": float32[B, M], "keypoints": float32[B, M, K, 2], "scores": float32[B, M, K],
"num_people": int32[B]}`` (M: the most people in one image; rows past ``num_people`` are zero),
and the signature ``with_boxes`` answers the requests with boxes as above.

A model that predicts keypoint visibility (a ``vis`` head, MMPose's ``VisPredictHead``) adds
one output to both signatures, ``"keypoints_visible": float32[B, N, K]`` (the probability
that each keypoint is visible); every other model's signatures are as above.

ONNX (tf2onnx) and TFLite hold the heatmap model alone: RGB 0..255 crops
``(B, H, W, 3)`` -> heatmaps ``(B, h, w, K)`` (and the visibility ``(B, K)``, a second
output, for a vis head).
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import tensorflow as tf

from kpose.detection.base import GraphDetector
from kpose.detection.presets import load_detector
from kpose.errors import KposeError
from kpose.inference.estimator import PoseEstimator
from kpose.inference.predict import crop_boxes, make_predict_fn, to_image_coords

FORMATS = ("saved_model", "onnx", "tflite")
ONNX_OPSET = 17
# The per-keypoint outputs and each one's shape after the person axes, for K keypoints.
_TAILS = {
    "keypoints": lambda k: [k, 2],
    "scores": lambda k: [k],
    "keypoints_visible": lambda k: [k],
}


def _boxes_to_keypoints(estimator: PoseEstimator):
    """``(images, image_index, boxes (M, 4)) -> {"keypoints": (M, K, 2) in image pixels,
    "scores": (M, K)}``, plus ``"keypoints_visible": (M, K)`` for a model that predicts
    visibility: the predict path both serving functions run on their people."""
    recipe = estimator.recipe
    input_size = estimator.input_size
    predict = make_predict_fn(
        estimator.heatmap_model,
        estimator.codec,
        recipe.model_info.flip_indices,
        flip_test=recipe.eval.flip_test,
        shift_heatmap=recipe.eval.shift_heatmap,
        output_keypoint_indices=recipe.eval.output_keypoint_indices,
        flip_mode=recipe.flip_mode,
    )

    def keypoints_of(images, image_index, boxes):
        crops, centers, scales = crop_boxes(
            images,
            image_index,
            boxes,
            input_size,
            recipe.data.bbox_padding,
            recipe.use_udp_warp,
        )
        keypoints_in, scores, *visible = predict(crops)
        keypoints = to_image_coords(tf.cast(keypoints_in, tf.float32), centers, scales, input_size)
        people = {"keypoints": keypoints, "scores": tf.cast(scores, tf.float32)}
        if visible:  # a vis head's keypoint visibility (MMPose's keypoints_visible)
            people["keypoints_visible"] = tf.cast(visible[0], tf.float32)
        return people

    return keypoints_of


def serving_function(estimator: PoseEstimator):
    """The ``tf.function`` answering image bytes + boxes for ``estimator``."""
    k = estimator.dataset_info.num_keypoints
    keypoints_of = _boxes_to_keypoints(estimator)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="image_bytes"),
            tf.TensorSpec([None, None, 4], tf.float32, name="boxes"),
        ]
    )
    def serve(image_bytes, boxes):
        images, _ = _decode_padded(image_bytes)  # zero-padded like OpenCV's border
        valid = tf.where(tf.reduce_any(tf.not_equal(boxes, 0.0), axis=-1))  # (M, 2)
        people = keypoints_of(
            images, tf.cast(valid[:, 0], tf.int32), tf.gather_nd(boxes, valid)
        )  # (M, K, 2), (M, K)[, (M, K)]
        shape = tf.shape(boxes, out_type=tf.int64)
        return {
            name: tf.scatter_nd(valid, values, tf.concat([shape[:2], _TAILS[name](k)], 0))
            for name, values in people.items()
        }

    return serve


def detecting_function(estimator: PoseEstimator, detector):
    """The ``tf.function`` answering image bytes alone: ``detector.detect_graph`` finds the
    people of each image, then the predict path of ``serving_function``."""
    k = estimator.dataset_info.num_keypoints
    keypoints_of = _boxes_to_keypoints(estimator)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve(image_bytes):
        images, sizes = _decode_padded(image_bytes)
        n_images = tf.shape(images)[0]
        found = tf.TensorArray(
            tf.float32, size=n_images, infer_shape=False, element_shape=[None, 5]
        )
        counts = tf.TensorArray(tf.int32, size=n_images)
        for i in tf.range(n_images):
            people_i = detector.detect_graph(images[i, : sizes[i, 0], : sizes[i, 1]])
            found = found.write(i, people_i)
            counts = counts.write(i, tf.shape(people_i)[0])
        counts = counts.stack()  # (B,)
        people = found.concat()  # (P, 5), image by image
        image_index = tf.repeat(tf.range(n_images), counts)
        rank = tf.range(tf.shape(people)[0]) - tf.gather(
            tf.cumsum(counts, exclusive=True), image_index
        )  # the row of each person in its image
        per_keypoint = keypoints_of(images, image_index, people[:, :4])
        where = tf.stack([image_index, rank], axis=1)
        shape = tf.stack([n_images, tf.reduce_max(tf.concat([counts, [0]], 0))])

        def place(values, tail):
            return tf.scatter_nd(where, values, tf.concat([shape, tail], 0))

        return {
            "boxes": place(people[:, :4], [4]),
            "box_scores": place(people[:, 4], tf.zeros([0], tf.int32)),
            **{name: place(v, _TAILS[name](k)) for name, v in per_keypoint.items()},
            "num_people": counts,
        }

    return serve


def _decode_padded(image_bytes):
    """``(B,)`` encoded images -> ``(B, H, W, 3)`` uint8 RGB, zero-padded to the largest, and
    each image's ``(h, w)`` ``(B, 2)``."""
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
    return padded.stack(), shapes


def _decode_rgb(data):
    """JPEG with libjpeg's accurate integer DCT, which decodes as OpenCV (MMPose's reader)
    does, pixel for pixel; PNG (and BMP, GIF) by ``decode_image``."""
    return tf.cond(
        tf.io.is_jpeg(data),
        lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
        lambda: tf.io.decode_image(data, channels=3, expand_animations=False),
    )


def export_saved_model(estimator: PoseEstimator, out_dir: str | os.PathLike, detector=None) -> Path:
    """Write the serving SavedModel to ``out_dir`` (TF Serving wants ``.../<name>/<version>``);
    with a ``detector`` (a ``GraphDetector``), ``serving_default`` takes image bytes alone."""
    out_dir = Path(out_dir)
    archive = keras.export.ExportArchive()
    archive.track(estimator.heatmap_model)
    if detector is None:
        archive.add_endpoint("serving_default", serving_function(estimator))
    else:
        if not isinstance(detector, GraphDetector):
            raise KposeError(
                f"--detector: {type(detector).__name__} does not run as TF ops (no "
                "detect_graph); a SavedModel can hold RTMDet (rtmdet-m-person)"
            )
        archive.track(detector.model)
        archive.add_endpoint("serving_default", detecting_function(estimator, detector))
        archive.add_endpoint("with_boxes", serving_function(estimator))
    archive.write_out(str(out_dir), verbose=False)
    return out_dir


def _heatmap_function(estimator: PoseEstimator, batch_size: int | None = None):
    """The heatmap model as a ``tf.function`` of float32 ``images`` ``(batch_size, H, W, 3)``."""
    width, height = estimator.input_size
    model = estimator.heatmap_model
    spec = tf.TensorSpec([batch_size, height, width, 3], tf.float32, name="images")
    return tf.function(lambda images: model(images, training=False), input_signature=[spec])


def export_onnx(estimator: PoseEstimator, path: str | os.PathLike) -> Path:
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


def export_tflite(estimator: PoseEstimator, path: str | os.PathLike) -> Path:
    """The heatmap model as a float32 TFLite flatbuffer (batch 1 input)."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fn = _heatmap_function(estimator, batch_size=1)
    # Frozen first: with Keras 3 variables left as resources the converter keeps READ_VARIABLE
    # ops that have no values at run time.
    frozen = convert_variables_to_constants_v2(fn.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    path.write_bytes(converter.convert())
    return path


def export(
    preset: str,
    weights: str | os.PathLike | None,
    fmt: str,
    out: str | os.PathLike,
    detector: str | None = None,
    detector_weights: str | os.PathLike | None = None,
) -> Path:
    """Load ``preset`` (a preset name or recipe file) with ``weights`` (MMPose ``.pth``,
    ``.weights.h5``, ``.keras`` or a URL; ``None``: the preset's, as ``kpose.load``) and write
    it to ``out`` as ``fmt`` (one of ``FORMATS``); a SavedModel with ``detector`` (a detector
    preset name, its weights ``detector_weights`` or the preset's) finds the people itself."""
    if fmt not in FORMATS:
        raise KposeError(f"--format must be one of {FORMATS}, got {fmt!r}")
    if detector is not None and fmt != "saved_model":
        raise KposeError(f"--detector goes into a SavedModel only, not into {fmt}")
    estimator = PoseEstimator.from_preset(preset, weights, detector=None)
    if fmt == "saved_model":
        if detector is not None:
            detector = load_detector(detector, detector_weights)
        return export_saved_model(estimator, out, detector)
    if fmt == "onnx":
        return export_onnx(estimator, out)
    return export_tflite(estimator, out)
