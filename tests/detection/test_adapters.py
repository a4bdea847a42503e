"""The detector protocol's post-processing (``select_boxes``: MMPose's NMS and thresholds) and
the adapters: plain callables, a keras-hub RetinaNet built with random weights, and ONNX
detectors the test writes (mmdeploy's end2end outputs and a raw YOLOX head)."""

from __future__ import annotations

import numpy as np
import pytest

from kpose.detection.adapters import (
    CallableDetector,
    KerasHubDetector,
    OnnxDetector,
    as_detector,
    letterbox,
)
from kpose.detection.base import select_boxes
from kpose.errors import DataError, ModelError

IMAGE = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)


def _mmpose_nms(dets: np.ndarray, thr: float) -> list[int]:
    """mmpose.evaluation.functional.nms, restated: +1 areas, drop IoU > thr."""
    x1, y1, x2, y2, scores = dets.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order, keep = scores.argsort()[::-1], []
    while len(order):
        i = order[0]
        keep.append(int(i))
        w = np.maximum(0.0, np.minimum(x2[i], x2[order[1:]]) - np.maximum(x1[i], x1[order[1:]]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[order[1:]]) - np.maximum(y1[i], y1[order[1:]]) + 1)
        inter = w * h
        iou = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[1:][iou <= thr]
    return keep


def test_select_boxes_is_mmpose_threshold_class_filter_and_nms():
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 200, (300, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 60, (300, 2))], 1).astype(np.float32)
    scores = rng.uniform(0, 1, 300).astype(np.float32)
    labels = rng.integers(0, 3, 300)
    out = np.asarray(
        select_boxes(boxes, scores, labels, classes=(0, 2), score_thr=0.3, nms_thr=0.3)
    )
    wanted = (scores > 0.3) & np.isin(labels, (0, 2))
    dets = np.concatenate([boxes, scores[:, None]], 1)[wanted]
    expected = dets[_mmpose_nms(dets.astype(np.float64), 0.3)]
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)
    assert np.all(np.diff(out[:, 4]) <= 0)  # best first
    assert select_boxes(boxes[:0], scores[:0]).shape == (0, 5)


def test_callable_detector_forms_and_errors():
    two = np.array([[10, 10, 60, 90, 0.9], [12, 11, 61, 92, 0.8], [100, 20, 150, 110, 0.2]])
    detector = CallableDetector(lambda image: two)
    np.testing.assert_allclose(detector(IMAGE), two[:1], atol=1e-5)  # NMS drops 1, thr drops 2
    as_tuple = CallableDetector(lambda image: (two[:, :4], two[:, 4], [0, 0, 1]), score_thr=0.1)
    assert len(as_tuple(IMAGE)) == 1  # box 1 overlaps box 0, box 2 is another class
    with_labels = CallableDetector(lambda image: np.c_[two, [1, 0, 0]], score_thr=0.1)
    np.testing.assert_allclose(with_labels(IMAGE), two[[1, 2]], atol=1e-5)
    plain = CallableDetector(lambda image: two[:1, :4])
    assert plain(IMAGE)[0, 4] == 1.0
    assert CallableDetector(lambda image: [])(IMAGE).shape == (0, 5)
    with pytest.raises(DataError, match="uint8"):
        detector(IMAGE.astype(np.float32))
    with pytest.raises(DataError, match=r"\(N, 4\), \(N, 5\) or \(N, 6\)"):
        CallableDetector(lambda image: np.zeros((2, 3)))(IMAGE)
    with pytest.raises(DataError, match="NaN"):
        CallableDetector(lambda image: [[0, 0, np.nan, 5, 1]])(IMAGE)
    assert isinstance(as_detector(lambda image: two), CallableDetector)
    with pytest.raises(ModelError, match="not a detector preset"):
        as_detector("no-such-detector")


def test_letterbox_keeps_ratio_and_maps_back():
    canvas, scale = letterbox(IMAGE, (64, 64))
    assert canvas.shape == (64, 64, 3) and scale == pytest.approx(0.4)
    assert np.all(canvas[48:] == 114)  # 120 * 0.4 = 48 rows of image, then padding


def test_keras_hub_retinanet_random_weights():
    keras_hub = pytest.importorskip("keras_hub")
    encoder = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[7],
        stackwise_num_filters=[64, 64, 64],
        stackwise_num_blocks=[1, 1, 1],
        stackwise_num_strides=[1, 2, 2],
        block_type="basic_block",
        use_pre_activation=False,
        image_shape=(None, None, 3),
    )
    backbone = keras_hub.models.RetinaNetBackbone(
        image_encoder=encoder, min_level=3, max_level=4, use_p5=False, image_shape=(None, None, 3)
    )
    converter = keras_hub.layers.RetinaNetImageConverter(image_size=(96, 96), scale=1 / 255.0)
    preprocessor = keras_hub.models.RetinaNetObjectDetectorPreprocessor(image_converter=converter)
    task = keras_hub.models.RetinaNetObjectDetector(
        backbone=backbone, num_classes=3, preprocessor=preprocessor, bounding_box_format="yxyx"
    )
    detector = as_detector(task, classes=(0, 1, 2), score_thr=0.0, nms_thr=0.9)
    assert isinstance(detector, KerasHubDetector) and detector.image_size == (96, 96)
    boxes = detector(IMAGE)
    assert boxes.ndim == 2 and boxes.shape[1] == 5 and boxes.dtype == np.float32
    assert np.all(np.diff(boxes[:, 4]) <= 0)
    # The same predictions by hand: letterbox to 96 (scale 0.6), yxyx -> xyxy, / 0.6.
    canvas, scale = letterbox(IMAGE, (96, 96), pad_value=0.0)
    raw = task.predict(canvas[None], verbose=0)
    count = int(raw["num_detections"][0])
    by_hand = np.asarray(
        select_boxes(
            raw["boxes"][0, :count][:, [1, 0, 3, 2]] / scale,
            raw["confidence"][0, :count],
            raw["labels"][0, :count],
            classes=(0, 1, 2),
            score_thr=0.0,
            nms_thr=0.9,
        )
    )
    np.testing.assert_allclose(boxes, by_hand, rtol=1e-5, atol=1e-3)


def _onnx_model(path, output_rows: np.ndarray, layout: str, size=(64, 64)):
    """An ONNX detector that ignores its input's values: ``input (1, 3, h, w)`` -> the fixed
    ``output_rows`` (+ 0 * mean(input), so the input is used)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    width, height = size
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
    ]
    inits = [numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    if layout == "end2end":
        inits += [
            numpy_helper.from_array(output_rows[None, :, :5].astype(np.float32), "dets_const"),
            numpy_helper.from_array(output_rows[None, :, 5].astype(np.int64), "labels"),
        ]
        nodes.append(helper.make_node("Add", ["dets_const", "nothing"], ["dets"]))
        outputs = [
            helper.make_tensor_value_info("dets", TensorProto.FLOAT, [1, len(output_rows), 5]),
            helper.make_tensor_value_info("labels", TensorProto.INT64, [1, len(output_rows)]),
        ]
    else:
        inits.append(numpy_helper.from_array(output_rows[None].astype(np.float32), "raw_const"))
        nodes.append(helper.make_node("Add", ["raw_const", "nothing"], ["raw"]))
        outputs = [
            helper.make_tensor_value_info("raw", TensorProto.FLOAT, list(output_rows[None].shape))
        ]
    graph = helper.make_graph(
        nodes,
        "detector",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, height, width])],
        outputs,
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_onnx_end2end_detector(tmp_path):
    pytest.importorskip("onnxruntime")
    rows = np.array([[8, 4, 40, 60, 0.9, 0], [9, 5, 41, 61, 0.85, 0], [30, 30, 60, 60, 0.7, 3]])
    path = _onnx_model(tmp_path / "det.onnx", rows, "end2end")
    detector = as_detector(str(path), input_size=(64, 64))
    assert isinstance(detector, OnnxDetector)
    # 160x120 letterboxed into 64x64: scale 0.4; the 2nd box overlaps the 1st, the 3rd is a car
    np.testing.assert_allclose(detector(IMAGE), [[20, 10, 100, 150, 0.9]], rtol=1e-5)
    with pytest.raises(ModelError, match="file not found"):
        OnnxDetector(tmp_path / "missing.onnx")


def test_onnx_raw_yolox_head_is_decoded(tmp_path):
    pytest.importorskip("onnxruntime")
    cells = (64 // 8) ** 2 + (64 // 16) ** 2 + (64 // 32) ** 2
    raw = np.zeros((cells, 5 + 2), np.float32)
    raw[:, 4] = 0.01  # objectness: nothing anywhere ...
    raw[9, :7] = [0.5, 0.5, np.log(2.0), np.log(3.0), 0.9, 0.8, 0.1]  # ... but a person at (1, 1)
    path = _onnx_model(tmp_path / "yolox.onnx", raw, "yolox")
    detector = OnnxDetector(path, input_size=(64, 64), layout="yolox", bgr=True)
    # cell 9 of stride 8 is (x 1, y 1): centre (1.5 * 8, 1.5 * 8) = 12, size (16, 24); / 0.4
    np.testing.assert_allclose(
        detector(IMAGE), [[(12 - 8) / 0.4, 0, (12 + 8) / 0.4, (12 + 12) / 0.4, 0.72]], rtol=1e-5
    )
