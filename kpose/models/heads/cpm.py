"""MMPose's multi-stage ``CPMHead`` (``mmpose/models/heads/heatmap_heads/cpm_head.py``) for
CPM and Hourglass: per stage the deconv stack of ``heatmap_head`` and a final conv to K
channels."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from kpose.models.heads.heatmap import check_deconvs, deconv_stack, head_init


def cpm_head(
    in_channels: Sequence[int],
    num_keypoints: int,
    deconv_out_channels: Sequence[int] = (),
    deconv_kernel_sizes: Sequence[int] = (),
    final_kernel_size: int = 1,
    name: str = "head",
) -> keras.Model:
    """MMPose's ``CPMHead`` (``heatmap_heads/cpm_head.py``) for a multi-stage backbone: per
    stage ``s`` an optional deconv stack (``head.multi_deconv_layers.{s}.{3i}``) and a final
    conv to K channels with bias and no padding (``head.multi_final_layers.{s}``;
    ``final_kernel_size=0``: none, CPM's stages already output K channels).

    ``in_channels`` has one entry per stage; the model maps the list of stage features to the
    list of stage heatmaps (the last one is the prediction; all of them are supervised).

    Example:
        >>> head = cpm_head([256], 17)     # Hourglass52: one stack, 1x1 conv to 17 channels
    """
    check_deconvs(deconv_out_channels, deconv_kernel_sizes, name)
    inputs = [
        keras.Input((None, None, int(c)), name=f"{name}_input_{s}")
        for s, c in enumerate(in_channels)
    ]
    outputs = []
    for s, x in enumerate(inputs):
        x = deconv_stack(
            x, deconv_out_channels, deconv_kernel_sizes, f"{name}.multi_deconv_layers.{s}"
        )
        if final_kernel_size:
            x = keras.layers.Conv2D(
                num_keypoints,
                final_kernel_size,
                use_bias=True,
                kernel_initializer=head_init(),
                name=f"{name}.multi_final_layers.{s}",
            )(x)
        else:  # MMPose's nn.Identity: a layer, so that no output of the head is its own input
            x = keras.layers.Identity(name=f"{name}.multi_final_layers.{s}")(x)
        outputs.append(x)
    return keras.Model(inputs, outputs, name=name)
