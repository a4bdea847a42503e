"""ViPNAS in Keras: the grouped transposed convolution against a direct NumPy
``ConvTranspose2d``, shapes and strides, MMPose's parameter counts and state-dict layouts, the
hard sigmoid. The round trips (config, ``.keras``, state dict, XLA, mixed precision) of tiny
ViPNAS-ResNet and ViPNAS-MobileNetV3 models run in ``test_backbones.py`` (``harness.FAMILIES``)."""

from __future__ import annotations

import numpy as np
import pytest

from kpose.errors import ModelError
from kpose.models.backbones.vipnas_mbv3 import HardSigmoid, vipnas_mbv3
from kpose.models.backbones.vipnas_resnet import vipnas_resnet
from kpose.models.build import build_heatmap_model
from kpose.models.heads.vipnas import GroupedConv2DTranspose, vipnas_head
from kpose.recipe import HeadConfig, ModelConfig
from kpose.weights.state_dict import model_state_dict


def torch_conv_transpose(x, weight, stride, padding, output_padding, groups):
    """PyTorch's ``ConvTranspose2d`` (no bias) written out in NumPy: NHWC ``x``, PyTorch's
    weight ``(C, filters / groups, k, k)``; each input pixel scatters its kernel."""
    batch, height, width, channels = x.shape
    k, per_out = weight.shape[-1], weight.shape[1]
    per_in = channels // groups
    full = np.zeros((batch, (height - 1) * stride + k, (width - 1) * stride + k, per_out * groups))
    for g in range(groups):
        xg = x[..., g * per_in : (g + 1) * per_in]
        wg = weight[g * per_in : (g + 1) * per_in]  # (per_in, per_out, k, k)
        for ky in range(k):
            for kx in range(k):
                rows = slice(ky, ky + (height - 1) * stride + 1, stride)
                cols = slice(kx, kx + (width - 1) * stride + 1, stride)
                full[:, rows, cols, g * per_out : (g + 1) * per_out] += np.einsum(
                    "bhwi,io->bhwo", xg, wg[:, :, ky, kx]
                )
    end = padding - output_padding
    return full[:, padding : full.shape[1] - end, padding : full.shape[2] - end]


@pytest.mark.parametrize(
    "channels, filters, groups", [(6, 4, 1), (8, 6, 2), (6, 6, 6), (4, 8, 4)]
)  # plain, grouped, depthwise, depthwise with multiplier 2
@pytest.mark.parametrize("kernel, padding, output_padding", [(4, 1, 0), (3, 1, 1), (2, 0, 0)])
def test_grouped_transposed_conv_is_pytorchs(
    channels, filters, groups, kernel, padding, output_padding
):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 5, channels)).astype(np.float32)
    weight = rng.normal(size=(channels, filters // groups, kernel, kernel)).astype(np.float32)
    layer = GroupedConv2DTranspose(filters, kernel, 2, padding, output_padding, groups, name="up")
    layer.build(x.shape)
    ((suffix, variable, to_keras, to_torch),) = layer.torch_tensors()
    assert suffix == "weight"
    variable.assign(to_keras(weight))
    np.testing.assert_array_equal(to_torch(variable.numpy()), weight)
    y = np.asarray(layer(x))
    expected = torch_conv_transpose(x, weight, 2, padding, output_padding, groups)
    assert y.shape == expected.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_output_shapes_and_mmpose_keys():
    x = np.zeros((1, 104, 72, 3), np.float32)  # odd maps from stride 8 on
    resnet = vipnas_resnet(out_indices=(0, 1, 2, 3))
    shapes = [tuple(y.shape[1:]) for y in resnet(x)]
    assert shapes == [(26, 18, 80), (13, 9, 160), (7, 5, 304), (4, 3, 608)]
    state = model_state_dict(resnet)
    assert state["backbone.conv1.weight"].shape == (48, 3, 7, 7)
    assert state["backbone.layer1.0.conv2.weight"].shape == (80, 5, 3, 3)  # 16 groups
    assert state["backbone.layer2.0.conv2.weight"].shape == (160, 10, 5, 5)
    # GCNet block of 80 channels: 16 inside (ratio 16 / 80); of 608: 38 (ratio 1 / 16)
    assert state["backbone.layer1.0.attention.channel_add_conv.1.weight"].shape == (16, 1, 1)
    assert state["backbone.layer4.2.attention.channel_add_conv.0.weight"].shape == (38, 608, 1, 1)
    assert "backbone.layer2.0.attention.conv_mask.weight" not in state  # stage 2: none

    mbv3 = vipnas_mbv3()
    assert tuple(mbv3(x).shape[1:]) == (4, 3, 160)
    state = model_state_dict(mbv3)
    assert "backbone.layer1.expand_conv.conv.weight" not in state  # expansion 1
    assert state["backbone.layer1.depthwise_conv.conv.weight"].shape == (16, 2, 3, 3)  # 8 groups
    assert state["backbone.layer2.depthwise_conv.conv.weight"].shape == (120, 1, 7, 7)
    assert state["backbone.layer2.se.conv1.conv.weight"].shape == (30, 120, 1, 1)
    assert "backbone.layer6.se.conv1.conv.weight" not in state  # stage 3: no SE
    assert state["backbone.layer21.linear_conv.conv.weight"].shape == (160, 960, 1, 1)

    head = vipnas_head(608, 17)
    assert tuple(head(np.zeros((1, 8, 6, 608), np.float32)).shape) == (1, 64, 48, 17)
    assert model_state_dict(head)["head.deconv_layers.0.weight"].shape == (608, 9, 4, 4)


def test_parameter_counts_equal_mmpose():
    # Measured with MMPose 1.3.2: init_model of coco/td-hm_vipnas-{res50,mbv3}_8xb64-210e_coco-
    # 256x192 (all parameters, buffers left out)
    for backbone, head, expected in (
        ("vipnas_resnet50", ((144,) * 3, (16,) * 3), 7_286_772),
        ("vipnas_mbv3", ((160,) * 3, (160,) * 3), 5_895_725),
    ):
        channels, groups = head
        cfg = HeadConfig(channels, (4, 4, 4), type="vipnas", args={"deconv_num_groups": groups})
        model = build_heatmap_model(ModelConfig(backbone, head=cfg), (192, 256), 17)
        assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == expected


def test_hard_sigmoid_is_mmcvs():
    x = np.array([-4.0, -1.0, -0.5, 0.0, 0.5, 1.0, 4.0], np.float32)
    y = np.asarray(HardSigmoid(1.0, 2.0)(x))
    np.testing.assert_allclose(y, np.clip((x + 1) / 2, 0, 1), atol=1e-7)


def test_bad_arguments():
    with pytest.raises(ModelError, match="depth must be 50"):
        vipnas_resnet(depth=18)
    with pytest.raises(ModelError, match="groups"):
        vipnas_resnet(groups=(16, 16, 16))
    with pytest.raises(ModelError, match="one entry per stage"):
        vipnas_mbv3(stage_blocks=(1, 4))
    with pytest.raises(ModelError, match="expansion conv"):
        vipnas_mbv3(stage_widths=(24, 24, 40, 80, 112, 160))  # ratio 1 from 16 to 24 channels
    with pytest.raises(ModelError, match="deconv_num_groups"):
        vipnas_head(608, 17, deconv_num_groups=(16, 16))
