"""Optimizers with MMPose's parameter groups: per-variable learning-rate multipliers and
weight-decay masks, as ViTPose's ``LayerDecayOptimWrapperConstructor`` builds them.

Layer-wise learning-rate decay (``mmpose/engine/optim_wrappers/layer_decay_optim_wrapper.py``):
with ``N = num_layers + 2``, ``backbone.pos_embed`` / ``cls_token`` / ``mask_token`` and
``backbone.patch_embed.*`` are layer 0, ``backbone.layers.i.*`` layer ``i + 1``, everything
else (final norm, neck, head) layer ``N - 1``; a variable's learning rate is
``lr * rate ** (N - 1 - layer)``. No weight decay on 1-D parameters, biases and anything named
``pos_embed``. Names are the MMPose parameter names of the Keras variables
(``kpose.weights.state_dict.parameter_names``).

``GroupedAdamW`` applies both: Adam with PyTorch's epsilon (1e-8), decoupled weight decay
``w -= lr_var * weight_decay * w`` before the Adam step (PyTorch's AdamW), each variable's
learning rate scaled by its multiplier, the schedule shared (mmengine's schedulers scale every
group's initial learning rate by the same factor).
"""

from __future__ import annotations

from collections.abc import Mapping

import keras

from kpose.weights.state_dict import parameter_names

PYTORCH_ADAM_EPSILON = 1e-8


def vit_layer_id(name: str, num_layers: int) -> int:
    """MMPose's ``get_num_layer_for_vit``: the layer of a parameter, 0 .. num_layers + 1."""
    if name in ("backbone.cls_token", "backbone.mask_token", "backbone.pos_embed"):
        return 0
    if name.startswith("backbone.patch_embed"):
        return 0
    if name.startswith("backbone.layers"):
        return int(name.split(".")[2]) + 1
    return num_layers + 1


def uses_weight_decay(name: str, ndim: int) -> bool:
    """MMPose's no-decay rule: 1-D parameters, biases and position embeddings are not decayed."""
    return not (ndim == 1 or name.endswith(".bias") or "pos_embed" in name)


def layer_decay_groups(
    model: keras.Model, num_layers: int, rate: float
) -> dict[str, tuple[float, bool]]:
    """Variable path -> (learning-rate multiplier, weight decay on?) for ViTPose's groups."""
    names = parameter_names(model)
    groups = {}
    for variable in model.trainable_variables:
        name = names.get(variable.path, variable.path)
        layer = vit_layer_id(name, num_layers)
        groups[variable.path] = (
            rate ** (num_layers + 1 - layer),
            uses_weight_decay(name, len(variable.shape)),
        )
    return groups


def no_decay_groups(model: keras.Model, keys) -> dict[str, tuple[float, bool]]:
    """MMPose's ``paramwise_cfg.custom_keys`` with ``decay_mult=0``: no weight decay for the
    parameters whose MMPose name contains one of ``keys``; learning-rate multiplier 1."""
    names = parameter_names(model)
    return {
        v.path: (1.0, not any(key in names.get(v.path, v.path) for key in keys))
        for v in model.trainable_variables
    }


@keras.saving.register_keras_serializable(package="kpose")
class GroupedAdamW(keras.optimizers.Adam):
    """Adam(W) with a learning-rate multiplier and a weight-decay switch per variable.

    Args:
        learning_rate: the base learning rate or schedule.
        weight_decay: decoupled weight decay (PyTorch's AdamW), for variables whose group has
            decay on.
        groups: variable path -> ``(lr multiplier, decay on)``; variables not listed get
            ``(1.0, True)``.
        Other arguments as ``keras.optimizers.Adam`` (``epsilon`` defaults to PyTorch's 1e-8).

    Example:
        >>> opt = GroupedAdamW(5e-4, weight_decay=0.1, global_clipnorm=1.0,
        ...                    groups=layer_decay_groups(model, num_layers=12, rate=0.8))
    """

    def __init__(
        self,
        learning_rate=1e-3,
        weight_decay: float = 0.0,
        groups: Mapping[str, tuple[float, bool]] | None = None,
        epsilon: float = PYTORCH_ADAM_EPSILON,
        **kwargs,
    ):
        kwargs.pop("name", None)
        super().__init__(
            learning_rate=learning_rate, epsilon=epsilon, name="grouped_adamw", **kwargs
        )
        self.decoupled_weight_decay = float(weight_decay)
        self.groups = {k: (float(m), bool(d)) for k, (m, d) in (groups or {}).items()}

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._multipliers = [self.groups.get(v.path, (1.0, True))[0] for v in var_list]
        self._decays = [self.groups.get(v.path, (1.0, True))[1] for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        lr = keras.ops.cast(learning_rate, variable.dtype) * self._multipliers[index]
        if self.decoupled_weight_decay and self._decays[index]:
            variable.assign(variable - variable * (self.decoupled_weight_decay * lr))
        super().update_step(gradient, variable, lr)

    def get_config(self):
        return {
            **super().get_config(),
            "weight_decay": self.decoupled_weight_decay,
            "groups": {k: list(v) for k, v in self.groups.items()},
        }
