"""mmdet's ``CSPNeXtPAFPN`` (``mmdet/models/necks/cspnext_pafpn.py``), RTMDet's neck.

A path-aggregation FPN over the backbone's C3..C5 maps (strides 8, 16, 32). Top-down, from the
coarsest level: a 1x1 conv (``reduce_layers``) brings the coarser map to the finer level's
width, its 2x nearest upsampling is concatenated (upsampled first) with the finer map and a
CSP layer (``top_down_blocks``) merges them. Bottom-up: a strided 3x3 conv (``downsamples``)
halves the finer result, it is concatenated with the top-down map of the next level (the
*reduced* one at the coarsest level) and a CSP layer (``bottom_up_blocks``) merges them. A 3x3
conv (``out_convs``) brings every level to ``out_channels``. The CSP layers are CSPNeXt's
(``kpose.models.backbones.cspnext.csp_layer``) without identity and without channel attention;
every conv is a ConvModule with BN and SiLU and CSPNeXt's init. Layer names are mmdet's
state-dict paths (``neck.top_down_blocks.0.blocks.1.conv2.depthwise_conv.conv``).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from kpose.errors import ModelError
from kpose.models.backbones.cspnext import (
    TORCH_BN,
    csp_layer,
    cspnext_conv,
    cspnext_separable_conv,
)


def cspnext_pafpn(
    in_channels: Sequence[int],
    out_channels: int,
    num_csp_blocks: int = 3,
    use_depthwise: bool = False,
    expand_ratio: float = 0.5,
    norm_eps: float = TORCH_BN[0],
    norm_momentum: float = TORCH_BN[1],
    name: str = "neck",
) -> keras.Model:
    """mmdet's ``CSPNeXtPAFPN``: a list of ``(B, H_i, W_i, in_channels[i])`` maps, finest first,
    each level half the size of the one before -> the list of ``(B, H_i, W_i, out_channels)``.

    ``use_depthwise`` makes the downsampling and output convs depthwise-separable (as mmdet's);
    ``norm_eps`` / ``norm_momentum`` (PyTorch's convention) are the config's ``norm_cfg``:
    RTMDet's configs set SyncBN (eps 1e-5, momentum 0.1), the default here; mmdet's own default
    is 1e-3 / 0.03.

    Example:
        >>> neck = cspnext_pafpn((192, 384, 768), 192, num_csp_blocks=2)  # RTMDet-m
        >>> [tuple(y.shape[1:]) for y in neck(feats)]   # feats of a 640x640 image
        [(80, 80, 192), (40, 40, 192), (20, 20, 192)]
    """
    in_channels = [int(c) for c in in_channels]
    if len(in_channels) < 2:
        raise ModelError(f"{name}: CSPNeXtPAFPN needs two levels or more, got {in_channels}")
    norm = (float(norm_eps), float(norm_momentum))
    conv = cspnext_separable_conv if use_depthwise else cspnext_conv
    levels = len(in_channels)
    inputs = [
        keras.Input((None, None, c), name=f"{name}_input_{i}") for i, c in enumerate(in_channels)
    ]

    def merge(x, filters: int, block_name: str):
        return csp_layer(
            x, filters, num_csp_blocks, block_name, add_identity=False,
            use_depthwise=use_depthwise, expand_ratio=expand_ratio,
            use_channel_attention=False, norm=norm,
        )  # fmt: skip

    upsample = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{name}.upsample")
    # Top-down, coarsest first. inner[0] is the map carried down; it is replaced by its reduced
    # version, which is what the bottom-up path reads at the coarsest level (as mmdet's).
    inner = [inputs[-1]]
    for j, idx in enumerate(range(levels - 1, 0, -1)):
        width = in_channels[idx - 1]
        inner[0] = cspnext_conv(inner[0], width, 1, f"{name}.reduce_layers.{j}", norm=norm)
        block = f"{name}.top_down_blocks.{j}"
        x = keras.layers.Concatenate(name=f"{block}_inputs")([upsample(inner[0]), inputs[idx - 1]])
        inner.insert(0, merge(x, width, block))
    # Bottom-up, finest first.
    outs = [inner[0]]
    for idx in range(levels - 1):
        down = conv(outs[-1], in_channels[idx], 3, f"{name}.downsamples.{idx}", stride=2, norm=norm)
        block = f"{name}.bottom_up_blocks.{idx}"
        x = keras.layers.Concatenate(name=f"{block}_inputs")([down, inner[idx + 1]])
        outs.append(merge(x, in_channels[idx + 1], block))
    outputs = [
        conv(y, out_channels, 3, f"{name}.out_convs.{i}", norm=norm) for i, y in enumerate(outs)
    ]
    return keras.Model(inputs, outputs, name=name)
