"""Loading weights into a model: one ``load_weights(model, source)`` for every entry point
(``kpose.load``, ``kpose.fit``'s ``load_from``, ``kpose.evaluate``, ``kpose.infer``,
``kpose.export``), MMPose's backbone ``init_cfg=Pretrained`` (``load_backbone_weights``), whole
``.keras`` models, and the ``$KPOSE_HOME`` folder where weights named after a preset are found.

Sources: an MMPose ``.pth`` checkpoint (read without PyTorch, mapped by layer name,
``kpose.weights.state_dict``; MMPose 0.x checkpoints are renamed as MMPose 1.x does), a Keras
``.weights.h5`` file or a ``.keras`` model, each as a path or an ``http(s)://`` / ``file://``
URL (downloaded and verified by ``kpose.weights.download.fetch``). A ``.pth`` from a URL is
converted once: its Keras weights are kept in
``$KPOSE_HOME/converted/<cache key>/<checkpoint stem>.weights.h5`` and read from there next time.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import keras
import numpy as np

from kpose.errors import ModelError
from kpose.models.backbones import BACKBONES
from kpose.weights.download import fetch, is_url, kpose_home, url_file_name
from kpose.weights.state_dict import AssignResult, assign_state_dict, model_state_dict
from kpose.weights.torch_pickle import mmpose_state_dict

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".weights.h5", ".keras", ".pth")
# Backbone families whose pretrained checkpoints come in their original repository's names and
# layouts, which MMPose converts as it loads them (``pvt_convert``, ``swin_converter``):
# family (the module of ``BACKBONES``) -> "<module in kpose.models.backbones>:<converter>".
CHECKPOINT_CONVERTERS = {
    "pvt": "pvt:convert_pvt_checkpoint",
    "swin": "swin:convert_swin_checkpoint",
}


def find_weights(preset: str) -> Path | None:
    """``$KPOSE_HOME/<preset>{.weights.h5,.keras,.pth}``, the first that exists."""
    for suffix in WEIGHT_SUFFIXES:
        path = kpose_home() / f"{preset}{suffix}"
        if path.is_file():
            return path
    return None


def load_weights(
    model: keras.Model,
    source: str | os.PathLike,
    *,
    cache_key: str | None = None,
    strict: bool = True,
) -> AssignResult | None:
    """Fill ``model`` from an MMPose ``.pth`` checkpoint (its state dict must fit exactly), a
    Keras ``.weights.h5`` file or a ``.keras`` model of the same architecture, given as a path
    or an ``http(s)://`` / ``file://`` URL.

    ``strict=False`` (fine-tuning; mmengine's ``load_checkpoint(strict=False)``): tensors whose
    shape differs (the final layer of a model with another keypoint count), tensors the source
    lacks and tensors the model has no place for keep the model's values; all are listed in the
    returned ``AssignResult`` and the log. ``ModelError`` when no tensor loads.

    A ``.pth`` URL is downloaded once (``kpose.weights.download.fetch``) and converted once: the
    converted weights are cached as ``$KPOSE_HOME/converted/<cache_key or model.name>/<checkpoint
    stem>.weights.h5`` and loaded from there next time, without reading or even fetching the
    checkpoint (``kpose.load(name)`` passes the preset name as ``cache_key``). A cache file that
    does not load is deleted and the checkpoint converted again.
    """
    if not strict:
        return load_partially(model, fetch(str(source)) if is_url(source) else source)
    if is_url(source):
        _load_url(model, str(source), cache_key or model.name)
        return None
    path = Path(source)
    if not path.is_file():
        raise ModelError(f"weights {path}: file not found")
    if path.suffix == ".pth":
        try:
            assign_state_dict(model, upgrade_mmpose_keys(mmpose_state_dict(path)), strict=True)
        except ModelError as exc:
            raise ModelError(f"{path}: {exc}") from None
    elif path.name.endswith(".weights.h5"):
        try:
            model.load_weights(str(path))
        except (ValueError, OSError) as exc:
            raise ModelError(f"{path}: cannot load into {model.name}: {exc}") from exc
    elif path.suffix == ".keras":
        width, height = model.input_shape[2], model.input_shape[1]
        saved = load_keras_model(path, (width, height), heatmap_channels(model))
        try:
            model.set_weights(saved.get_weights())
        except ValueError as exc:
            raise ModelError(f"{path}: its weights do not fit {model.name}: {exc}") from exc
    else:
        raise ModelError(f"weights {path}: expected an MMPose .pth, a .weights.h5 or a .keras file")
    log.info("loaded %s into %s", path, model.name)
    return None


def load_partially(model: keras.Model, source: str | os.PathLike) -> AssignResult:
    """``load_weights(strict=False)`` of a local file: every tensor whose name and shape fit is
    loaded, the rest keep the model's values and are reported (log warning + result)."""
    path = Path(source)
    if not path.is_file():
        raise ModelError(f"weights {path}: file not found")
    try:
        if path.suffix == ".pth":
            state = upgrade_mmpose_keys(mmpose_state_dict(path))
            result = assign_state_dict(model, state, strict=False, skip_mismatched=True)
        elif path.suffix == ".keras":
            saved = load_keras_model(path, None, None)
            result = assign_state_dict(
                model, model_state_dict(saved), strict=False, skip_mismatched=True
            )
        elif path.name.endswith(".weights.h5"):
            result = _load_h5_partially(model, path)
        else:
            raise ModelError("expected an MMPose .pth, a .weights.h5 or a .keras file")
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from None
    if result.loaded == 0:
        raise ModelError(f"{path}: no tensor fits {model.name}: {result.summary()}")
    log.warning("non-strict load of %s into %s: %s", path, model.name, result.summary())
    return result


def _keras_h5_layer_groups(model: keras.Model, prefix: str = "") -> dict[str, str]:
    """The group of each layer in a Keras 3 ``.weights.h5`` of ``model`` -> the layer's name.
    Keras names the groups by class (``layers/conv2d_3``), counting in ``model.layers`` order
    (``keras.src.saving.saving_lib._save_container_state``), not by layer name; a nested model
    (the backbone, the head) holds its own ``layers/`` inside its group."""
    used: dict[str, int] = {}
    groups = {}
    for layer in model.layers:
        name = re.sub(r"\W+", "", type(layer).__name__)
        name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
        name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
        count = used.get(name, 0)
        used[name] = count + 1
        group = f"{prefix}layers/{name}_{count}" if count else f"{prefix}layers/{name}"
        groups[group] = layer.name
        if isinstance(layer, keras.Model):
            groups.update(_keras_h5_layer_groups(layer, f"{group}/"))
    return groups


def _load_h5_partially(model: keras.Model, path: Path) -> AssignResult:
    """A ``.weights.h5`` of a model built like ``model`` but for instance with another keypoint
    count: the model's own weights file is written, every tensor of ``path`` at the same place
    with the same shape is copied in, and the result loaded."""
    import h5py

    groups = _keras_h5_layer_groups(model)

    def label(key: str) -> str:
        group = key.rsplit("/vars/", 1)[0]
        return f"{groups[group]} ({key})" if group in groups else key

    def datasets(handle) -> dict[str, object]:
        found = {}

        def visit(name, obj):  # a non-None return would stop h5py's walk
            if isinstance(obj, h5py.Dataset):
                found[name] = obj

        handle.visititems(visit)
        return found

    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / "fresh.weights.h5"
        model.save_weights(str(fresh))
        try:
            with h5py.File(path, "r") as src, h5py.File(fresh, "r+") as dst:
                theirs, mine = datasets(src), datasets(dst)
                missing, mismatched, loaded = [], [], 0
                for key, target in mine.items():
                    if key not in theirs:
                        missing.append(label(key))
                    elif theirs[key].shape != target.shape or theirs[key].dtype != target.dtype:
                        mismatched.append(
                            f"{label(key)}: checkpoint {theirs[key].shape}, model {target.shape}"
                        )
                    else:
                        target[...] = theirs[key][...]
                        loaded += 1
                unexpected = [label(k) for k in theirs if k not in mine]
        except OSError as exc:
            raise ModelError(f"not a readable Keras weights file: {exc}") from None
        model.load_weights(str(fresh))
    return AssignResult(missing, unexpected, mismatched, loaded)


def converted_weights_path(url: str, cache_key: str) -> Path:
    """Where the Keras weights converted from the ``.pth`` at ``url`` are cached:
    ``$KPOSE_HOME/converted/<cache_key>/<checkpoint stem>.weights.h5``."""
    folder = cache_key.replace("/", "_").replace(os.sep, "_") or "model"
    return kpose_home() / "converted" / folder / f"{Path(url_file_name(url)).stem}.weights.h5"


def _load_url(model: keras.Model, url: str, cache_key: str) -> None:
    if Path(url_file_name(url)).suffix != ".pth":
        load_weights(model, fetch(url))
        return
    cache = converted_weights_path(url, cache_key)
    if cache.is_file():
        try:
            model.load_weights(str(cache))
        except (ValueError, OSError, KeyError) as exc:
            log.warning(
                "converted weights %s do not load (%s): deleted, converting %s again",
                cache,
                exc,
                url,
            )
            cache.unlink(missing_ok=True)
        else:
            log.info("loaded %s (converted from %s) into %s", cache, url, model.name)
            return
    load_weights(model, fetch(url))
    _save_atomically(model, cache)


def _save_atomically(model: keras.Model, path: Path) -> None:
    """``model.save_weights(path)`` through a temporary file renamed into place; a failure is
    logged, not raised (the cache only saves time)."""
    temp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(
            prefix=f".{path.name.removesuffix('.weights.h5')}.",
            suffix=".part.weights.h5",  # Keras insists on the .weights.h5 ending
            dir=path.parent,
        )
        os.close(handle)
        temp = Path(temp_name)
        model.save_weights(str(temp))
        with open(temp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(temp, path)
        log.info("cached the converted weights at %s", path)
    except (OSError, ValueError) as exc:
        log.warning("could not cache the converted weights at %s: %s", path, exc)
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)


def upgrade_mmpose_keys(state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """An MMPose state dict in MMPose 1.x's names, as MMPose 1.x's load hooks rename it: the
    ``data_preprocessor`` buffers are dropped, and a checkpoint from MMPose 0.x (its
    ``keypoint_head``, the ``TopdownHeatmapSimpleHead``) gets ``head`` instead, with the old
    ``final_layer.<i>`` list split into ``conv_layers.<i>`` and the last conv, ``final_layer``.
    1.x checkpoints pass through unchanged."""
    out = {
        k: v
        for k, v in state.items()
        if k not in ("data_preprocessor.mean", "data_preprocessor.std")
    }
    if not any(k.startswith("keypoint_head.") for k in out):
        return out
    out = {
        "head." + k[len("keypoint_head.") :] if k.startswith("keypoint_head.") else k: v
        for k, v in out.items()
    }
    indexed = [k.split(".") for k in out if k.startswith("head.final_layer.")]
    indexed = [parts for parts in indexed if len(parts) == 4 and parts[2].isdigit()]
    if not indexed:
        return out
    last = max(int(parts[2]) for parts in indexed)
    renamed = {}
    for key, value in out.items():
        parts = key.split(".")
        if key.startswith("head.final_layer.") and len(parts) == 4 and parts[2].isdigit():
            index = int(parts[2])
            key = (
                f"head.final_layer.{parts[3]}"
                if index == last
                else f"head.conv_layers.{index}.{parts[3]}"
            )
        renamed[key] = value
    return renamed


def checkpoint_converter(
    backbone: str,
) -> Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]] | None:
    """The converter MMPose applies to the pretrained checkpoints of recipe backbone
    ``backbone`` (``"pvt_s"`` -> ``convert_pvt_checkpoint``), or None when it loads them as they
    are."""
    target = CHECKPOINT_CONVERTERS.get(BACKBONES.get(backbone, "").split(":")[0])
    if target is None:
        return None
    module, function = target.split(":")
    return getattr(importlib.import_module(f"kpose.models.backbones.{module}"), function)


def load_backbone_weights(
    model: keras.Model,
    source: str | os.PathLike | Mapping[str, np.ndarray],
    prefix: str = "",
    *,
    convert: Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]] | None = None,
) -> AssignResult:
    """MMPose's backbone ``init_cfg=dict(type="Pretrained", checkpoint, prefix)``: fill the
    ``backbone`` of ``model`` from a checkpoint (a path, an ``http(s)://`` / ``file://`` URL,
    downloaded once, or a state dict) whose keys are the backbone's own
    (``layer1.0.conv1.weight``; with ``prefix`` only the keys under it, prefix removed).
    ``convert`` maps such keys to the whole model's (``backbone.``...) for checkpoints in their
    original repository's layout (``checkpoint_converter``).

    Shapes must fit; tensors the backbone has no place for (a classifier ``fc``) are skipped and
    backbone tensors the checkpoint lacks keep their values, both reported (as mmengine's
    warnings). Raises ``ModelError`` when no tensor matches. Returns what was not matched.
    """
    label = "state dict" if isinstance(source, Mapping) else str(source)
    if isinstance(source, Mapping):
        state = dict(source)
    else:
        state = mmpose_state_dict(fetch(str(source)) if is_url(source) else source)
    if prefix:
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if convert is not None:
        state = dict(convert(state))
    else:
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


def heatmap_channels(model: keras.Model) -> int:
    """The channels of ``model``'s heatmaps (its first output: a vis head's model also
    outputs the visibility)."""
    shape = model.output_shape
    return (shape[0] if isinstance(shape, list) else shape)[-1]


def load_keras_model(
    path: str | os.PathLike, input_size: tuple[int, int] | None, num_keypoints: int | None
) -> keras.Model:
    from kpose.models.backbones import import_all_families

    import_all_families()  # registers the custom layers the file may name
    path = Path(path)
    try:
        model = keras.saving.load_model(str(path))
    except (ValueError, OSError) as exc:
        raise ModelError(f"{path}: cannot load this .keras model: {exc}") from exc
    if input_size is None:  # any model: its tensors are matched by name (non-strict loading)
        return model
    width, height = input_size
    expected = (height, width, 3)
    if tuple(model.input_shape[1:]) != expected or heatmap_channels(model) != num_keypoints:
        raise ModelError(
            f"{path}: the model takes {model.input_shape} and gives "
            f"{model.output_shape}; the preset needs (None, {height}, {width}, 3) "
            f"-> {num_keypoints} heatmaps"
        )
    return model
