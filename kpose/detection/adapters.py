"""Detectors from elsewhere, as kpose detectors (``kpose.detection.base``): keras-hub object
detectors, ONNX detectors on ONNX Runtime and any Python callable, plus ``as_detector``, which
turns whatever a user passes as ``detector=`` into one.

Each adapter returns ``(N, 5)`` float32 ``x1, y1, x2, y2, score`` in the pixels of the image it
was given, after ``select_boxes`` (class filter, score threshold, MMPose's NMS).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from kpose.detection.base import select_boxes
from kpose.errors import DataError, ModelError


def check_image(image) -> np.ndarray:
    """``image`` as an ``(H, W, 3)`` uint8 RGB array, or a ``DataError`` saying what it is."""
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise DataError(
            f"a detector takes an (H, W, 3) uint8 RGB image, got {array.dtype} {array.shape}"
        )
    return array


def letterbox(image: np.ndarray, size: tuple[int, int], pad_value: float = 114.0):
    """``image`` resized (keep ratio, OpenCV bilinear) into a ``size`` = ``(w, h)`` canvas
    padded at the right and bottom with ``pad_value``, as mmdet's and YOLOX's test pipelines:
    ``(canvas (h, w, 3) float32, scale)``; canvas pixels / ``scale`` = image pixels."""
    width, height = size
    scale = min(width / image.shape[1], height / image.shape[0])
    new_w, new_h = int(image.shape[1] * scale + 0.5), int(image.shape[0] * scale + 0.5)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((height, width, 3), pad_value, np.float32)
    canvas[:new_h, :new_w] = resized
    return canvas, scale


class _Selecting:
    """What every adapter shares: the options of ``select_boxes``."""

    def __init__(self, classes, score_thr, nms_thr, max_boxes):
        self.classes = tuple(int(c) for c in classes)
        self.score_thr = float(score_thr)
        self.nms_thr = float(nms_thr)
        self.max_boxes = int(max_boxes)

    def _select(self, boxes, scores, labels=None) -> np.ndarray:
        selected = select_boxes(
            boxes,
            scores,
            labels,
            classes=self.classes,
            score_thr=self.score_thr,
            nms_thr=self.nms_thr,
            max_boxes=self.max_boxes,
        )
        return np.asarray(selected, np.float32).reshape(-1, 5)


class CallableDetector(_Selecting):
    """Any function ``fn(image) -> boxes`` as a detector, ``image`` ``(H, W, 3)`` uint8 RGB.

    ``fn`` returns ``(N, 4)`` xyxy boxes (scores 1), ``(N, 5)`` xyxy + score, ``(N, 6)`` xyxy +
    score + class, or a tuple ``(boxes (N, 4), scores (N,)[, labels (N,)])``. ``labels=None``
    keeps every box; otherwise boxes whose class is in ``classes`` are kept.
    """

    def __init__(
        self,
        fn: Callable,
        *,
        classes: Sequence[int] = (0,),
        score_thr: float = 0.3,
        nms_thr: float = 0.3,
        max_boxes: int = 100,
    ):
        super().__init__(classes, score_thr, nms_thr, max_boxes)
        self.fn = fn

    def __call__(self, image) -> np.ndarray:
        image = check_image(image)
        output = self.fn(image)
        labels = None
        if isinstance(output, tuple):
            if len(output) not in (2, 3):
                raise DataError(
                    f"detector {self.fn!r}: expected (boxes, scores[, labels]), got a tuple of "
                    f"{len(output)}"
                )
            boxes = np.asarray(output[0], np.float32).reshape(-1, 4)
            scores = np.asarray(output[1], np.float32).reshape(-1)
            labels = None if len(output) == 2 else np.asarray(output[2]).reshape(-1)
        else:
            array = np.asarray(output, np.float32)
            if array.size == 0:
                return np.zeros((0, 5), np.float32)
            if array.ndim != 2 or array.shape[1] not in (4, 5, 6):
                raise DataError(
                    f"detector {self.fn!r}: expected (N, 4), (N, 5) or (N, 6) boxes, got shape "
                    f"{array.shape}"
                )
            boxes = array[:, :4]
            scores = array[:, 4] if array.shape[1] >= 5 else np.ones(len(array), np.float32)
            labels = array[:, 5].astype(np.int64) if array.shape[1] == 6 else None
        if len(boxes) != len(scores) or (labels is not None and len(labels) != len(boxes)):
            raise DataError(f"detector {self.fn!r}: boxes, scores and labels differ in length")
        if not (np.all(np.isfinite(boxes)) and np.all(np.isfinite(scores))):
            raise DataError(f"detector {self.fn!r}: NaN or infinite boxes or scores")
        return self._select(boxes, scores, labels)


class KerasHubDetector(_Selecting):
    """A ``keras_hub.models.ObjectDetector`` (RetinaNet, D-FINE, ... from ``from_preset`` or
    built) as a person detector.

    The image is letterboxed (keep ratio, zero padding) to the preprocessor's ``image_size``
    when it has one, so the task's own resize is the identity and its boxes map back by one
    scale. ``classes`` are the detector's class ids of a person: 0 in an 80-class COCO label
    space; check the preset's label map (ids of 91-id COCO models put person at 1).
    """

    def __init__(
        self,
        detector,
        *,
        classes: Sequence[int] = (0,),
        score_thr: float = 0.3,
        nms_thr: float = 0.3,
        max_boxes: int = 100,
    ):
        super().__init__(classes, score_thr, nms_thr, max_boxes)
        self.detector = detector
        self.box_format = getattr(detector, "bounding_box_format", "xyxy")
        converter = getattr(getattr(detector, "preprocessor", None), "image_converter", None)
        size = getattr(converter, "image_size", None)
        self.image_size = None if size is None or None in tuple(size) else tuple(size)  # (h, w)

    def __call__(self, image) -> np.ndarray:
        image = check_image(image)
        if self.image_size is None:
            batch, scale = image[None].astype(np.float32), 1.0
        else:
            height, width = self.image_size
            canvas, scale = letterbox(image, (width, height), pad_value=0.0)
            batch = canvas[None]
        output = self.detector.predict(batch, verbose=0)
        count = int(np.asarray(output["num_detections"]).reshape(-1)[0])
        boxes = _to_xyxy(np.asarray(output["boxes"], np.float32)[0, :count], self.box_format)
        scores = np.asarray(output["confidence"], np.float32)[0, :count]
        labels = np.asarray(output["labels"])[0, :count]
        return self._select(boxes / scale, scores, labels)


def _to_xyxy(boxes: np.ndarray, box_format: str) -> np.ndarray:
    if box_format == "xyxy":
        return boxes
    if box_format == "yxyx":
        return boxes[:, [1, 0, 3, 2]]
    if box_format == "xywh":
        return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)
    raise ModelError(f"keras-hub detector: bounding_box_format {box_format!r} is not supported")


class OnnxDetector(_Selecting):
    """An ONNX detector on ONNX Runtime, as mmdeploy and rtmlib publish RTMDet and YOLOX.

    Input: one NCHW float image of ``input_size`` (letterboxed, padded with 114), BGR with
    ``bgr=True`` (mmdet's and YOLOX's convention), normalised by ``mean``/``std`` when given
    (RTMDet: mean ``(103.53, 116.28, 123.675)``, std ``(57.375, 57.12, 58.395)``; YOLOX: none).
    Outputs, either:

    - ``layout="end2end"`` (mmdeploy, NMS inside): ``dets (1, N, 5)`` xyxy + score and
      ``labels (1, N)``;
    - ``layout="yolox"`` (a raw YOLOX head): ``(1, A, 5 + C)`` rows ``cx, cy, w, h`` on the
      grid of strides 8, 16, 32, objectness and class scores (probabilities), decoded here.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        input_size: tuple[int, int] = (640, 640),
        layout: str = "end2end",
        bgr: bool = True,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        classes: Sequence[int] = (0,),
        score_thr: float = 0.3,
        nms_thr: float = 0.3,
        max_boxes: int = 100,
        providers: Sequence[str] = ("CPUExecutionProvider",),
    ):
        super().__init__(classes, score_thr, nms_thr, max_boxes)
        if layout not in ("end2end", "yolox"):
            raise ModelError(f"OnnxDetector: layout must be 'end2end' or 'yolox', got {layout!r}")
        try:
            import onnxruntime
        except ImportError as exc:
            raise ModelError("ONNX detectors need onnxruntime: pip install onnxruntime") from exc
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"ONNX detector {path}: file not found")
        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=list(providers))
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"ONNX detector {path}: cannot load ({exc})") from exc
        self.path = path
        self.input_name = self.session.get_inputs()[0].name
        self.input_size = tuple(int(v) for v in input_size)  # (w, h)
        self.layout, self.bgr = layout, bool(bgr)
        self.mean = None if mean is None else np.asarray(mean, np.float32)
        self.std = None if std is None else np.asarray(std, np.float32)

    def __call__(self, image) -> np.ndarray:
        image = check_image(image)
        canvas, scale = letterbox(image[..., ::-1] if self.bgr else image, self.input_size)
        if self.mean is not None:
            canvas = canvas - self.mean
        if self.std is not None:
            canvas = canvas / self.std
        outputs = self.session.run(None, {self.input_name: canvas.transpose(2, 0, 1)[None]})
        if self.layout == "end2end":
            if len(outputs) < 2:
                raise ModelError(f"ONNX detector {self.path}: expected outputs dets and labels")
            dets = np.asarray(outputs[0], np.float32).reshape(-1, 5)
            labels = np.asarray(outputs[1]).reshape(-1)
            return self._select(dets[:, :4] / scale, dets[:, 4], labels)
        raw = np.asarray(outputs[0], np.float32)
        boxes, scores, labels = _decode_yolox(raw.reshape(-1, raw.shape[-1]), self.input_size)
        return self._select(boxes / scale, scores, labels)


def _decode_yolox(raw: np.ndarray, input_size: tuple[int, int], strides=(8, 16, 32)):
    """Rows of a raw YOLOX head -> (xyxy boxes in input pixels, scores, labels)."""
    width, height = input_size
    grids, steps = [], []
    for stride in strides:
        ys, xs = np.meshgrid(np.arange(height // stride), np.arange(width // stride), indexing="ij")
        grids.append(np.stack([xs, ys], -1).reshape(-1, 2))
        steps.append(np.full((grids[-1].shape[0], 1), stride))
    grid, step = np.concatenate(grids).astype(np.float32), np.concatenate(steps).astype(np.float32)
    if len(raw) != len(grid):
        raise ModelError(
            f"ONNX YOLOX detector: {len(raw)} output rows, but an input of {input_size} has "
            f"{len(grid)} grid cells at strides {strides}"
        )
    centre = (raw[:, :2] + grid) * step
    size = np.exp(raw[:, 2:4]) * step
    class_scores = raw[:, 5:] * raw[:, 4:5]
    labels = np.argmax(class_scores, axis=1)
    scores = class_scores[np.arange(len(raw)), labels]
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1), scores, labels


def is_keras_hub_detector(obj) -> bool:
    return any(
        cls.__name__ == "ObjectDetector" and cls.__module__.startswith("keras_hub")
        for cls in type(obj).__mro__
    )


def as_detector(detector, **options):
    """A kpose detector from what a user passes as ``detector=``: a detector preset name
    (``kpose.detection.presets``), a ``.onnx`` file, a keras-hub ``ObjectDetector``, a kpose
    detector (returned as is) or any callable (``CallableDetector``). ``options`` go to the
    adapter (``classes``, ``score_thr``, ``nms_thr``, ...)."""
    from kpose.detection import presets

    if isinstance(detector, (str, os.PathLike)):
        text = os.fspath(detector)
        if text in presets.DETECTORS:
            return presets.load_detector(text, **options)
        if text.endswith(".onnx"):
            return OnnxDetector(text, **options)
        raise ModelError(
            f"detector {text!r}: not a detector preset ({sorted(presets.DETECTORS)}) nor an "
            ".onnx file"
        )
    if is_keras_hub_detector(detector):
        return KerasHubDetector(detector, **options)
    if hasattr(detector, "detect_graph") or isinstance(detector, _Selecting):
        return detector
    if callable(detector):
        return CallableDetector(detector, **options)
    raise ModelError(f"detector: expected a name, an .onnx file or a callable, got {detector!r}")
