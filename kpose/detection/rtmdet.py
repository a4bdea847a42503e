"""RTMDet, mmdet's real-time detector, as the person detector of MMPoseInferencer.

``build_rtmdet`` is mmdet's ``RTMDet`` model as its
``configs/rtmdet/rtmdet_{arch}_8xb32-300e_coco.py`` build it: the CSPNeXt backbone's P3..P5
(``kpose.models.backbones.cspnext``), the ``CSPNeXtPAFPN`` neck
(``kpose.models.necks.cspnext_pafpn``) and the ``RTMDetSepBNHead`` (``kpose.models.heads.rtmdet``),
with layers named after mmdet's state-dict keys so that an mmdet ``.pth`` loads through
``kpose.weights.load.load_weights``. ``RTMDetDetector`` wraps it in the detector protocol of
``base.py`` and redoes mmdet's test pipeline and post-processing in TF ops:

1. ``Resize(scale=(640, 640), keep_ratio=True)``: ``cv2.resize`` bilinear to
   ``int(side * 640 / max(h, w) + 0.5)`` (``cv2_resize_linear``, OpenCV's fixed-point
   arithmetic redone: equal to OpenCV 4.x's ``uint8`` result bit for bit on the sizes tested,
   including its switch to 2x2 averaging for exact halving); the scale factor is the ratio of
   the sizes, per axis.
2. ``Pad(size=(640, 640), pad_val=114)`` at the bottom and right; the channels reversed to BGR
   (mmdet reads images with OpenCV); the model normalises inside.
3. ``predict_by_feat``: per level the sigmoid scores above ``score_thr``, the best ``nms_pre``
   (``filter_scores_and_topk``), boxes from the prior points (stride-spaced, offset 0) and the
   distances (``distance2bbox``, clipped to the padded input), divided by the scale factor,
   boxes without positive width and height dropped, class-wise NMS at ``iou_threshold`` (no +1
   in the areas), at most ``max_per_img``.
4. MMPoseInferencer's own selection, ``base.select_boxes`` (``bbox_thr``, ``nms_thr``).

The boxes are mmdet's: clipped to the padded 640x640 input, not to the image, so a box may
reach into the padding (below or right of the image) as mmdet's do.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from kpose.detection.base import select_boxes
from kpose.errors import DataError, ModelError
from kpose.models.backbones.cspnext import cspnext
from kpose.models.heads.rtmdet import rtmdet_sep_bn_head
from kpose.models.layers import Normalize
from kpose.models.necks.cspnext_pafpn import cspnext_pafpn
from kpose.weights.load import load_weights

# arch -> (deepen_factor, widen_factor, neck / head width, num_csp_blocks, exp_on_reg) of mmdet's
# rtmdet_{arch}_8xb32-300e_coco.py configs.
RTMDET_ARCHS = {
    "tiny": (0.167, 0.375, 96, 1, False),
    "s": (0.33, 0.5, 128, 1, False),
    "m": (0.67, 0.75, 192, 2, True),
    "l": (1.0, 1.0, 256, 3, True),
    "x": (1.33, 1.25, 320, 4, True),
}
STRIDES = (8, 16, 32)
# mmdet's DetDataPreprocessor statistics, in BGR order (bgr_to_rgb=False: the image stays BGR).
BGR_MEAN = (103.53, 116.28, 123.675)
BGR_STD = (57.375, 57.12, 58.395)
PAD_VALUE = 114
# OpenCV's resize: INTER_RESIZE_COEF_BITS, bilinear weights sum to 2**11.
_COEF_SCALE = 2048
# Model part of ``RTMDetDetector`` compiled with XLA or not. Measured on the shared 2-core CPU
# (RTMDet-m, one 640x640 image, tf.function, batch of one; other agents' jobs were running, so
# approximate): graph mode 1.3-1.6 images/s (the whole detector, preprocessing and NMS
# included, 1.4-1.5), XLA 0.6-0.7 images/s (0.6-0.8), and XLA's first call takes 6-8 s
# against 5 s. Graph mode is the default.
JIT_COMPILE = False


def build_rtmdet(
    arch: str = "m", num_classes: int = 1, input_size: int = 640, name: str | None = None
) -> keras.Model:
    """mmdet's RTMDet-``arch`` (``tiny``, ``s``, ``m``, ``l``, ``x``) with ``num_classes``
    classes, for ``input_size`` x ``input_size`` inputs (a multiple of 32).

    Input: float32 ``(B, input_size, input_size, 3)`` **BGR pixels in 0..255**, i.e. mmdet's
    padded input before its ``DetDataPreprocessor`` (the mean / std normalisation is the model's
    first layer, ``data_preprocessor``). Outputs ``(cls_scores, bbox_preds)``, mmdet's
    ``bbox_head.forward`` in NHWC, one entry per stride 8, 16, 32: class logits
    ``(B, S / s, S / s, num_classes)`` and box distances (left, top, right, bottom) from the
    level's prior points in input pixels ``(B, S / s, S / s, 4)``, float32.

    Layer names are mmdet's state-dict paths (``backbone.stem.0.conv``,
    ``neck.reduce_layers.0.conv``, ``bbox_head.rtm_cls.0``; the shared towers
    ``bbox_head.cls_convs`` / ``bbox_head.reg_convs`` hold ``<level>.<i>.conv`` / ``.bn``).
    BN is SyncBN's (eps 1e-5, momentum 0.1) everywhere, as RTMDet's configs set.

    Example:
        >>> model = build_rtmdet("m")   # MMPoseInferencer's person detector
        >>> load_weights(model, "rtmdet_m_8xb32-100e_coco-obj365-person-235e8209.pth")
        >>> cls_scores, bbox_preds = model(np.zeros((1, 640, 640, 3), "float32"))
    """
    if arch not in RTMDET_ARCHS:
        raise ModelError(f"RTMDet arch must be one of {sorted(RTMDET_ARCHS)}, got {arch!r}")
    if input_size <= 0 or input_size % 32:
        raise ModelError(f"RTMDet input_size must be a positive multiple of 32, got {input_size}")
    if num_classes < 1:
        raise ModelError(f"RTMDet num_classes must be at least 1, got {num_classes}")
    deepen, widen, width, num_csp_blocks, exp_on_reg = RTMDET_ARCHS[arch]
    backbone = cspnext(deepen_factor=deepen, widen_factor=widen, out_indices=(2, 3, 4))
    neck = cspnext_pafpn(
        [int(t.shape[-1]) for t in backbone.outputs], width, num_csp_blocks=num_csp_blocks
    )
    head = rtmdet_sep_bn_head(
        width, num_classes, feat_channels=width, strides=STRIDES, exp_on_reg=exp_on_reg
    )
    images = keras.Input((input_size, input_size, 3), name="images")  # BGR, 0..255
    x = Normalize(BGR_MEAN, BGR_STD, dtype="float32", name="data_preprocessor")(images)
    cls_scores, bbox_preds = head(neck(backbone(x)))
    cls_scores = [
        keras.layers.Activation("linear", dtype="float32", name=f"cls_score_{n}")(y)
        for n, y in enumerate(cls_scores)
    ]
    bbox_preds = [
        keras.layers.Activation("linear", dtype="float32", name=f"bbox_pred_{n}")(y)
        for n, y in enumerate(bbox_preds)
    ]
    return keras.Model(images, (cls_scores, bbox_preds), name=name or f"rtmdet_{arch}")


# mmdet's test pipeline in TF ops


def _resize_taps(src_size, dst_size, clamp_weights: bool):
    """OpenCV's bilinear taps of one axis: source indices ``(i0, i1)`` and 11-bit weights
    ``(w0, w1)``, each ``(dst_size,)`` int32.

    OpenCV samples at ``(d + 0.5) * scale - 0.5`` (in double, then float), ``scale = 1 /
    (dst / src)``, and rounds each weight to the nearest 1/2048 on its own. Along x a position
    left of the first or right of the last pixel takes that pixel with weight 1
    (``clamp_weights``); along y only the row indices are clamped and the weights stay, so the
    two taps of a border row read the same row.
    """
    src = tf.cast(src_size, tf.float64)
    scale = 1.0 / (tf.cast(dst_size, tf.float64) / src)
    position = tf.cast((tf.cast(tf.range(dst_size), tf.float64) + 0.5) * scale - 0.5, tf.float32)
    start = tf.floor(position)
    frac = position - start
    start = tf.cast(start, tf.int32)
    last = src_size - 1
    if clamp_weights:
        outside = (start < 0) | (start >= last)
        frac = tf.where(outside, tf.zeros_like(frac), frac)
        start = tf.clip_by_value(start, 0, last)
    w0 = tf.cast(tf.round((1.0 - frac) * _COEF_SCALE), tf.int32)  # round half to even, as cvRound
    w1 = tf.cast(tf.round(frac * _COEF_SCALE), tf.int32)
    return tf.clip_by_value(start, 0, last), tf.clip_by_value(start + 1, 0, last), w0, w1


def _resize_linear_taps(image, height, width):
    """OpenCV's ``INTER_LINEAR`` on uint8: a horizontal pass in integers (weights x 2048), then
    the vertical pass of its SIMD kernel, ``((r0 >> 4) * b0 >> 16) + ((r1 >> 4) * b1 >> 16)``
    rounded by ``(s + 2) >> 2``, which OpenCV 4.x runs on every column."""
    pixels = tf.cast(image, tf.int32)
    x0, x1, a0, a1 = _resize_taps(tf.shape(image)[1], width, clamp_weights=True)
    y0, y1, b0, b1 = _resize_taps(tf.shape(image)[0], height, clamp_weights=False)
    a0, a1 = a0[None, :, None], a1[None, :, None]

    def horizontal(rows):  # (h, W, C) -> (h, width, C), weights x 2048
        return tf.gather(rows, x0, axis=1) * a0 + tf.gather(rows, x1, axis=1) * a1

    top = tf.bitwise.right_shift(horizontal(tf.gather(pixels, y0)), 4)
    bottom = tf.bitwise.right_shift(horizontal(tf.gather(pixels, y1)), 4)
    total = tf.bitwise.right_shift(top * b0[:, None, None], 16) + tf.bitwise.right_shift(
        bottom * b1[:, None, None], 16
    )
    return tf.cast(tf.clip_by_value(tf.bitwise.right_shift(total + 2, 2), 0, 255), tf.uint8)


def _halve_area(image):
    """OpenCV's ``INTER_AREA`` for an exact 2x reduction: each 2x2 block's rounded mean."""
    pixels = tf.cast(image, tf.int32)
    total = pixels[0::2, 0::2] + pixels[0::2, 1::2] + pixels[1::2, 0::2] + pixels[1::2, 1::2] + 2
    return tf.cast(tf.bitwise.right_shift(total, 2), tf.uint8)


def cv2_resize_linear(image, height, width) -> tf.Tensor:
    """``cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)`` of a uint8
    ``(H, W, C)`` tensor, as mmcv's ``imresize`` calls it: OpenCV's fixed-point arithmetic, and
    its 2x2 averaging when both sides halve exactly (OpenCV switches to ``INTER_AREA`` then).
    """
    image = tf.convert_to_tensor(image, tf.uint8)
    halves = (tf.shape(image)[0] == 2 * height) & (tf.shape(image)[1] == 2 * width)
    return tf.cond(
        halves, lambda: _halve_area(image), lambda: _resize_linear_taps(image, height, width)
    )


def resize_keep_ratio(image, size: int) -> tuple[tf.Tensor, tf.Tensor]:
    """mmdet's ``Resize(scale=(size, size), keep_ratio=True)`` of a uint8 ``(H, W, C)`` tensor:
    the image resized by ``size / max(H, W)``, each side ``int(side * scale + 0.5)``, and the
    scale factor ``(new_w / W, new_h / H)`` float64 that mmdet rescales the boxes with."""
    shape = tf.cast(tf.shape(image)[:2], tf.float64)
    scale = size / tf.reduce_max(shape)
    new_hw = tf.cast(tf.floor(shape * scale + 0.5), tf.int32)  # (new_h, new_w)
    resized = cv2_resize_linear(image, new_hw[0], new_hw[1])
    factor = tf.cast(new_hw, tf.float64) / shape
    return resized, tf.stack([factor[1], factor[0]])


def grid_priors(featmap_sizes: Sequence[tuple[int, int]], strides: Sequence[int]) -> np.ndarray:
    """mmdet's ``MlvlPointGenerator(offset=0).grid_priors``: the ``(x, y)`` input-pixel points
    of every level's cells, row-major within a level, levels in order; ``(sum h * w, 2)``."""
    points = []
    for (h, w), stride in zip(featmap_sizes, strides, strict=True):
        ys, xs = np.meshgrid(np.arange(h) * stride, np.arange(w) * stride, indexing="ij")
        points.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
    return np.concatenate(points).astype(np.float32)


def distance2bbox(points, distance, max_shape: tuple[int, int]) -> tf.Tensor:
    """mmdet's ``distance2bbox``: points ``(N, 2)`` and distances (left, top, right, bottom)
    ``(N, 4)`` -> xyxy boxes clipped to ``max_shape = (h, w)``."""
    x1 = tf.clip_by_value(points[:, 0] - distance[:, 0], 0.0, float(max_shape[1]))
    y1 = tf.clip_by_value(points[:, 1] - distance[:, 1], 0.0, float(max_shape[0]))
    x2 = tf.clip_by_value(points[:, 0] + distance[:, 2], 0.0, float(max_shape[1]))
    y2 = tf.clip_by_value(points[:, 1] + distance[:, 3], 0.0, float(max_shape[0]))
    return tf.stack([x1, y1, x2, y2], axis=1)


def batched_nms(boxes, scores, labels, iou_threshold: float, max_num: int) -> tf.Tensor:
    """mmcv's ``batched_nms`` with its ``nms`` op: the indices of the boxes kept by a greedy
    class-wise NMS (a box is dropped when its IoU with a better one of its class exceeds
    ``iou_threshold``; areas without +1), best first, at most ``max_num``. Classes are kept apart
    as mmcv does, by shifting each class's boxes by ``label * (max coordinate + 1)``."""
    # boxes are clipped to >= 0, so the 0 appended only guards the empty case
    max_coordinate = tf.reduce_max(tf.concat([tf.reshape(boxes, [-1]), [0.0]], axis=0))
    offsets = tf.cast(labels, boxes.dtype) * (max_coordinate + 1.0)
    # tf.image's NMS takes (y1, x1, y2, x2); IoU is symmetric in the axes, so xyxy works as is
    return tf.image.non_max_suppression(
        boxes + offsets[:, None], scores, max_num, iou_threshold=iou_threshold
    )


@dataclass(frozen=True)
class RTMDetTestConfig:
    """mmdet's ``test_cfg`` of RTMDet; the defaults are MMPose's person detector's
    (``demo/mmdetection_cfg/rtmdet_m_640-8xb32_coco-person.py``)."""

    nms_pre: int = 1000
    score_thr: float = 0.05
    iou_threshold: float = 0.6
    max_per_img: int = 100
    min_bbox_size: float = 0.0


class RTMDetDetector:
    """A ``GraphDetector`` (``base.py``) running a ``build_rtmdet`` model as MMPoseInferencer
    runs its RTMDet: mmdet's test pipeline and post-processing (``test_cfg``), then the boxes of
    ``classes`` scoring above ``score_thr`` after NMS at ``nms_thr`` (MMPoseInferencer's
    ``bbox_thr`` / ``nms_thr``), at most ``max_boxes``.

    ``detector(image)``: ``(H, W, 3)`` uint8 RGB numpy -> ``(N, 5)`` float32 ``x1, y1, x2, y2,
    score`` in image pixels, best first. ``detect_graph`` is the same in TF ops, for use inside
    a ``tf.function`` or SavedModel. ``jit_compile`` compiles the model part with XLA
    (``JIT_COMPILE``: graph mode was faster on CPU).

    Example:
        >>> detector = RTMDetDetector.from_checkpoint("rtmdet_m_person.pth")
        >>> boxes = detector(image_rgb)   # (N, 5)
    """

    def __init__(
        self,
        model: keras.Model,
        *,
        score_thr: float = 0.3,
        nms_thr: float = 0.3,
        classes: Sequence[int] = (0,),
        max_boxes: int = 100,
        test_cfg: RTMDetTestConfig = RTMDetTestConfig(),
        jit_compile: bool = JIT_COMPILE,
    ):
        input_shape = tuple(model.input_shape)
        if len(input_shape) != 4 or input_shape[1] != input_shape[2] or input_shape[1] is None:
            raise ModelError(
                f"RTMDetDetector: model {model.name!r} must take square fixed-size images "
                f"(B, S, S, 3), it takes {input_shape}"
            )
        self.model = model
        self.input_size = int(input_shape[1])
        size = self.input_size
        cls_specs, _ = model.compute_output_spec(keras.KerasTensor((1, size, size, 3)))
        self.featmap_sizes = [(int(s.shape[1]), int(s.shape[2])) for s in cls_specs]
        self.strides = [size // h for h, _ in self.featmap_sizes]
        self.num_classes = int(cls_specs[0].shape[-1])
        self.priors = [  # per level (h * w, 2)
            grid_priors([size], [stride])
            for size, stride in zip(self.featmap_sizes, self.strides, strict=True)
        ]
        self.score_thr = float(score_thr)
        self.nms_thr = float(nms_thr)
        self.classes = tuple(int(c) for c in classes)
        self.max_boxes = int(max_boxes)
        self.test_cfg = test_cfg
        self._forward = tf.function(self._model_outputs, jit_compile=jit_compile)
        self._detect = tf.function(
            self.detect_graph, input_signature=[tf.TensorSpec((None, None, 3), tf.uint8)]
        )

    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike,
        arch: str = "m",
        num_classes: int = 1,
        input_size: int = 640,
        **kwargs,
    ) -> RTMDetDetector:
        """An RTMDet-``arch`` filled from an mmdet ``.pth`` (or a kpose ``.weights.h5``) by
        ``kpose.weights.load.load_weights``; ``kwargs`` go to the constructor."""
        model = build_rtmdet(arch, num_classes, input_size)
        load_weights(model, path)
        return cls(model, **kwargs)

    def _model_outputs(self, inputs):
        cls_scores, bbox_preds = self.model(inputs, training=False)
        return list(cls_scores), list(bbox_preds)

    def preprocess_graph(self, image) -> tuple[tf.Tensor, tf.Tensor]:
        """mmdet's ``Resize`` + ``Pad`` of a uint8 ``(H, W, 3)`` RGB tensor: the model input
        ``(1, S, S, 3)`` float32 BGR 0..255 and the scale factor ``(w, h)`` float64."""
        image = self._check_tensor(image)
        size = self.input_size
        resized, scale_factor = resize_keep_ratio(image, size)
        pad = [[0, size - tf.shape(resized)[0]], [0, size - tf.shape(resized)[1]], [0, 0]]
        canvas = tf.ensure_shape(tf.pad(resized, pad, constant_values=PAD_VALUE), (size, size, 3))
        return tf.cast(canvas[None, :, :, ::-1], tf.float32), scale_factor

    def decode_graph(
        self, cls_scores, bbox_preds, scale_factor
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """mmdet's ``predict_by_feat(rescale=True, with_nms=False)`` of one image: the model's
        per-level outputs (batch of one) and the scale factor -> boxes ``(N, 4)`` xyxy in image
        pixels, scores ``(N,)`` and labels ``(N,)`` int32, level by level, best first within a
        level, before NMS."""
        cfg = self.test_cfg
        boxes, scores, labels = [], [], []
        for cls, reg, priors in zip(cls_scores, bbox_preds, self.priors, strict=True):
            probabilities = tf.sigmoid(tf.reshape(cls, [-1]))  # (h * w * C,), cell-major
            count = int(probabilities.shape[0])
            k = count if cfg.nms_pre < 0 else min(cfg.nms_pre, count)
            # filter_scores_and_topk: the scores above score_thr, the best k of them
            masked = tf.where(probabilities > cfg.score_thr, probabilities, -1.0)
            top, index = tf.math.top_k(masked, k)
            keep = top > cfg.score_thr
            top, index = tf.boolean_mask(top, keep), tf.boolean_mask(index, keep)
            cell = index // self.num_classes
            distances = tf.gather(tf.reshape(reg, [-1, 4]), cell)
            boxes.append(distance2bbox(tf.gather(priors, cell), distances, (self.input_size,) * 2))
            scores.append(top)
            labels.append(index % self.num_classes)
        boxes, scores, labels = (tf.concat(t, axis=0) for t in (boxes, scores, labels))
        # scale_boxes by 1 / scale_factor, the inverse taken in double as mmdet's Python does
        inverse = tf.cast(1.0 / tf.cast(scale_factor, tf.float64), tf.float32)
        boxes = boxes * tf.tile(inverse, [2])[None, :]
        size_ok = (boxes[:, 2] - boxes[:, 0] > cfg.min_bbox_size) & (
            boxes[:, 3] - boxes[:, 1] > cfg.min_bbox_size
        )
        return (
            tf.boolean_mask(boxes, size_ok),
            tf.boolean_mask(scores, size_ok),
            tf.boolean_mask(labels, size_ok),
        )

    def postprocess_graph(self, cls_scores, bbox_preds, scale_factor) -> tf.Tensor:
        """The model's per-level outputs of one image (batch of one) and its scale factor ->
        ``(N, 5)`` float32 xyxy + score in image pixels, best first: ``decode_graph``, mmdet's
        class-wise NMS (``test_cfg``), then MMPoseInferencer's ``select_boxes``."""
        boxes, scores, labels = self.decode_graph(cls_scores, bbox_preds, scale_factor)
        cfg = self.test_cfg
        keep = batched_nms(boxes, scores, labels, cfg.iou_threshold, cfg.max_per_img)
        return select_boxes(
            tf.gather(boxes, keep),
            tf.gather(scores, keep),
            tf.gather(labels, keep),
            classes=self.classes,
            score_thr=self.score_thr,
            nms_thr=self.nms_thr,
            max_boxes=self.max_boxes,
        )

    def detect_graph(self, image) -> tf.Tensor:
        """``(H, W, 3)`` uint8 RGB tensor -> ``(N, 5)`` float32 xyxy + score in image pixels,
        best first: ``preprocess_graph``, the model, ``postprocess_graph``."""
        inputs, scale_factor = self.preprocess_graph(image)
        cls_scores, bbox_preds = self._forward(inputs)
        return self.postprocess_graph(
            [c[0] for c in cls_scores], [b[0] for b in bbox_preds], scale_factor
        )

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB -> ``(N, 5)`` float32 ``x1, y1, x2, y2, score``."""
        if not isinstance(image, np.ndarray):
            raise DataError(
                f"RTMDetDetector: the image must be a numpy array, got {type(image).__name__}"
            )
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
            raise DataError(
                f"RTMDetDetector: the image must be uint8 RGB (H, W, 3), got {image.dtype} "
                f"{image.shape}"
            )
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise DataError(f"RTMDetDetector: the image is empty, shape {image.shape}")
        return self._detect(tf.constant(image)).numpy()

    @staticmethod
    def _check_tensor(image) -> tf.Tensor:
        image = tf.convert_to_tensor(image)
        shape = image.shape
        if image.dtype != tf.uint8 or shape.rank != 3 or shape[-1] not in (None, 3):
            raise DataError(
                f"RTMDetDetector: the image must be a uint8 RGB (H, W, 3) tensor, got "
                f"{image.dtype.name} {image.shape}"
            )
        return image
