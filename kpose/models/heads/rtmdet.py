"""mmdet's ``RTMDetSepBNHead`` (``mmdet/models/dense_heads/rtmdet_head.py``): neck levels ->
per-level class logits and box distances, RTMDet's dense detection head.

Every level runs a classification and a regression tower of ``stacked_convs`` ConvModules
(3x3 conv without bias, BN, SiLU). With mmdet's ``share_conv=True`` the towers' convolutions are
shared by all levels while each level keeps its own BN (``SharedConvSepBN``). A 1x1 conv with
bias per level then gives the class logits (``rtm_cls``) and the four distances from the prior
point to the box sides (``rtm_reg``), scaled by the level's stride, after ``exp`` when
``exp_on_reg`` (RTMDet-m / l / x; tiny and s regress the distances linearly).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras

from kpose.errors import ModelError
from kpose.models.layers import (
    BN_EPSILON,
    BN_MOMENTUM,
    conv_kernel_from_torch,
    conv_kernel_to_torch,
    unchanged,
)


def head_init() -> keras.initializers.Initializer:
    """mmdet's RTMDet head init of every Conv2d: normal, std 0.01 (biases at zero)."""
    return keras.initializers.RandomNormal(stddev=0.01)


def bias_init_with_prob(prior_prob: float) -> float:
    """mmengine's ``bias_init_with_prob``: the logit whose sigmoid is ``prior_prob``."""
    return float(-math.log((1 - prior_prob) / prior_prob))


@keras.saving.register_keras_serializable(package="kpose")
class SharedConvSepBN(keras.layers.Layer):
    """A tower of ``stacked_convs`` ConvModules (3x3 conv without bias, BN, SiLU) run on every
    level with the convolutions shared across levels and one BN per level and conv: mmdet's
    ``RTMDetSepBNHead.cls_convs`` / ``reg_convs`` with ``share_conv=True``.

    Shapes: a list of ``num_levels`` maps ``(B, H_n, W_n, C)`` -> the list of
    ``(B, H_n, W_n, filters)``. State-dict keys (the layer is named after the ModuleList,
    ``bbox_head.cls_convs``): ``<name>.<level>.<i>.conv.weight`` and
    ``<name>.<level>.<i>.bn.{weight, bias, running_mean, running_var}``. PyTorch's state dict
    repeats a shared module under each of its paths, so every level's ``conv.weight`` is the same
    Keras kernel: loading assigns it once per level (mmdet's checkpoints hold equal copies),
    saving writes it under every level.

    Example:
        >>> tower = SharedConvSepBN(192, num_levels=3, name="bbox_head.cls_convs")
        >>> p3, p4, p5 = tower([n3, n4, n5])
    """

    def __init__(
        self,
        filters: int,
        num_levels: int,
        stacked_convs: int = 2,
        norm_epsilon: float = BN_EPSILON,
        norm_momentum: float = BN_MOMENTUM,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.num_levels = int(num_levels)
        self.stacked_convs = int(stacked_convs)
        self.norm_epsilon = float(norm_epsilon)
        self.norm_momentum = float(norm_momentum)
        if self.num_levels < 1 or self.stacked_convs < 1:
            raise ModelError(
                f"{self.name}: needs a level and a conv at least, got num_levels "
                f"{self.num_levels}, stacked_convs {self.stacked_convs}"
            )
        self.convs = [
            keras.layers.Conv2D(
                self.filters,
                3,
                padding="same",
                use_bias=False,
                kernel_initializer=head_init(),
                dtype=self.dtype_policy,
                name=f"conv_{i}",
            )  # fmt: skip
            for i in range(self.stacked_convs)
        ]
        # norms[level * stacked_convs + i]: the BN after conv i on that level
        self.norms = [
            keras.layers.BatchNormalization(
                epsilon=self.norm_epsilon,
                momentum=self.norm_momentum,
                dtype=self.dtype_policy,
                name=f"bn_{n}_{i}",
            )  # fmt: skip
            for n in range(self.num_levels)
            for i in range(self.stacked_convs)
        ]

    def build(self, input_shape):
        if len(input_shape) != self.num_levels:
            raise ModelError(
                f"{self.name}: built for {self.num_levels} levels, called on {len(input_shape)}"
            )
        channels = int(input_shape[0][-1])
        for i, conv in enumerate(self.convs):
            conv.build((None, None, None, channels if i == 0 else self.filters))
        for norm in self.norms:
            norm.build((None, None, None, self.filters))

    def call(self, inputs, training=None):
        outputs = []
        for n, x in enumerate(inputs):
            for i, conv in enumerate(self.convs):
                x = self.norms[n * self.stacked_convs + i](conv(x), training=training)
                x = keras.activations.silu(x)
            outputs.append(x)
        return outputs

    def compute_output_shape(self, input_shape):
        return [(*shape[:-1], self.filters) for shape in input_shape]

    def torch_tensors(self):
        """``(suffix, variable, torch->keras, keras->torch)`` for the weight mapper."""
        tensors = []
        for n in range(self.num_levels):
            for i, conv in enumerate(self.convs):
                norm = self.norms[n * self.stacked_convs + i]
                prefix = f"{n}.{i}"
                tensors += [
                    (
                        f"{prefix}.conv.weight",
                        conv.kernel,
                        conv_kernel_from_torch,
                        conv_kernel_to_torch,
                    ),
                    (f"{prefix}.bn.weight", norm.gamma, unchanged, unchanged),
                    (f"{prefix}.bn.bias", norm.beta, unchanged, unchanged),
                    (f"{prefix}.bn.running_mean", norm.moving_mean, unchanged, unchanged),
                    (f"{prefix}.bn.running_var", norm.moving_variance, unchanged, unchanged),
                ]
        return tensors

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "num_levels": self.num_levels,
            "stacked_convs": self.stacked_convs,
            "norm_epsilon": self.norm_epsilon,
            "norm_momentum": self.norm_momentum,
        }


def rtmdet_sep_bn_head(
    in_channels: int,
    num_classes: int,
    feat_channels: int = 256,
    stacked_convs: int = 2,
    strides: Sequence[int] = (8, 16, 32),
    exp_on_reg: bool = True,
    pred_kernel_size: int = 1,
    norm_eps: float = BN_EPSILON,
    norm_momentum: float = 0.1,
    name: str = "bbox_head",
) -> keras.Model:
    """mmdet's ``RTMDetSepBNHead`` (``share_conv=True``, no objectness) as a functional model:
    a list of ``len(strides)`` maps ``(B, H_n, W_n, in_channels)``, finest first ->
    ``(cls_scores, bbox_preds)``, the two lists mmdet's ``forward`` returns, in NHWC:
    ``cls_scores[n]`` ``(B, H_n, W_n, num_classes)`` logits (before the sigmoid) and
    ``bbox_preds[n]`` ``(B, H_n, W_n, 4)`` float32 distances (left, top, right, bottom) from the
    level's prior points in input pixels (``exp(reg) * stride``, or ``reg * stride`` without
    ``exp_on_reg``).

    ``norm_eps`` / ``norm_momentum`` (PyTorch's convention) are the config's ``norm_cfg``
    (RTMDet's configs: SyncBN, eps 1e-5 / momentum 0.1). Layer names: ``bbox_head.cls_convs``
    and ``bbox_head.reg_convs`` (``SharedConvSepBN``), ``bbox_head.rtm_cls.<n>`` and
    ``bbox_head.rtm_reg.<n>``.

    Example:
        >>> head = rtmdet_sep_bn_head(192, 1, feat_channels=192)   # RTMDet-m, one class
        >>> cls_scores, bbox_preds = head([p3, p4, p5])
    """
    if pred_kernel_size % 2 != 1:
        raise ModelError(f"{name}: pred_kernel_size must be odd, got {pred_kernel_size}")
    levels = len(strides)
    inputs = [
        keras.Input((None, None, int(in_channels)), name=f"{name}_input_{n}") for n in range(levels)
    ]
    tower_args = {
        "filters": feat_channels,
        "num_levels": levels,
        "stacked_convs": stacked_convs,
        "norm_epsilon": norm_eps,
        "norm_momentum": 1.0 - norm_momentum,
    }
    cls_feats = SharedConvSepBN(**tower_args, name=f"{name}.cls_convs")(inputs)
    reg_feats = SharedConvSepBN(**tower_args, name=f"{name}.reg_convs")(inputs)

    def pred_conv(x, filters: int, layer_name: str, bias_initializer="zeros"):
        return keras.layers.Conv2D(
            filters, pred_kernel_size, padding="same", kernel_initializer=head_init(),
            bias_initializer=bias_initializer, name=layer_name,
        )(x)  # fmt: skip

    cls_bias = keras.initializers.Constant(bias_init_with_prob(0.01))
    cls_scores, bbox_preds = [], []
    for n, stride in enumerate(strides):
        cls_scores.append(pred_conv(cls_feats[n], num_classes, f"{name}.rtm_cls.{n}", cls_bias))
        reg = pred_conv(reg_feats[n], 4, f"{name}.rtm_reg.{n}")
        if exp_on_reg:  # in float32: exp overflows float16 from 11 on
            exp = keras.layers.Activation("exponential", dtype="float32", name=f"{name}_exp_{n}")
            reg = exp(reg)
        scale = keras.layers.Rescaling(float(stride), dtype="float32", name=f"{name}_stride_{n}")
        bbox_preds.append(scale(reg))
    return keras.Model(inputs, (cls_scores, bbox_preds), name=name)
