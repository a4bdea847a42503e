"""kpose: top-down heatmap 2D human pose estimation for Keras 3 / TensorFlow, at parity with MMPose.

The public front door: ``list_presets()``, ``build_model(preset_or_recipe)``,
``load(preset, weights=..., detector=...)``, ``presets.get``; person detectors are in
``kpose.detection``.
"""

from __future__ import annotations

import os

from kpose import presets
from kpose.presets import load_recipe_for

__version__ = "0.1.0"
__all__ = ["__version__", "build_model", "list_presets", "load", "load_recipe_for", "presets"]


def list_presets() -> list[str]:
    """Names of every preset (see ``kpose.presets``)."""
    return presets.names()


def build_model(preset_or_recipe):
    """The heatmap ``keras.Model`` of a preset or recipe: RGB 0..255 NHWC in, heatmaps out."""
    from kpose.models.build import build_heatmap_model

    recipe = load_recipe_for(preset_or_recipe)
    info = recipe.model_info  # the heatmaps' keypoints (model.metainfo, else the data's)
    return build_heatmap_model(
        recipe.model, tuple(recipe.codec.input_size), info.num_keypoints, name=recipe.name or None
    )


def load(preset_or_recipe, weights: str | os.PathLike | None = None, detector="rtmdet-m-person"):
    """A ``PoseEstimator`` of a preset (or recipe) with trained weights and a person detector.

    ``weights``: an MMPose ``.pth`` checkpoint of the preset's config (read without PyTorch;
    its state dict must fit exactly, else the error lists the missing, unexpected and
    mis-shaped tensors), a Keras ``.weights.h5``, a ``.keras`` model, or an ``http(s)://`` /
    ``file://`` URL of one. Without ``weights``: ``$KPOSE_HOME/<preset>.{weights.h5,keras,pth}``
    (default ``~/.kpose``), else the preset's MMPose checkpoint, downloaded once into
    ``$KPOSE_HOME`` (sha256-checked, converted once; ``KPOSE_WEIGHTS_MIRROR``,
    ``KPOSE_OFFLINE``). ``detector``: what finds people in images given without boxes (a
    detector preset, a keras-hub ``ObjectDetector``, an ``.onnx`` file, a callable, or
    ``None``), loaded when first needed.

    Example:
        >>> estimator = kpose.load("vitpose-s")
        >>> people = estimator("photo.jpg")       # every person: boxes, keypoints, scores
        >>> heatmaps = estimator.heatmap_model(crops)   # (B, 256, 192, 3) RGB -> (B, 64, 48, 17)
    """
    from kpose.inference.estimator import PoseEstimator

    return PoseEstimator.from_preset(preset_or_recipe, weights, detector=detector)
