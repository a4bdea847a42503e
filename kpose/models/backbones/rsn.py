"""RSN, the Residual Steps Network (Cai et al., 2020), as MMPose builds it
(``mmpose/models/backbones/rsn.py``).

MSPN's multi-stage layout (``mspn.py``: ResNet stem, downsample / upsample modules with
``align_corners=True`` upsampling, cross-stage skips and cross conv) with MSPN's bottlenecks
replaced by residual-steps blocks (RSB, expansion 1, so unit ``i`` has ``64 * 2**i``
channels). An RSB's strided 1x1 ConvModule widens the input to ``num_steps`` branches of
``in_channels * expand_times // 64`` channels; branch ``i`` runs ``i + 1`` 3x3 ConvModules in a
row, each step ``j < i`` first adding step ``j`` of branch ``i - 1`` (the "residual steps");
the last step of every branch is concatenated, projected by a 1x1 conv + BN, added to the
shortcut and passed through ReLU. The stages are ``multi_stage_rsn.{s}``; the outputs are every
stage's unit outputs, flattened stage by stage, coarse to fine.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import keras

from kpose.errors import ModelError
from kpose.models.backbones.mspn import multi_stage_network
from kpose.models.layers import conv_module, relu


def residual_steps_block(
    x,
    out_channels: int,
    name: str,
    stride: int = 1,
    num_steps: int = 4,
    expand_times: int = 26,
    res_top_channels: int = 64,
):
    """MMPose's ``RSB``: ``(B, H, W, C) -> (B, H / stride, W / stride, out_channels)``.

    Layer names: ``name.conv_bn_relu1``, ``name.conv_bn_relu2_{i}_{j}`` (branch ``i``, step
    ``j``, 1-based), ``name.conv_bn3``, ``name.downsample`` (ConvModules).
    """
    in_channels = int(x.shape[-1])
    branch = in_channels * expand_times // res_top_channels
    shortcut = x
    if stride != 1 or in_channels != out_channels:
        shortcut = conv_module(x, out_channels, 1, f"{name}.downsample", stride, act=None)
    y = conv_module(x, num_steps * branch, 1, f"{name}.conv_bn_relu1", stride)
    previous, lasts = [], []
    for i in range(num_steps):
        start = y[..., i * branch : (i + 1) * branch]  # torch.split into num_steps branches
        steps = []
        for j in range(i + 1):
            z = start if j == 0 else steps[-1]
            if j < i:  # branch i - 1 has steps 0..i-1
                z = keras.layers.Add(name=f"{name}.step_{i + 1}_{j + 1}_add")([z, previous[j]])
            steps.append(conv_module(z, branch, 3, f"{name}.conv_bn_relu2_{i + 1}_{j + 1}"))
        previous = steps
        lasts.append(steps[-1])
    y = keras.layers.Concatenate(name=f"{name}.concat")(lasts)
    y = conv_module(y, out_channels, 1, f"{name}.conv_bn3", act=None)
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return relu(y, f"{name}.relu")


def rsn(
    unit_channels: int = 256,
    num_stages: int = 4,
    num_units: int = 4,
    num_blocks: Sequence[int] = (2, 2, 2, 2),
    num_steps: int = 4,
    res_top_channels: int = 64,
    expand_times: int = 26,
    name: str = "backbone",
) -> keras.Model:
    """MMPose's ``RSN``: ``(B, H, W, 3)`` normalised images -> ``num_stages * num_units`` maps
    ``(B, H / 2**(num_units + 1 - u), ..., unit_channels)`` for unit ``u = 1..num_units`` of
    each stage (coarse to fine; the last is at stride 4).

    ``num_blocks``: RSBs per unit; ``num_steps`` (>= 2) branches per RSB of
    ``in_channels * expand_times // res_top_channels`` channels. MMPose fixes the stem and the
    cross conv at 64 channels; ``res_top_channels`` other than 64 builds a consistent model
    that no MMPose checkpoint fits.

    Example:
        >>> backbone = rsn(num_stages=1, num_blocks=(3, 4, 6, 3))  # RSN-50: 4 outputs
    """
    if len(num_blocks) != num_units:
        raise ModelError(f"RSN: num_blocks {tuple(num_blocks)} needs num_units={num_units} entries")
    if num_steps < 2:
        raise ModelError(f"RSN: num_steps must be >= 2, got {num_steps}")
    block = partial(
        residual_steps_block,
        num_steps=num_steps,
        expand_times=expand_times,
        res_top_channels=res_top_channels,
    )
    return multi_stage_network(
        block, "multi_stage_rsn", unit_channels, num_stages, num_blocks, res_top_channels, name
    )
