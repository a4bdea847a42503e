"""MMPose's backbone ``frozen_stages`` and ``norm_eval`` on a built Keras model.

``frozen_stages = n`` freezes what each family's ``_freeze_stages`` freezes (its stem, then its
first ``n`` stages): the layers' weights take no gradient and their BatchNorm layers normalise
with their running statistics, which stop updating (PyTorch's ``requires_grad = False`` plus
``eval()``; in Keras both follow from ``trainable = False``); stochastic depth in a frozen block
is off, as ``eval()`` turns it off. ``-1`` freezes nothing.

``norm_eval`` puts every BatchNorm layer of the backbone in inference mode during training
(running statistics, not updated) while its scale and shift still train, as MMPose's
``train(mode)`` with ``norm_eval=True`` does.

Layers are found by their names, which are MMPose's state-dict paths (``backbone.layer1.0.
conv1``), so one prefix table per family says what a stage is.
"""

from __future__ import annotations

from collections.abc import Iterator

import keras

from kpose.errors import ModelError

BACKBONE = "backbone"


def _resnet(stages: int) -> list[str]:  # mmpose ResNet._freeze_stages (and its subclasses)
    stem = ["stem", "conv1", "bn1"]  # deep_stem (V1d, ResNeSt) or the 7x7 conv + BN
    return stem + [f"layer{i}" for i in range(1, stages + 1)]


def _hrnet(stages: int) -> list[str]:  # mmpose HRNet._freeze_stages
    prefixes = ["conv1", "bn1", "conv2", "bn2"]  # norm1 / norm2 are named bn1 / bn2
    for i in range(1, stages + 1):
        prefixes.append("layer1" if i == 1 else f"stage{i}")
        if i < 4:
            prefixes.append(f"transition{i}")
    return prefixes


def _vit(stages: int) -> list[str]:  # mmpretrain VisionTransformer._freeze_stages
    if stages <= 0:  # mmpretrain only freezes for frozen_stages > 0
        return []
    prefixes = ["pos_embed", "patch_embed", "pre_norm", "cls_token"]
    return prefixes + [f"layers.{i}" for i in range(stages)] + ["ln1"]  # ln1: see below


def _swin(stages: int) -> list[str]:  # mmpose SwinTransformer._freeze_stages
    prefixes = ["patch_embed", "absolute_pos_embed"]
    for i in range(1, stages + 1):
        prefixes += [f"norm{i - 1}", f"stages.{i - 1}"]
    return prefixes


def _cspnext(stages: int) -> list[str]:  # mmdet CSPNeXt._freeze_stages
    return ["stem"] + [f"stage{i}" for i in range(1, stages + 1)]


# family (the module in kpose.models.backbones) -> (prefixes of frozen_stages n, largest n)
FAMILIES = {
    "resnet": (_resnet, 4),
    "resnext": (_resnet, 4),
    "seresnet": (_resnet, 4),
    "resnest": (_resnet, 4),
    "scnet": (_resnet, 4),
    "hrnet": (_hrnet, 4),
    "vit": (_vit, None),
    "swin": (_swin, 4),
    "cspnext": (_cspnext, 4),
}


def all_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    """Every layer of ``model``, nested models followed (the backbone is one)."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from all_layers(layer)


def freeze_stages(model: keras.Model, family: str, frozen_stages: int) -> list[str]:
    """Freeze the stem and the first ``frozen_stages`` stages of ``model``'s backbone of
    ``family`` (a module of ``kpose.models.backbones``: resnet, hrnet, vit, swin, cspnext and the
    ResNet relatives). Returns the names of the frozen layers that hold weights."""
    if frozen_stages < 0:
        return []
    if family not in FAMILIES:
        raise ModelError(
            f"train.frozen_stages: backbone family {family!r} has no frozen stages in kpose; "
            f"families that do: {sorted(FAMILIES)}"
        )
    prefixes_of, largest = FAMILIES[family]
    layers = [layer for layer in all_layers(model) if layer.name.startswith(f"{BACKBONE}.")]
    if family == "vit":
        largest = 1 + max(
            (
                int(n.split(".")[2])
                for n in (layer.name for layer in layers)
                if n.startswith(f"{BACKBONE}.layers.")
            ),
            default=-1,
        )
    if largest is not None and frozen_stages > largest:
        raise ModelError(
            f"train.frozen_stages: {frozen_stages}, but the {family} backbone has {largest} stages"
        )
    prefixes = prefixes_of(frozen_stages)
    if family == "vit" and frozen_stages != largest:
        prefixes = prefixes[:-1]  # the final norm freezes with the last layer only
    frozen = []
    for layer in layers:
        path = layer.name[len(BACKBONE) + 1 :]
        if any(path == p or path.startswith(f"{p}.") or path.startswith(f"{p}_") for p in prefixes):
            layer.trainable = False
            if layer.weights:
                frozen.append(layer.name)
    if frozen_stages >= 0 and not frozen and prefixes:
        raise ModelError(f"train.frozen_stages: no layer of {model.name} matches {prefixes[:4]}")
    return frozen


def set_norm_eval(model: keras.Model) -> int:
    """Make every BatchNorm layer of the backbone normalise with its running statistics even in
    training (its scale and shift keep training). Returns how many layers it changed."""
    count = 0
    for layer in all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization) and layer.name.startswith(
            f"{BACKBONE}."
        ):
            _inference_mode(layer)
            count += 1
    return count


def _inference_mode(layer: keras.layers.BatchNormalization) -> None:
    call = type(layer).call

    def call_in_inference_mode(inputs, training=None, mask=None):
        del training  # norm_eval: always the running statistics
        return call(layer, inputs, training=False, mask=mask)

    layer.call = call_in_inference_mode
