"""MMPose state dicts <-> Keras weights: one generic mapping by layer name.

Every Keras layer with weights is named after the MMPose module path it mirrors
(``backbone.layer1.0.conv1``), so its tensors are ``<name>.weight``, ``<name>.bias`` and, for
BatchNorm, ``<name>.running_mean`` / ``<name>.running_var``. Only the layouts differ:

==================  ===========================  ==========================
layer               PyTorch                      Keras
==================  ===========================  ==========================
Conv2d              (out, in / groups, kh, kw)   (kh, kw, in / groups, out)
depthwise Conv2d    (C * m, 1, kh, kw)           (kh, kw, C, m)
ConvTranspose2d     (in, out, kh, kw)            (kh, kw, out, in)
Linear              (out, in)                    (in, out)
BatchNorm2d         weight, bias, running_*      gamma, beta, moving_*
LayerNorm           weight, bias                 gamma, beta
==================  ===========================  ==========================

PyTorch's ConvTranspose2d and TF's ``conv2d_transpose`` are both the adjoint of a correlation
with the same kernel, so no spatial flip is needed (the parity tests check this numerically).
Reading ``.pth`` files is a separate step; here a state dict is a mapping of numpy arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import keras
import numpy as np

from kpose.errors import ModelError

# Buffers of PyTorch modules that have no Keras counterpart.
IGNORED_SUFFIXES = (".num_batches_tracked",)


@dataclass(frozen=True)
class AssignResult:
    """What ``assign_state_dict(strict=False)`` could not match (PyTorch's naming):
    ``mismatched_keys`` (with ``skip_mismatched``) are ``"key: checkpoint (shape), model
    (shape)"`` lines, as mmengine's ``load_checkpoint(strict=False)`` reports them."""

    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)
    mismatched_keys: list[str] = field(default_factory=list)
    loaded: int = 0

    def summary(self) -> str:
        """One line per kind: what loaded, what kept its initialisation and why."""
        return "; ".join(
            part
            for part in (
                f"{self.loaded} tensors loaded",
                _listing("mis-shaped (kept fresh)", self.mismatched_keys),
                _listing("missing (kept fresh)", self.missing_keys),
                _listing("unexpected (ignored)", self.unexpected_keys),
            )
            if part
        )


def _conv_to_keras(w):
    return w.transpose(2, 3, 1, 0)


def _conv_to_torch(k):
    return k.transpose(3, 2, 0, 1)


def _identity(a):
    return a


def _transpose(a):
    return a.T


def _tensors(layer: keras.layers.Layer) -> list[tuple[str, object, Callable, Callable]]:
    """(torch suffix, Keras variable, torch->keras, keras->torch) for each weight of ``layer``.

    Custom layers describe their own tensors with a ``torch_tensors()`` method (an empty suffix:
    the key is the layer name itself, e.g. ViT's ``backbone.pos_embed``).
    """
    if hasattr(layer, "torch_tensors"):
        return layer.torch_tensors()
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw, channels, mult = layer.kernel.shape

        def to_keras(w):
            return w.reshape(channels, mult, kh, kw).transpose(2, 3, 0, 1)

        def to_torch(k):
            return k.transpose(2, 3, 0, 1).reshape(channels * mult, 1, kh, kw)

        pairs = [("weight", layer.kernel, to_keras, to_torch)]
        if layer.use_bias:
            pairs.append(("bias", layer.bias, _identity, _identity))
        return pairs
    if isinstance(layer, keras.layers.Conv2D | keras.layers.Conv2DTranspose):
        pairs = [("weight", layer.kernel, _conv_to_keras, _conv_to_torch)]
        if layer.use_bias:
            pairs.append(("bias", layer.bias, _identity, _identity))
        return pairs
    if isinstance(layer, keras.layers.Dense):
        pairs = [("weight", layer.kernel, _transpose, _transpose)]
        if layer.use_bias:
            pairs.append(("bias", layer.bias, _identity, _identity))
        return pairs
    if isinstance(layer, keras.layers.BatchNormalization):
        pairs = [
            ("running_mean", layer.moving_mean, _identity, _identity),
            ("running_var", layer.moving_variance, _identity, _identity),
        ]
        if layer.scale:
            pairs.append(("weight", layer.gamma, _identity, _identity))
        if layer.center:
            pairs.append(("bias", layer.beta, _identity, _identity))
        return pairs
    if isinstance(layer, keras.layers.LayerNormalization):
        pairs = []
        if layer.scale:
            pairs.append(("weight", layer.gamma, _identity, _identity))
        if layer.center:
            pairs.append(("bias", layer.beta, _identity, _identity))
        return pairs
    raise ModelError(
        f"layer {layer.name!r}: no MMPose conversion for {type(layer).__name__} with weights"
    )


def _key(layer: keras.layers.Layer, suffix: str) -> str:
    return f"{layer.name}.{suffix}" if suffix else layer.name


def weighted_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    """Every layer of ``model`` that owns weights, descending into nested models."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from weighted_layers(layer)
        elif layer.weights:
            yield layer


def _torch_shape(to_torch: Callable, variable) -> tuple[int, ...]:
    return tuple(to_torch(np.zeros(tuple(variable.shape), np.float32)).shape)


def parameter_names(model: keras.Model) -> dict[str, str]:
    """Keras variable path -> the MMPose (PyTorch) parameter name it holds."""
    return {
        variable.path: _key(layer, suffix)
        for layer in weighted_layers(model)
        for suffix, variable, _, _ in _tensors(layer)
    }


def model_state_dict(model: keras.Model) -> dict[str, np.ndarray]:
    """The model's weights as an MMPose state dict (PyTorch layouts, float32 numpy)."""
    out = {}
    for layer in weighted_layers(model):
        for suffix, variable, _, to_torch in _tensors(layer):
            out[_key(layer, suffix)] = to_torch(np.asarray(variable.numpy(), np.float32))
    return out


def assign_state_dict(
    model: keras.Model,
    state_dict: Mapping[str, np.ndarray],
    strict: bool = True,
    *,
    skip_mismatched: bool = False,
) -> AssignResult:
    """Fill ``model``'s weights from an MMPose state dict (``{"backbone.conv1.weight": ...}``).

    Tensors whose shape does not fit raise ``ModelError`` (with ``skip_mismatched`` they keep
    their values and are listed instead: the final layer of a model with another keypoint
    count); with ``strict`` so do model tensors absent from ``state_dict`` (missing) and
    ``state_dict`` tensors no layer takes (unexpected). Nothing is assigned when an error is
    raised. ``num_batches_tracked`` buffers are ignored. Returns what was not matched (empty
    when strict).
    """
    wanted = {}
    for layer in weighted_layers(model):
        for suffix, variable, to_keras, to_torch in _tensors(layer):
            wanted[_key(layer, suffix)] = (variable, to_keras, to_torch)
    given = {k: v for k, v in state_dict.items() if not k.endswith(IGNORED_SUFFIXES)}
    missing = sorted(set(wanted) - set(given))
    unexpected = sorted(set(given) - set(wanted))
    misshaped = []
    values = {}
    for key in sorted(set(wanted) & set(given)):
        variable, to_keras, to_torch = wanted[key]
        array = np.asarray(given[key])
        try:  # converters may adapt a shape (ViT's pos_embed on another grid)
            value = to_keras(array)
        except (ValueError, ModelError):
            value = None
        if value is None or tuple(value.shape) != tuple(variable.shape):
            misshaped.append(
                f"{key}: checkpoint {array.shape}, model {_torch_shape(to_torch, variable)}"
            )
            continue
        values[key] = value
    if (misshaped and not skip_mismatched) or (strict and (missing or unexpected)):
        raise ModelError(
            f"state dict does not fit model {model.name!r}: "
            + "; ".join(
                part
                for part in (
                    _listing("mis-shaped", misshaped),
                    _listing("missing", missing) if strict else "",
                    _listing("unexpected", unexpected) if strict else "",
                )
                if part
            )
        )
    for key, value in values.items():
        variable = wanted[key][0]
        variable.assign(value.astype(keras.backend.standardize_dtype(variable.dtype)))
    return AssignResult(missing, unexpected, misshaped, len(values))


def _listing(what: str, items: list[str], limit: int = 20) -> str:
    if not items:
        return ""
    shown = ", ".join(items[:limit])
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return f"{len(items)} {what}: {shown}{more}"
