"""kpose: top-down heatmap 2D human pose estimation for Keras 3 / TensorFlow, at parity with MMPose.

The public front door: ``list_presets()``, ``build_model(preset_or_recipe)``,
``load(preset, weights=...)``, ``presets.get``.
"""

from __future__ import annotations

import os
from pathlib import Path

from kpose import presets

__version__ = "0.1.0"
__all__ = ["__version__", "build_model", "list_presets", "load", "load_recipe_for", "presets"]


def list_presets() -> list[str]:
    """Names of every preset (see ``kpose.presets``)."""
    return presets.names()


def load_recipe_for(preset_or_recipe):
    """A Recipe from a preset name, a recipe file path or a Recipe."""
    from kpose.recipe import Recipe, load_recipe

    if isinstance(preset_or_recipe, Recipe):
        return preset_or_recipe
    text = os.fspath(preset_or_recipe)
    if text in presets.PRESETS:
        return presets.get(text).load_recipe()
    if Path(text).suffix in (".yaml", ".yml"):
        return load_recipe(text)
    presets.get(text)  # raises with the list of presets
    raise AssertionError("unreachable")


def build_model(preset_or_recipe):
    """The heatmap ``keras.Model`` of a preset or recipe: RGB 0..255 NHWC in, heatmaps out."""
    from kpose.data.metainfo import get_dataset_info
    from kpose.models.build import build_heatmap_model

    recipe = load_recipe_for(preset_or_recipe)
    info = get_dataset_info(recipe.data.dataset)
    return build_heatmap_model(
        recipe.model, tuple(recipe.codec.input_size), info.num_keypoints, name=recipe.name or None
    )


def load(preset_or_recipe, weights: str | os.PathLike | None = None):
    """A ``PoseEstimator`` of a preset (or recipe) with trained weights.

    ``weights``: an MMPose ``.pth`` checkpoint of the preset's config (read without PyTorch;
    its state dict must fit exactly, else the error lists the missing, unexpected and
    mis-shaped tensors), a Keras ``.weights.h5``, or a ``.keras`` model. Without ``weights``,
    ``$KPOSE_HOME/<preset>.{weights.h5,keras,pth}`` is used (default ``~/.kpose``).

    Example:
        >>> estimator = kpose.load("hrnet-w32", weights="td-hm_hrnet-w32_coco-256x192.pth")
        >>> heatmaps = estimator.heatmap_model(crops)   # (B, 256, 192, 3) RGB -> (B, 64, 48, 17)
    """
    from kpose.errors import ModelError
    from kpose.inference.estimator import PoseEstimator
    from kpose.weights.load import find_weights, kpose_home

    recipe = load_recipe_for(preset_or_recipe)
    if weights is None:
        name = os.fspath(preset_or_recipe) if isinstance(preset_or_recipe, str) else recipe.name
        weights = find_weights(name)
        if weights is None:
            raise ModelError(
                f"no weights for {name!r}: pass weights=PATH (MMPose .pth, .weights.h5 or "
                f".keras) or place {name}.weights.h5 / .keras / .pth in {kpose_home()} "
                "($KPOSE_HOME); kpose.build_model gives an untrained model"
            )
    return PoseEstimator.from_recipe(recipe, weights)
