"""``PoseEstimator``: a preset's recipe together with its heatmap model and trained weights.

``kpose.load(preset, weights=...)`` returns one. Weights come from an MMPose ``.pth``
checkpoint (read without PyTorch, mapped by layer name), a Keras ``.weights.h5`` or a whole
``.keras`` model; with no ``weights`` the files ``<preset>.weights.h5``, ``<preset>.keras`` and
``<preset>.pth`` are looked up in ``$KPOSE_HOME`` (default ``~/.kpose``). Nothing is downloaded.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import keras

from kpose.datasets import DatasetInfo, get_dataset_info
from kpose.errors import ModelError
from kpose.models.build import build_heatmap_model
from kpose.models.checkpoint import mmpose_state_dict
from kpose.models.mmpose_weights import assign_state_dict
from kpose.recipe import Recipe

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".weights.h5", ".keras", ".pth")


def kpose_home() -> Path:
    """Where ``kpose.load`` looks for weights named after a preset (``$KPOSE_HOME``)."""
    return Path(os.environ.get("KPOSE_HOME", Path.home() / ".kpose")).expanduser()


def find_weights(preset: str) -> Path | None:
    """``$KPOSE_HOME/<preset>{.weights.h5,.keras,.pth}``, the first that exists."""
    for suffix in WEIGHT_SUFFIXES:
        path = kpose_home() / f"{preset}{suffix}"
        if path.is_file():
            return path
    return None


class PoseEstimator:
    """A preset's recipe, dataset metadata and heatmap model (``heatmap_model``: RGB 0..255
    NHWC crops ``(B, H, W, 3)`` -> heatmaps ``(B, h, w, K)``)."""

    def __init__(self, recipe: Recipe, heatmap_model: keras.Model):
        self.recipe = recipe
        self.heatmap_model = heatmap_model
        self.dataset_info: DatasetInfo = get_dataset_info(recipe.data.dataset)

    @classmethod
    def from_recipe(cls, recipe: Recipe, weights: str | os.PathLike | None = None):
        """Build the recipe's model and fill it from ``weights`` (see the module docstring)."""
        info = get_dataset_info(recipe.data.dataset)
        input_size = tuple(recipe.codec.input_size)
        if weights is not None and Path(weights).name.endswith(".keras"):
            return cls(recipe, _load_keras(Path(weights), input_size, info.num_keypoints))
        model = build_heatmap_model(recipe.model, input_size, info.num_keypoints,
                                    name=recipe.name or None)
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


def load_weights(model: keras.Model, weights: str | os.PathLike) -> None:
    """Fill ``model`` from an MMPose ``.pth`` checkpoint or a Keras ``.weights.h5`` file."""
    path = Path(weights)
    if not path.is_file():
        raise ModelError(f"weights {path}: file not found")
    if path.suffix == ".pth":
        try:
            assign_state_dict(model, mmpose_state_dict(path), strict=True)
        except ModelError as exc:
            raise ModelError(f"{path}: {exc}") from None
    elif path.name.endswith(".weights.h5"):
        try:
            model.load_weights(str(path))
        except (ValueError, OSError) as exc:
            raise ModelError(f"{path}: cannot load into {model.name}: {exc}") from exc
    else:
        raise ModelError(f"weights {path}: expected an MMPose .pth, a .weights.h5 or a .keras "
                         "file")
    log.info("loaded %s into %s", path, model.name)


def _load_keras(path: Path, input_size: tuple[int, int], num_keypoints: int) -> keras.Model:
    try:
        model = keras.saving.load_model(str(path))
    except (ValueError, OSError) as exc:
        raise ModelError(f"{path}: cannot load this .keras model: {exc}") from exc
    width, height = input_size
    expected = (height, width, 3)
    if tuple(model.input_shape[1:]) != expected or model.output_shape[-1] != num_keypoints:
        raise ModelError(f"{path}: the model takes {model.input_shape} and gives "
                         f"{model.output_shape}; the preset needs (None, {height}, {width}, 3) "
                         f"-> {num_keypoints} heatmaps")
    return model
