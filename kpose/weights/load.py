"""Loading weights into a model: one ``load_weights(model, source)`` for every entry point
(``kpose.load``, ``kpose.fit``'s ``load_from``, ``kpose.evaluate``, ``kpose.infer``,
``kpose.export``), MMPose's backbone ``init_cfg=Pretrained`` (``load_backbone_weights``), whole
``.keras`` models, and the ``$KPOSE_HOME`` folder where weights named after a preset are found.

Sources: an MMPose ``.pth`` checkpoint (read without PyTorch, mapped by layer name,
``kpose.weights.state_dict``), a Keras ``.weights.h5`` file or a ``.keras`` model.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import keras
import numpy as np

from kpose.errors import ModelError
from kpose.weights.state_dict import AssignResult, assign_state_dict
from kpose.weights.torch_pickle import mmpose_state_dict

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


def load_weights(model: keras.Model, weights: str | os.PathLike) -> None:
    """Fill ``model`` from an MMPose ``.pth`` checkpoint (its state dict must fit exactly), a
    Keras ``.weights.h5`` file or a ``.keras`` model of the same architecture."""
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
    elif path.suffix == ".keras":
        width, height = model.input_shape[2], model.input_shape[1]
        saved = load_keras_model(path, (width, height), model.output_shape[-1])
        try:
            model.set_weights(saved.get_weights())
        except ValueError as exc:
            raise ModelError(f"{path}: its weights do not fit {model.name}: {exc}") from exc
    else:
        raise ModelError(f"weights {path}: expected an MMPose .pth, a .weights.h5 or a .keras file")
    log.info("loaded %s into %s", path, model.name)


def load_backbone_weights(
    model: keras.Model, source: str | os.PathLike | Mapping[str, np.ndarray], prefix: str = ""
) -> AssignResult:
    """MMPose's backbone ``init_cfg=dict(type="Pretrained", checkpoint, prefix)``: fill the
    ``backbone`` of ``model`` from a checkpoint whose keys are the backbone's own
    (``layer1.0.conv1.weight``; with ``prefix`` only the keys under it, prefix removed).

    Shapes must fit; tensors the backbone has no place for (a classifier ``fc``) are skipped and
    backbone tensors the checkpoint lacks keep their values, both reported (as mmengine's
    warnings). Raises ``ModelError`` when no tensor matches. Returns what was not matched.
    """
    label = "state dict" if isinstance(source, Mapping) else str(source)
    state = dict(source) if isinstance(source, Mapping) else mmpose_state_dict(source)
    if prefix:
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    state = {f"backbone.{k}": v for k, v in state.items()}
    try:
        result = assign_state_dict(model, state, strict=False)
    except ModelError as exc:
        raise ModelError(f"{label}: {exc}") from None
    missing = [k for k in result.missing_keys if k.startswith("backbone.")]
    loaded = len(state) - len(result.unexpected_keys)
    if loaded == 0:
        raise ModelError(
            f"{label}: no tensor matches the backbone of {model.name} (keys like "
            f"{sorted(state)[:3]}; expected e.g. {missing[:3]})"
        )
    log.info(
        "backbone weights %s: %d tensors loaded; backbone tensors not in the checkpoint: "
        "%s; checkpoint tensors skipped: %s",
        label,
        loaded,
        missing,
        result.unexpected_keys,
    )
    return AssignResult(missing, result.unexpected_keys)


def load_keras_model(
    path: str | os.PathLike, input_size: tuple[int, int], num_keypoints: int
) -> keras.Model:
    from kpose.models.backbones import import_all_families

    import_all_families()  # registers the custom layers the file may name
    path = Path(path)
    try:
        model = keras.saving.load_model(str(path))
    except (ValueError, OSError) as exc:
        raise ModelError(f"{path}: cannot load this .keras model: {exc}") from exc
    width, height = input_size
    expected = (height, width, 3)
    if tuple(model.input_shape[1:]) != expected or model.output_shape[-1] != num_keypoints:
        raise ModelError(
            f"{path}: the model takes {model.input_shape} and gives "
            f"{model.output_shape}; the preset needs (None, {height}, {width}, 3) "
            f"-> {num_keypoints} heatmaps"
        )
    return model
