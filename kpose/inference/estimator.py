"""``PoseEstimator``: images -> every person's box and keypoints in image pixels, MMPose's
top-down inference (``MMPoseInferencer``: a person detector, then ``inference_topdown``) as
batched TensorFlow.

People: boxes given by the caller, or found by the estimator's detector (``kpose.detection``;
by default MMPose's RTMDet-m person detector, loaded at the first image given without boxes),
or ``boxes="whole"``: the whole image is one person. Per box, the predict path of
``kpose.inference.predict``: MMPose's centre/scale (padding 1.25, aspect ratio of the input),
the crop exactly as MMPose's OpenCV crop (same matrix, same fixed-point bilinear; the UDP warp
for UDP codecs), the model on the RGB crop and, with flip test, on the mirrored crop (flipped
back with ``flip_indices`` and ``shift_heatmap`` as the recipe says), the codec's decode, and
MMPose's back-projection to image pixels. Crops of all images and boxes are batched; the model
runs where it is fastest on the device (``kpose.devices``: a TF graph on a CPU, XLA on a GPU;
the recipe's ``eval.jit_compile`` overrides) and decoding under XLA,
at a few batch shapes (powers of two) so a one-person image costs one crop, not a full batch.

``kpose.load(preset)`` returns one: its weights come from ``weights=`` (an MMPose ``.pth``
checkpoint, read without PyTorch, a Keras ``.weights.h5`` or ``.keras``, or an ``http(s)://`` /
``file://`` URL), else ``$KPOSE_HOME/<preset>.{weights.h5,keras,pth}``, else the preset's
MMPose checkpoint, downloaded once, verified and cached (``kpose.weights.download``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import keras
import numpy as np
import tensorflow as tf

from kpose.codecs import make_codec
from kpose.data.metainfo import DatasetInfo
from kpose.detection.adapters import as_detector
from kpose.detection.presets import DEFAULT_DETECTOR
from kpose.devices import use_xla
from kpose.errors import DataError, ModelError
from kpose.inference.predict import (
    crop_boxes,
    make_heatmap_fn,
    to_image_coords,
)
from kpose.models.build import build_heatmap_model, predicts_visibility
from kpose.presets import NO_CHECKPOINT, PRESETS, load_recipe_for
from kpose.recipe import Recipe
from kpose.visualize import draw_pose
from kpose.weights.download import fetch, is_url
from kpose.weights.load import find_weights, kpose_home, load_keras_model, load_weights

log = logging.getLogger(__name__)


class PoseEstimator:
    """A preset's recipe, dataset metadata, heatmap model (``heatmap_model``: RGB 0..255 NHWC
    crops ``(B, H, W, 3)`` -> heatmaps ``(B, h, w, K)``) and person detector.

    ``detector``: a kpose detector or anything ``kpose.detection.adapters.as_detector`` takes
    (a detector preset name, a ``.onnx`` file, a keras-hub ``ObjectDetector``, a callable), or
    ``None`` (images without boxes are then an error). A name is loaded when first needed.
    """

    def __init__(self, recipe: Recipe, heatmap_model: keras.Model, detector=DEFAULT_DETECTOR):
        self.recipe = recipe
        self.heatmap_model = heatmap_model
        self.dataset_info: DatasetInfo = recipe.dataset_info
        self.codec = make_codec(recipe)
        self.input_size = tuple(int(v) for v in recipe.codec.input_size)  # (w, h)
        self.detector = detector
        self._heatmaps = {}  # flip_test -> compiled crops -> heatmaps
        self._model_xla = use_xla("model", recipe.eval.jit_compile)
        self._decode = tf.function(
            self.codec.decode, jit_compile=use_xla("decode"), reduce_retracing=True
        )

    @property
    def detector(self):
        """The person detector (loaded on first use when given by name), or ``None``."""
        if self._detector is not None and not self._detector_ready:
            self._detector, self._detector_ready = as_detector(self._detector), True
        return self._detector

    @detector.setter
    def detector(self, detector) -> None:
        self._detector, self._detector_ready = detector, False

    def crop(self, images, image_index, boxes_xyxy):
        """MMPose's crops of ``boxes_xyxy`` (N, 4) in ``images`` (B, H, W, 3) uint8 (zero-padded
        to one size): ``(crops (N, h, w, 3) uint8, centers (N, 2), scales (N, 2))``."""
        return crop_boxes(
            tf.convert_to_tensor(images, tf.uint8),
            tf.convert_to_tensor(image_index, tf.int32),
            tf.convert_to_tensor(boxes_xyxy, tf.float32),
            self.input_size,
            self.recipe.data.bbox_padding,
            self.recipe.use_udp_warp,
        )

    def __call__(self, images, boxes=None, **options):
        """``predict``: ``estimator(image)`` -> every person in it."""
        return self.predict(images, boxes, **options)

    def predict(self, images, boxes=None, *, flip_test: bool | None = None, batch_size: int = 16):
        """Every person's box and keypoints in ``images``, in image pixels.

        Args:
            images: one image or a list: ``(H, W, 3)`` uint8 RGB arrays or image file paths.
            boxes: per image ``(N, 4)`` xyxy boxes, or ``(N, 5)`` with a detector score last;
                ``None`` (for all or for one image): the people the detector finds;
                ``"whole"``: the whole image is one person (MMPose's ``inference_topdown``
                without boxes).
            flip_test: default the recipe's ``eval.flip_test``.
            batch_size: at most this many crops per model call (fewer people: fewer crops).

        Returns:
            Per image (a list for a list of images) ``{"boxes": (N, 4) float32 xyxy,
            "box_scores": (N,), "keypoints": (N, K, 2), "scores": (N, K)}``; a model that
            predicts keypoint visibility (a ``vis`` head, MMPose's ``VisPredictHead``) adds
            ``"keypoints_visible": (N, K)``, the probability that each keypoint is visible.

        Example:
            >>> estimator = kpose.load("vitpose-s")
            >>> people = estimator("photo.jpg")  # RTMDet-m finds the people
            >>> people["keypoints"].shape
            (3, 17, 2)
        """
        single = _is_single_image(images)
        images = [images] if single else list(images)
        if single or boxes is None or isinstance(boxes, str):
            boxes = [boxes] * len(images)
        if len(boxes) != len(images):
            raise DataError(f"predict: {len(images)} images but boxes for {len(boxes)}")
        arrays = [_read_image(image) for image in images]
        per_image = [
            self._boxes_of(b, a, i) for i, (b, a) in enumerate(zip(boxes, arrays, strict=True))
        ]
        counts = [len(b) for b, _ in per_image]
        with_visibility = predicts_visibility(self.heatmap_model)
        results = [_empty(self.dataset_info.num_keypoints, with_visibility) for _ in arrays]
        if sum(counts):
            keypoints, scores, visible = self._predict_boxes(
                arrays, [b for b, _ in per_image], counts, flip_test, batch_size
            )
            start = 0
            for i, (b, box_scores) in enumerate(per_image):
                end = start + counts[i]
                results[i] = {
                    "boxes": b,
                    "box_scores": box_scores,
                    "keypoints": keypoints[start:end],
                    "scores": scores[start:end],
                }
                if visible is not None:
                    results[i]["keypoints_visible"] = visible[start:end]
                start = end
        return results[0] if single else results

    def _boxes_of(self, boxes, image: np.ndarray, i: int):
        if boxes is None:
            if self.detector is None:
                raise ModelError(
                    "predict: no boxes and no detector; pass boxes, boxes='whole' or a "
                    "detector (PoseEstimator.detector = 'rtmdet-m-person')"
                )
            boxes = self.detector(image)
        elif isinstance(boxes, str):
            if boxes != "whole":
                raise DataError(
                    f"boxes of image {i}: expected boxes, None or 'whole', got {boxes!r}"
                )
            boxes = [[0, 0, image.shape[1], image.shape[0]]]
        return _boxes_of(boxes, i)

    def _predict_boxes(self, arrays, boxes, counts, flip_test, batch_size):
        height = max(a.shape[0] for a in arrays)
        width = max(a.shape[1] for a in arrays)
        batch = np.zeros((len(arrays), height, width, 3), np.uint8)
        for i, a in enumerate(arrays):
            batch[i, : a.shape[0], : a.shape[1]] = a
        index = np.repeat(np.arange(len(arrays)), counts)
        crops, centers, scales = self.crop(batch, index, np.concatenate(boxes))
        heatmaps_of = self._heatmap_fn(
            self.recipe.eval.flip_test if flip_test is None else bool(flip_test)
        )
        with_visibility = predicts_visibility(self.heatmap_model)
        keypoints, scores, visible = [], [], []
        for start in range(0, int(crops.shape[0]), batch_size):
            chunk = crops[start : start + batch_size]
            real = int(chunk.shape[0])
            bucket = _bucket(real, batch_size)
            if self._model_xla:  # XLA compiles per shape: pad to the bucket first
                outputs = heatmaps_of(_pad_rows(chunk, bucket))
            else:  # a TF graph takes any batch: run the real crops only
                outputs = heatmaps_of(chunk)
            heatmaps, vis = outputs if with_visibility else (outputs, None)
            kp, sc = self._decode(_pad_rows(heatmaps, bucket))
            keypoints.append(np.asarray(kp)[:real])
            scores.append(np.asarray(sc)[:real])
            if vis is not None:
                visible.append(np.asarray(vis, np.float32)[:real])
        kp_img = to_image_coords(
            np.concatenate(keypoints).astype(np.float64),
            np.asarray(centers, np.float64),
            np.asarray(scales, np.float64),
            self.input_size,
        )
        visible = np.concatenate(visible) if with_visibility else None
        return kp_img.astype(np.float32), np.concatenate(scores).astype(np.float32), visible

    def _heatmap_fn(self, flip: bool):
        if flip not in self._heatmaps:
            self._heatmaps[flip] = make_heatmap_fn(
                self.heatmap_model,
                self.recipe.model_info.flip_indices,
                flip_test=flip,
                shift_heatmap=self.recipe.eval.shift_heatmap,
                jit_compile=self._model_xla,
                output_keypoint_indices=self.recipe.eval.output_keypoint_indices,
                flip_mode=self.recipe.flip_mode,
            )
        return self._heatmaps[flip]

    @classmethod
    def from_preset(
        cls,
        preset_or_recipe,
        weights: str | os.PathLike | None = None,
        detector=DEFAULT_DETECTOR,
    ):
        """``kpose.load``: the estimator of a preset name, recipe file or ``Recipe`` with
        trained weights: ``weights`` (a file or URL), else ``$KPOSE_HOME/<preset>.*``, else the
        preset's MMPose checkpoint (downloaded once, verified, cached)."""
        recipe = load_recipe_for(preset_or_recipe)
        name = preset_or_recipe if isinstance(preset_or_recipe, str) else recipe.name
        cache_key = None
        if weights is None:
            weights = find_weights(name)
        if weights is None and name in PRESETS and PRESETS[name].weights:
            weights, cache_key = PRESETS[name].weights, name
        if weights is None:
            unpublished = name in PRESETS and PRESETS[name].published == NO_CHECKPOINT
            raise ModelError(
                f"no weights for {name!r}"
                + (" (MMPose publishes no checkpoint of its config)" if unpublished else "")
                + ": pass weights=PATH or URL (MMPose .pth, .weights.h5 "
                f"or .keras) or place {name}.weights.h5 / .keras / .pth in {kpose_home()} "
                "($KPOSE_HOME); kpose.build_model gives an untrained model"
            )
        return cls.from_recipe(recipe, weights, detector=detector, cache_key=cache_key)

    @classmethod
    def from_recipe(
        cls,
        recipe: Recipe,
        weights: str | os.PathLike | None = None,
        detector=DEFAULT_DETECTOR,
        cache_key: str | None = None,
    ):
        """Build the recipe's model and fill it from ``weights`` (see the module docstring;
        ``cache_key`` names the folder of converted downloads, default the model's name)."""
        info = recipe.model_info  # the heatmaps' keypoints
        input_size = tuple(recipe.codec.input_size)
        if weights is not None and str(weights).endswith(".keras"):
            local = fetch(str(weights)) if is_url(weights) else weights
            channels = info.num_keypoints * recipe.model.head.channels_per_keypoint
            model = load_keras_model(local, input_size, channels)
            return cls(recipe, model, detector)
        model = build_heatmap_model(
            recipe.model, input_size, info.num_keypoints, name=recipe.name or None
        )
        if weights is not None:
            load_weights(model, weights, cache_key=cache_key)
        return cls(recipe, model, detector)

    def draw(self, image, people: dict, out: str | os.PathLike | None = None, **options):
        """``people`` (``predict``'s result for ``image``, a path or RGB array) drawn on the
        image in the dataset's skeleton and colours (``kpose.visualize.draw_pose``; ``options``
        such as ``score_thr``): the RGB drawing, also written to ``out`` when given."""
        drawn = draw_pose(_read_image(image), people, self.dataset_info, **options)
        if out is not None:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(os.fspath(out), cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)):
                raise DataError(f"{out}: cannot write this image (unknown extension?)")
        return drawn

    def save(self, path: str | os.PathLike) -> Path:
        """Save the heatmap model's weights (``.weights.h5``) or the whole model (``.keras``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.name.endswith(".weights.h5"):
            self.heatmap_model.save_weights(str(path))
        elif path.suffix == ".keras":
            self.heatmap_model.save(str(path))
        else:
            raise ModelError(f"{path}: save to a .weights.h5 or a .keras file")
        return path


def _is_single_image(images) -> bool:
    return isinstance(images, (str, os.PathLike)) or (
        isinstance(images, np.ndarray) and images.ndim == 3
    )


def _read_image(image) -> np.ndarray:
    if isinstance(image, (str, os.PathLike)):
        bgr = cv2.imread(os.fspath(image), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DataError(f"{image}: cannot read this image")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise DataError(
            f"images must be (H, W, 3) uint8 RGB arrays or paths, got {array.dtype} {array.shape}"
        )
    return array


def _bucket(n: int, limit: int) -> int:
    """The batch shape ``n`` crops run at: the next power of two, at most ``limit``."""
    return min(limit, 1 << max(n - 1, 0).bit_length())


def _pad_rows(tensor, rows: int):
    extra = rows - int(tensor.shape[0])
    if extra <= 0:
        return tensor
    return tf.concat([tensor, tf.zeros([extra, *tensor.shape[1:]], tensor.dtype)], axis=0)


def _boxes_of(boxes, i) -> tuple[np.ndarray, np.ndarray]:
    """(N, 4) float32 xyxy boxes and (N,) scores of image ``i``."""
    array = np.asarray(boxes, np.float32)
    if array.ndim == 1 and array.size in (4, 5):
        array = array[None]
    if array.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    if array.ndim != 2 or array.shape[1] not in (4, 5):
        raise DataError(
            f"boxes of image {i}: expected (N, 4) xyxy or (N, 5) with scores, got "
            f"shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise DataError(f"boxes of image {i}: NaN or infinite coordinates")
    scores = array[:, 4] if array.shape[1] == 5 else np.ones(len(array), np.float32)
    return array[:, :4].copy(), scores.copy()


def _empty(num_keypoints: int, with_visibility: bool = False) -> dict:
    empty = {
        "keypoints": np.zeros((0, num_keypoints, 2), np.float32),
        "scores": np.zeros((0, num_keypoints), np.float32),
        "boxes": np.zeros((0, 4), np.float32),
        "box_scores": np.zeros(0, np.float32),
    }
    if with_visibility:
        empty["keypoints_visible"] = np.zeros((0, num_keypoints), np.float32)
    return empty
