"""MMPose's ``FeatureMapProcessor`` neck (``mmpose/models/necks/fmap_proc_neck.py``): pick,
concatenate and rescale the feature maps of a multi-output backbone, with no weights.

HRNetV2's face and hand configs use ``concat=True``: the four branches bilinearly resized to
the 1/4-resolution branch (``align_corners=False``) and concatenated,
``18 + 36 + 72 + 144 = 270`` channels for W18.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from kpose.errors import ModelError
from kpose.models.layers import relu
from kpose.models.layers.resize import Resample


def feature_map_processor(
    feature_shapes: Sequence[tuple],
    select_index: int | Sequence[int] | None = None,
    concat: bool = False,
    scale_factor: float = 1.0,
    apply_relu: bool = False,
    align_corners: bool = False,
    name: str = "neck",
) -> keras.Model:
    """The neck as a model from the backbone's outputs (``feature_shapes``: their NHWC shapes)
    to the maps the head reads (one tensor when one map is left), in MMPose's order of
    operations: ``select_index`` picks outputs, ``concat`` resizes them to the first one's size
    and concatenates the channels, ``apply_relu``, then ``scale_factor`` resizes bilinearly.

    Example:
        >>> neck = feature_map_processor([(None, 64, 64, 18), (None, 32, 32, 36)], concat=True)
        >>> neck.output.shape
        (None, 64, 64, 54)
    """
    inputs = [
        keras.Input(tuple(shape[1:]), name=f"{name}_input{i}")
        for i, shape in enumerate(feature_shapes)
    ]
    xs = list(inputs)
    if select_index is not None:
        indices = (select_index,) if isinstance(select_index, int) else tuple(select_index)
        bad = [i for i in indices if not -len(xs) <= i < len(xs)]
        if bad or not indices:
            raise ModelError(
                f"{name}: select_index {indices} does not index the backbone's {len(xs)} outputs"
            )
        xs = [xs[i] for i in indices]
    if concat:
        mode = "bilinear" if align_corners else "bilinear_half_pixel"
        resized = [xs[0]] + [
            Resample(mode, name=f"{name}.resize{i}")([x, xs[0]]) for i, x in enumerate(xs[1:], 1)
        ]
        xs = [keras.layers.Concatenate(name=f"{name}.concat")(resized)] if len(xs) > 1 else xs
    if apply_relu:
        xs = [relu(x, f"{name}.relu{i}") for i, x in enumerate(xs)]
    if scale_factor != 1.0:
        if scale_factor != int(scale_factor) or scale_factor < 1 or align_corners:
            raise ModelError(
                f"{name}: scale_factor {scale_factor} (align_corners={align_corners}): only "
                "positive integer factors without align_corners are supported"
            )
        xs = [
            keras.layers.UpSampling2D(
                int(scale_factor), interpolation="bilinear", name=f"{name}.rescale{i}"
            )(x)
            for i, x in enumerate(xs)
        ]
    return keras.Model(inputs, xs if len(xs) > 1 else xs[0], name=name)
