"""kpose: top-down heatmap 2D human pose estimation for Keras 3 / TensorFlow, at parity with MMPose.

The public front door: ``list_presets()``, ``build_model(preset_or_recipe)``, ``presets.get``.
"""

from __future__ import annotations

import os
from pathlib import Path

from kpose import presets

__version__ = "0.1.0"
__all__ = ["__version__", "build_model", "list_presets", "load_recipe_for", "presets"]


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
    from kpose.datasets import get_dataset_info
    from kpose.models.build import build_heatmap_model

    recipe = load_recipe_for(preset_or_recipe)
    info = get_dataset_info(recipe.data.dataset)
    return build_heatmap_model(recipe.model, tuple(recipe.codec.input_size), info.num_keypoints,
                               name=recipe.name or None)
