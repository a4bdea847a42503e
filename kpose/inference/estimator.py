"""``PoseEstimator``: images + person boxes -> keypoints in image pixels, MMPose's top-down
inference (``mmpose.apis.inference_topdown``) as batched TensorFlow.

Per box, the predict path of ``kpose.inference.predict``: MMPose's centre/scale (padding 1.25,
aspect ratio of the input), the crop exactly as MMPose's OpenCV crop (same matrix, same
fixed-point bilinear; the UDP warp for UDP codecs), the model on the RGB crop and, with flip
test, on the mirrored crop (flipped back with ``flip_indices`` and ``shift_heatmap`` as the
recipe says), the codec's decode, and MMPose's back-projection to image pixels. Crops of all
images and boxes are batched; the model and decode run XLA-compiled.

``kpose.load(preset, weights=...)`` returns one. Weights come from an MMPose ``.pth``
checkpoint (read without PyTorch, mapped by layer name), a Keras ``.weights.h5`` or a whole
``.keras`` model; with no ``weights`` the files ``<preset>.weights.h5``, ``<preset>.keras`` and
``<preset>.pth`` are looked up in ``$KPOSE_HOME`` (default ``~/.kpose``). Nothing is downloaded.
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
from kpose.data.metainfo import DatasetInfo, get_dataset_info
from kpose.errors import DataError, ModelError
from kpose.inference.predict import crop_boxes, make_predict_fn, to_image_coords
from kpose.models.build import build_heatmap_model
from kpose.presets import load_recipe_for
from kpose.recipe import Recipe
from kpose.weights.load import find_weights, kpose_home, load_keras_model, load_weights

log = logging.getLogger(__name__)


class PoseEstimator:
    """A preset's recipe, dataset metadata and heatmap model (``heatmap_model``: RGB 0..255
    NHWC crops ``(B, H, W, 3)`` -> heatmaps ``(B, h, w, K)``)."""

    def __init__(self, recipe: Recipe, heatmap_model: keras.Model):
        self.recipe = recipe
        self.heatmap_model = heatmap_model
        self.dataset_info: DatasetInfo = get_dataset_info(recipe.data.dataset)
        self.codec = make_codec(recipe)
        self.input_size = tuple(int(v) for v in recipe.codec.input_size)  # (w, h)
        self._infer = {}  # flip_test -> compiled crops -> (keypoints_in, scores)

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

    def predict(self, images, boxes=None, *, flip_test: bool | None = None, batch_size: int = 16):
        """Keypoints of the people in ``boxes`` of ``images``, in image pixels.

        Args:
            images: one image or a list: ``(H, W, 3)`` uint8 RGB arrays or image file paths.
            boxes: per image ``(N, 4)`` xyxy boxes, or ``(N, 5)`` with a detector score last;
                ``None`` (for all or for one image) means the whole image, as MMPose's
                ``inference_topdown``.
            flip_test: default the recipe's ``eval.flip_test``.
            batch_size: crops per model call (the last call is padded to it).

        Returns:
            Per image (a list for a list of images) ``{"keypoints": (N, K, 2) float32,
            "scores": (N, K), "boxes": (N, 4), "box_scores": (N,)}``.

        Example:
            >>> result = kpose.load("hrnet-w32", weights=ckpt).predict(image, [[50, 30, 210, 400]])
            >>> result["keypoints"].shape
            (1, 17, 2)
        """
        single = _is_single_image(images)
        images = [images] if single else list(images)
        if single:
            boxes = [boxes]
        elif boxes is None:
            boxes = [None] * len(images)
        if len(boxes) != len(images):
            raise DataError(f"predict: {len(images)} images but boxes for {len(boxes)}")
        arrays = [_read_image(image) for image in images]
        per_image = [
            _boxes_of(b, a.shape, i) for i, (b, a) in enumerate(zip(boxes, arrays, strict=True))
        ]
        counts = [len(b) for b, _ in per_image]
        results = [_empty(self.dataset_info.num_keypoints) for _ in arrays]
        if sum(counts):
            keypoints, scores = self._predict_boxes(
                arrays, [b for b, _ in per_image], counts, flip_test, batch_size
            )
            start = 0
            for i, (b, box_scores) in enumerate(per_image):
                end = start + counts[i]
                results[i] = {
                    "keypoints": keypoints[start:end],
                    "scores": scores[start:end],
                    "boxes": b,
                    "box_scores": box_scores,
                }
                start = end
        return results[0] if single else results

    def _predict_boxes(self, arrays, boxes, counts, flip_test, batch_size):
        height = max(a.shape[0] for a in arrays)
        width = max(a.shape[1] for a in arrays)
        batch = np.zeros((len(arrays), height, width, 3), np.uint8)
        for i, a in enumerate(arrays):
            batch[i, : a.shape[0], : a.shape[1]] = a
        index = np.repeat(np.arange(len(arrays)), counts)
        crops, centers, scales = self.crop(batch, index, np.concatenate(boxes))
        flip = self.recipe.eval.flip_test if flip_test is None else bool(flip_test)
        if flip not in self._infer:
            self._infer[flip] = make_predict_fn(
                self.heatmap_model,
                self.codec,
                self.dataset_info.flip_indices,
                flip_test=flip,
                shift_heatmap=self.recipe.eval.shift_heatmap,
                jit_compile=True,
            )
        infer = self._infer[flip]
        n = int(crops.shape[0])
        keypoints, scores = [], []
        for start in range(0, n, batch_size):
            chunk = crops[start : start + batch_size]
            real = int(chunk.shape[0])
            if real < batch_size:  # one shape for XLA
                chunk = tf.concat(
                    [chunk, tf.zeros([batch_size - real, *chunk.shape[1:]], chunk.dtype)], axis=0
                )
            kp, sc = infer(chunk)
            keypoints.append(np.asarray(kp)[:real])
            scores.append(np.asarray(sc)[:real])
        kp_img = to_image_coords(
            np.concatenate(keypoints).astype(np.float64),
            np.asarray(centers, np.float64),
            np.asarray(scales, np.float64),
            self.input_size,
        )
        return kp_img.astype(np.float32), np.concatenate(scores).astype(np.float32)

    @classmethod
    def from_preset(cls, preset_or_recipe, weights: str | os.PathLike | None = None):
        """``kpose.load``: the estimator of a preset name, recipe file or ``Recipe`` with trained
        weights; without ``weights``, ``$KPOSE_HOME/<preset>.{weights.h5,keras,pth}``."""
        recipe = load_recipe_for(preset_or_recipe)
        if weights is None:
            name = preset_or_recipe if isinstance(preset_or_recipe, str) else recipe.name
            weights = find_weights(name)
            if weights is None:
                raise ModelError(
                    f"no weights for {name!r}: pass weights=PATH (MMPose .pth, .weights.h5 or "
                    f".keras) or place {name}.weights.h5 / .keras / .pth in {kpose_home()} "
                    "($KPOSE_HOME); kpose.build_model gives an untrained model"
                )
        return cls.from_recipe(recipe, weights)

    @classmethod
    def from_recipe(cls, recipe: Recipe, weights: str | os.PathLike | None = None):
        """Build the recipe's model and fill it from ``weights`` (see the module docstring)."""
        info = get_dataset_info(recipe.data.dataset)
        input_size = tuple(recipe.codec.input_size)
        if weights is not None and Path(weights).name.endswith(".keras"):
            return cls(recipe, load_keras_model(weights, input_size, info.num_keypoints))
        model = build_heatmap_model(
            recipe.model, input_size, info.num_keypoints, name=recipe.name or None
        )
        if weights is not None:
            load_weights(model, weights)
        return cls(recipe, model)

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


def _boxes_of(boxes, shape, i) -> tuple[np.ndarray, np.ndarray]:
    """(N, 4) float32 xyxy boxes and (N,) scores of image ``i``; None = the whole image."""
    if boxes is None:
        return np.array([[0, 0, shape[1], shape[0]]], np.float32), np.ones(1, np.float32)
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


def _empty(num_keypoints: int) -> dict:
    return {
        "keypoints": np.zeros((0, num_keypoints, 2), np.float32),
        "scores": np.zeros((0, num_keypoints), np.float32),
        "boxes": np.zeros((0, 4), np.float32),
        "box_scores": np.zeros(0, np.float32),
    }
